// The engine: a model (./model) serving workspaces (./workspace), with the tasks (./answer) on top.
// Used in-process by the CLI and hosted by the sidecar for the extension. The data path reads down the
// folders: workspace (walk, chunk, index) -> encode -> cache -> plan (rank, plan) -> decode -> answer.
import path from 'node:path';
import type { Device, GenerateParams, GenerateResult, IndexResult, InitializeResult } from '../protocol';
import { Model } from './model/model';
import { SoftPromptCache, type SoftPromptEntry } from './cache/cache';
import { defaultCacheDir } from './cache/location';
import { Completer, type CompletionRequest, type CompletionResult } from './decode/complete';
import { EmptyWorkspaceError, PauseGate, Workspaces, type IndexHooks, type WorkspaceState } from './workspace/workspaces';
import type { Workspace } from './workspace/workspace';
import type { Chunk } from './plan/planner';
import { runTask, taskRequest, type TaskHooks } from './answer/tasks';

export { PauseGate, EmptyWorkspaceError, defaultCacheDir };
export type { IndexHooks, WorkspaceState, CompletionRequest, CompletionResult };
export type GenerateHooks = TaskHooks;

export interface EngineOptions {
  bundlePath: string;
  device?: Device;
  threads?: number;
  /** Soft-prompt cache directory; default ./cache/location.ts. */
  cacheDir?: string;
  cacheMaxBytes?: number;
  /** Keep workspace indexes on disk between runs (default true). */
  persistIndex?: boolean;
  /** Reuse the decoder's KV cache of an unchanged repository context across requests (default true). */
  prefixCache?: boolean;
  log?: (line: string) => void;
}

export class Engine {
  private constructor(
    readonly model: Model,
    readonly workspaces: Workspaces,
    readonly completer: Completer,
  ) {}

  static async create(options: EngineOptions): Promise<Engine> {
    const log = options.log ?? (() => undefined);
    const model = await Model.load(options.bundlePath, { device: options.device, threads: options.threads });
    let cache: SoftPromptCache;
    try {
      cache = SoftPromptCache.open(options.cacheDir ?? defaultCacheDir(), { maxBytes: options.cacheMaxBytes, log: options.log });
    } catch (err) {
      await model.dispose();
      throw err;
    }
    const workspaces = new Workspaces(model, cache, { persistIndex: options.persistIndex ?? true, log });
    return new Engine(model, workspaces, new Completer(model, workspaces, options.prefixCache ?? true));
  }

  // The parts evaluation and benchmarks drive directly.
  get bundle() {
    return this.model.bundle;
  }
  get builder() {
    return this.model.builder;
  }
  get generator() {
    return this.model.generator;
  }
  get cache(): SoftPromptCache {
    return this.workspaces.cache;
  }
  get usePrefixCache(): boolean {
    return this.completer.usePrefixCache;
  }
  set usePrefixCache(on: boolean) {
    this.completer.usePrefixCache = on;
  }

  info(): InitializeResult {
    return this.model.info();
  }

  isIndexed(root: string): boolean {
    return this.workspaces.isIndexed(root);
  }

  workspace(root: string): Workspace | undefined {
    return this.workspaces.get(root)?.workspace;
  }

  /** Indexes `root` (or only `hooks.paths`); runs for the same root are serialized. */
  index(root: string, hooks: IndexHooks = {}): Promise<IndexResult> {
    return this.workspaces.index(root, hooks);
  }

  softTokens(workspace: Workspace, chunks: Chunk[], signal?: AbortSignal): Promise<Map<string, SoftPromptEntry>> {
    return this.workspaces.softTokens(workspace, chunks, signal);
  }

  queryVector(text: string, signal?: AbortSignal): Promise<Float32Array> {
    return this.model.queryVector(text, signal);
  }

  complete(req: CompletionRequest): Promise<CompletionResult> {
    return this.completer.complete(req);
  }

  async generate(params: GenerateParams, hooks: GenerateHooks = {}): Promise<GenerateResult> {
    const root = path.resolve(params.root);
    const state = await this.workspaces.ready(root, hooks.signal);
    if (state.workspace.allChunks().length === 0) throw new EmptyWorkspaceError(root);
    // A request the decoder cannot hold is refused whether or not this bundle runs the decoder for it.
    this.completer.checkFits(taskRequest(params), params.task === 'ask' ? params.history : undefined, params.options?.maxTokens ?? 1);
    const r = await runTask({ model: this.model, workspaces: this.workspaces, completer: this.completer }, state, params, hooks);
    const out = r.last?.output;
    const plan = r.last?.plan;
    return {
      answer: r.answer,
      origin: r.origin,
      ...(r.notice ? { notice: r.notice } : {}),
      citations: r.sources.map((s) => ({ path: s.path, line: s.line, ...(s.symbol ? { symbol: s.symbol } : {}) })),
      sources: r.sources,
      timings: { firstTokenMs: round(r.firstTokenMs), tokensPerSecond: round(out?.tokensPerSecond ?? 0) },
      context: {
        positions: out?.promptPositions ?? 0,
        softChunks: plan ? plan.soft.reduce((n, f) => n + f.chunks.length, 0) : 0,
        textChunks: plan?.text.length ?? 0,
        softFiles: plan?.soft.map((f) => f.path) ?? [],
        textFiles: plan ? [...new Set(plan.text.map((c) => c.path))] : [],
        decoderRuns: r.decoderRuns,
      },
      stopReason: !out ? 'eos' : out.stopReason === 'maxPositions' ? 'maxTokens' : out.stopReason,
    };
  }

  async close(): Promise<void> {
    await this.workspaces.close();
    await this.cache.close();
    await this.model.dispose();
  }
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
