// One decoding run over a planned prompt — what the tasks build on: the budget, the plan (from the
// request's ranking), the soft tokens of the planned chunks, prompt assembly and generation.
import { closeSync, openSync, readSync } from 'node:fs';
import path from 'node:path';
import type { ChatTurn } from '../../protocol';
import type { Model } from '../model/model';
import type { WorkspaceState, Workspaces } from '../workspace/workspaces';
import { planContext, type Chunk, type Plan } from '../plan/planner';
import { contextPrefix } from './prompt';
import type { GenerateOutput, SamplingOptions } from './generator';

export interface CompletionRequest {
  state: WorkspaceState;
  request: string;
  history?: ChatTurn[];
  system?: string;
  /** Only these chunks may enter the context (default: the whole workspace). */
  chunks?: readonly Chunk[];
  /** The request's ranking (./plan/retrieve.ts), by chunk hash; without it the planner scores alone. */
  relevance?: ReadonlyMap<string, number>;
  pinnedPaths?: string[];
  hybrid: boolean;
  maxTokens: number;
  /** Positions for repository context: undefined = the bundle's trained size; 0 = none. */
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

/** Runs the decoder; `prefixCache` reuses the KV cache of an unchanged repository context. */
export class Completer {
  constructor(
    private readonly model: Model,
    private readonly workspaces: Workspaces,
    public usePrefixCache: boolean,
  ) {}

  /** Decoder passes since this completer was made (tests and results count them). */
  runs = 0;

  /** Positions left for context once the request and the answer are paid for; throws when none are. */
  checkFits(request: string, history: CompletionRequest['history'], maxTokens: number, system?: string): number {
    const m = this.model.manifest;
    const overhead = this.model.builder.overheadCost({ system, history, request });
    const budget = m.decoder.maxPositions - overhead - Math.max(1, maxTokens) - 1;
    if (budget < 0) {
      throw new Error(
        `the request needs ${overhead} positions plus ${maxTokens} for the answer, more than the decoder's ${m.decoder.maxPositions}: shorten the question or history, or lower max tokens`,
      );
    }
    return budget;
  }

  async complete(req: CompletionRequest): Promise<CompletionResult> {
    const m = this.model.manifest;
    const builder = this.model.builder;
    const chunks = req.chunks ?? req.state.workspace.allChunks();
    const maxTokens = Math.max(1, req.maxTokens);
    let budget = this.checkFits(req.request, req.history, maxTokens, req.system);
    budget = Math.min(budget, contextBudgetOf(req.contextBudget, m.decoder.contextPositions));
    const root = req.state.workspace.root;
    const codeCache = new Map<Chunk, string>();
    const codeOf = (c: Chunk) => {
      let code = codeCache.get(c);
      if (code === undefined) codeCache.set(c, (code = readRange(root, c)));
      return code;
    };
    let similarity: Map<string, number> | undefined;
    if (!req.relevance && chunks.length > 0 && req.state.search.size > 0) {
      similarity = req.state.search.scores(await this.model.queryVector(req.request, req.signal));
    }
    const plan = planContext({
      chunks,
      budget,
      softTokensPerChunk: m.adapter.softTokensPerChunk,
      fileHeaderCost: (p) => builder.fileHeaderCost(p),
      textChunkCost: (c) => builder.textChunkCost(c.path, c.startLine, codeOf(c)),
      request: req.request,
      similarity,
      relevance: req.relevance,
      definitions: req.chunks ? undefined : (name) => req.state.workspace.definitions(name),
      hybrid: req.hybrid,
      pinnedPaths: req.pinnedPaths,
      order: m.decoder.contextOrder,
      recapChunks: m.decoder.recapChunks,
    });
    const soft = await this.workspaces.softTokens(
      req.state.workspace,
      plan.soft.flatMap((f) => f.chunks),
      req.signal,
    );
    const prompt = builder.build({
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
    this.runs++;
    const output = await this.model.generator.generate({
      prefix: this.usePrefixCache ? contextPrefix(this.model.id, prompt.pieces) : undefined,
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
}

/**
 * The one meaning of a context budget, everywhere (setting, CLI, wire): undefined = what the bundle was
 * trained with (decoder.contextPositions; no limit beyond the decoder's own when it does not say), 0 = no
 * repository context, n = at most n positions.
 */
export function contextBudgetOf(requested: number | undefined, trained: number | undefined): number {
  if (requested !== undefined) {
    if (!Number.isInteger(requested) || requested < 0) throw new RangeError(`contextBudget must be an integer >= 0 (got ${requested})`);
    return requested;
  }
  return trained ?? Number.MAX_SAFE_INTEGER;
}

/** A chunk's code as it is on disk now (the text chunk of the prompt layout); empty if unreadable. */
export function readRange(root: string, c: Pick<Chunk, 'path' | 'startByte' | 'endByte'>): string {
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
