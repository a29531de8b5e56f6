/**
 * The workspace index: workspace-relative path -> {size, mtimeMs, contentHash, language, ordered chunks},
 * kept incrementally and persisted outside the workspace.
 *
 * For the runtime:
 *   const index = await WorkspaceIndex.open({ root, chunkTokens: 256 });   // loads the stored index
 *   const r = await index.refresh({ onProgress, signal, onChunks });       // full walk
 *   // r.newChunkHashes: chunks whose text is new to the index -> encode these;
 *   // r.removedChunkHashes: no longer referenced anywhere -> the vector cache may drop them.
 *   // onChunks(chunks) receives, per re-chunked file, its chunks WITH text whose hash is new, so the
 *   // encoder needs no second read.
 *   await index.refreshPaths(['src/a.ts']);                                // editor save/create/delete/rename
 *   index.files(); index.chunksOf(path); index.allChunks(); index.chunkByHash(h); index.definitions('Foo');
 *   await index.readChunks(path)      // full Chunk objects (with text), re-derived from the file
 *   await index.chunkTexts(hashes)    // hash -> Chunk with text, for any set of indexed hashes
 *   index.lexicalSearch('how do I add a subcommand', 20)  // BM25 over chunk text: [{ hash, score }], best first
 *   await index.close();
 * The vector cache is the runtime's: newChunkHashes is the delta of one refresh, so after a start (or
 * an index built by `e2code index` without encoding) encode every allChunks() hash the cache lacks.
 * Refreshes run one at a time (calls queue); a file the chunker throws on is a `chunk-error` skip.
 *
 * Chunk text is not stored (it would double the index to the size of the repository): the index keeps
 * each chunk's metadata and hash. Text is re-derived by re-reading the file and re-chunking it; the
 * file's sha256 must equal the indexed contentHash, else `StaleFileError` (the file changed since it
 * was indexed: refresh that path first). Re-chunking is deterministic, and the resulting hashes are
 * checked against the index too.
 *
 * Change detection: size + mtime first (no read); if either differs, the content is hashed, and only a
 * file whose content hash changed is re-chunked. A file read within moments of its last modification
 * is "racy" (see isRacy) and re-hashed on the next refresh. Chunk hashes are content addresses, so
 * after a branch switch only chunks whose text changed come out in newChunkHashes.
 *
 * Lexical index: a LexicalIndex (../retrieve/lexical) holds one document per indexed chunk hash, kept in
 * step by every refresh (new chunks are added with the text already in hand, chunks no longer referenced
 * are removed). Stored as ./lexicalStore describes, once enough documents changed (LEXICAL_SAVE_MIN) and
 * on close(); when the index opens it is reconciled with the chunk set (missing documents re-read from
 * the files, a corrupt or missing file rebuilt, with a note in loadReport).
 *
 * Persistence: see ./store (checksummed snapshot + fsynced journal, atomic; a corrupt or incompatible
 * store is reported in `loadReport` and rebuilt; the fingerprint holds the e2code version, chunk
 * token budget and tokenizer id, so a change of any re-chunks everything). Default location:
 * `$XDG_CACHE_HOME/e2code/workspaces/<sha256(abs root), 16 hex>/` (fallback ~/.cache, then a temporary
 * folder: see defaultStoreLocation). A store that takes no writes (full disk, read-only, not permitted)
 * leaves the index in memory for that run, with one note (inMemory). One writer per store at a time is
 * assumed (the sidecar); a concurrent writer is not locked out.
 */
import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Chunk, Progress, SkipReason } from '../types';
import { VERSION } from '../version';
import {
  countByReason,
  IgnoreRules,
  isIgnoreFile,
  listFiles,
  readWalkFile,
  toRelative,
  classifyName,
  DEFAULT_MAX_FILE_BYTES,
  type Skip,
  type WalkFile,
  type WalkOptions,
} from '../walker/index';
import { IndexStore, type LoadReport, type StoreRecord, makeDir, nearestExisting, unwritableReason, writeFileAtomic } from './store';
import { cacheHome } from '../runtime/cache/location';
import { LexicalIndex, type LexicalDoc, type LexicalHit } from '../retrieve/lexical';
import { readLexical, writeLexical } from './lexicalStore';
import { internalMarks } from '../retrieve/visibility';

export type { LoadReport } from './store';

/** A chunk as the index knows it: everything but the text, and whether its code marks it internal. */
export type IndexedChunk = Omit<Chunk, 'text'> & { internal?: boolean };

export interface FileEntry {
  size: number;
  mtimeMs: number;
  /** sha256 (hex) of the file's bytes. */
  contentHash: string;
  language: string;
  /** In file order; they tile the file. */
  chunks: IndexedChunk[];
  /** When the content was last read (ms since epoch). */
  checkedAt: number;
}

/** A file left out for its content (binary, minified, ...): remembered by stat so it is not re-read. */
export interface ContentSkip {
  size: number;
  mtimeMs: number;
  reason: SkipReason;
  detail?: string;
}

/** The minimal chunker the index needs (src/core/chunker's Chunker satisfies it). */
export interface IndexChunker {
  languageOf(path: string): string;
  chunkFile(path: string, content: Uint8Array): Promise<Chunk[]>;
}

