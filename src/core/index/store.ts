// On-disk persistence of the workspace index: a checksummed snapshot plus an append-only journal.
//
// Why not one JSON file rewritten per change: a 25,000-file index is ~30 MB, and rewriting it on every
// save would blow the 300 ms refresh target. Why not lmdb: a truncated or damaged data.mdb can crash
// the process through its memory map, and "a corrupt index is rebuilt, never a crash" is a requirement.
// So:
//   index.snapshot  line 1: {magic, version, fingerprint, snapshotId}; then one JSON record per line;
//                   last line: {bodyBytes, bodyCrc32} over the record lines. Streamed to a temp file
//                   (no 30 MB string in memory), fsynced, renamed over the old one (atomic on POSIX).
//   index.journal   line 1: {magic, snapshotId}; then one line per committed change set:
//                   `<CRC-32 of the JSON, 8 hex> <JSON array of records>`. Appended and fsynced; a torn
//                   last line (crash mid-append) fails its checksum and is cut off with what follows.
// Records are absolute (`["f", path, entry]`, `["f", path, null]` = deleted), so replay is idempotent.
// A journal whose snapshotId is not the snapshot's (crash between compaction's rename and the
// journal's removal) is stale and ignored. Compaction writes a new snapshot when the journal outgrows
// a quarter of the snapshot (at least 4 MiB).
import { randomBytes } from 'node:crypto';
import { isAscii } from 'node:buffer';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { crc32 } from 'node:zlib';

const SNAPSHOT = 'index.snapshot';
const JOURNAL = 'index.journal';
const SNAPSHOT_MAGIC = 'e2code-index';
const JOURNAL_MAGIC = 'e2code-index-journal';
export const STORE_FORMAT_VERSION = 4;
const MIN_COMPACT_BYTES = 4 * 1024 * 1024;
const WRITE_BUFFER_BYTES = 1024 * 1024;

/** One stored fact: kind (`f` file entry, `s` content skip), path, value (null: deleted). */
export type StoreRecord<F, S> = ['f', string, F | null] | ['s', string, S | null];

export interface LoadReport {
  /** `fresh`: no index yet; `loaded`: read back; `rebuilt`: present but unusable, starting over. */
  status: 'fresh' | 'loaded' | 'rebuilt';
  /** Why the stored index was not used, or what was repaired (a torn journal tail). */
  notes: string[];
}

/**
 * JSON with every non-ASCII character escaped (\uXXXX), so a stored file is pure ASCII and can be
 * decoded as Latin-1, several times faster than UTF-8 decoding for a 30 MB snapshot.
 */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** Corruption check (not a security boundary): CRC-32, ~8x faster than sha256 on a 30 MB snapshot. */
function checksum(data: string | Uint8Array, previous?: number): string {
  return crc32(data, previous).toString(16).padStart(8, '0');
}

/** Errors that mean the store's file system will not take writes (full, read-only, not permitted). */
const UNWRITABLE: Record<string, string> = {
  ENOSPC: 'its disk is full',
  EDQUOT: 'its disk quota is used up',
  EROFS: 'it is on a read-only file system',
  EACCES: 'permission denied',
  EPERM: 'permission denied',
};

/** Why `err` says the store cannot be written (in words, with the code), or undefined for any other error. */
export function unwritableReason(err: unknown): string | undefined {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code && code in UNWRITABLE ? `${UNWRITABLE[code]}: ${code}` : undefined;
}

async function exists(p: string): Promise<boolean> {
  return fsp.lstat(p).then(
    () => true,
    () => false,
  );
}

/**
 * `mkdir -p`. Node's recursive mkdir reports ENOENT for any failure below the deepest existing folder (a
 * read-only file system, a folder it may not write): then the missing levels are made one at a time, so
 * the error thrown is the real one (EROFS, EACCES, ENOSPC).
 */
export async function makeDir(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true });
    return;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const missing: string[] = [];
  for (let d = path.resolve(dir); !(await exists(d)); d = path.dirname(d)) {
    missing.unshift(d);
    if (path.dirname(d) === d) break;
  }
  for (const d of missing) {
    await fsp.mkdir(d).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'EEXIST') throw err;
    });
  }
}

/** The deepest existing folder at or above `p` (what a user can look at when `p` could not be made). */
export async function nearestExisting(p: string): Promise<string> {
  let d = path.resolve(p);
  while (!(await exists(d)) && path.dirname(d) !== d) d = path.dirname(d);
  return d;
}

/**
 * Writes all of `data` at the handle's position. FileHandle.write makes one write(2), which on a nearly
 * full disk writes part of it and reports success: the rest is written until the disk refuses (ENOSPC,
 * thrown), so a short write never passes as a complete one.
 */
async function writeAll(h: fsp.FileHandle, data: string | Buffer): Promise<void> {
  let buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
  while (buf.length > 0) {
    const { bytesWritten } = await h.write(buf, 0, buf.length);
    buf = buf.subarray(bytesWritten);
  }
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const h = await fsp.open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Some file systems refuse fsync on directories; the rename itself is still atomic.
  }
}

