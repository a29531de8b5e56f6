// The soft-prompt cache: (bundle id, chunk hash) -> adapter output (soft tokens) + encoder vector, on
// disk in lmdb. lmdb's copy-on-write B-tree makes every committed write crash-safe; a checksum in each
// value catches corruption that slips past it (torn files, bit rot, foreign writers), and the reader
// drops such an entry so the caller re-encodes it. A size cap evicts the least recently used entries.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, statfsSync } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';
import { open, type Database, type RootDatabase } from 'lmdb';

export interface SoftPromptEntry {
  /** [softTokensPerChunk * decoderHidden] */
  softTokens: Float32Array;
  /** [vectorsPerChunk * encoderHidden] */
  vector: Float32Array;
}

export interface CacheStats {
  entries: number;
  bytes: number;
  maxBytes: number;
  /** Entries found corrupt and dropped since open. */
  corrupt: number;
  evicted: number;
  path: string;
}

interface Meta {
  /** Last access, ms since epoch. */
  t: number;
  /** Stored value size in bytes. */
  n: number;
}

const MAGIC = 0x50533245; // "E2SP"
const HEADER_BYTES = 16;
/** By default access times are rewritten at most this often per entry: reads should not turn into writes. */
const TOUCH_INTERVAL_MS = 60_000;

export function cacheKey(bundleId: string, hash: string): string {
  return `${bundleId}\u0000${hash}`;
}

export function encodeEntry(entry: SoftPromptEntry): Buffer {
  const payloadBytes = (entry.softTokens.length + entry.vector.length) * 4;
  const buf = Buffer.alloc(HEADER_BYTES + payloadBytes);
  const floats = new Float32Array(buf.buffer, buf.byteOffset + HEADER_BYTES, payloadBytes / 4);
  floats.set(entry.softTokens, 0);
  floats.set(entry.vector, entry.softTokens.length);
  buf.writeUInt32LE(MAGIC, 0);
  buf.writeUInt32LE(crc32(buf.subarray(HEADER_BYTES)), 4);
  buf.writeUInt32LE(entry.softTokens.length, 8);
  buf.writeUInt32LE(entry.vector.length, 12);
  return buf;
}

/** Undefined when the bytes are not an intact entry. */
export function decodeEntry(buf: Uint8Array): SoftPromptEntry | undefined {
  if (buf.byteLength < HEADER_BYTES) return undefined;
  const view = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (view.readUInt32LE(0) !== MAGIC) return undefined;
  const nSoft = view.readUInt32LE(8);
  const nVec = view.readUInt32LE(12);
  if (view.byteLength !== HEADER_BYTES + (nSoft + nVec) * 4) return undefined;
  if (crc32(view.subarray(HEADER_BYTES)) !== view.readUInt32LE(4)) return undefined;
  // Copy out: lmdb may reuse the buffer it returned.
  const bytes = new Uint8Array(view.subarray(HEADER_BYTES));
  const floats = new Float32Array(bytes.buffer);
  return { softTokens: floats.slice(0, nSoft), vector: floats.slice(nSoft) };
}

/**
 * lmdb maps its file into memory: a truncated or damaged file can kill the process that reads it
 * (SIGBUS past the end of a truncated file, SIGSEGV on a damaged meta page) instead of throwing. So an
 * existing cache is opened first in a short-lived child process that checks the file size against
 * lmdb's own page count reads every key and value, and commits one write. Returns undefined when the cache is sound,
 * else what is wrong with it.
 */
export function probeCache(dir: string): string | undefined {
  const script = `
    const { open } = require(process.argv[1]);
    const fs = require('fs');
    const dir = process.argv[2];
    const root = open({ path: dir, maxDbs: 4, mapSize: 64 * 1024 ** 3 });
    const st = root.getStats();
    const size = fs.statSync(dir + '/data.mdb').size;
    if (size < (st.lastPageNumber + 1) * st.pageSize) {
      console.error('file is ' + size + ' bytes, lmdb expects ' + (st.lastPageNumber + 1) * st.pageSize);
      process.exit(3);
    }
    let n = 0;
    // Every key (the B-tree's branch and leaf pages); values' own pages are covered by the size check
    // above and by each entry's checksum when it is read.
    for (const name of ['soft-prompts', 'access']) {
      const db = root.openDB({ name, encoding: 'binary' });
      for (const key of db.getKeys()) n += key.length & 1;
    }
    // A write transaction makes lmdb read and rewrite its free list (damage there shows only on write).
    root.putSync('e2code-probe', n);
    root.removeSync('e2code-probe');
    root.close();
    process.exit(0);`;
  let lmdbPath: string;
  try {
    lmdbPath = require.resolve('lmdb');
  } catch {
    return undefined; // cannot probe (unusual packaging): open as before
  }
  const r = spawnSync(process.execPath, ['-e', script, lmdbPath, dir], {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    encoding: 'utf8',
    timeout: 120_000,
  });
  if (r.error) return undefined; // could not run the probe: no evidence of damage
  if (r.status === 0) return undefined;
  const why = (r.stderr ?? '').trim().split('\n').filter(Boolean).pop() ?? '';
  return r.signal ? `reading it crashed a probe process with ${r.signal}` : why || `probe exited with code ${r.status}`;
}

