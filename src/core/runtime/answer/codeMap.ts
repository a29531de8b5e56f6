// A summary built from the code itself, for a bundle that cannot write one: each directory once, with its
// purpose (its README's first paragraph or a module doc comment), key files, top-level symbols with the
// first sentence of their docs, and entry points. Scoped to a directory or file; bounded work (facts of a
// few files per directory, a bounded number of directories), so a large workspace maps in seconds.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Source } from '../../protocol';
import type { Workspace } from '../workspace/workspace';
import type { SourceResolver } from './sources';

const MAX_DIRS = 40;
const FILES_PER_DIR = 4;
const SYMBOLS_PER_DIR = 6;

export interface CodeMap {
  markdown: string;
  sources: Source[];
  directories: number;
}

const ENTRY_NAMES = /^(main|index|app|server|cli|__main__|lib|mod)\.[A-Za-z]+$/;
const README = /^readme(\.(md|markdown|txt|rst))?$/i;

export async function buildCodeMap(ws: Workspace, resolver: SourceResolver, scope: string, signal?: AbortSignal): Promise<CodeMap> {
  const inScope = (p: string) => !scope || p === scope || p.startsWith(scope + '/');
  const files = ws.files().filter(inScope);
  const byDir = new Map<string, string[]>();
  for (const f of files) {
    const d = path.posix.dirname(f);
    const list = byDir.get(d);
    if (list) list.push(f);
    else byDir.set(d, [f]);
  }
  const weight = (d: string) => byDir.get(d)!.reduce((n, f) => n + ws.chunksOf(f).length, 0);
  const dirs = [...byDir.keys()].sort();
  const shown = dirs.length > MAX_DIRS ? new Set([...dirs].sort((a, b) => weight(b) - weight(a)).slice(0, MAX_DIRS)) : new Set(dirs);
  const lines: string[] = [];
  const sources: Source[] = [];
  const what = scope ? `\`${scope}\`` : 'this workspace';
  lines.push(
    `${what[0].toUpperCase()}${what.slice(1)}: ${files.length} file${files.length === 1 ? '' : 's'} in ${dirs.length} director${dirs.length === 1 ? 'y' : 'ies'}.`,
  );
  const entries = files.filter((f) => ENTRY_NAMES.test(path.posix.basename(f)) || /(^|\/)(cmd|bin)\//.test(f));
  if (entries.length > 0)
    lines.push(
      `Entry points: ${entries
        .slice(0, 8)
        .map((f) => `\`${f}\``)
        .join(', ')}${entries.length > 8 ? ', …' : ''}.`,
    );
  for (const dir of dirs) {
    if (!shown.has(dir)) continue;
    signal?.throwIfAborted();
    const dirFiles = byDir.get(dir)!;
    const key = [...dirFiles].sort((a, b) => ws.chunksOf(b).length - ws.chunksOf(a).length).slice(0, FILES_PER_DIR);
    const purpose = readmePurpose(ws.root, dirFiles) || (await moduleDocOf(resolver, ws, key));
    lines.push('', `### ${dir === '.' ? '(root)' : `${dir}/`}`);
    if (purpose) lines.push(`> ${purpose}`, '');
    lines.push(
      `Files (${dirFiles.length}): ${key.map((f) => `\`${path.posix.basename(f)}\``).join(', ')}${dirFiles.length > key.length ? ', …' : ''}`,
    );
    const symbols: string[] = [];
    for (const f of key) {
      const language = ws.chunksOf(f)[0]?.language ?? '';
      const defs = (await resolver.defs(f, language)).filter((d) => !d.parent);
      // Documented definitions first: they say what the directory is for.
      for (const d of [...defs].sort((a, b) => Number(!!b.doc) - Number(!!a.doc))) {
        if (symbols.length >= SYMBOLS_PER_DIR) break;
        symbols.push(`- \`${d.name}\` (${f}:${d.line})${d.doc ? ` — ${d.doc}` : ''}`);
        const s = await resolver.forDefinition(f, language, d, 'search');
        if (s) sources.push(s);
      }
    }
    lines.push(...symbols);
  }
  if (shown.size < dirs.length) lines.push('', `…and ${dirs.length - shown.size} smaller directories.`);
  return { markdown: lines.join('\n'), sources, directories: shown.size };
}

function readmePurpose(root: string, dirFiles: string[]): string {
  const readme = dirFiles.find((f) => README.test(path.posix.basename(f)));
  if (!readme) return '';
  try {
    const text = readFileSync(path.join(root, readme), 'utf8');
    for (const para of text.split(/\n\s*\n/)) {
      const t = para.replace(/\s+/g, ' ').trim();
      // Skip headings, badges, images and HTML: the first prose paragraph says what it is.
      if (!t || /^(#|!\[|\[!\[|<|=|-{3})/.test(t)) continue;
      return t.length > 240 ? t.slice(0, 237) + '…' : t;
    }
  } catch {
    // unreadable README: no purpose line
  }
  return '';
}

async function moduleDocOf(resolver: SourceResolver, ws: Workspace, files: string[]): Promise<string> {
  for (const f of files) {
    const doc = await resolver.moduleDoc(f, ws.chunksOf(f)[0]?.language ?? '');
    // A one- or two-word first comment ("Circles.") is a label, not what the directory is for.
    if (doc.split(/\s+/).length >= 4) return doc;
  }
  return '';
}
