// The soft-prompt cache: (bundle id, chunk hash) -> adapter output (soft tokens) + encoder vector, on
// disk in lmdb. lmdb's copy-on-write B-tree makes every committed write crash-safe; a checksum in each
// value catches corruption that slips past it (torn files, bit rot, foreign writers), and the reader
// drops such an entry so the caller re-encodes it. A size cap evicts the least recently used entries.
//
// The cache is an optimisation, never a reason for an answer to fail: a directory that cannot be written
// is used read-only, one that cannot be used at all is skipped, and a disk without room (see ./space.ts)
// pauses caching until space returns; each is said once through `log`.
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import path from 'node:path';
import { open, type Database, type RootDatabase } from 'lmdb';
import { cacheKey, decodeEntry, encodeEntry, type SoftPromptEntry } from './entry';
import { probeCacheDetailed } from './probe';
import { WRITE_TEST_ENTRIES, WRITE_TEST_ENTRY_BYTES } from './probeChild';
import { NEW_ENV_BYTES, diskSpace, formatBytes, growthBound, room } from './space';

export { cacheKey, decodeEntry, encodeEntry, type SoftPromptEntry } from './entry';
export { probeCache, probeCacheDetailed, type ProbeResult } from './probe';

/**
 * 'write': the usual. 'read': what the file holds is used, nothing new is stored (a read-only directory,
 * or a disk too full to write to). 'off': no file is used (it cannot be created or read): every lookup
 * misses, and answers are made without caching.
 */
export type CacheMode = 'write' | 'read' | 'off';

export interface CacheStats {
  entries: number;
  bytes: number;
  maxBytes: number;
  /** Entries found corrupt and dropped since open. */
  corrupt: number;
  evicted: number;
  path: string;
  mode: CacheMode;
  /** Whether new entries are being stored now (false while the disk has no room, or in 'read'/'off'). */
  writing: boolean;
}

interface Meta {
  /** Last access, ms since epoch. */
  t: number;
  /** Stored value size in bytes. */
  n: number;
}

/** By default access times are rewritten at most this often per entry: reads should not turn into writes. */
const TOUCH_INTERVAL_MS = 60_000;
/** Access times are committed in one transaction this long after the first pending one. */
const TOUCH_FLUSH_MS = 1000;

/**
 * A key as a scan returns it, in cacheKey's form: lmdb's key encoding reads a string with a NUL back as
 * the array of its parts (NUL separates the parts of a composite key), so "bundle\0hash" comes back as
 * [bundle, hash]. Without this, entries read at open and entries used since were counted twice.
 */
function storedKey(key: unknown): string {
  return Array.isArray(key) ? key.join('\u0000') : String(key);
}

/** How `SoftPromptCache.open` checked an existing file. */
export interface OpenCheck {
  /** Whether every value was read (see probeCache). */
  deep: boolean;
  /** Why (empty for a clean open). */
  reasons: string[];
  entries?: number;
  corrupt?: number;
  /** Where a damaged file was moved (absent when it was deleted for lack of space: see `deletedDamaged`). */
  movedAside?: string;
  /** A damaged file was deleted, not kept: the disk had no room for a copy beside a new cache. */
  deletedDamaged?: boolean;
  /** Whether the full check's group write ran (skipped on a read-only cache or a disk without room). */
  writeTest?: boolean;
  /** Time the probe took. */
  ms?: number;
}

/** Written next to data.mdb by a clean close: the file as that close left it. */
const CLEAN_FILE = 'clean-close.json';
/** `open-<pid>`: that process has the cache open (removed by its clean close). */
const OPEN_MARKER = /^open-(\d+)$/;
/** `corrupt-<ms>`: a damaged cache moved aside. */
const ASIDE_DIR = /^corrupt-\d+$/;

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

/** Whether the cache may write in `dir`: tried by writing a file, as permissions alone do not tell (root, read-only mounts). */
function writeAccess(dir: string): { ok: true } | { ok: false; full: boolean; why: string } {
  const probe = path.join(dir, `.write-check-${process.pid}`);
  try {
    writeFileSync(probe, 'x');
    rmSync(probe, { force: true });
  } catch (err) {
    try {
      rmSync(probe, { force: true });
    } catch {
      // nothing was created
    }
    return notWritable(err);
  }
  // A file the directory's owner made read-only (not for root, which may write anyway).
  const data = path.join(dir, 'data.mdb');
  if (existsSync(data)) {
    try {
      accessSync(data, constants.W_OK);
    } catch (err) {
      return notWritable(err, 'its data.mdb is not writable');
    }
  }
  return { ok: true };
}