export interface WorkspaceIndexOptions {
  root: string;
  /**
   * Most chunks the lexical (word) index covers (default LEXICAL_MAX_CHUNKS). minisearch holds ~4 KB per
   * chunk in memory; past this the word index is turned off (lexicalOff says why) rather than take GBs.
   */
  lexicalMaxChunks?: number;
  /** Where the index is stored; default defaultStoreDir(root). */
  storeDir?: string;
  /** Keep everything in memory only (tests, one-off runs). */
  persist?: boolean;
  /** Chunker to use; default createChunker({ maxTokens: chunkTokens }) from ../chunker. */
  chunker?: IndexChunker;
  /** Chunk token budget (default 256). Part of the store fingerprint: changing it re-chunks everything. */
  chunkTokens?: number;
  /** Identifies the token counter (e.g. the bundle's tokenizer id); part of the fingerprint. */
  tokenizerId?: string;
  excludeGlobs?: readonly string[];
  defaultExcludes?: readonly string[];
  useGitignore?: boolean;
  maxFileBytes?: number;
  contentLimits?: WalkOptions['contentLimits'];
  /**
   * Receives each note as it is made (those of loadReport.notes, including ones made after open: the
   * store turning out full during a refresh, word search turned off), for a caller that shows them live.
   */
  onNote?: (note: string) => void;
  /** Test seam, passed to the walker: runs between listing a file and reading it. */
  beforeRead?: WalkOptions['beforeRead'];
}

export interface RefreshOptions {
  onProgress?: (p: Progress) => void;
  signal?: AbortSignal;
  /** Receives, per re-chunked file, those of its chunks (with text) whose hash is new to the index. */
  onChunks?: (chunks: Chunk[]) => void | Promise<void>;
}

export interface RefreshResult {
  added: string[];
  removed: string[];
  updated: string[];
  unchanged: string[];
  /** Chunk hashes referenced now and not before this refresh: what needs encoding. */
  newChunkHashes: string[];
  /** Chunk hashes referenced before and no longer. */
  removedChunkHashes: string[];
  /** Skips of this refresh by reason (a full refresh: the whole workspace; refreshPaths: those paths). */
  skipped: Partial<Record<SkipReason, number>>;
  /** Per-path skips behind `skipped`. */
  skips: Skip[];
  /** Totals of the whole index after the refresh. */
  files: number;
  chunks: number;
  bytes: number;
  seconds: number;
}

export class StaleFileError extends Error {
  constructor(readonly path: string) {
    super(`${path} changed since it was indexed; refresh it first`);
    this.name = 'StaleFileError';
  }
}

/**
 * A file read very soon after its last modification may have been modified again since, with an
 * unchanged mtime (coarse timestamps): such an entry is re-hashed on the next refresh. Whole-second
 * mtimes suggest a coarse file system (2 s window); otherwise the kernel's timestamp tick (50 ms window).
 */
function isRacy(e: { mtimeMs: number; checkedAt: number }): boolean {
  return e.checkedAt - e.mtimeMs < (e.mtimeMs % 1000 === 0 ? 2000 : 50);
}

const READS_IN_FLIGHT = 8;
/** ~160 MB of word index (minisearch, ~4 KB a chunk): a 40k-chunk workspace is ~6,000 source files. */
export const LEXICAL_MAX_CHUNKS = 40_000;
const INDEX_FORMAT = 1;
/**
 * The lexical file is rewritten whole (~0.1 ms of CPU per chunk, blocking), while re-reading a changed
 * chunk after a crash costs a few times that: it is saved once the unsaved documents reach a quarter of
 * the index (at least LEXICAL_SAVE_MIN), and on close(). A crash then costs at most about one save.
 */
const LEXICAL_SAVE_MIN = 500;

/**
 * Default store: `<cache home>/workspaces/<sha256(abs root), 16 hex>/`, the cache home being
 * `$XDG_CACHE_HOME/e2code`, else `~/.cache/e2code`, else (no home directory) a temporary folder; `note`
 * says so in that last case. Never throws.
 */
export function defaultStoreLocation(root: string, env: NodeJS.ProcessEnv = process.env): { dir: string; note?: string } {
  const home = cacheHome(env);
  const id = createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 16);
  const dir = path.join(home.dir, 'workspaces', id);
  return home.note
    ? {
        dir,
        note: `no home directory and no XDG_CACHE_HOME: the workspace index is stored in ${dir}, which the system may clear; set XDG_CACHE_HOME to keep it`,
      }
    : { dir };
}

/** The default store directory (see defaultStoreLocation). */
export function defaultStoreDir(root: string, env: NodeJS.ProcessEnv = process.env): string {
  return defaultStoreLocation(root, env).dir;
}

// On disk a chunk is a tuple, which keeps a 100k-chunk snapshot compact and fast to parse.
type DiskChunk = [
  startByte: number,
  endByte: number,
  startLine: number,
  endLine: number,
  kind: string,
  symbolPath: string,
  symbols: string[],
  hash: string,
  internal: 0 | 1,
];
interface DiskEntry {
  size: number;
  mtimeMs: number;
  contentHash: string;
  language: string;
  checkedAt: number;
  chunks: DiskChunk[];
}