/**
 * Writes a file atomically: `write` fills a temp file in the same directory, which is fsynced and
 * renamed over `file`; on any failure the temp file is removed and `file` is untouched.
 */
export async function writeFileAtomic(file: string, write: string | Uint8Array | ((h: fsp.FileHandle) => Promise<void>)): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const h = await fsp.open(tmp, 'w');
  try {
    try {
      if (typeof write === 'function') await write(h);
      else await h.writeFile(write);
      await h.sync();
    } finally {
      await h.close();
    }
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(file));
}

export class IndexStore<F, S> {
  private snapshotId = '';
  private snapshotBytes = 0;
  private journalBytes = 0;
  /**
   * Set when load() could not tidy the store (remove a killed write's temp file or a stale journal, cut a
   * torn journal tail) because its file system takes no writes: what it read is sound, but nothing may be
   * written after it (an append would follow the torn tail). The caller keeps the index in memory.
   */
  cannotWrite: unknown;

  constructor(
    readonly dir: string,
    /** Settings the stored data depends on (format, chunker settings): a mismatch discards the index. */
    private readonly fingerprint: string,
  ) {}

  get snapshotPath(): string {
    return path.join(this.dir, SNAPSHOT);
  }
  get journalPath(): string {
    return path.join(this.dir, JOURNAL);
  }
  get hasSnapshot(): boolean {
    return this.snapshotId !== '';
  }

