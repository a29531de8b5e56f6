// The engine: a loaded bundle, its soft-prompt cache, and per-workspace state (index + vector search).
// Indexing encodes what the cache lacks; a request is planned, assembled and decoded. Used in-process
// by the CLI and hosted by the sidecar for the extension.
import { openSync, readSync, closeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Chunk } from './plan/planner';
import type { ChatTurn, Device, GenerateParams, GenerateResult, IndexOptions, IndexResult, InitializeResult, ProgressNotification } from '../protocol';
import { Bundle } from './model/bundle';
import { SoftPromptCache, type SoftPromptEntry } from './cache/cache';
import { Encoder } from './encode/encoder';
import { Generator, type GenerateOutput, type SamplingOptions } from './decode/generator';
import { planContext, type Plan } from './plan/planner';
import { PromptBuilder, contextPrefix } from './decode/prompt';
import { retrievalVector, VectorSearch } from './encode/vectorSearch';
import { openWorkspace, type Workspace } from './workspace/workspace';
import { verifiedCitations } from './answer/citations';
import { runTask } from './answer/tasks';

export interface EngineOptions {
  bundlePath: string;
  device?: Device;
  threads?: number;
  /** Soft-prompt cache directory; default ~/.cache/e2code (or $E2CODE_CACHE_DIR). */
  cacheDir?: string;
  cacheMaxBytes?: number;
  /** Keep workspace indexes on disk between runs (default true). */
  persistIndex?: boolean;
  /** Reuse the decoder's KV cache of an unchanged repository context across requests (default true). */
  prefixCache?: boolean;
  log?: (line: string) => void;
}

export function defaultCacheDir(): string {
  return process.env.E2CODE_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), '.cache'), 'e2code');
}

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
}

export interface GenerateHooks {
  onToken?: (text: string) => void;
  signal?: AbortSignal;
  /** Sampler seed (tests, reproducible runs). */
  seed?: number;
}

interface WorkspaceState {
  workspace: Workspace;
  search: VectorSearch;
  indexed: boolean;
  /** The cache's generation when the vectors in `search` were known to be cached. */
  cacheGeneration?: number;
}

/** One decoding run over a planned prompt: what the tasks build on. */
export interface CompletionRequest {
  state: WorkspaceState;
  request: string;
  history?: ChatTurn[];
  system?: string;
  /** Only these chunks may enter the context (default: the whole workspace). */
  chunks?: readonly Chunk[];
  pinnedPaths?: string[];
  hybrid: boolean;
  maxTokens: number;
  contextBudget?: number;
  sampling: SamplingOptions;
  stop?: string[];
  ignoreEos?: boolean;
  signal?: AbortSignal;
  onText?: (delta: string) => void;
}

export interface CompletionResult {
  output: GenerateOutput;
  plan: Plan;
}

export class Engine {
  readonly encoder: Encoder;
  readonly generator: Generator;
  readonly builder: PromptBuilder;
  private readonly workspaces = new Map<string, WorkspaceState>();
  private readonly indexRuns = new Map<string, Promise<IndexResult>>();

  private constructor(
    readonly bundle: Bundle,
    readonly cache: SoftPromptCache,
    private readonly log: (line: string) => void,
    private readonly persistIndex: boolean,
    /** Reuse the KV cache of an unchanged context prefix (see EngineOptions.prefixCache). */
    public usePrefixCache: boolean,
  ) {
    this.encoder = new Encoder(bundle);
    this.generator = new Generator(bundle);
    this.builder = new PromptBuilder(bundle.manifest, bundle.decoderTokenizer, bundle.embeddings);
  }

  static async create(options: EngineOptions): Promise<Engine> {
    const bundle = await Bundle.load(options.bundlePath, { device: options.device ?? 'auto', threads: options.threads ?? 0 });
    const cache = SoftPromptCache.open(options.cacheDir ?? defaultCacheDir(), { maxBytes: options.cacheMaxBytes, log: options.log });
    return new Engine(bundle, cache, options.log ?? (() => undefined), options.persistIndex ?? true, options.prefixCache ?? true);
  }

  info(): InitializeResult {
    return {
      bundleId: this.bundle.id,
      bundleName: this.bundle.manifest.name,
      provider: this.bundle.provider,
      ...(this.bundle.providerNote ? { providerNote: this.bundle.providerNote } : {}),
    };
  }

  isIndexed(root: string): boolean {
    return this.workspaces.get(path.resolve(root))?.indexed ?? false;
  }

  workspace(root: string): Workspace | undefined {
    return this.workspaces.get(path.resolve(root))?.workspace;
  }

  /** Indexes `root`; runs for the same root are serialized (a request waits for the one in flight). */
  async index(root: string, hooks: IndexHooks = {}): Promise<IndexResult> {
    root = path.resolve(root);
    const previous = this.indexRuns.get(root) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(() => this.indexNow(root, hooks));
    this.indexRuns.set(root, run);
    try {
      return await run;
    } finally {
      if (this.indexRuns.get(root) === run) this.indexRuns.delete(root);
    }
  }