function toDisk(e: FileEntry): DiskEntry {
  return {
    size: e.size,
    mtimeMs: e.mtimeMs,
    contentHash: e.contentHash,
    language: e.language,
    checkedAt: e.checkedAt,
    chunks: e.chunks.map((c) => [
      c.startByte,
      c.endByte,
      c.startLine,
      c.endLine,
      c.kind,
      c.symbolPath,
      c.symbols,
      c.hash,
      c.internal ? 1 : 0,
    ]),
  };
}

function fromDisk(p: string, d: DiskEntry): FileEntry {
  return {
    size: d.size,
    mtimeMs: d.mtimeMs,
    contentHash: d.contentHash,
    language: d.language,
    checkedAt: d.checkedAt,
    chunks: d.chunks.map(([startByte, endByte, startLine, endLine, kind, symbolPath, symbols, hash, internal]) => ({
      path: p,
      language: d.language,
      startByte,
      endByte,
      startLine,
      endLine,
      kind,
      symbolPath,
      symbols,
      hash,
      internal: internal === 1,
    })),
  };
}

function stripText(c: Chunk, internal: boolean): IndexedChunk {
  return {
    path: c.path,
    language: c.language,
    startByte: c.startByte,
    endByte: c.endByte,
    startLine: c.startLine,
    endLine: c.endLine,
    kind: c.kind,
    symbolPath: c.symbolPath,
    symbols: c.symbols,
    hash: c.hash,
    internal,
  };
}

/** A chunk's code without the one-line header the chunker puts first (path words are a field of their own). */
function lexicalDoc(c: Chunk): LexicalDoc {
  const nl = c.text.indexOf('\n');
  const text = nl >= 0 && c.text.startsWith(c.path) ? c.text.slice(nl + 1) : c.text;
  return { hash: c.hash, path: c.path, symbols: c.symbols, symbolPath: c.symbolPath, text };
}

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Collects what one refresh changed, both for its result and for the store's change set. */
class RefreshRun {
  readonly added: string[] = [];
  readonly removed: string[] = [];
  readonly updated: string[] = [];
  readonly unchanged: string[] = [];
  readonly skips: Skip[] = [];
  /** Hash -> whether it was referenced before this refresh (first touch wins). */
  readonly touched = new Map<string, boolean>();
  /** Paths whose entry / content skip changed: what the store must persist. */
  readonly changedFiles = new Set<string>();
  readonly changedSkips = new Set<string>();
  readonly t0 = performance.now();
}

export class WorkspaceIndex {
  readonly root: string;
  readonly storeDir: string;
  /** What happened when the stored index was opened (fresh / loaded / rebuilt, with notes). */
  loadReport: LoadReport = { status: 'fresh', notes: [] };

  private readonly entries = new Map<string, FileEntry>();
  private readonly contentSkips = new Map<string, ContentSkip>();
  /** Hash -> chunk; an array only for the rare hash that occurs more than once (saves 100k+ arrays). */
  private readonly byHash = new Map<string, IndexedChunk | IndexedChunk[]>();
  /** Name -> defining chunks; built on the first definitions() call (opening a large index is faster without it). */
  private bySymbol: Map<string, IndexedChunk[]> | null = null;
  private readonly rules: IgnoreRules;
  /** Null when the index is kept in memory only (asked for, or its store cannot be written: see inMemory). */
  private store: IndexStore<DiskEntry, ContentSkip> | null;
  /** Said when the default store is in a temporary folder (no home directory). */
  private readonly storeNote: string | undefined;
  /** Why this run keeps the index in memory only (its store took no writes), or undefined. */
  inMemory: string | undefined;
  private readonly fingerprint: string;
  /** BM25 over the chunks: one document per hash in byHash. */
  private lexical = LexicalIndex.empty();
  /** Why word search is off (the workspace is too large for it), or undefined when it is on. */
  lexicalOff: string | undefined;
  /** Lexical documents added or removed since the lexical file was last saved. */
  private lexicalUnsaved = 0;
  private chunker: IndexChunker | null;
  private totalBytes = 0;
  private totalChunks = 0;
  private lastSkips: Skip[] = [];
  /** Refreshes run one at a time: they share the in-memory maps and the store. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(private readonly options: WorkspaceIndexOptions) {
    this.root = path.resolve(options.root);
    const location = options.storeDir ? { dir: path.resolve(options.storeDir) } : defaultStoreLocation(this.root);
    this.storeDir = location.dir;
    this.storeNote = location.note;
    this.rules = new IgnoreRules(this.root, {
      excludeGlobs: options.excludeGlobs,
      defaultExcludes: options.defaultExcludes,
      useGitignore: options.useGitignore,
    });
    this.fingerprint = JSON.stringify({
      format: INDEX_FORMAT,
      version: VERSION,
      chunkTokens: options.chunkTokens ?? 256,
      tokenizer: options.tokenizerId ?? 'estimate',
    });
    this.store = options.persist === false ? null : new IndexStore(this.storeDir, this.fingerprint);
    this.chunker = options.chunker ?? null;
  }

  /** Opens (loading the stored index if any) the index of `options.root`. */
  static async open(options: WorkspaceIndexOptions): Promise<WorkspaceIndex> {
    const index = new WorkspaceIndex(options);
    const st = await fsp.stat(index.root).catch(() => null);
    if (!st?.isDirectory()) throw new Error(`not a directory: ${index.root}`);
    const store = index.store;
    if (store) {
      try {
        index.loadReport = await store.load((r) => {
          if (r[0] === 'f') {
            index.dropEntry(r[1]);
            if (r[2]) index.addEntry(r[1], fromDisk(r[1], r[2]));
          } else if (r[2]) index.contentSkips.set(r[1], r[2]);
          else index.contentSkips.delete(r[1]);
        });
        for (const n of index.loadReport.notes) options.onNote?.(n);
      } catch (err) {
        // A store this process may not read (permissions): start empty, in memory.
        if (!unwritableReason(err)) throw err;
        for (const p of [...index.entries.keys()]) index.dropEntry(p);
        index.contentSkips.clear();
        index.loadReport = { status: 'fresh', notes: [] };
        await index.keepInMemory(err, 'read');
      }
      if (store.cannotWrite) await index.keepInMemory(store.cannotWrite);
      await index.storeWrite(async () => {
        await makeDir(index.storeDir);
        await writeFileAtomic(path.join(index.storeDir, 'workspace.json'), JSON.stringify({ root: index.root }) + '\n');
        if (index.storeNote) index.note(index.storeNote);
      });
      await index.openLexical();
    }
    return index;
  }

