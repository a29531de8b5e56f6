// The soft-prompt cache: (bundle id, chunk hash) -> adapter output (soft tokens) + encoder vector, on
// disk in lmdb. lmdb's copy-on-write B-tree makes every committed write crash-safe; a checksum in each
// value catches corruption that slips past it (torn files, bit rot, foreign writers), and the reader
// drops such an entry so the caller re-encodes it. A size cap evicts the least recently used entries.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
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

/**
 * A key as a scan returns it, in cacheKey's form: lmdb's key encoding reads a string with a NUL back as
 * the array of its parts (NUL separates the parts of a composite key), so "bundle\0hash" comes back as
 * [bundle, hash]. Without this, entries read at open and entries used since were counted twice.
 */
function storedKey(key: unknown): string {
  return Array.isArray(key) ? key.join('\u0000') : String(key);
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

/** What a probe of an existing cache found. */
export interface ProbeResult {
  /** What is wrong with the file (the cache must be moved aside), or undefined when it is sound. */
  problem?: string;
  /** Deep probes: entries whose value was read, and how many of those failed their checksum. */
  entries?: number;
  corrupt?: number;
}

/**
 * lmdb maps its file into memory: a truncated or damaged file can kill the process that reads it
 * (SIGBUS past the end of a truncated file, SIGSEGV on a damaged meta or B-tree page) instead of
 * throwing. So an existing cache is opened first in a short-lived child process. The quick probe (every
 * open) checks the file size against lmdb's own page count, walks every key (the B-tree's branch and leaf
 * pages) and commits one write (the free list). The deep probe (after an unclean shutdown or a change
 * behind the cache's back: see SoftPromptCache.open) also reads every value, once in key order and once
 * by key lookup from each access record (the two paths the cache itself reads by), and checks each
 * entry's checksum: damage in value or overflow pages crashes the child, not the caller.
 */
export function probeCache(dir: string, options: { deep?: boolean } = {}): string | undefined {
  return probeCacheDetailed(dir, options).problem;
}

export function probeCacheDetailed(dir: string, options: { deep?: boolean } = {}): ProbeResult {
  const script = `
    process.on('uncaughtException', (err) => {
      console.error((err && err.message) || String(err));
      process.exit(5);
    });
    const { open } = require(process.argv[1]);
    const fs = require('fs');
    const { crc32 } = require('zlib');
    const dir = process.argv[2];
    const deep = process.argv[3] === 'deep';
    const root = open({ path: dir, maxDbs: 4, mapSize: 64 * 1024 ** 3 });
    const st = root.getStats();
    const size = fs.statSync(dir + '/data.mdb').size;
    if (size < (st.lastPageNumber + 1) * st.pageSize) {
      console.error('file is ' + size + ' bytes, lmdb expects ' + (st.lastPageNumber + 1) * st.pageSize);
      process.exit(3);
    }
    let n = 0;
    for (const name of ['soft-prompts', 'access']) {
      const db = root.openDB({ name, encoding: 'binary' });
      for (const key of db.getKeys()) n += key.length & 1;
    }
    let entries = 0, corrupt = 0;
    if (deep) {
      const sound = (v) => {
        if (!v || v.length < ${HEADER_BYTES} || v.readUInt32LE(0) !== ${MAGIC}) return false;
        if (v.length !== ${HEADER_BYTES} + (v.readUInt32LE(8) + v.readUInt32LE(12)) * 4) return false;
        return crc32(v.subarray(${HEADER_BYTES})) === v.readUInt32LE(4);
      };
      const values = root.openDB({ name: 'soft-prompts', encoding: 'binary' });
      const bad = [];
      const scanned = new Map(); // as text -> the key as the scan returned it (a string or its parts)
      for (const { key, value } of values.getRange()) {
        entries++;
        scanned.set(String(key), key);
        if (!sound(value)) bad.push(key);
      }
      corrupt = bad.length;
      const access = root.openDB({ name: 'access', encoding: 'msgpack' });
      const records = [];
      let unscanned = 0, lost = 0;
      const found = new Set(); // values keys (as text) a lookup found
      for (const { key, value } of access.getRange()) {
        if (!value || typeof value.t !== 'number' || typeof value.n !== 'number') {
          console.error('access record ' + JSON.stringify(String(key)) + ' is malformed');
          process.exit(4);
        }
        records.push([key, value]);
        if (!access.doesExist(key)) lost++;
        const v = values.getBinary(key);
        if (v !== undefined) {
          n += v.length & 1;
          found.add(String(key));
          unscanned += scanned.has(String(key)) ? 0 : 1;
        }
      }
      // Scanned keys the loop above did not already find by lookup.
      for (const [text, key] of scanned) if (!found.has(text) && !values.doesExist(key)) lost++;
      // Damaged branch pages can hide entries from a scan that a lookup still finds; damaged keys in a
      // page break its order, so a lookup misses entries a scan still lists (writes then land in the
      // wrong place too). Such a tree is not repairable entry by entry.
      if (unscanned > 0 || lost > 0) {
        console.error('B-tree inconsistent: ' + unscanned + ' entries found by lookup but not by a scan, ' + lost + ' listed by a scan but not found by lookup');
        process.exit(5);
      }
      // The write path too: damage in page headers or the free list shows only when lmdb copies pages or
      // allocates new ones (a later commit of the cache itself can then fail or never settle). So drop the
      // entries that failed their checksum (the cache would drop them on first read anyway), rewrite every
      // access record (copies each of their pages), and commit, then remove, a group of entries as large as
      // one the cache writes (allocation from the free list and past the end of the file).
      root.transactionSync(() => {
        for (const key of bad) {
          values.removeSync(key);
          access.removeSync(key);
        }
        for (const [key, value] of records) access.putSync(key, value);
      });
      const filler = Buffer.alloc(${HEADER_BYTES} + (${4 * 1024} + ${4 * 768}) * 4, 1);
      root.transactionSync(() => {
        for (let i = 0; i < 256; i++) values.putSync('e2code-probe-' + i, filler);
      });
      root.transactionSync(() => {
        for (let i = 0; i < 256; i++) values.removeSync('e2code-probe-' + i);
      });
    }
    // A write transaction makes lmdb read and rewrite its free list (damage there shows only on write).
    root.putSync('e2code-probe', n);
    root.removeSync('e2code-probe');
    root.close();
    process.stdout.write(JSON.stringify({ entries, corrupt }));
    process.exit(0);`;
  let lmdbPath: string;
  try {
    lmdbPath = require.resolve('lmdb');
  } catch {
    return {}; // cannot probe (unusual packaging): open as before
  }
  const r = spawnSync(process.execPath, ['-e', script, lmdbPath, dir, options.deep ? 'deep' : 'quick'], {
    env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' },
    encoding: 'utf8',
    timeout: options.deep ? 600_000 : 120_000,
  });
  if (r.error) return {}; // could not run the probe: no evidence of damage
  if (r.status === 0) {
    try {
      return JSON.parse(r.stdout) as ProbeResult;
    } catch {
      // It ended without its result: a write that never settled (lmdb on damaged pages) emptied its event loop.
      return { problem: 'a probe process stopped before it finished (a write never completed)' };
    }
  }
  const why = (r.stderr ?? '').trim().split('\n').filter(Boolean).pop() ?? '';
  return { problem: r.signal ? `reading it crashed a probe process with ${r.signal}` : why || `probe exited with code ${r.status}` };
}

/** How `SoftPromptCache.open` checked an existing file. */
export interface OpenCheck {
  /** Whether every value was read (see probeCache). */
  deep: boolean;
  /** Why (empty for a clean open). */
  reasons: string[];
  entries?: number;
  corrupt?: number;
  /** Where a damaged file was moved. */
  movedAside?: string;
  /** Time the probe took. */
  ms?: number;
}

/** Written next to data.mdb by a clean close: the file as that close left it. */
const CLEAN_FILE = 'clean-close.json';
/** `open-<pid>`: that process has the cache open (removed by its clean close). */
const OPEN_MARKER = /^open-(\d+)$/;

interface CleanRecord {
  size: number;
  mtimeMs: number;
}

/** Caches open in this process, by directory (a directory opened twice shares its marker). */
const openHere = new Map<string, number>();

/** A process's start time in clock ticks since boot (Linux /proc), to tell a reused pid apart; undefined elsewhere. */
function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** The marker's content: pid and start time. */
function markerText(pid: number): string {
  return `${pid} ${startTicks(pid) ?? ''}\n`;
}

/** Whether the process that wrote `marker` still runs (not merely a process with its pid, where that can be told). */
function alive(pid: number, marker: string): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  let recorded: string | undefined;
  try {
    recorded = readFileSync(marker, 'utf8').trim().split(' ')[1];
  } catch {
    recorded = undefined;
  }
  const now = startTicks(pid);
  return !recorded || !now || recorded === now;
}

