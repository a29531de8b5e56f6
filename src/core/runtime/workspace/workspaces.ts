// The workspaces a model serves: per root, its index (chunks, definitions, lexical index), the vectors
// of its chunks for ranking, and the soft-prompt cache they share. This is the one place that runs one
// index refresh per root at a time: every caller (CLI, sidecar, eval) goes through `index`/`ready`.
import path from 'node:path';
import type { IndexOptions, IndexResult, ProgressNotification } from '../../protocol';
import type { Chunk } from '../plan/planner';
import type { Model } from '../model/model';
import type { SoftPromptCache, SoftPromptEntry } from '../cache/cache';
import { retrievalVector, VectorSearch } from '../encode/vectorSearch';
import { openWorkspace, type Workspace } from './workspace';
import { SerialRuns } from './serialRuns';

/** Pauses indexing between encoder batches. */
export class PauseGate {
  private waiters: (() => void)[] = [];
  private isPaused = false;

  get paused(): boolean {
    return this.isPaused;
  }

  pause(): void {
    this.isPaused = true;
  }

  resume(): void {
    this.isPaused = false;
    for (const w of this.waiters.splice(0)) w();
  }

  wait(signal?: AbortSignal): Promise<void> {
    if (!this.isPaused) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const onAbort = () => reject(signal?.reason ?? new Error('aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiters.push(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      });
    });
  }
}

export interface IndexHooks {
  onProgress?: (p: Omit<ProgressNotification, 'streamId'>) => void;
  signal?: AbortSignal;
  gate?: PauseGate;
  options?: IndexOptions;
  /** Only these workspace-relative paths changed (saves, creates, deletes, renames): no walk. */
  paths?: readonly string[];
}

export interface WorkspaceState {
  workspace: Workspace;
  /** Retrieval vectors of the workspace's chunks, by chunk hash. */
  search: VectorSearch;
  indexed: boolean;
  /** The cache's generation when the vectors in `search` were known to be cached. */
  cacheGeneration?: number;
}

/** A workspace with nothing in it to answer from. */
export class EmptyWorkspaceError extends Error {
  constructor(readonly root: string) {
    super(`nothing is indexed in ${root}: it has no files e2code can read (see \`e2code index ${root} --list-skipped\`)`);
    this.name = 'EmptyWorkspaceError';
  }
}

export class Workspaces {
  private readonly states = new Map<string, WorkspaceState>();
  private readonly runs = new SerialRuns<IndexResult>();

  constructor(
    private readonly model: Model,
    readonly cache: SoftPromptCache,
    private readonly options: { persistIndex: boolean; log: (line: string) => void },
  ) {}

  get(root: string): WorkspaceState | undefined {
    return this.states.get(path.resolve(root));
  }

  isIndexed(root: string): boolean {
    return this.get(root)?.indexed ?? false;
  }

  /** Refreshes `root` (the whole tree, or `hooks.paths`); runs of one root are serialized. */
  async index(root: string, hooks: IndexHooks = {}): Promise<IndexResult> {
    root = path.resolve(root);
    return this.runs.run(root, () => this.indexNow(root, hooks));
  }

  /** The state of an indexed `root`: waits for a run in flight, indexes a root not indexed yet. */
  async ready(root: string, signal?: AbortSignal): Promise<WorkspaceState> {
    root = path.resolve(root);
    if (!this.isIndexed(root)) await this.runs.inFlight(root)?.catch(() => undefined);
    if (!this.isIndexed(root)) await this.index(root, { signal });
    return this.states.get(root)!;
  }

