// Helpers of the index tests: the files of a workspace they write (content per path, null deletes), settled
// mtimes so no file is "racy" (read within moments of its last write), temporary directories, and a
// chunker that counts what it was asked to chunk.
import { after } from 'node:test';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Chunker } from '../../../src/core/chunker/index';
import type { IndexChunker } from '../../../src/core/index/index';

export async function writeFiles(root: string, files: Record<string, string | null>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    if (content === null) await fsp.rm(abs, { force: true, recursive: true });
    else {
      await fsp.mkdir(path.dirname(abs), { recursive: true });
      await fsp.writeFile(abs, content);
    }
  }
}

/** Backdates every file under `root` by a minute. */
export async function settle(root: string): Promise<void> {
  const old = new Date(Date.now() - 60_000);
  for (const e of await fsp.readdir(root, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) await fsp.utimes(path.join(e.parentPath, e.name), old, old);
  }
}

/** A maker of temporary directories, all removed after the calling test file's tests. */
export function tempDirs(): (prefix: string) => Promise<string> {
  const made: string[] = [];
  after(async () => {
    for (const d of made) await fsp.rm(d, { recursive: true, force: true });
  });
  return async (prefix) => {
    const d = await fsp.mkdtemp(path.join(os.tmpdir(), prefix));
    made.push(d);
    return d;
  };
}

/** The real chunker, counting which files it was asked to chunk. */
export function counting(inner: Chunker): IndexChunker & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    languageOf: (p) => inner.languageOf(p),
    chunkFile: (p, bytes) => {
      calls.push(p);
      return inner.chunkFile(p, bytes);
    },
  };
}