  /**
   * Runs a write to the store. One the file system refuses (full, read-only, not permitted) turns the
   * store off for the rest of this run: the index goes on in memory, with one note, and what is on disk
   * stays as the last complete write left it (every write is atomic or cut back), so a later run that
   * can write loads it and persists again.
   */
  private async storeWrite(write: () => Promise<void>): Promise<void> {
    if (!this.store) return;
    try {
      await write();
    } catch (err) {
      if (!unwritableReason(err)) throw err;
      await this.keepInMemory(err);
    }
  }

  /** Adds a note to loadReport and hands it to options.onNote. */
  private note(text: string): void {
    this.loadReport.notes.push(text);
    this.options.onNote?.(text);
  }

  /** Turns the store off for this run and says why, once (loadReport.notes). */
  private async keepInMemory(err: unknown, access: 'read' | 'written' = 'written'): Promise<void> {
    if (this.inMemory) return;
    this.store = null;
    const why = unwritableReason(err) ?? String(err);
    // Only a folder that exists is named.
    const existing = await nearestExisting(this.storeDir);
    const where =
      existing !== this.storeDir
        ? `its store cannot be created in ${existing} (${why})`
        : `its store ${this.storeDir} is not ${access === 'read' ? 'readable' : 'writable'} (${why})`;
    this.inMemory = `the workspace index is kept in memory only: ${where}; answers work, and nothing of it is stored this run`;
    this.note(this.inMemory);
  }

  /**
   * Loads the stored lexical index and brings it in step with the chunk set (see the file comment); read
   * even when the store takes no writes this run (a read-only store is still used).
   */
  private async openLexical(): Promise<void> {
    // A store that did not load holds no chunks: whatever lexical file is there describes none of them.
    if (this.loadReport.status !== 'loaded') return;
    if (this.byHash.size > this.lexicalMax) {
      this.turnLexicalOff(this.byHash.size);
      return;
    }
    let stored: LexicalIndex | null = null;
    let problem = '';
    try {
      stored = await readLexical(this.storeDir, this.fingerprint);
    } catch (err) {
      problem = `unusable (${err instanceof Error ? err.message : String(err)})`;
    }
    if (!stored && !problem && this.entries.size) problem = 'missing';
    this.lexical = stored ?? LexicalIndex.empty();
    const stale = [...this.lexical.keys()].filter((h) => !this.byHash.has(h));
    this.lexical.remove(stale);
    this.lexicalUnsaved = stale.length;
    const paths = new Set<string>();
    for (const [h, c] of this.byHash) if (!this.lexical.has(h)) paths.add((Array.isArray(c) ? c[0] : c).path);
    // File by file: one that changed on disk (or cannot be read) is left to the refresh that re-chunks it.
    let read = 0;
    let unread = 0;
    for (const p of paths) {
      let chunks: Chunk[];
      try {
        chunks = await this.readChunks(p);
      } catch {
        unread++;
        continue;
      }
      this.addLexical(chunks);
      read++;
    }
    if (problem) {
      const left = unread ? `; ${unread} changed or unreadable files follow when they are refreshed` : '';
      this.note(`word index ${problem}; rebuilt from the text of ${read} indexed files${left}`);
    }
    await this.saveLexical(true);
  }

  // ---- accessors ----

  /** Indexed paths, sorted. */
  files(): string[] {
    return [...this.entries.keys()].sort();
  }

  file(p: string): FileEntry | undefined {
    return this.entries.get(p);
  }

  chunksOf(p: string): readonly IndexedChunk[] {
    return this.entries.get(p)?.chunks ?? [];
  }

