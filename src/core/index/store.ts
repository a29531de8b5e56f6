// On-disk persistence of the workspace index: a checksummed snapshot plus an append-only journal.
//
// Why not one JSON file rewritten per change: a 20,000-file index is tens of MB, and rewriting it on
// every save would blow the 300 ms refresh target. Why not lmdb: a truncated or damaged data.mdb can
// crash the process through its memory map, and "a corrupt index is rebuilt, never a crash" is a
// requirement. So:
//   index.snapshot  header line {magic, version, fingerprint, snapshotId, bodyBytes, bodySha256} + JSON body;
//                   written to a temp file, fsynced, renamed over (atomic on POSIX).
//   index.journal   header line {magic, snapshotId}, then one line per committed change set:
//                   `<sha256 of the JSON, 16 hex> <JSON>`. Appended and fsynced; a torn last line
//                   (crash mid-append) fails its checksum and is dropped with what follows it.
// Records are absolute (path -> record or null), so replaying a journal is idempotent. A journal whose
// snapshotId is not the snapshot's (crash between compaction's two renames) is stale and ignored.
// Compaction writes a new snapshot when the journal outgrows a quarter of it (at least 4 MiB).
import { createHash, randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

const SNAPSHOT = 'index.snapshot';
const JOURNAL = 'index.journal';
const SNAPSHOT_MAGIC = 'e2code-index';
const JOURNAL_MAGIC = 'e2code-index-journal';
export const STORE_FORMAT_VERSION = 1;
const MIN_COMPACT_BYTES = 4 * 1024 * 1024;

export interface StoreState<R, S> {
  files: Record<string, R>;
  contentSkips: Record<string, S>;
}

export interface ChangeSet<R, S> {
  files: Record<string, R | null>;
  contentSkips: Record<string, S | null>;
}

export interface LoadReport {
  /** `fresh`: no index yet; `loaded`: read back; `rebuilt`: present but unusable, starting over. */
  status: 'fresh' | 'loaded' | 'rebuilt';
  /** Why the stored index was not used, or what was repaired (a torn journal tail). */
  notes: string[];
}

function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
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

/** Writes `data` to `file` atomically: temp file in the same directory, fsync, rename, fsync the directory. */
export async function writeFileAtomic(file: string, data: string | Uint8Array): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  const h = await fsp.open(tmp, 'w');
  try {
    await h.writeFile(data);
    await h.sync();
  } finally {
    await h.close();
  }
  try {
    await fsp.rename(tmp, file);
  } catch (err) {
    await fsp.rm(tmp, { force: true });
    throw err;
  }
  await fsyncDir(path.dirname(file));
}

export class IndexStore<R, S> {
  private snapshotId = '';
  private snapshotBytes = 0;
  private journalBytes = 0;

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

  async load(): Promise<{ state: StoreState<R, S>; report: LoadReport }> {
    const empty = (): StoreState<R, S> => ({ files: {}, contentSkips: {} });
    const notes: string[] = [];
    let raw: Buffer;
    try {
      raw = await fsp.readFile(this.snapshotPath);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return { state: empty(), report: { status: 'fresh', notes } };
    }
    let state: StoreState<R, S>;
    try {
      state = this.parseSnapshot(raw);
    } catch (err) {
      notes.push(`index snapshot unusable (${(err as Error).message}); rebuilding`);
      this.snapshotId = '';
      return { state: empty(), report: { status: 'rebuilt', notes } };
    }
    this.snapshotBytes = raw.length;
    await this.replayJournal(state, notes);
    return { state, report: { status: 'loaded', notes } };
  }

  private parseSnapshot(raw: Buffer): StoreState<R, S> {
    const nl = raw.indexOf(10);
    if (nl < 0) throw new Error('no header');
    let header: { magic?: string; version?: number; fingerprint?: string; snapshotId?: string; bodyBytes?: number; bodySha256?: string };
    try {
      header = JSON.parse(raw.subarray(0, nl).toString('utf8'));
    } catch {
      throw new Error('header is not JSON');
    }
    if (header.magic !== SNAPSHOT_MAGIC) throw new Error('not an e2code index');
    if (header.version !== STORE_FORMAT_VERSION) throw new Error(`format version ${header.version}, expected ${STORE_FORMAT_VERSION}`);
    if (header.fingerprint !== this.fingerprint) throw new Error('indexing settings changed');
    const body = raw.subarray(nl + 1);
    if (body.length !== header.bodyBytes) throw new Error(`truncated: ${body.length} of ${header.bodyBytes} bytes`);
    if (sha256(body) !== header.bodySha256) throw new Error('checksum mismatch');
    const state = JSON.parse(body.toString('utf8')) as StoreState<R, S>;
    if (!state || typeof state.files !== 'object' || typeof state.contentSkips !== 'object') throw new Error('malformed body');
    this.snapshotId = String(header.snapshotId);
    return state;
  }

