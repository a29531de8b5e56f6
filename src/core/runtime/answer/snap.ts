// Decoder output is untrusted: anything in it that looks like a file path is snapped to a path the index
// holds, or dropped. The bundled model tends to name the right file but mangle it (`command.go.go`,
// `args.go.js`); a link to a file that does not exist is worse than no link, and so is a line past its end.
import { readFileSync } from 'node:fs';
import path from 'node:path';

const PATH_LIKE = /(?<![\w@./-])((?:[\w@.-]+\/)*[\w@-][\w@.-]*\.[A-Za-z][A-Za-z0-9]{0,9})(?::(\d+))?(?![\w/])/g;

export interface SnappedText {
  text: string;
  /** Indexed paths the text names, in order of first mention. */
  paths: string[];
}

/** Maps a path-like string to an indexed path, or undefined when none fits unambiguously. */
export function snapPath(candidate: string, files: readonly string[], byBase?: Map<string, string[]>): string | undefined {
  const clean = candidate.replace(/^\.\//, '');
  if (files.includes(clean)) return clean;
  const bases = byBase ?? basenameIndex(files);
  // A suffix of an indexed path (`core/a.ts` for `src/core/a.ts`), then the mangled forms: a doubled or
  // extra extension (`a.go.go`, `a.go.js`), matched by base name.
  const suffix = files.filter((f) => f.endsWith('/' + clean));
  if (suffix.length === 1) return suffix[0];
  const base = path.posix.basename(clean);
  const tries = [base];
  const m = /^(.+\.[A-Za-z0-9]+)\.[A-Za-z0-9]+$/.exec(base);
  if (m) tries.push(m[1]);
  for (const b of tries) {
    const hits = bases.get(b) ?? [];
    if (hits.length === 1) return hits[0];
    if (hits.length > 1) {
      // Several files share the name: the one whose directories the candidate names, if exactly one.
      const dir = path.posix.dirname(clean);
      const narrowed = dir === '.' ? [] : hits.filter((h) => h.includes(dir + '/'));
      if (narrowed.length === 1) return narrowed[0];
    }
  }
  return undefined;
}

export function basenameIndex(files: readonly string[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const f of files) {
    const b = path.posix.basename(f);
    const list = out.get(b);
    if (list) list.push(f);
    else out.set(b, [f]);
  }
  return out;
}

/** Lines in an indexed file (undefined when it cannot be read). */
export type LineCount = (indexedPath: string) => number | undefined;

/** Counts the lines of indexed files under `root` as they are on disk, reading each file once. */
export function lineCounter(root: string): LineCount {
  const counts = new Map<string, number | undefined>();
  return (p) => {
    if (!counts.has(p)) {
      let n: number | undefined;
      try {
        const content = readFileSync(path.join(root, p));
        n = content.length === 0 ? 0 : content.toString('utf8').split('\n').length - (content[content.length - 1] === 0x0a ? 1 : 0);
      } catch {
        n = undefined;
      }
      counts.set(p, n);
    }
    return counts.get(p);
  };
}

/** Rewrites every path-like mention to its indexed path, dropping the ones that fit none. A `:line` is kept
 * only where `lines` says the file has that line. */
export function snapPaths(text: string, files: readonly string[], lines: LineCount): SnappedText {
  const bases = basenameIndex(files);
  const paths: string[] = [];
  const out = text.replace(PATH_LIKE, (whole, p: string, line?: string) => {
    // Version numbers, domain names and the like are not paths: only touch what has a known extension.
    if (!/\.[A-Za-z]/.test(p) || /^\d/.test(p)) return whole;
    const snapped = snapPath(p, files, bases);
    if (!snapped) return looksLikeFile(p) ? '' : whole;
    if (!paths.includes(snapped)) paths.push(snapped);
    const n = line === undefined ? NaN : Number(line);
    return n >= 1 && n <= (lines(snapped) ?? 0) ? `${snapped}:${n}` : snapped;
  });
  return { text: out.replace(/[ \t]{2,}/g, ' ').trim(), paths };
}

const CODE_EXTENSIONS = new Set(
  'c cc cpp cxx h hpp cs go rb rs java kt py js jsx mjs cjs ts tsx php sh bash ps1 json yaml yml toml ini md css scss html vue swift scala lua'.split(
    ' ',
  ),
);

function looksLikeFile(p: string): boolean {
  const ext = p.slice(p.lastIndexOf('.') + 1).toLowerCase();
  return CODE_EXTENSIONS.has(ext);
}