  private async indexNow(root: string, hooks: IndexHooks): Promise<IndexResult> {
    const started = performance.now();
    const m = this.model.manifest;
    let state = this.states.get(root);
    if (!state) {
      const workspace = await openWorkspace(root, {
        ...hooks.options,
        ...this.model.sizing,
        persist: this.options.persistIndex,
        onNote: (note) => this.options.log(`e2code: ${note}`),
      });
      state = { workspace, search: new VectorSearch(m.encoder.hiddenSize), indexed: false };
      this.states.set(root, state);
    }
    // Paths only refresh an index this process has already brought up to date; else a full refresh.
    const paths = state.indexed ? hooks.paths : undefined;
    const summary = await state.workspace.refresh({
      signal: hooks.signal,
      paths,
      onProgress: (p) => hooks.onProgress?.({ phase: p.phase, done: p.done, total: p.total }),
    });

    // Ranked by the recipe's retrieval vector (manifest encoder.retrieval), not the concatenated vectors.
    const dim = m.encoder.hiddenSize;
    const vpc = m.encoder.vectorsPerChunk;
    const mode = m.encoder.retrieval;
    // A cache that was started over (a damaged file found on write) no longer holds what was read from it.
    const generation = this.cache.generation;
    const reuse = state.indexed && state.cacheGeneration === generation;
    const search = reuse ? state.search : new VectorSearch(dim, summary.chunks);
    // An incremental run looks only at the refresh's change lists; a first or full run at every chunk
    // (the cache may lack any of them: a new bundle, a cleared cache, an index built without a model).
    let candidates: string[];
    if (reuse) {
      for (const h of summary.removedChunkHashes) search.delete(h);
      candidates = paths ? summary.newChunkHashes : [...new Set(state.workspace.allChunks().map((c) => c.hash))];
    } else {
      candidates = [...new Set(state.workspace.allChunks().map((c) => c.hash))];
    }
    const missing: string[] = [];
    for (const h of candidates) {
      if (search.has(h)) continue;
      const entry = this.cache.get(this.model.id, h);
      if (entry) search.set(h, retrievalVector(entry.vector, vpc, mode));
      else missing.push(h);
    }
    // Text of chunks the refresh did not hand over (e.g. the cache was cleared) is re-read from disk.
    const texts = summary.texts;
    const unread = missing.filter((h) => !texts.has(h));
    if (unread.length > 0) for (const [h, t] of await state.workspace.texts(unread)) texts.set(h, t);
    const encodeStarted = performance.now();
    let encoded = 0;
    const total = missing.length;
    hooks.onProgress?.({ phase: 'encode', done: 0, total, perSecond: 0 });
    // Groups are committed to the cache one by one: an interrupted run keeps what it finished.
    const group = 256;
    for (let i = 0; i < missing.length; i += group) {
      const part = missing.slice(i, i + group);
      const base = encoded;
      const out = await this.model.encoder.encode(
        part.map((h) => texts.get(h) ?? ''),
        {
          signal: hooks.signal,
          between: () => hooks.gate?.wait(hooks.signal) ?? Promise.resolve(),
          onBatch: (done) => {
            const secs = (performance.now() - encodeStarted) / 1000;
            hooks.onProgress?.({ phase: 'encode', done: base + done, total, perSecond: secs > 0 ? (base + done) / secs : 0 });
          },
        },
      );
      await this.cache.putMany(
        this.model.id,
        part.map((h, k) => ({ hash: h, entry: { softTokens: out.softTokens[k], vector: out.vectors[k] } })),
      );
      part.forEach((h, k) => search.set(h, retrievalVector(out.vectors[k], vpc, mode)));
      encoded += part.length;
    }
    state.search = search;
    state.indexed = true;
    state.cacheGeneration = generation;
    return {
      files: summary.files,
      chunks: summary.chunks,
      encoded,
      cached: candidates.length - encoded,
      skipped: summary.skipped,
      seconds: (performance.now() - started) / 1000,
      changes: { added: summary.added, updated: summary.updated, removed: summary.removed },
    };
  }

  /** Soft tokens of chunks, from the cache or (missing/corrupt) encoded now and stored. */
  async softTokens(workspace: Workspace, chunks: readonly Chunk[], signal?: AbortSignal): Promise<Map<string, SoftPromptEntry>> {
    const out = new Map<string, SoftPromptEntry>();
    const missing: Chunk[] = [];
    for (const c of chunks) {
      if (out.has(c.hash)) continue;
      const entry = this.cache.get(this.model.id, c.hash);
      if (entry) out.set(c.hash, entry);
      else missing.push(c);
    }
    if (missing.length > 0) {
      this.options.log(`encoding ${missing.length} chunk(s) missing from the cache`);
      const texts = await workspace.texts(missing.map((c) => c.hash));
      const enc = await this.model.encoder.encode(
        missing.map((c) => texts.get(c.hash) ?? c.text ?? ''),
        { signal },
      );
      const items = missing.map((c, k) => ({ hash: c.hash, entry: { softTokens: enc.softTokens[k], vector: enc.vectors[k] } }));
      await this.cache.putMany(this.model.id, items);
      for (const it of items) out.set(it.hash, it.entry);
    }
    return out;
  }

  async close(): Promise<void> {
    for (const s of this.states.values()) await s.workspace.close();
    this.states.clear();
  }
}