/**
 * Why a full check of the cache is due before it is used, or [] for a clean open: a process that had it
 * open ended without closing it (SIGKILL, a crash, power loss), or the file is not as the last clean
 * close left it (changed by something else while no e2code process had it open), or there is no record
 * of a clean close at all. Stale markers are returned to be removed once the check has passed.
 */
function suspicions(dir: string): { reasons: string[]; stale: string[] } {
  const reasons: string[] = [];
  const stale: string[] = [];
  let live = 0;
  for (const name of readdirSync(dir)) {
    const m = OPEN_MARKER.exec(name);
    if (!m) continue;
    if (alive(Number(m[1]), path.join(dir, name))) live++;
    else stale.push(path.join(dir, name));
  }
  if (stale.length > 0) reasons.push(`process ${stale.map((f) => path.basename(f).slice(5)).join(', ')} did not close it cleanly`);
  let record: CleanRecord | undefined;
  try {
    record = JSON.parse(readFileSync(path.join(dir, CLEAN_FILE), 'utf8')) as CleanRecord;
  } catch {
    record = undefined;
  }
  if (!record) reasons.push('no record of a clean close');
  else if (live === 0) {
    // While another process has it open the file may change legitimately; its close records it again.
    const st = statSync(path.join(dir, 'data.mdb'));
    if (st.size !== record.size || st.mtimeMs !== record.mtimeMs) reasons.push('data.mdb changed since it was last closed');
  }
  return { reasons, stale };
}