/**
 * A failed lmdb commit as a clear error. lmdb rejects with "Commit failed (see commitError for details)"
 * and a second, rejected promise `commitError` holding the cause (an I/O error when the disk is full);
 * that promise is handled here so it cannot surface as an unhandled rejection.
 */
async function writeError(dir: string, err: unknown): Promise<Error> {
  let cause = err as Error & { commitError?: Promise<unknown> };
  if (cause?.commitError && typeof cause.commitError.then === 'function') {
    cause = (await cause.commitError.then(
      () => cause,
      (e: unknown) => e,
    )) as Error & { commitError?: Promise<unknown> };
  }
  let free = '';
  try {
    const st = statfsSync(dir);
    const bytes = st.bavail * st.bsize;
    if (bytes < 64 * 1024 * 1024) free = `; only ${bytes} bytes free on its disk: is it full?`;
  } catch {
    // no statfs: no hint
  }
  const message = cause instanceof Error ? cause.message : String(cause);
  return new Error(`writing the soft-prompt cache at ${dir} failed (${message})${free}`, { cause });
}

/** A failed lmdb write's error carries `commitError`, a second rejected promise: handle it too. */
function settleCommitError(err: unknown): void {
  const pending = (err as { commitError?: Promise<unknown> } | null)?.commitError;
  if (pending && typeof pending.then === 'function') pending.then(undefined, () => undefined);
}

export class SoftPromptCache {
  private readonly meta = new Map<string, Meta>();
  private bytes = 0;
  private corrupt = 0;
  private evicted = 0;

  private constructor(
    readonly path: string,
    private readonly root: RootDatabase,
    private readonly values: Database<Buffer, string>,
    private readonly access: Database<Meta, string>,
    readonly maxBytes: number,
    private readonly touchIntervalMs: number,
  ) {
    for (const { key, value } of access.getRange()) {
      this.meta.set(key, value);
      this.bytes += value.n;
    }
  }

  /**
   * Opens (creating if needed) the cache at `dir`. `maxBytes` caps stored values (default 2 GiB).
   * An existing cache file is first checked in a child process (see probeCache): a damaged one is moved
   * aside into `dir/corrupt-<time>/`, reported through `log`, and the cache starts empty.
   */
  static open(dir: string, options: { maxBytes?: number; touchIntervalMs?: number; log?: (line: string) => void } = {}): SoftPromptCache {
    mkdirSync(dir, { recursive: true });
    const moveAside = (problem: string) => {
      const aside = path.join(dir, `corrupt-${Date.now()}`);
      mkdirSync(aside, { recursive: true });
      for (const f of ['data.mdb', 'lock.mdb']) {
        if (existsSync(path.join(dir, f))) renameSync(path.join(dir, f), path.join(aside, f));
      }
      options.log?.(`soft-prompt cache at ${dir} is damaged (${problem}); moved it to ${aside} and starting an empty cache`);
    };
    if (existsSync(path.join(dir, 'data.mdb'))) {
      const problem = probeCache(dir);
      if (problem) moveAside(problem);
    }
    const make = () => {
      const root = open({ path: dir, maxDbs: 4, mapSize: 64 * 1024 ** 3, eventTurnBatching: false });
      try {
        const values = root.openDB<Buffer, string>({ name: 'soft-prompts', encoding: 'binary' });
        const access = root.openDB<Meta, string>({ name: 'access', encoding: 'msgpack' });
        return new SoftPromptCache(dir, root, values, access, options.maxBytes ?? 2 * 1024 ** 3, options.touchIntervalMs ?? TOUCH_INTERVAL_MS);
      } catch (err) {
        root.close().catch(() => undefined);
        throw err;
      }
    };
    try {
      return make();
    } catch (err) {
      // Damage the probe did not see (e.g. an undecodable access record): start over.
      moveAside((err as Error).message);
      return make();
    }
  }


