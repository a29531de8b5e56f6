// Sources: real locations from the index that an answer rests on — path, lines, the defined symbol, its
// signature and doc comment quoted from the file (tree-sitter facts of the file as it is on disk now).
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Source } from '../../protocol';
import type { Def, FileFacts } from '../../facts';
import { extractFacts } from '../../facts';
import type { IndexedChunk } from '../workspace/workspace';

/** Facts as the resolver uses them: newer facts carry end line, signature and the whole doc. */
export type SourceDef = Def & { endLine?: number; signature?: string; fullDoc?: string };

interface FileInfo {
  mtimeMs: number;
  size: number;
  lines: string[];
  facts: FileFacts;
}

const MAX_SIGNATURE = 200;
const MAX_DOC = 600;

/** Reads files' facts on demand and keeps them while the file is unchanged (by size and mtime). */
export class SourceResolver {
  private readonly files = new Map<string, FileInfo | null>();

  constructor(readonly root: string) {}

  async file(rel: string, language: string): Promise<FileInfo | null> {
    const abs = path.join(this.root, rel);
    let st;
    try {
      st = statSync(abs);
    } catch {
      this.files.delete(rel);
      return null;
    }
    const known = this.files.get(rel);
    if (known && known.mtimeMs === st.mtimeMs && known.size === st.size) return known;
    let info: FileInfo | null = null;
    try {
      const content = readFileSync(abs, 'utf8');
      let facts = { defs: [], moduleDoc: '' } as unknown as FileFacts;
      try {
        facts = await extractFacts(content, language);
      } catch {
        // A grammar that fails on this file: the source keeps its chunk lines, without a symbol.
      }
      info = { mtimeMs: st.mtimeMs, size: st.size, lines: content.split('\n'), facts };
    } catch {
      info = null;
    }
    this.files.set(rel, info);
    return info;
  }

  /** The source of a chunk: the definition in it (named `prefer` when given), else the chunk's lines. */
  async forChunk(chunk: IndexedChunk, from: Source['from'], prefer?: string): Promise<Source | null> {
    const info = await this.file(chunk.path, chunk.language);
    if (!info) return null; // the file is gone: never point at it
    const inChunk = (info.facts.defs as SourceDef[]).filter((d) => d.line >= chunk.startLine && d.line <= chunk.endLine);
    const def =
      (prefer ? inChunk.find((d) => d.name === prefer) : undefined) ??
      inChunk.find((d) => chunk.symbols.includes(d.name)) ??
      inChunk.find((d) => !d.parent) ??
      inChunk[0];
    // A chunk cut out of a long definition: the definition that holds it.
    const holder = def
      ? undefined
      : (info.facts.defs as SourceDef[])
          .filter((d) => d.endLine !== undefined && d.line < chunk.startLine && d.endLine >= chunk.startLine)
          .sort((a, b) => b.line - a.line)[0];
    if (holder) return this.forDef(chunk.path, info, holder, from);
    if (!def) {
      const line = Math.min(chunk.startLine, info.lines.length);
      const endLine = Math.min(chunk.endLine, info.lines.length);
      const signature = clip(firstCodeLine(info.lines, line, endLine), MAX_SIGNATURE);
      return { path: chunk.path, line, endLine, ...(signature ? { signature } : {}), from };
    }
    return this.forDef(chunk.path, info, def, from, chunk.endLine);
  }

  /** The source of one of `rel`'s definitions (as `defs` returned it). */
  async forDefinition(rel: string, language: string, def: SourceDef, from: Source['from']): Promise<Source | null> {
    const info = await this.file(rel, language);
    return info ? this.forDef(rel, info, def, from) : null;
  }

  async moduleDoc(rel: string, language: string): Promise<string> {
    return (await this.file(rel, language))?.facts.moduleDoc ?? '';
  }

  async defs(rel: string, language: string): Promise<SourceDef[]> {
    return ((await this.file(rel, language))?.facts.defs ?? []) as SourceDef[];
  }

  private forDef(rel: string, info: FileInfo, def: SourceDef, from: Source['from'], fallbackEnd?: number): Source {
    const endLine = Math.min(Math.max(def.endLine ?? fallbackEnd ?? def.line, def.line), info.lines.length);
    const signature = clip(def.signature || headerLine(info.lines, def.line), MAX_SIGNATURE);
    const doc = clip((def.fullDoc || def.doc || '').trim(), MAX_DOC);
    return {
      path: rel,
      line: def.line,
      endLine,
      symbol: def.parent ? `${def.parent}.${def.name}` : def.name,
      ...(signature ? { signature } : {}),
      ...(doc ? { doc } : {}),
      from,
    };
  }
}

/** The definition's first line that is not a decorator or attribute, as written. */
function headerLine(lines: string[], line: number): string {
  for (let i = line - 1; i < Math.min(lines.length, line + 3); i++) {
    const t = lines[i].trim();
    if (t && !t.startsWith('@') && !t.startsWith('#[')) return t.replace(/\s*\{\s*$/, '').replace(/\s+/g, ' ');
  }
  return '';
}

/** The first line of a chunk that is code (not blank, not a comment), as written. */
function firstCodeLine(lines: string[], from: number, to: number): string {
  for (let i = from - 1; i < to && i < lines.length; i++) {
    const t = lines[i].trim();
    if (t && !/^(\/\/|#|\/\*|\*|--|;|<!--)/.test(t)) return t.replace(/\s+/g, ' ');
  }
  return '';
}

function clip(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 1) + '…' : text;
}