  /**
   * Reads the snapshot then the journal, passing every record to `apply` in order. If the snapshot is
   * unusable nothing is applied (status `rebuilt`): `apply` only ever sees verified data.
   */
  async load(apply: (r: StoreRecord<F, S>) => void): Promise<LoadReport> {
    const notes: string[] = [];
    // Temp files of a snapshot write that was killed: never read, so just removed.
    const names = await fsp.readdir(this.dir).catch(() => [] as string[]);
    for (const n of names)
      if (n.startsWith(`${SNAPSHOT}.`) && n.endsWith('.tmp')) await this.tidy(fsp.rm(path.join(this.dir, n), { force: true }));
    let raw: Buffer;
    try {
      raw = await fsp.readFile(this.snapshotPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return { status: 'fresh', notes };
    }
    let body: Buffer;
    try {
      body = this.verifySnapshot(raw);
    } catch (err) {
      notes.push(`index snapshot unusable (${(err as Error).message}); rebuilding`);
      this.snapshotId = '';
      return { status: 'rebuilt', notes };
    }
    // Verified by checksum: parse line by line (no whole-body string).
    const encoding = isAscii(body) ? 'latin1' : 'utf8';
    let start = 0;
    while (start < body.length) {
      let nl = body.indexOf(10, start);
      if (nl < 0) nl = body.length;
      if (nl > start) apply(JSON.parse(body.toString(encoding, start, nl)) as StoreRecord<F, S>);
      start = nl + 1;
    }
    this.snapshotBytes = raw.length;
    await this.replayJournal(apply, notes);
    return { status: 'loaded', notes };
  }

  /** Awaits a clean-up write of load(); one the file system refuses is remembered in cannotWrite. */
  private async tidy(op: Promise<unknown>): Promise<void> {
    try {
      await op;
    } catch (err) {
      if (!unwritableReason(err)) throw err;
      this.cannotWrite ??= err;
    }
  }

  /** Checks header, trailer and checksum; returns the record lines. */
  private verifySnapshot(raw: Buffer): Buffer {
    const first = raw.indexOf(10);
    if (first < 0) throw new Error('no header');
    let header: { magic?: string; version?: number; fingerprint?: string; snapshotId?: string };
    try {
      header = JSON.parse(raw.toString('utf8', 0, first));
    } catch {
      throw new Error('header is not JSON');
    }
    if (header.magic !== SNAPSHOT_MAGIC) throw new Error('not an e2code index');
    if (header.version !== STORE_FORMAT_VERSION) throw new Error(`format version ${header.version}, expected ${STORE_FORMAT_VERSION}`);
    if (header.fingerprint !== this.fingerprint) throw new Error('indexing settings changed');
    const end = raw.length > 0 && raw[raw.length - 1] === 10 ? raw.length - 1 : raw.length;
    const last = raw.lastIndexOf(10, end - 1);
    if (last < first) throw new Error('truncated: no trailer');
    let trailer: { bodyBytes?: number; bodyCrc32?: string };
    try {
      trailer = JSON.parse(raw.toString('utf8', last + 1, end));
    } catch {
      throw new Error('truncated: trailer is not JSON');
    }
    const body = raw.subarray(first + 1, last + 1);
    if (body.length !== trailer.bodyBytes) throw new Error(`truncated: ${body.length} of ${trailer.bodyBytes} bytes`);
    if (checksum(body) !== trailer.bodyCrc32) throw new Error('checksum mismatch');
    this.snapshotId = String(header.snapshotId);
    return body;
  }

  private async replayJournal(apply: (r: StoreRecord<F, S>) => void, notes: string[]): Promise<void> {
    let raw: Buffer;
    try {
      raw = await fsp.readFile(this.journalPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return;
    }
    let offset = raw.indexOf(10);
    let header: { magic?: string; snapshotId?: string } = {};
    try {
      header = offset < 0 ? {} : JSON.parse(raw.toString('utf8', 0, offset));
    } catch {
      // handled below as a stale journal
    }
    if (header.magic !== JOURNAL_MAGIC || header.snapshotId !== this.snapshotId) {
      // Left from before the last compaction (or damaged at its very start): the snapshot is complete without it.
      await this.tidy(fsp.rm(this.journalPath, { force: true }));
      return;
    }
    offset += 1;
    let good = offset;
    let sets = 0;
    while (offset < raw.length) {
      const nl = raw.indexOf(10, offset);
      if (nl < 0) break;
      const line = raw.toString('utf8', offset, nl);
      const json = line.slice(9);
      if (line[8] !== ' ' || checksum(json) !== line.slice(0, 8)) break;
      for (const r of JSON.parse(json) as StoreRecord<F, S>[]) apply(r);
      sets++;
      offset = nl + 1;
      good = offset;
    }
    if (good < raw.length) {
      notes.push(`index journal: dropped a torn or damaged tail of ${raw.length - good} bytes after ${sets} change sets`);
      await this.tidy(fsp.truncate(this.journalPath, good));
    }
    this.journalBytes = good;
  }

  /**
   * Persists one change set (appended to the journal), or, when there is no snapshot yet or the journal
   * has grown large, writes a whole new snapshot from `all` instead.
   */
  async commit(changes: StoreRecord<F, S>[], all: () => Iterable<StoreRecord<F, S>>): Promise<void> {
    if (!changes.length) return;
    if (!this.snapshotId) return this.writeSnapshot(all());
    const json = asciiJson(changes);
    const line = `${checksum(json)} ${json}\n`;
    const lineBytes = Buffer.byteLength(line);
    if (this.journalBytes + lineBytes > Math.max(MIN_COMPACT_BYTES, this.snapshotBytes / 4)) return this.writeSnapshot(all());
    await makeDir(this.dir);
    const before = this.journalBytes;
    const h = await fsp.open(this.journalPath, 'a');
    try {
      let bytes = before;
      if (bytes === 0) {
        const head = `${JSON.stringify({ magic: JOURNAL_MAGIC, snapshotId: this.snapshotId })}\n`;
        await writeAll(h, head);
        bytes = Buffer.byteLength(head);
      }
      await writeAll(h, line);
      await h.datasync();
      this.journalBytes = bytes + lineBytes;
    } catch (err) {
      // A full disk may have taken part of the line: cut the journal back to the change sets it held
      // (shrinking a file needs no space), so it is left exactly as it was.
      await (before === 0 ? fsp.rm(this.journalPath, { force: true }) : h.truncate(before)).catch(() => undefined);
      throw err;
    } finally {
      await h.close();
    }
  }

  /** Streams all records into a new snapshot (atomically) and starts an empty journal for it. */
  async writeSnapshot(records: Iterable<StoreRecord<F, S>>): Promise<void> {
    await makeDir(this.dir);
    const snapshotId = randomBytes(8).toString('hex');
    let total = 0;
    await writeFileAtomic(this.snapshotPath, async (h) => {
      const head = `${JSON.stringify({ magic: SNAPSHOT_MAGIC, version: STORE_FORMAT_VERSION, fingerprint: this.fingerprint, snapshotId })}\n`;
      await writeAll(h, head);
      let crc = 0;
      let bodyBytes = 0;
      let pending: string[] = [];
      let pendingLen = 0;
      const flush = async () => {
        const buf = Buffer.from(pending.join(''), 'utf8');
        pending = [];
        pendingLen = 0;
        crc = crc32(buf, crc);
        bodyBytes += buf.length;
        await writeAll(h, buf);
      };
      for (const r of records) {
        const line = `${asciiJson(r)}\n`;
        pending.push(line);
        pendingLen += line.length;
        if (pendingLen >= WRITE_BUFFER_BYTES) await flush();
      }
      await flush();
      const trailer = `${JSON.stringify({ bodyBytes, bodyCrc32: crc.toString(16).padStart(8, '0') })}\n`;
      await writeAll(h, trailer);
      total = Buffer.byteLength(head) + bodyBytes + Buffer.byteLength(trailer);
    });
    // The old journal's header names the old snapshot: if we crash before removing it, load ignores it.
    await fsp.rm(this.journalPath, { force: true });
    this.snapshotId = snapshotId;
    this.snapshotBytes = total;
    this.journalBytes = 0;
  }
}