  private async replayJournal(state: StoreState<R, S>, notes: string[]): Promise<void> {
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
      header = offset < 0 ? {} : JSON.parse(raw.subarray(0, offset).toString('utf8'));
    } catch {
      // handled below as a stale journal
    }
    if (header.magic !== JOURNAL_MAGIC || header.snapshotId !== this.snapshotId) {
      // Left from before the last compaction (or damaged at its very start): the snapshot is complete without it.
      await fsp.rm(this.journalPath, { force: true });
      return;
    }
    offset += 1;
    let good = offset;
    let records = 0;
    while (offset < raw.length) {
      const nl = raw.indexOf(10, offset);
      if (nl < 0) break;
      const line = raw.subarray(offset, nl).toString('utf8');
      const space = line.indexOf(' ');
      const json = line.slice(space + 1);
      if (space !== 16 || sha256(json).slice(0, 16) !== line.slice(0, 16)) break;
      const change = JSON.parse(json) as ChangeSet<R, S>;
      applyChange(state, change);
      records++;
      offset = nl + 1;
      good = offset;
    }
    if (good < raw.length) {
      notes.push(`index journal: dropped a torn or damaged tail of ${raw.length - good} bytes after ${records} change sets`);
      await fsp.truncate(this.journalPath, good);
    }
    this.journalBytes = good;
  }

  /** Persists one change set; compacts into a new snapshot when the journal has grown large. */
  async commit(change: ChangeSet<R, S>, state: () => StoreState<R, S>): Promise<void> {
    if (!Object.keys(change.files).length && !Object.keys(change.contentSkips).length) return;
    const json = JSON.stringify(change);
    const line = `${sha256(json).slice(0, 16)} ${json}\n`;
    const lineBytes = Buffer.byteLength(line);
    if (!this.snapshotId || this.journalBytes + lineBytes > Math.max(MIN_COMPACT_BYTES, this.snapshotBytes / 4)) {
      await this.writeSnapshot(state());
      return;
    }
    await fsp.mkdir(this.dir, { recursive: true });
    const h = await fsp.open(this.journalPath, 'a');
    try {
      if (this.journalBytes === 0) {
        const head = `${JSON.stringify({ magic: JOURNAL_MAGIC, snapshotId: this.snapshotId })}\n`;
        await h.write(head);
        this.journalBytes = Buffer.byteLength(head);
      }
      await h.write(line);
      await h.datasync();
    } finally {
      await h.close();
    }
    this.journalBytes += lineBytes;
  }

  /** Writes the whole state as a new snapshot (atomically) and starts an empty journal for it. */
  async writeSnapshot(state: StoreState<R, S>): Promise<void> {
    await fsp.mkdir(this.dir, { recursive: true });
    const body = Buffer.from(JSON.stringify(state), 'utf8');
    const snapshotId = randomBytes(8).toString('hex');
    const header = {
      magic: SNAPSHOT_MAGIC,
      version: STORE_FORMAT_VERSION,
      fingerprint: this.fingerprint,
      snapshotId,
      bodyBytes: body.length,
      bodySha256: sha256(body),
    };
    const head = Buffer.from(`${JSON.stringify(header)}\n`, 'utf8');
    await writeFileAtomic(this.snapshotPath, Buffer.concat([head, body]));
    // The old journal's header names the old snapshot: if we crash before removing it, load ignores it.
    await fsp.rm(this.journalPath, { force: true });
    this.snapshotId = snapshotId;
    this.snapshotBytes = head.length + body.length;
    this.journalBytes = 0;
  }
}

export function applyChange<R, S>(state: StoreState<R, S>, change: ChangeSet<R, S>): void {
  for (const [p, r] of Object.entries(change.files)) {
    if (r === null) delete state.files[p];
    else state.files[p] = r;
  }
  for (const [p, s] of Object.entries(change.contentSkips)) {
    if (s === null) delete state.contentSkips[p];
    else state.contentSkips[p] = s;
  }
}