  *allChunks(): IterableIterator<IndexedChunk> {
    for (const p of this.files()) yield* this.entries.get(p)!.chunks;
  }

  chunkByHash(hash: string): IndexedChunk | undefined {
    const hit = this.byHash.get(hash);
    return Array.isArray(hit) ? hit[0] : hit;
  }

  /** Chunks whose `symbols` include `name` exactly (where is X defined). */
  definitions(name: string): readonly IndexedChunk[] {
    if (!this.bySymbol) {
      this.bySymbol = new Map();
      for (const e of this.entries.values()) for (const c of e.chunks) this.addSymbols(c);
    }
    return this.bySymbol.get(name) ?? [];
  }

  /**
   * BM25 search over the indexed chunks (path, symbol names, code and comments; identifiers split into
   * words; common question words dropped): chunk hashes, best first, ties by hash.
   */
  lexicalSearch(query: string, limit = 20): LexicalHit[] {
    if (this.lexicalOff) return [];
    return this.lexical.search(query, limit);
  }

  /** Skips of the last full refresh (per path, with reason). */
  skips(): readonly Skip[] {
    return this.lastSkips;
  }

  stats(): { files: number; chunks: number; bytes: number } {
    return { files: this.entries.size, chunks: this.totalChunks, bytes: this.totalBytes };
  }

  /** A file's chunks with text, re-derived from disk; StaleFileError if the file changed since indexing. */
  async readChunks(p: string): Promise<Chunk[]> {
    const entry = this.entries.get(p);
    if (!entry) throw new Error(`not in the index: ${p}`);
    let bytes: Uint8Array;
    try {
      bytes = await fsp.readFile(path.join(this.root, p));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StaleFileError(p);
      throw err;
    }
    if (sha256(bytes) !== entry.contentHash) throw new StaleFileError(p);
    const chunks = await (await this.getChunker()).chunkFile(p, bytes);
    if (chunks.length !== entry.chunks.length || chunks.some((c, i) => c.hash !== entry.chunks[i].hash)) {
      throw new Error(`re-chunking ${p} did not reproduce the indexed chunks (chunker changed?); refresh the index`);
    }
    return chunks;
  }

  /**
   * Text of any indexed chunks, by hash (files are read once each). Unknown hashes, and chunks of files
   * changed on disk since they were indexed (refresh those first), are left out of the result.
   */
  async chunkTexts(hashes: Iterable<string>): Promise<Map<string, Chunk>> {
    const wanted = new Set(hashes);
    const paths = new Set<string>();
    for (const h of wanted) {
      const c = this.chunkByHash(h);
      if (c) paths.add(c.path);
    }
    const out = new Map<string, Chunk>();
    for (const p of paths) {
      let chunks: Chunk[];
      try {
        chunks = await this.readChunks(p);
      } catch (err) {
        if (err instanceof StaleFileError) continue;
        throw err;
      }
      for (const c of chunks) if (wanted.has(c.hash)) out.set(c.hash, c);
    }
    return out;
  }

  // ---- refresh ----

  /** Walks the whole workspace and brings the index up to date. */
  refresh(options: RefreshOptions = {}): Promise<RefreshResult> {
    return this.serialise(() => this.refreshAll(options));
  }

  /**
   * Brings the given paths (files or directories, workspace-relative or absolute; created, changed,
   * deleted or renamed) up to date without walking the workspace. A changed .gitignore/.e2codeignore
   * changes what is indexed anywhere, so it triggers a full refresh.
   */
  async refreshPaths(paths: readonly string[], options: RefreshOptions = {}): Promise<RefreshResult> {
    const rels: string[] = [];
    for (const p of paths) {
      const rel = toRelative(this.root, p);
      if (rel === null) throw new Error(`outside the workspace ${this.root}: ${p}`);
      rels.push(rel);
    }
    if (rels.some((r) => r === '' || isIgnoreFile(r))) return this.refresh(options);
    return this.serialise(() => this.refreshSome([...new Set(rels)], options));
  }

  /**
   * Waits for any refresh in flight, then saves what the lexical file lacks. Never rejects: a lexical
   * file that could not be saved is rebuilt at the next open (with a note in loadReport).
   */
  async close(): Promise<void> {
    await this.serialise(() => this.saveLexical(true)).catch(() => undefined);
  }

  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.queue.then(fn, fn);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private walkOptions(signal?: AbortSignal): WalkOptions {
    return {
      excludeGlobs: this.options.excludeGlobs,
      defaultExcludes: this.options.defaultExcludes,
      useGitignore: this.options.useGitignore,
      maxFileBytes: this.options.maxFileBytes,
      contentLimits: this.options.contentLimits,
      beforeRead: this.options.beforeRead,
      signal,
    };
  }

  private async getChunker(): Promise<IndexChunker> {
    if (!this.chunker) {
      const { createChunker } = await import('../chunker/index');
      this.chunker = await createChunker({ maxTokens: this.options.chunkTokens });
    }
    return this.chunker;
  }

