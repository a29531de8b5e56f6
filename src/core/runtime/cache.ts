// The soft-prompt cache: (bundle id, chunk hash) -> adapter output (soft tokens) + encoder vector, on
// disk in lmdb. lmdb's copy-on-write B-tree makes every committed write crash-safe; a checksum in each
// value catches corruption that slips past it (torn files, bit rot, foreign writers), and the reader
// drops such an entry so the caller re-encodes it. A size cap evicts the least recently used entries.
import { mkdirSync } from 'node:fs';
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

  /** Opens (creating if needed) the cache at `dir`. `maxBytes` caps stored values (default 2 GiB). */
  static open(dir: string, options: { maxBytes?: number; touchIntervalMs?: number } = {}): SoftPromptCache {
    mkdirSync(dir, { recursive: true });
    const root = open({ path: dir, maxDbs: 4, mapSize: 64 * 1024 ** 3 });
    const values = root.openDB<Buffer, string>({ name: 'soft-prompts', encoding: 'binary' });
    const access = root.openDB<Meta, string>({ name: 'access', encoding: 'msgpack' });
    return new SoftPromptCache(dir, root, values, access, options.maxBytes ?? 2 * 1024 ** 3, options.touchIntervalMs ?? TOUCH_INTERVAL_MS);
  }

  has(bundleId: string, hash: string): boolean {
    return this.meta.has(cacheKey(bundleId, hash));
  }

  /** The entry, or undefined when absent or corrupt (a corrupt entry is removed: re-encode it). */
  get(bundleId: string, hash: string): SoftPromptEntry | undefined {
    const key = cacheKey(bundleId, hash);
    const raw = this.values.getBinary(key);
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
    await this.root.transaction(() => {
      for (const { key, buf } of encoded) {
        const old = this.meta.get(key);
        if (old) this.bytes -= old.n;
        const m = { t: now, n: buf.byteLength };
        this.values.put(key, buf);
        this.access.put(key, m);
        this.meta.set(key, m);
        this.bytes += m.n;
      }
    });
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
    await this.root.transaction(() => {
      for (const key of victims) {
        this.values.remove(key);
        this.access.remove(key);
      }
    });
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
    void this.access.put(key, updated);
  }

  private removeKey(key: string): void {
    const m = this.meta.get(key);
    if (m) this.bytes -= m.n;
    this.meta.delete(key);
    this.values.removeSync(key);
    this.access.removeSync(key);
  }
}
