// Resolving a citation (`path:line` written by the model) to a file inside a workspace folder.
// The path is untrusted model output: it opens a file only when it names an existing regular file that
// stays inside the folder after following symlinks. No `vscode` import, so it is unit-testable.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';

export type CitationCheck = { ok: true; file: string; line: number } | { ok: false; reason: string };

export async function resolveCitation(root: string, citedPath: string, line: number): Promise<CitationCheck> {
  if (typeof citedPath !== 'string' || citedPath.length === 0 || citedPath.length > 1024) {
    return { ok: false, reason: 'empty or oversized path' };
  }
  if (citedPath.includes('\0')) return { ok: false, reason: 'NUL in path' };
  const rel = citedPath.replace(/\\/g, '/');
  if (rel.startsWith('/') || /^[A-Za-z]:/.test(rel) || path.isAbsolute(citedPath)) {
    return { ok: false, reason: 'absolute path' };
  }
  if (rel.split('/').some((seg) => seg === '..')) return { ok: false, reason: 'parent-directory segment' };
  if (!Number.isInteger(line) || line < 1) return { ok: false, reason: 'bad line number' };

  let realRoot: string;
  let realFile: string;
  try {
    realRoot = await fs.realpath(root);
    realFile = await fs.realpath(path.join(root, rel));
  } catch {
    return { ok: false, reason: 'no such file' };
  }
  if (!isInside(realRoot, realFile)) return { ok: false, reason: 'resolves outside the workspace folder' };
  const st = await fs.stat(realFile).catch(() => undefined);
  if (!st?.isFile()) return { ok: false, reason: 'not a regular file' };
  return { ok: true, file: path.join(root, rel), line };
}

export function isInside(parent: string, child: string): boolean {
  const r = path.relative(parent, child);
  return r === '' ? false : !r.startsWith('..') && !path.isAbsolute(r);
}

/** Workspace-relative path with forward slashes, or undefined if `file` is not under `root`. */
export function relativeTo(root: string, file: string): string | undefined {
  if (!isInside(root, file)) return undefined;
  return path.relative(root, file).split(path.sep).join('/');
}