  private async refreshAll(options: RefreshOptions): Promise<RefreshResult> {
    const run = new RefreshRun();
    this.rules.invalidate(); // ignore files may have changed since the last walk
    options.onProgress?.({ done: 0, total: 0, message: 'listing files' });
    const listed = await listFiles(this.root, this.walkOptions(options.signal), this.rules);
    run.skips.push(...listed.skipped);
    const seen = new Set(listed.files.map((f) => f.path));
    try {
      await this.processFiles(listed.files, run, options);
    } finally {
      // Even when cancelled: what was processed is kept (and persisted), so a restart resumes.
      if (!options.signal?.aborted) {
        for (const p of [...this.entries.keys()]) if (!seen.has(p)) this.removeFile(p, run);
        for (const p of [...this.contentSkips.keys()]) {
          if (!seen.has(p)) {
            this.contentSkips.delete(p);
            run.changedSkips.add(p);
          }
        }
      }
      await this.persist(run);
    }
    this.lastSkips = run.skips;
    return this.result(run);
  }

  private async refreshSome(rels: string[], options: RefreshOptions): Promise<RefreshResult> {
    const run = new RefreshRun();
    const walk = this.walkOptions(options.signal);
    const candidates: WalkFile[] = [];
    try {
      for (const rel of rels) {
        options.signal?.throwIfAborted();
        const abs = path.join(this.root, rel);
        const lst = await fsp.lstat(abs).catch(() => null);
        const isDir = lst
          ? lst.isDirectory() || (lst.isSymbolicLink() && (await fsp.stat(abs).catch(() => null))?.isDirectory()) === true
          : false;
        if (!lst || isDir) {
          // Gone (file or directory deleted / renamed away), or a directory: everything indexed below it
          // that the subtree walk does not find again is removed.
          const listed = lst ? await listFiles(this.root, { ...walk, subdir: rel }, this.rules) : { files: [], skipped: [] };
          run.skips.push(...listed.skipped);
          candidates.push(...listed.files);
          const found = new Set(listed.files.map((f) => f.path));
          const prefix = `${rel}/`;
          for (const p of [...this.entries.keys()]) {
            if ((p === rel || p.startsWith(prefix)) && !found.has(p)) this.removeFile(p, run);
          }
          for (const p of [...this.contentSkips.keys()]) {
            if ((p === rel || p.startsWith(prefix)) && !found.has(p)) {
              this.contentSkips.delete(p);
              run.changedSkips.add(p);
            }
          }
          continue;
        }
        const checked = await this.checkOne(rel, walk);
        if ('skip' in checked) {
          run.skips.push(checked.skip);
          if (this.entries.has(rel)) this.removeFile(rel, run);
        } else {
          candidates.push(checked.file);
        }
      }
      await this.processFiles(candidates, run, options);
    } finally {
      await this.persist(run);
    }
    return this.result(run);
  }

  /** The walker's rules for a single existing, non-directory path. */
  private async checkOne(rel: string, walk: WalkOptions): Promise<{ file: WalkFile } | { skip: Skip }> {
    const decision = this.rules.decideWithAncestors(rel, false);
    if (decision.ignored) return { skip: { path: rel, reason: 'ignored', detail: decision.by } };
    const abs = path.join(this.root, rel);
    try {
      const [real, rootReal] = await Promise.all([fsp.realpath(abs), fsp.realpath(this.root)]);
      if (real !== rootReal && !real.startsWith(rootReal + path.sep)) {
        return { skip: { path: rel, reason: 'symlink-outside', detail: real } };
      }
      const byName = classifyName(rel);
      if (byName) return { skip: { path: rel, ...byName } };
      const st = await fsp.stat(real);
      if (!st.isFile()) return { skip: { path: rel, reason: 'ignored', detail: 'not a regular file' } };
      const max = walk.maxFileBytes ?? DEFAULT_MAX_FILE_BYTES;
      if (st.size > max) return { skip: { path: rel, reason: 'too-large', detail: `${st.size} bytes > ${max}` } };
      return { file: { path: rel, absPath: abs, size: st.size, mtimeMs: st.mtimeMs } };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ELOOP') return { skip: { path: rel, reason: 'symlink-loop', detail: code } };
      if (code === 'ENOENT') return { skip: { path: rel, reason: 'vanished', detail: code } };
      if (code === 'EACCES' || code === 'EPERM') return { skip: { path: rel, reason: 'unreadable', detail: code } };
      throw err;
    }
  }