  has(bundleId: string, hash: string): boolean {
    return this.meta.has(cacheKey(bundleId, hash));
  }

  /** The entry, or undefined when absent or corrupt (a corrupt entry is removed: re-encode it). */
  get(bundleId: string, hash: string): SoftPromptEntry | undefined {
    const key = cacheKey(bundleId, hash);
    let raw: Buffer | undefined;
    try {
      raw = this.values.getBinary(key);
    } catch {
      // lmdb reports a damaged page (MDB_CORRUPTED, MDB_BAD_TXN...): a miss, re-encoded by the caller
      this.corrupt++;
      return undefined;
    }
    if (raw === undefined) return undefined;
    const entry = decodeEntry(raw);
    if (!entry) {
      this.corrupt++;
      this.removeKey(key);
      return undefined;
    }
    this.touch(key, raw.byteLength);
    return entry;
  }

  /** Stores entries in one transaction, then evicts if over the cap. */
  async putMany(bundleId: string, items: { hash: string; entry: SoftPromptEntry }[]): Promise<void> {
    if (items.length === 0) return;
    const now = Date.now();
    const encoded = items.map(({ hash, entry }) => ({ key: cacheKey(bundleId, hash), buf: encodeEntry(entry) }));
    try {
      await this.root.transaction(() => {
        for (const { key, buf } of encoded) {
          // Each put's own promise rejects too when the commit fails: the transaction's rejection reports it.
          void Promise.resolve(this.values.put(key, buf)).catch(settleCommitError);
          void Promise.resolve(this.access.put(key, { t: now, n: buf.byteLength })).catch(settleCommitError);
        }
      });
    } catch (err) {
      throw await writeError(this.path, err);
    }
    // Only after the commit: a failed write (disk full) must not leave entries the cache thinks it has.
    for (const { key, buf } of encoded) {
      const old = this.meta.get(key);
      if (old) this.bytes -= old.n;
      const m = { t: now, n: buf.byteLength };
      this.meta.set(key, m);
      this.bytes += m.n;
    }
    if (this.bytes > this.maxBytes) await this.evict();
  }

  put(bundleId: string, hash: string, entry: SoftPromptEntry): Promise<void> {
    return this.putMany(bundleId, [{ hash, entry }]);
  }

  /** Removes least recently used entries until the cache is at 90% of its cap; returns how many. */
  async evict(): Promise<number> {
    if (this.bytes <= this.maxBytes) return 0;
    const target = this.maxBytes * 0.9;
    const byAge = [...this.meta.entries()].sort((a, b) => a[1].t - b[1].t);
    const victims: string[] = [];
    let bytes = this.bytes;
    for (const [key, m] of byAge) {
      if (bytes <= target) break;
      victims.push(key);
      bytes -= m.n;
    }
    try {
      await this.root.transaction(() => {
        for (const key of victims) {
          void Promise.resolve(this.values.remove(key)).catch(settleCommitError);
          void Promise.resolve(this.access.remove(key)).catch(settleCommitError);
        }
      });
    } catch (err) {
      throw await writeError(this.path, err);
    }
    for (const key of victims) {
      const m = this.meta.get(key);
      if (m) this.bytes -= m.n;
      this.meta.delete(key);
    }
    this.evicted += victims.length;
    return victims.length;
  }

  stats(): CacheStats {
    return { entries: this.meta.size, bytes: this.bytes, maxBytes: this.maxBytes, corrupt: this.corrupt, evicted: this.evicted, path: this.path };
  }

  /** Waits for pending writes, then closes the environment. */
  async close(): Promise<void> {
    await this.root.flushed;
    await this.root.close();
  }

  private touch(key: string, n: number): void {
    const now = Date.now();
    const m = this.meta.get(key);
    if (m && now - m.t < this.touchIntervalMs) return;
    const updated = { t: now, n };
    if (!m) this.bytes += n;
    else this.bytes += n - m.n;
    this.meta.set(key, updated);
    this.access.put(key, updated).catch(settleCommitError); // an access time is a hint: never an unhandled rejection
  }

  private removeKey(key: string): void {
    const m = this.meta.get(key);
    if (m) this.bytes -= m.n;
    this.meta.delete(key);
    try {
      this.values.removeSync(key);
      this.access.removeSync(key);
    } catch {
      // a damaged page: the entry stays unreadable, which get() already treats as a miss
    }
  }
}
