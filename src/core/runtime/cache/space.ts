// Free space on the cache's disk, and what the cache may use of it. lmdb maps its files into memory:
// creating them on a full disk kills the process with SIGBUS (the lock file is sized with ftruncate, then
// written through the map), and a commit that runs out of space fails half-way. So the cache checks
// space before anything grows, and always leaves a reserve for the rest of the system.
import { statfsSync } from 'node:fs';

/** Room to create a new environment: the lock file (readers table) and data.mdb's first pages. */
export const NEW_ENV_BYTES = 256 * 1024;

export interface DiskSpace {
  /** Bytes an unprivileged writer may still use. */
  free: number;
  total: number;
}

/** Free space on the file system holding `dir`; undefined when it cannot be told (no statfs). */
export function diskSpace(dir: string): DiskSpace | undefined {
  try {
    const st = statfsSync(dir);
    return { free: st.bavail * st.bsize, total: st.blocks * st.bsize };
  } catch {
    return undefined;
  }
}

/** Bytes the cache leaves free: 1% of the disk, at least 1 MiB and at most 64 MiB. */
export function reserveBytes(total: number): number {
  return Math.min(64 * 1024 ** 2, Math.max(1024 ** 2, Math.floor(total / 100)));
}

/**
 * Most bytes the file can grow by when `payload` bytes of values are committed: lmdb copies every page it
 * touches (copy-on-write), values above a page go to overflow pages, and the pages freed by the commit
 * can be reused only by later ones.
 */
export function growthBound(payload: number): number {
  return 2 * payload + 256 * 1024;
}

/** Whether writing `bytes` more to the disk of `dir` keeps the reserve free; `space` when it is known. */
export function room(dir: string, bytes: number): { ok: boolean; space?: DiskSpace; reserve: number } {
  const space = diskSpace(dir);
  if (!space) return { ok: true, reserve: 0 };
  const reserve = reserveBytes(space.total);
  return { ok: space.free - bytes >= reserve, space, reserve };
}

/** "N bytes" in the units a person reads. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(0)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MB`;
  return `${(n / 1024 ** 3).toFixed(1)} GB`;
}