  /** Stat comparison, then reading + hashing + chunking of the files that need it. */
  private async processFiles(files: WalkFile[], run: RefreshRun, options: RefreshOptions): Promise<void> {
    const toRead: WalkFile[] = [];
    for (const f of files) {
      const prev = this.entries.get(f.path);
      if (prev && prev.size === f.size && prev.mtimeMs === f.mtimeMs && !isRacy(prev)) {
        run.unchanged.push(f.path);
        continue;
      }
      const skip = this.contentSkips.get(f.path);
      if (!prev && skip && skip.size === f.size && skip.mtimeMs === f.mtimeMs) {
        run.skips.push({ path: f.path, reason: skip.reason, detail: skip.detail });
        continue;
      }
      toRead.push(f);
    }
    const total = toRead.length;
    let done = 0;
    options.onProgress?.({ done, total, message: total ? 'reading and chunking' : 'up to date' });
    const walk = this.walkOptions(options.signal);
    const chunker = total ? await this.getChunker() : null;

    // Reads run ahead (READS_IN_FLIGHT) of the chunker, which takes one file at a time in order.
    const reads = new Array<ReturnType<typeof readWalkFile> | undefined>(total);
    const startRead = (i: number) => {
      if (i < total && !reads[i]) reads[i] = readWalkFile(toRead[i], walk);
    };
    for (let i = 0; i < Math.min(READS_IN_FLIGHT, total); i++) startRead(i);
    try {
      for (let i = 0; i < total; i++) {
        options.signal?.throwIfAborted();
        const f = toRead[i];
        const r = await reads[i]!;
        reads[i] = undefined;
        startRead(i + READS_IN_FLIGHT);
        const checkedAt = Date.now();
        if (!r.ok) {
          run.skips.push(r.skip);
          if (this.entries.has(f.path)) this.removeFile(f.path, run);
          const contentReason = r.skip.reason !== 'vanished' && r.skip.reason !== 'unreadable' && r.skip.reason !== 'too-large';
          if (contentReason) {
            const s: ContentSkip = { size: f.size, mtimeMs: f.mtimeMs, reason: r.skip.reason, detail: r.skip.detail };
            this.contentSkips.set(f.path, s);
            run.changedSkips.add(f.path);
          }
        } else {
          if (this.contentSkips.delete(f.path)) run.changedSkips.add(f.path);
          const contentHash = sha256(r.bytes);
          const prev = this.entries.get(f.path);
          if (prev && prev.contentHash === contentHash) {
            // Touched but identical (checkout, `touch`): keep the chunks, record the new stat.
            prev.size = r.size;
            prev.mtimeMs = r.mtimeMs;
            prev.checkedAt = checkedAt;
            run.changedFiles.add(f.path);
            run.unchanged.push(f.path);
          } else {
            let chunks: Chunk[];
            try {
              chunks = await chunker!.chunkFile(f.path, r.bytes);
            } catch (err) {
              // One file the chunker cannot handle must not stop the index; the file is reported, and
              // retried once its content changes (remembered like a content skip).
              const detail = `chunker failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 300);
              run.skips.push({ path: f.path, reason: 'chunk-error', detail });
              if (prev) this.removeFile(f.path, run);
              const s: ContentSkip = { size: f.size, mtimeMs: f.mtimeMs, reason: 'chunk-error', detail };
              this.contentSkips.set(f.path, s);
              run.changedSkips.add(f.path);
              done++;
              options.onProgress?.({ done, total, message: f.path });
              continue;
            }
            const entry: FileEntry = {
              size: r.size,
              mtimeMs: r.mtimeMs,
              contentHash,
              language: chunker!.languageOf(f.path),
              chunks: internalMarks(chunks).map((internal, i) => stripText(chunks[i], internal)),
              checkedAt,
            };
            if (prev) this.removeFile(f.path, run, true);
            const fresh = chunks.filter((c) => !this.byHash.has(c.hash));
            for (const c of fresh) if (!run.touched.has(c.hash)) run.touched.set(c.hash, false);
            this.addEntry(f.path, entry);
            this.addLexical(chunks);
            run.changedFiles.add(f.path);
            (prev ? run.updated : run.added).push(f.path);
            const newHere = fresh.filter((c) => run.touched.get(c.hash) === false);
            if (newHere.length && options.onChunks) await options.onChunks(newHere);
          }
        }
        done++;
        options.onProgress?.({ done, total, message: f.path });
      }
    } finally {
      // Settle reads started ahead so no file handle outlives a cancelled refresh.
      await Promise.allSettled(reads.filter(Boolean));
    }
  }

  private addEntry(p: string, entry: FileEntry): void {
    this.entries.set(p, entry);
    this.totalBytes += entry.size;
    this.totalChunks += entry.chunks.length;
    for (const c of entry.chunks) {
      const hit = this.byHash.get(c.hash);
      if (!hit) this.byHash.set(c.hash, c);
      else if (Array.isArray(hit)) hit.push(c);
      else this.byHash.set(c.hash, [hit, c]);
      if (this.bySymbol) this.addSymbols(c);
    }
  }

  private addSymbols(c: IndexedChunk): void {
    for (const s of c.symbols) {
      const defs = this.bySymbol!.get(s);
      if (defs) defs.push(c);
      else this.bySymbol!.set(s, [c]);
    }
  }

  /** Drops a file's entry and its chunks from the lookup maps; returns the entry it dropped. */
  private dropEntry(p: string): FileEntry | undefined {
    const entry = this.entries.get(p);
    if (!entry) return undefined;
    this.entries.delete(p);
    this.totalBytes -= entry.size;
    this.totalChunks -= entry.chunks.length;
    for (const c of entry.chunks) {
      const hit = this.byHash.get(c.hash);
      if (hit === c) this.byHash.delete(c.hash);
      else if (Array.isArray(hit)) {
        const rest = hit.filter((x) => x !== c);
        if (rest.length > 1) this.byHash.set(c.hash, rest);
        else if (rest.length === 1) this.byHash.set(c.hash, rest[0]);
        else this.byHash.delete(c.hash);
      }
      for (const s of this.bySymbol ? c.symbols : []) {
        const defs = this.bySymbol!.get(s);
        if (!defs) continue;
        const rest = defs.filter((x) => x !== c);
        if (rest.length) this.bySymbol!.set(s, rest);
        else this.bySymbol!.delete(s);
      }
    }
    return entry;
  }

  /** Removes a file within a refresh; `replacing` keeps it out of the removed list (it is being updated). */
  private removeFile(p: string, run: RefreshRun, replacing = false): void {
    const entry = this.entries.get(p);
    if (!entry) return;
    for (const c of entry.chunks) if (!run.touched.has(c.hash)) run.touched.set(c.hash, true);
    this.dropEntry(p);
    if (!replacing) {
      run.removed.push(p);
      run.changedFiles.add(p);
    }
  }

  /** Lexical documents for a file's chunks (with text) that the lexical index lacks. */
  private addLexical(chunks: readonly Chunk[]): void {
    if (this.lexicalOff) return;
    if (this.lexical.size + chunks.length > this.lexicalMax) {
      this.turnLexicalOff(this.lexical.size + chunks.length);
      return;
    }
    const before = this.lexical.size;
    this.lexical.add(chunks.filter((c) => !this.lexical.has(c.hash)).map(lexicalDoc));
    this.lexicalUnsaved += this.lexical.size - before;
  }

  private get lexicalMax(): number {
    return this.options.lexicalMaxChunks ?? LEXICAL_MAX_CHUNKS;
  }

  /** Frees the word index of a workspace too large for it; answers then rank by vectors and exact names. */
  private turnLexicalOff(chunks: number): void {
    this.lexicalOff = `word search is off for this workspace: it has more than ${this.lexicalMax.toLocaleString('en')} chunks (${chunks.toLocaleString('en')}), and the word index would take about ${Math.round((chunks * 4) / 1024)} MB of memory`;
    this.lexical = LexicalIndex.empty();
    this.lexicalUnsaved = 0;
    this.note(this.lexicalOff);
  }

  /** Removes the lexical documents of chunks a refresh left unreferenced. */
  private dropLexical(run: RefreshRun): void {
    if (this.lexicalOff) return;
    const gone: string[] = [];
    for (const h of run.touched.keys()) if (!this.byHash.has(h) && this.lexical.has(h)) gone.push(h);
    this.lexical.remove(gone);
    this.lexicalUnsaved += gone.length;
  }

  /** Writes the lexical file when it lacks changes (`always`), or lacks many (see LEXICAL_SAVE_MIN). */
  private async saveLexical(always: boolean): Promise<void> {
    if (!this.store || this.lexicalUnsaved === 0 || this.lexicalOff) return;
    if (!always && this.lexicalUnsaved < Math.max(LEXICAL_SAVE_MIN, this.lexical.size / 4)) return;
    await this.storeWrite(async () => {
      await writeLexical(this.storeDir, this.fingerprint, this.lexical);
      this.lexicalUnsaved = 0;
    });
  }

  private async persist(run: RefreshRun): Promise<void> {
    this.dropLexical(run);
    await this.storeWrite(() => this.persistStore(run));
    await this.saveLexical(false);
  }

  private async persistStore(run: RefreshRun): Promise<void> {
    if (!this.store) return;
    const changes: StoreRecord<DiskEntry, ContentSkip>[] = [];
    const all = () => this.storeRecords();
    // A change to a large part of the workspace (cold index, branch switch) goes straight to a snapshot.
    if (run.changedFiles.size > Math.max(1000, this.entries.size / 4)) {
      await this.store.writeSnapshot(all());
      return;
    }
    for (const p of run.changedFiles) {
      const e = this.entries.get(p);
      changes.push(['f', p, e ? toDisk(e) : null]);
    }
    for (const p of run.changedSkips) changes.push(['s', p, this.contentSkips.get(p) ?? null]);
    await this.store.commit(changes, all);
  }

  private *storeRecords(): Generator<StoreRecord<DiskEntry, ContentSkip>> {
    for (const [p, e] of this.entries) yield ['f', p, toDisk(e)];
    for (const [p, s] of this.contentSkips) yield ['s', p, s];
  }

  private result(run: RefreshRun): RefreshResult {
    const newChunkHashes: string[] = [];
    const removedChunkHashes: string[] = [];
    for (const [hash, before] of run.touched) {
      const after = this.byHash.has(hash);
      if (!before && after) newChunkHashes.push(hash);
      else if (before && !after) removedChunkHashes.push(hash);
    }
    const sort = (a: string[]) => a.sort();
    return {
      added: sort(run.added),
      removed: sort(run.removed),
      updated: sort(run.updated),
      unchanged: sort(run.unchanged),
      newChunkHashes,
      removedChunkHashes,
      skipped: countByReason(run.skips),
      skips: run.skips.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0)),
      files: this.entries.size,
      chunks: this.totalChunks,
      bytes: this.totalBytes,
      seconds: (performance.now() - run.t0) / 1000,
    };
  }
}