function notWritable(err: unknown, what?: string): { ok: false; full: boolean; why: string } {
  const code = (err as NodeJS.ErrnoException).code ?? 'error';
  if (code === 'ENOSPC' || code === 'EDQUOT') return { ok: false, full: true, why: `its disk is full (${code})` };
  if (code === 'EROFS') return { ok: false, full: false, why: 'it is on a read-only file system' };
  return { ok: false, full: false, why: `${what ?? 'its directory is not writable'} (${code})` };
}

/** A failed lmdb write as a clear error; `diskFull` when the disk had no room for it. */
function writeError(dir: string, err: unknown, payload: number): Error & { diskFull: boolean } {
  settleCommitError(err);
  const cause = err as NodeJS.ErrnoException;
  const message = cause instanceof Error ? cause.message : String(cause);
  const r = room(dir, growthBound(payload));
  const short = !r.ok && r.space ? `; only ${formatBytes(r.space.free)} free on its disk` : '';
  const diskFull = short !== '' || cause?.code === 'ENOSPC' || cause?.code === 'EDQUOT' || /No space left|quota/i.test(message);
  return Object.assign(new Error(`writing the soft-prompt cache at ${dir} failed (${message})${short}`, { cause }), { diskFull });
}

/** A failed lmdb write's error may carry `commitError`, a second rejected promise: handle it too. */
function settleCommitError(err: unknown): void {
  const pending = (err as { commitError?: Promise<unknown> } | null)?.commitError;
  if (pending && typeof pending.then === 'function') pending.then(undefined, () => undefined);
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

/**
 * Moves a damaged cache's files into `dir/corrupt-<time>/`. Only the newest damaged copy is kept (older
 * ones are removed first), and only when the disk keeps room for a new cache as large beside it;
 * otherwise the damaged files are deleted. Renames use no space, so this never fills the disk.
 */
function moveAsideFiles(dir: string): { aside?: string; deleted?: string } {
  for (const name of readdirSync(dir)) {
    if (ASIDE_DIR.test(name)) rmSync(path.join(dir, name), { recursive: true, force: true });
  }
  const size = sizeOf(path.join(dir, 'data.mdb'));
  const aside = path.join(dir, `corrupt-${Date.now()}`);
  mkdirSync(aside, { recursive: true });
  for (const f of ['data.mdb', 'lock.mdb']) {
    if (existsSync(path.join(dir, f))) renameSync(path.join(dir, f), path.join(aside, f));
  }
  rmSync(path.join(dir, CLEAN_FILE), { force: true });
  const r = room(dir, NEW_ENV_BYTES + size);
  if (!r.ok) {
    rmSync(aside, { recursive: true, force: true });
    return {
      deleted: `only ${formatBytes(r.space?.free ?? 0)} free on its disk, too little to keep a ${formatBytes(size)} copy beside a new cache`,
    };
  }
  return { aside };
}

interface Env {
  root: RootDatabase;
  values: Database<Buffer, string>;
  access: Database<Meta, string>;
}

function openEnv(dir: string, readOnly: boolean): Env {
  // noSubdir: lmdb takes a path whose last part has a dot (`/tmp/tmp.5OzG`) for a file, not a directory.
  const root = open({ path: dir, noSubdir: false, maxDbs: 4, mapSize: 64 * 1024 ** 3, eventTurnBatching: false, readOnly });
  try {
    const values = root.openDB<Buffer, string>({ name: 'soft-prompts', encoding: 'binary' });
    const access = root.openDB<Meta, string>({ name: 'access', encoding: 'msgpack' });
    return { root, values, access };
  } catch (err) {
    root.close().catch(() => undefined);
    throw err;
  }
}

/** Why the cache does not write now: a full disk heals by itself; the others last for this process. */
type Block = 'full' | 'readOnly' | 'unusable';

interface CacheOptions {
  maxBytes?: number;
  touchIntervalMs?: number;
  log?: (line: string) => void;
}

export class SoftPromptCache {
  private readonly meta = new Map<string, Meta>();
  private bytes = 0;
  private corrupt = 0;
  private evicted = 0;
  private closed = false;
  private recoveries = 0;
  /** Access times waiting for their commit (see flushTouches). */
  private readonly pendingTouches = new Map<string, Meta>();
  private touchTimer: NodeJS.Timeout | undefined;
  /** A write failed for lack of space: lmdb's environment is reopened before the next one. */
  private reopenBeforeWrite = false;
  /** The pause for space was said (once, until space is really back), and the most room a refused write needed. */
  private fullSaid = false;
  private refusedNeed = 0;

  private constructor(
    readonly path: string,
    private env: Env | undefined,
    private currentMode: CacheMode,
    private block: Block | undefined,
    readonly maxBytes: number,
    private readonly touchIntervalMs: number,
    private readonly check: OpenCheck,
    private readonly log: ((line: string) => void) | undefined,
  ) {
    if (env) this.loadMeta(env);
  }

  private loadMeta(env: Env): void {
    this.meta.clear();
    this.bytes = 0;
    for (const { key, value } of env.access.getRange()) {
      this.meta.set(storedKey(key), value);
      this.bytes += value.n;
    }
  }

  /**
   * Opens (creating if needed) the cache at `dir`. `maxBytes` caps stored values (default 2 GiB).
   * An existing cache file is first checked in a child process (see probeCache): quickly on a clean
   * open, in full (every value read) when it was not closed cleanly or changed since (see suspicions).
   * A damaged one is moved aside into `dir/corrupt-<time>/` (or deleted when the disk has no room to keep
   * it), reported through `log`, and the cache starts empty; a full check that passes is reported too.
   * While open, `dir/open-<pid>` marks it in use; a clean close removes the marker and records the file
   * in `dir/clean-close.json`. A directory it may not write to is used read-only, one it cannot use at all
   * is not used, and a disk without room defers creating the file: each said once through `log`. Never
   * throws for any of these: only when a new, empty cache cannot be opened where there is room for it.
   */
  static open(dir: string, options: CacheOptions = {}): SoftPromptCache {
    dir = path.resolve(dir);
    const log = options.log;
    const check: OpenCheck = { deep: false, reasons: [] };
    const make = (env: Env | undefined, mode: CacheMode, block: Block | undefined) =>
      new SoftPromptCache(
        dir,
        env,
        mode,
        block,
        options.maxBytes ?? 2 * 1024 ** 3,
        options.touchIntervalMs ?? TOUCH_INTERVAL_MS,
        check,
        log,
      );
    const off = (why: string, block: Block) => {
      log?.(`soft-prompt cache at ${dir} is not used (${why}); answering without caching`);
      const cache = make(undefined, 'off', block);
      // That note said it: a full disk is not said again by the first write (space coming back is).
      if (block === 'full') cache.fullSaid = true;
      return cache;
    };
    try {
      mkdirSync(dir, { recursive: true });
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      log?.(`soft-prompt cache directory ${dir} cannot be created (${code}); answering without caching`);
      // Not retried later: making the directory and the environment afterwards is not worth a second path.
      return make(undefined, 'off', 'unusable');
    }
    const dataFile = path.join(dir, 'data.mdb');
    const lockFile = path.join(dir, 'lock.mdb');
    const access = writeAccess(dir);
    let mode: CacheMode = access.ok ? 'write' : 'read';
    const readOnlyWhy = access.ok ? '' : access.why;
    const readBlock: Block = !access.ok && access.full ? 'full' : 'readOnly';

    if (existsSync(dataFile)) {
      // lmdb creates a missing lock file and writes it through its map: on a full disk that is SIGBUS.
      if (mode === 'read' && readBlock === 'full' && !existsSync(lockFile))
        return off(`${readOnlyWhy}, and its lock.mdb is missing`, 'unusable');
      const { reasons, stale } = suspicions(dir);
      check.deep = reasons.length > 0;
      check.reasons = reasons;
      // The probe writes only where the disk has room; its group write only where that fits too.
      const readOnlyProbe = mode === 'read' || !room(dir, NEW_ENV_BYTES).ok;
      const writeTest = !readOnlyProbe && room(dir, growthBound(WRITE_TEST_ENTRIES * WRITE_TEST_ENTRY_BYTES)).ok;
      const t0 = performance.now();
      const probe = probeCacheDetailed(dir, { deep: check.deep, readOnly: readOnlyProbe, writeTest });
      check.ms = performance.now() - t0;
      check.writeTest = probe.writeTest ?? false;
      if (probe.skipped) {
        log?.(`soft-prompt cache at ${dir} is opened without its crash check: ${probe.skipped}`);
      } else if (probe.problem) {
        if (mode === 'read')
          return off(`${readOnlyWhy}, and it cannot be read: ${probe.problem}`, readBlock === 'full' ? 'unusable' : readBlock);
        if (probe.unopenable) return off(`it cannot be opened: ${probe.problem}`, 'unusable');
        SoftPromptCache.moveAside(dir, check, probe.problem, log);
      } else if (check.deep) {
        check.entries = probe.entries;
        check.corrupt = probe.corrupt;
        const skipped =
          mode === 'write' && !check.writeTest
            ? `; its write test was skipped: only ${formatBytes(diskSpace(dir)?.free ?? 0)} free on its disk`
            : '';
        log?.(
          `soft-prompt cache at ${dir} checked in full because ${reasons.join(' and ')}: ${probe.entries ?? 0} entries read` +
            `${probe.corrupt ? `, ${probe.corrupt} failed their checksum (dropped and re-encoded when used)` : ', all sound'}${skipped} (${Math.round(check.ms)} ms)`,
        );
      }
      if (mode === 'write') for (const f of stale) rmSync(f, { force: true });
    }

    const creating = !existsSync(dataFile) || !existsSync(lockFile);
    if (mode === 'read' && creating) {
      return off(readOnlyWhy, readBlock === 'full' && !existsSync(dataFile) ? 'full' : readBlock === 'full' ? 'unusable' : readBlock);
    }
    if (mode === 'write' && creating) {
      const r = room(dir, NEW_ENV_BYTES);
      if (!r.ok) {
        // A new cache is made once there is room (see mayWrite); a data file without its lock file is not reopened unprobed.
        return off(`only ${formatBytes(r.space?.free ?? 0)} free on its disk`, existsSync(dataFile) ? 'unusable' : 'full');
      }
    }
    const build = () => {
      const env = openEnv(dir, mode === 'read');
      try {
        return make(env, mode, mode === 'read' ? readBlock : undefined);
      } catch (err) {
        env.root.close().catch(() => undefined);
        throw err;
      }
    };
    let cache: SoftPromptCache;
    try {
      cache = build();
    } catch (err) {
      const message = (err as Error).message;
      if (mode === 'read') return off(`${readOnlyWhy}, and it cannot be read: ${message}`, 'unusable');
      const r = room(dir, NEW_ENV_BYTES);
      if (!r.ok) return off(`opening it failed (${message}) with only ${formatBytes(r.space?.free ?? 0)} free on its disk`, 'unusable');
      // Damage the probe did not see (e.g. an undecodable access record): start over.
      SoftPromptCache.moveAside(dir, check, message, log);
      mode = 'write';
      cache = build();
    }
    if (mode === 'read') {
      log?.(
        `soft-prompt cache at ${dir} is used read-only (${readOnlyWhy}): answers use the ${cache.meta.size} entries it holds; nothing new is cached` +
          (readBlock === 'full' ? ' until space returns' : ''),
      );
    } else {
      cache.markOpen();
    }
    return cache;
  }

  private static moveAside(dir: string, check: OpenCheck, problem: string, log: ((line: string) => void) | undefined): void {
    const moved = moveAsideFiles(dir);
    check.movedAside = moved.aside;
    check.deletedDamaged = moved.deleted !== undefined;
    const why = check.deep ? `; checked in full because ${check.reasons.join(' and ')}` : '';
    const where = moved.aside ? `moved it to ${moved.aside}` : `deleted it (${moved.deleted})`;
    log?.(`soft-prompt cache at ${dir} is damaged (${problem}${why}); ${where} and starting an empty cache`);
  }

  /** Changes when the cache was started over while open (see recover): what was read from it before is gone. */
  get generation(): number {
    return this.recoveries;
  }

  /** How the cache is used: see CacheMode. */
  get mode(): CacheMode {
    return this.currentMode;
  }

  /** Closes a cache whose writes fail for a reason other than a full disk, moves it aside, starts empty. */
  private async recover(reason: string): Promise<void> {
    this.recoveries++;
    const env = this.env;
    this.env = undefined;
    try {
      await env?.root.close();
    } catch {
      // closing a damaged environment may fail too: it is moved aside anyway
    }
    const moved = moveAsideFiles(this.path);
    this.log?.(
      `soft-prompt cache at ${this.path} is damaged (${reason}); ${moved.aside ? `moved it to ${moved.aside}` : `deleted it (${moved.deleted})`} and starting an empty cache`,
    );
    this.meta.clear();
    this.bytes = 0;
    this.pendingTouches.clear();
    this.env = openEnv(this.path, false);
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
      rmSync(path.join(this.path, `${CLEAN_FILE}.${process.pid}.tmp`), { force: true });
    }
  }

  has(bundleId: string, hash: string): boolean {
    return this.meta.has(cacheKey(bundleId, hash));
  }

  /** The entry, or undefined when absent or corrupt (a corrupt entry is removed: re-encode it). */
  get(bundleId: string, hash: string): SoftPromptEntry | undefined {
    const env = this.env;
    if (!env) return undefined;
    const key = cacheKey(bundleId, hash);
    let raw: Buffer | undefined;
    try {
      raw = env.values.getBinary(key);
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

  /**
   * Whether `payload` bytes may be written now. A disk without room pauses writing (said once) until a
   * later write finds room again (said once too); a cache opened read-only or 'off' for lack of space is
   * then opened for writing.
   */
  private async mayWrite(payload: number): Promise<boolean> {
    if (this.closed) return false;
    if (this.block !== undefined && this.block !== 'full') return false;
    const need = growthBound(payload) + (this.env ? 0 : NEW_ENV_BYTES);
    const r = room(this.path, need);
    if (!r.ok) {
      this.block = 'full';
      this.refusedNeed = Math.max(this.refusedNeed, need);
      if (!this.fullSaid) {
        this.fullSaid = true;
        this.log?.(
          `soft-prompt cache at ${this.path}: only ${formatBytes(r.space?.free ?? 0)} free on its disk (it keeps ${formatBytes(r.reserve)} free); ` +
            'answering without caching new soft prompts until space returns',
        );
      }
      return false;
    }
    if (this.block === 'full' || this.reopenBeforeWrite || this.currentMode !== 'write') {
      try {
        await this.reopenForWriting();
      } catch (err) {
        this.block = 'unusable';
        this.log?.(
          `soft-prompt cache at ${this.path} cannot be reopened for writing (${(err as Error).message}); answering without caching`,
        );
        return false;
      }
      this.block = undefined;
      this.reopenBeforeWrite = false;
    }
    // Said when even the largest write refused would fit now (a smaller write fitting is not space coming back).
    if (this.fullSaid && (!r.space || r.space.free - r.reserve >= this.refusedNeed)) {
      this.fullSaid = false;
      this.refusedNeed = 0;
      this.log?.(`soft-prompt cache at ${this.path}: space is back (${formatBytes(r.space?.free ?? 0)} free); caching again`);
    }
    return true;
  }

  /** (Re)opens lmdb for writing: after a failed commit (a full disk), or when it was opened read-only or not at all for lack of space. */
  private async reopenForWriting(): Promise<void> {
    if (this.currentMode === 'write' && !this.reopenBeforeWrite && this.env) return;
    const old = this.env;
    this.env = undefined;
    await old?.root.close().catch(() => undefined);
    this.env = openEnv(this.path, false);
    // What the file holds is what an earlier read-only open loaded, or nothing for a new file.
    if (this.currentMode !== 'write') this.loadMeta(this.env);
    if (this.currentMode !== 'write') this.markOpen();
    this.currentMode = 'write';
  }

  /** Stores entries in one transaction, then evicts if over the cap. Without room on the disk, nothing is stored (see mayWrite). */
  async putMany(bundleId: string, items: { hash: string; entry: SoftPromptEntry }[]): Promise<void> {
    if (items.length === 0) return;
    const now = Date.now();
    const encoded = items.map(({ hash, entry }) => ({ key: cacheKey(bundleId, hash), buf: encodeEntry(entry) }));
    const payload = encoded.reduce((n, e) => n + e.buf.byteLength, 0);
    if (!(await this.mayWrite(payload))) return;
    // A synchronous commit: its failure is thrown here (an asynchronous one that fails on a full disk may
    // never settle, which ended a process with no answer and exit code 0).
    const write = () => {
      const env = this.env!;
      env.root.transactionSync(() => {
        for (const { key, buf } of encoded) {
          env.values.putSync(key, buf);
          env.access.putSync(key, { t: now, n: buf.byteLength });
        }
      });
    };
    try {
      write();
    } catch (err) {
      const e = writeError(this.path, err, payload);
      if (e.diskFull) return this.pauseForSpace(e, growthBound(payload));
      // Not a full disk: lmdb failed on its own structures (a damaged free list or page header hands out
      // impossible page numbers; reads and the probes cannot see that). Start over once, then retry.
      if (this.recoveries > 0) throw e;
      await this.recover(e.message);
      try {
        write();
      } catch (err2) {
        const e2 = writeError(this.path, err2, payload);
        if (e2.diskFull) return this.pauseForSpace(e2, growthBound(payload));
        throw e2;
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

  /** A commit failed for lack of space: nothing was stored; writing resumes when a later write finds room. */
  private pauseForSpace(e: Error, need: number): void {
    this.reopenBeforeWrite = true;
    this.block = 'full';
    this.refusedNeed = Math.max(this.refusedNeed, need);
    if (!this.fullSaid) {
      this.fullSaid = true;
      this.log?.(`${e.message}; answering without caching new soft prompts until space returns`);
    }
  }

  put(bundleId: string, hash: string, entry: SoftPromptEntry): Promise<void> {
    return this.putMany(bundleId, [{ hash, entry }]);
  }

  /** Removes least recently used entries until the cache is at 90% of its cap; returns how many. */
  async evict(): Promise<number> {
    if (this.bytes <= this.maxBytes) return 0;
    const env = this.env;
    if (!env || this.currentMode !== 'write') return 0;
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
      env.root.transactionSync(() => {
        for (const key of victims) {
          env.values.removeSync(key);
          env.access.removeSync(key);
        }
      });
    } catch (err) {
      const e = writeError(this.path, err, 0);
      if (e.diskFull) {
        this.pauseForSpace(e, 0);
        return 0;
      }
      throw e;
    }
    for (const key of victims) {
      const m = this.meta.get(key);
      if (m) this.bytes -= m.n;
      this.meta.delete(key);
      this.pendingTouches.delete(key);
    }
    this.evicted += victims.length;
    return victims.length;
  }

  stats(): CacheStats {
    return {
      entries: this.meta.size,
      bytes: this.bytes,
      maxBytes: this.maxBytes,
      corrupt: this.corrupt,
      evicted: this.evicted,
      path: this.path,
      mode: this.currentMode,
      writing: this.currentMode === 'write' && this.block === undefined,
    };
  }

  /** Commits pending access times, then closes the environment (a clean close: see open). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.flushTouches();
    this.closed = true;
    const env = this.env;
    this.env = undefined;
    if (!env) return;
    await env.root.flushed;
    await env.root.close();
    if (this.currentMode === 'write') this.markClosed();
  }

  private touch(key: string, n: number): void {
    const now = Date.now();
    const m = this.meta.get(key);
    if (m && now - m.t < this.touchIntervalMs) return;
    const updated = { t: now, n };
    if (!m) this.bytes += n;
    else this.bytes += n - m.n;
    this.meta.set(key, updated);
    if (this.currentMode !== 'write' || this.block !== undefined) return;
    this.pendingTouches.set(key, updated);
    if (!this.touchTimer) {
      this.touchTimer = setTimeout(() => this.flushTouches(), TOUCH_FLUSH_MS);
      this.touchTimer.unref?.();
    }
  }

  /** Access times are hints: committed together, and dropped when they cannot be (no room, read-only). */
  private flushTouches(): void {
    if (this.touchTimer) clearTimeout(this.touchTimer);
    this.touchTimer = undefined;
    const batch = [...this.pendingTouches];
    this.pendingTouches.clear();
    const env = this.env;
    if (batch.length === 0 || !env || this.closed || this.currentMode !== 'write' || this.block !== undefined) return;
    if (!room(this.path, growthBound(batch.length * 64)).ok) return;
    try {
      env.root.transactionSync(() => {
        for (const [key, m] of batch) env.access.putSync(key, m);
      });
    } catch (err) {
      settleCommitError(err);
    }
  }

  private removeKey(key: string): void {
    const m = this.meta.get(key);
    if (m) this.bytes -= m.n;
    this.meta.delete(key);
    this.pendingTouches.delete(key);
    const env = this.env;
    if (!env || this.currentMode !== 'write' || this.block !== undefined) return; // read-only: it stays a miss
    try {
      env.values.removeSync(key);
      env.access.removeSync(key);
    } catch {
      // a damaged page: the entry stays unreadable, which get() already treats as a miss
    }
  }
}