/**
 * A failed lmdb commit as a clear error. lmdb rejects with "Commit failed (see commitError for details)"
 * and a second, rejected promise `commitError` holding the cause (an I/O error when the disk is full);
 * that promise is handled here so it cannot surface as an unhandled rejection.
 */
async function writeError(dir: string, err: unknown): Promise<Error & { diskFull: boolean }> {
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
  const diskFull = free !== '' || (cause as NodeJS.ErrnoException)?.code === 'ENOSPC' || /No space left/i.test(message);
  return Object.assign(new Error(`writing the soft-prompt cache at ${dir} failed (${message})${free}`, { cause }), { diskFull });
}

/** Moves a damaged cache's files into `dir/corrupt-<time>/`; returns that directory. */
function moveAsideFiles(dir: string): string {
  const aside = path.join(dir, `corrupt-${Date.now()}`);
  mkdirSync(aside, { recursive: true });
  for (const f of ['data.mdb', 'lock.mdb']) {
    if (existsSync(path.join(dir, f))) renameSync(path.join(dir, f), path.join(aside, f));
  }
  rmSync(path.join(dir, CLEAN_FILE), { force: true });
  return aside;
}

function openEnv(dir: string): { root: RootDatabase; values: Database<Buffer, string>; access: Database<Meta, string> } {
  const root = open({ path: dir, maxDbs: 4, mapSize: 64 * 1024 ** 3, eventTurnBatching: false });
  try {
    const values = root.openDB<Buffer, string>({ name: 'soft-prompts', encoding: 'binary' });
    const access = root.openDB<Meta, string>({ name: 'access', encoding: 'msgpack' });
    return { root, values, access };
  } catch (err) {
    root.close().catch(() => undefined);
    throw err;
  }
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
  private closed = false;

  private constructor(
    readonly path: string,
    private root: RootDatabase,
    private values: Database<Buffer, string>,
    private access: Database<Meta, string>,
    readonly maxBytes: number,
    private readonly touchIntervalMs: number,
    private readonly check: OpenCheck,
    private readonly log: ((line: string) => void) | undefined,
  ) {
    for (const { key, value } of access.getRange()) {
      this.meta.set(storedKey(key), value);
      this.bytes += value.n;
    }
  }

  /**
   * Opens (creating if needed) the cache at `dir`. `maxBytes` caps stored values (default 2 GiB).
   * An existing cache file is first checked in a child process (see probeCache): quickly on a clean
   * open, in full (every value read) when it was not closed cleanly or changed since (see suspicions).
   * A damaged one is moved aside into `dir/corrupt-<time>/`, reported through `log`, and the cache starts
   * empty; a full check that passes is reported too. While open, `dir/open-<pid>` marks it in use; a
   * clean close removes the marker and records the file in `dir/clean-close.json`.
   */
  static open(dir: string, options: { maxBytes?: number; touchIntervalMs?: number; log?: (line: string) => void } = {}): SoftPromptCache {
    dir = path.resolve(dir);
    mkdirSync(dir, { recursive: true });
    const check: OpenCheck = { deep: false, reasons: [] };
    const moveAside = (problem: string) => {
      const aside = moveAsideFiles(dir);
      check.movedAside = aside;
      const why = check.deep ? `; checked in full because ${check.reasons.join(' and ')}` : '';
      options.log?.(`soft-prompt cache at ${dir} is damaged (${problem}${why}); moved it to ${aside} and starting an empty cache`);
    };
    if (existsSync(path.join(dir, 'data.mdb'))) {
      const { reasons, stale } = suspicions(dir);
      check.deep = reasons.length > 0;
      check.reasons = reasons;
      const t0 = performance.now();
      const probe = probeCacheDetailed(dir, { deep: check.deep });
      check.ms = performance.now() - t0;
      if (probe.problem) moveAside(probe.problem);
      else if (check.deep) {
        check.entries = probe.entries;
        check.corrupt = probe.corrupt;
        options.log?.(
          `soft-prompt cache at ${dir} checked in full because ${reasons.join(' and ')}: ${probe.entries ?? 0} entries read` +
            `${probe.corrupt ? `, ${probe.corrupt} failed their checksum (dropped and re-encoded when used)` : ', all sound'} (${Math.round(check.ms)} ms)`,
        );
      }
      for (const f of stale) rmSync(f, { force: true });
    }
    const make = () => {
      const { root, values, access } = openEnv(dir);
      try {
        return new SoftPromptCache(dir, root, values, access, options.maxBytes ?? 2 * 1024 ** 3, options.touchIntervalMs ?? TOUCH_INTERVAL_MS, check, options.log);
      } catch (err) {
        root.close().catch(() => undefined);
        throw err;
      }
    };
    let cache: SoftPromptCache;
    try {
      cache = make();
    } catch (err) {
      // Damage the probe did not see (e.g. an undecodable access record): start over.
      moveAside((err as Error).message);
      cache = make();
    }
    cache.markOpen();
    return cache;
  }

  private recoveries = 0;

  /** Changes when the cache was started over while open (see recover): what was read from it before is gone. */
  get generation(): number {
    return this.recoveries;
  }

  /** Closes a cache whose writes fail for a reason other than a full disk, moves it aside, starts empty. */
  private async recover(reason: string): Promise<void> {
    this.recoveries++;
    try {
      await this.root.close();
    } catch {
      // closing a damaged environment may fail too: it is moved aside anyway
    }
    const aside = moveAsideFiles(this.path);
    this.log?.(`soft-prompt cache at ${this.path} is damaged (${reason}); moved it to ${aside} and starting an empty cache`);
    const env = openEnv(this.path);
    this.root = env.root;
    this.values = env.values;
    this.access = env.access;
    this.meta.clear();
    this.bytes = 0;
  }

  /** How the last open checked the file (tests, doctor). */
  get openCheck(): Readonly<OpenCheck> {
    return this.check;
  }

  private markOpen(): void {
    const n = openHere.get(this.path) ?? 0;
    openHere.set(this.path, n + 1);
    if (n > 0) return;
    try {
      writeFileSync(path.join(this.path, `open-${process.pid}`), markerText(process.pid));
    } catch {
      // no marker: an unclean end of this process goes unnoticed, as before
    }
  }

  /** Records the file as this clean close leaves it, then drops this process's marker. */
  private markClosed(): void {
    const n = (openHere.get(this.path) ?? 1) - 1;
    if (n > 0) {
      openHere.set(this.path, n);
      return;
    }
    openHere.delete(this.path);
    try {
      const st = statSync(path.join(this.path, 'data.mdb'));
      const record: CleanRecord = { size: st.size, mtimeMs: st.mtimeMs };
      const tmp = path.join(this.path, `${CLEAN_FILE}.${process.pid}.tmp`);
      writeFileSync(tmp, JSON.stringify(record));
      renameSync(tmp, path.join(this.path, CLEAN_FILE));
      rmSync(path.join(this.path, `open-${process.pid}`), { force: true });
    } catch {
      // no record (disk full, cache removed): the next open checks in full
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
    const write = () =>
      this.root.transaction(() => {
        for (const { key, buf } of encoded) {
          // Each put's own promise rejects too when the commit fails: the transaction's rejection reports it.
          void Promise.resolve(this.values.put(key, buf)).catch(settleCommitError);
          void Promise.resolve(this.access.put(key, { t: now, n: buf.byteLength })).catch(settleCommitError);
        }
      });
    try {
      await write();
    } catch (err) {
      const e = await writeError(this.path, err);
      // Not a full disk: lmdb failed on its own structures (a damaged free list or page header hands out
      // impossible page numbers; reads and the probes cannot see that). Start over once, then retry.
      if (e.diskFull || this.recoveries > 0) throw e;
      await this.recover(e.message);
      try {
        await write();
      } catch (err2) {
        throw await writeError(this.path, err2);
      }
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

  /** Waits for pending writes, then closes the environment (a clean close: see open). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.root.flushed;
    await this.root.close();
    this.markClosed();
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