  private async indexNow(root: string, hooks: IndexHooks): Promise<IndexResult> {
    const started = performance.now();
    const m = this.bundle.manifest;
    let state = this.workspaces.get(root);
    if (!state) {
      const workspace = await openWorkspace(root, {
        ...hooks.options,
        chunkTokens: hooks.options?.chunkTokens ?? m.encoder.maxTokens,
        countTokens: (t) => this.bundle.encoderTokenizer.encodeUntrusted(t).length,
        tokenizerId: this.bundle.id,
        persist: this.persistIndex,
      });
      state = { workspace, search: new VectorSearch(m.encoder.hiddenSize), indexed: false };
      this.workspaces.set(root, state);
    }
    const summary = await state.workspace.refresh({
      signal: hooks.signal,
      onProgress: (p) => hooks.onProgress?.({ phase: p.phase, done: p.done, total: p.total }),
    });
    const chunks = state.workspace.allChunks();
    const unique = new Map<string, Chunk>();
    for (const c of chunks) unique.set(c.hash, c);

    // Vectors of cached chunks go straight into the search index; the rest are encoded. A re-index keeps
    // the vectors it already holds (a file save must not re-read the whole cache), and starts afresh once
    // removed chunks make up half of it.
    // Ranked by the recipe's retrieval vector (manifest encoder.retrieval: the mean of a chunk's pooled
    // vectors, or its retrieval query's vector: what the contrastive stage trains), not by the concatenated vectors.
    const dim = m.encoder.hiddenSize;
    const vpc = m.encoder.vectorsPerChunk;
    const mode = m.encoder.retrieval;
    // A cache that was started over (a damaged file found on write) no longer holds what was read from it.
    const generation = this.cache.generation;
    const reuse = state.indexed && state.cacheGeneration === generation && state.search.size <= 2 * unique.size;
    const search = reuse ? state.search : new VectorSearch(dim, unique.size);
    const missing: Chunk[] = [];
    for (const c of unique.values()) {
      if (reuse && search.has(c.hash)) continue;
      const entry = this.cache.get(this.bundle.id, c.hash);
      if (entry) search.set(c.hash, retrievalVector(entry.vector, vpc, mode));
      else missing.push(c);
    }
    // Text of chunks the refresh did not hand over (e.g. the cache was cleared) is re-read from disk.
    const texts = summary.texts;
    const unread = missing.filter((c) => !texts.has(c.hash)).map((c) => c.hash);
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
      const out = await this.encoder.encode(
        part.map((c) => texts.get(c.hash) ?? ''),
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
        this.bundle.id,
        part.map((c, k) => ({ hash: c.hash, entry: { softTokens: out.softTokens[k], vector: out.vectors[k] } })),
      );
      part.forEach((c, k) => search.set(c.hash, retrievalVector(out.vectors[k], vpc, mode)));
      encoded += part.length;
    }
    state.search = search;
    state.indexed = true;
    state.cacheGeneration = generation;
    return {
      files: summary.files,
      chunks: chunks.length,
      encoded,
      cached: unique.size - encoded,
      skipped: summary.skipped,
      seconds: (performance.now() - started) / 1000,
    };
  }

  /** Soft tokens of chunks, from the cache or (missing/corrupt) encoded now and stored. */
  async softTokens(workspace: Workspace, chunks: Chunk[], signal?: AbortSignal): Promise<Map<string, SoftPromptEntry>> {
    const out = new Map<string, SoftPromptEntry>();
    const missing: Chunk[] = [];
    for (const c of chunks) {
      if (out.has(c.hash)) continue;
      const entry = this.cache.get(this.bundle.id, c.hash);
      if (entry) out.set(c.hash, entry);
      else missing.push(c);
    }
    if (missing.length > 0) {
      this.log(`encoding ${missing.length} chunk(s) missing from the cache`);
      const texts = await workspace.texts(missing.map((c) => c.hash));
      const enc = await this.encoder.encode(
        missing.map((c) => texts.get(c.hash) ?? c.text ?? ''),
        { signal },
      );
      const items = missing.map((c, k) => ({ hash: c.hash, entry: { softTokens: enc.softTokens[k], vector: enc.vectors[k] } }));
      await this.cache.putMany(this.bundle.id, items);
      for (const it of items) out.set(it.hash, it.entry);
    }
    return out;
  }

  /** The retrieval vector of a request, made from the encoder's pooled vectors as for chunks. */
  async queryVector(text: string, signal?: AbortSignal): Promise<Float32Array> {
    const out = await this.encoder.encode([text], { signal });
    const enc = this.bundle.manifest.encoder;
    return retrievalVector(out.vectors[0], enc.vectorsPerChunk, enc.retrieval);
  }

  async complete(req: CompletionRequest): Promise<CompletionResult> {
    const m = this.bundle.manifest;
    const chunks = req.chunks ?? req.state.workspace.allChunks();
    const overhead = this.builder.overheadCost({ system: req.system, history: req.history, request: req.request });
    const maxTokens = Math.max(1, req.maxTokens);
    let budget = m.decoder.maxPositions - overhead - maxTokens - 1;
    if (req.contextBudget !== undefined) budget = Math.min(budget, req.contextBudget);
    else if (m.decoder.contextPositions !== undefined) budget = Math.min(budget, m.decoder.contextPositions);
    if (budget < 0) {
      throw new Error(
        `the request needs ${overhead} positions plus ${maxTokens} for the answer, more than the decoder's ${m.decoder.maxPositions}: shorten the question or history, or lower max tokens`,
      );
    }
    let similarity: Map<string, number> | undefined;
    if (chunks.length > 0 && req.state.search.size > 0) {
      similarity = req.state.search.scores(await this.queryVector(req.request, req.signal));
    }
    const root = req.state.workspace.root;
    const codeCache = new Map<Chunk, string>();
    const codeOf = (c: Chunk) => {
      let code = codeCache.get(c);
      if (code === undefined) codeCache.set(c, (code = readRange(root, c)));
      return code;
    };
    const plan = planContext({
      chunks,
      budget,
      softTokensPerChunk: m.adapter.softTokensPerChunk,
      fileHeaderCost: (p) => this.builder.fileHeaderCost(p),
      textChunkCost: (c) => this.builder.textChunkCost(c.path, c.startLine, codeOf(c)),
      request: req.request,
      similarity,
      definitions: req.chunks ? undefined : (name) => req.state.workspace.definitions(name),
      hybrid: req.hybrid,
      pinnedPaths: req.pinnedPaths,
      order: m.decoder.contextOrder,
      recapChunks: m.decoder.recapChunks,
    });
    const soft = await this.softTokens(req.state.workspace, plan.soft.flatMap((f) => f.chunks), req.signal);
    const prompt = this.builder.build({
      system: req.system,
      history: req.history,
      request: req.request,
      context: {
        softFiles: [...plan.soft, ...plan.recap.map((c) => ({ path: c.path, chunks: [c] }))].map((f) => ({
          path: f.path,
          chunks: f.chunks.map((c) => ({ hash: c.hash, softTokens: soft.get(c.hash)!.softTokens })),
        })),
        textChunks: plan.text.map((c) => ({ path: c.path, line: c.startLine, code: codeOf(c) })),
      },
    });
    // The template's end of turn is an end of sequence: a fixed-length run (ignoreEos) decodes past it too.
    const stop = [...(req.ignoreEos ? [] : [m.chatTemplate.endOfTurn.trim()]), ...(req.stop ?? [])].filter((s) => s.length > 0);
    const output = await this.generator.generate({
      prefix: this.usePrefixCache ? contextPrefix(this.bundle.id, prompt.pieces) : undefined,
      embeds: prompt.embeds,
      length: prompt.length,
      maxTokens,
      stop,
      sampling: req.sampling,
      ignoreEos: req.ignoreEos,
      signal: req.signal,
      onText: req.onText,
    });
    return { output, plan };
  }

  async generate(params: GenerateParams, hooks: GenerateHooks = {}): Promise<GenerateResult> {
    const root = path.resolve(params.root);
    // A first index of this root may be running (the extension starts one on open): wait for it.
    if (!this.isIndexed(root)) await this.indexRuns.get(root)?.catch(() => undefined);
    if (!this.isIndexed(root)) await this.index(root, { signal: hooks.signal });
    const state = this.workspaces.get(root)!;
    const result = await runTask(this, state, params, hooks);
    const r = result.last;
    return {
      answer: result.answer,
      citations: verifiedCitations(result.answer, root),
      timings: { firstTokenMs: round(result.firstTokenMs), tokensPerSecond: round(r.output.tokensPerSecond) },
      context: {
        positions: r.output.promptPositions,
        softChunks: r.plan.soft.reduce((n, f) => n + f.chunks.length, 0),
        textChunks: r.plan.text.length,
        softFiles: r.plan.soft.map((f) => f.path),
        textFiles: [...new Set(r.plan.text.map((c) => c.path))],
      },
      stopReason: r.output.stopReason === 'maxPositions' ? 'maxTokens' : r.output.stopReason,
    };
  }

  async close(): Promise<void> {
    for (const s of this.workspaces.values()) await s.workspace.close();
    await this.cache.close();
    await this.bundle.dispose();
  }
}

export type { WorkspaceState };

function round(x: number): number {
  return Math.round(x * 100) / 100;
}

/** A chunk's code as it is on disk now (the text chunk of the prompt layout); empty if unreadable. */
function readRange(root: string, c: Chunk): string {
  let fd: number | undefined;
  try {
    fd = openSync(path.join(root, c.path), 'r');
    const buf = Buffer.alloc(c.endByte - c.startByte);
    const n = readSync(fd, buf, 0, buf.length, c.startByte);
    return buf.subarray(0, n).toString('utf8');
  } catch {
    return '';
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
