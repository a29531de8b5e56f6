// `e2code eval`: a model bundle evaluated through the product's own runtime (the code users run), on a
// repository: the walker + chunker + index give the files and chunks, tree-sitter facts the questions,
// the Engine's encoder and soft-prompt cache the soft tokens and retrieval vectors, VectorSearch the
// retrieved row, PromptBuilder every prompt and the Generator every answer (greedy). Metrics and rows
// follow models/recipe/eval.py so that the two are comparable (see ./questions.ts, ./rows.ts, ./metrics.ts).
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Engine } from '../runtime/engine';
import type { SoftPromptEntry } from '../runtime/cache/cache';
import { contextPrefix, type BuiltPrompt, type PromptSpec } from '../runtime/decode/prompt';
import { retrievalVector, VectorSearch } from '../runtime/encode/vectorSearch';
import type { Workspace } from '../runtime/workspace/workspace';
import { extractFacts, FACT_LANGUAGES } from '../facts';
import {
  editSimilarity,
  exactMatch,
  mean,
  pairedDifference,
  pooled,
  pathAmong,
  pathMatch,
  rougeL,
  tokenAccuracy,
  type PairedDifference,
  type Share,
} from './metrics';
import { buildQuestions, RECONSTRUCT_TOKENS, Rng, type EvalChunk, type EvalFile, type EvalQuestion, type EvalTask } from './questions';
import { rowLayout, rowsFor, type EvalRow, type RowLayout } from './rows';

/** The languages the recipe's corpus holds and tree-sitter facts cover (models/recipe/prep/build.ts). */
export const SOURCE_LANGUAGES = new Set<string>(FACT_LANGUAGES.filter((l) => l !== 'bash'));

export interface EvalOptions {
  /** Repositories (roots) the questions are drawn from; each question is about one of them. */
  roots: string[];
  tasks: EvalTask[];
  /** Questions per task. */
  n: number;
  filesPerQuestion: number;
  topk: number;
  seed: number;
  /** Greedy answer length (eval.py: 24). */
  maxNewTokens?: number;
  /**
   * Control: every soft-token chunk is given another chunk's soft tokens (the task's chunks sorted by
   * hash, each taking the next one's), while the ranking, file order and headers stay. What the soft rows
   * lose then is what they read from the soft tokens.
   */
  shuffleSoft?: boolean;
  signal?: AbortSignal;
  onProgress?: (p: { task: EvalTask; done: number; total: number }) => void;
  log?: (line: string) => void;
}

export interface RowResult {
  n: number;
  exact?: number;
  path?: number;
  rougeL?: number;
  edit_sim?: number;
  token_acc?: number;
  positions_mean: number;
  /** Soft rows: the positions the same prompt takes with its soft-token chunks written as text chunks instead (the compression). */
  positions_as_text_mean?: number;
  /** where: the file placed first in the context is the reference (the ranking's top-1 file, in relevance order). */
  reference_first?: number;
  /** where: the answer names the file placed first. */
  answered_first?: number;
  /** Rows with a context: the headline metric minus the none row's on the same questions, with a paired
   * bootstrap 95% interval (does the context help, beyond which questions happened to be drawn?). */
  vs_none?: PairedDifference;
  /** [question, prediction, answer], each cut to 80 characters. */
  examples: [string, string, string][];
}

export interface TaskResult {
  n: number;
  rows: Partial<Record<EvalRow, RowResult>>;
}

export interface EvalResult {
  bundle: { id: string; name: string; provider: string };
  repos: string[];
  /** Source files the questions were drawn from, all repositories together. */
  files: number;
  seed: number;
  files_per_question: number;
  topk: number;
  max_new_tokens: number;
  reconstruct_tokens: number;
  /** Present when --shuffle-soft replaced each chunk's soft tokens with another chunk's. */
  soft_control?: 'shuffled';
  tasks: Partial<Record<EvalTask, TaskResult>>;
  wall_s: number;
}

/**
 * The repository's source files with chunks and facts, in repository order. The workspace is the
 * Engine's own (indexed as `e2code index` does when not yet: every chunk encoded into the soft-prompt
 * cache), so chunking and token counting are exactly the product's.
 */
export async function loadRepository(
  engine: Engine,
  root: string,
  signal?: AbortSignal,
): Promise<{ workspace: Workspace; files: EvalFile[] }> {
  if (!engine.isIndexed(root)) await engine.index(root, { signal });
  const workspace = engine.workspace(root);
  if (!workspace) throw new Error(`${root} is not indexed`);
  const files: EvalFile[] = [];
  for (const rel of workspace.files()) {
    signal?.throwIfAborted();
    const meta = workspace.chunksOf(rel);
    const language = meta[0]?.language;
    if (!language || !SOURCE_LANGUAGES.has(language) || rel.endsWith('.d.ts')) continue;
    const bytes = await readFile(path.join(workspace.root, rel));
    const chunks = (await workspace.readChunks(rel)).map((c) => ({ ...c, code: bytes.subarray(c.startByte, c.endByte).toString('utf8') }));
    if (chunks.length === 0) continue;
    const content = bytes.toString('utf8');
    files.push({ repo: workspace.root, path: rel, language, content, chunks, ...(await extractFacts(content, language)) });
  }
  return { workspace, files };
}

/** The PromptBuilder input of a row: the layout's soft chunks with their soft tokens, its text chunks with their code. */
export function rowSpec(q: EvalQuestion, layout: RowLayout, soft: ReadonlyMap<string, SoftPromptEntry>): PromptSpec {
  return {
    request: q.request,
    context: {
      softFiles: layout.soft.map((f) => ({
        path: f.path,
        chunks: f.chunks.map((c) => {
          const entry = soft.get(c.hash);
          if (!entry) throw new Error(`no soft tokens for chunk ${c.path}:${c.startLine}`);
          return { hash: c.hash, softTokens: entry.softTokens };
        }),
      })),
      textChunks: layout.text.map((c) => ({ path: c.path, line: c.startLine, code: c.code })),
    },
  };
}

/**
 * The question's chunks ranked by the product's VectorSearch on the encoder's retrieval vectors (as the
 * recipe trains and ranks them: manifest encoder.retrieval) vs the question's; top k, best first.
 */
export async function rankChunks(
  engine: Engine,
  q: EvalQuestion,
  soft: ReadonlyMap<string, SoftPromptEntry>,
  k: number,
  signal?: AbortSignal,
): Promise<EvalChunk[]> {
  const cands = q.files.flatMap((f) => f.chunks);
  const m = engine.bundle.manifest;
  const search = new VectorSearch(m.encoder.hiddenSize, cands.length);
  cands.forEach((c, i) => search.set(String(i), retrievalVector(soft.get(c.hash)!.vector, m.encoder.vectorsPerChunk, m.encoder.retrieval)));
  const query = await engine.queryVector(q.request, signal); // already the retrieval vector
  return search.search(query, k).map((r) => cands[Number(r.id)]);
}

/** --shuffle-soft: each hash mapped to the next hash's entry (in sorted order), so no chunk keeps its own. */
export function shifted(soft: ReadonlyMap<string, SoftPromptEntry>): Map<string, SoftPromptEntry> {
  const hashes = [...soft.keys()].sort();
  return new Map(hashes.map((h, i) => [h, soft.get(hashes[(i + 1) % hashes.length])!]));
}

function argmax(xs: Float32Array): number {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
}

/** The reconstruction target: the chunk code's first 48 tokens, then the end of turn (batches.py assemble). */
export function reconstructTargets(engine: Engine, code: string): number[] {
  return [
    ...engine.builder.tokens(code).slice(0, RECONSTRUCT_TOKENS),
    ...engine.builder.tokens(engine.bundle.manifest.chatTemplate.endOfTurn),
  ];
}

/**
 * Teacher-forced argmax at each target position, through the Generator: one one-token step per position
 * over the prompt plus the targets before it (the repository context's KV cache is reused between steps).
 */
export async function teacherForced(engine: Engine, prompt: BuiltPrompt, targets: number[], signal?: AbortSignal): Promise<number[]> {
  const h = engine.bundle.manifest.decoder.hiddenSize;
  const embeds = new Float32Array((prompt.length + targets.length) * h);
  embeds.set(prompt.embeds);
  targets.forEach((id, k) => engine.bundle.embeddings.copyRow(id, embeds, (prompt.length + k) * h));
  const prefix = engine.usePrefixCache ? contextPrefix(engine.bundle.id, prompt.pieces) : undefined;
  const picks: number[] = [];
  for (let k = 0; k < targets.length; k++) {
    let pick = -1;
    const out = await engine.generator.generate({
      embeds,
      length: prompt.length + k,
      maxTokens: 1,
      ignoreEos: true,
      sampling: { temperature: 0 },
      prefix,
      signal,
      onLogits: (logits) => {
        if (pick < 0) pick = argmax(logits);
      },
    });
    if (out.stopReason === 'cancelled') signal?.throwIfAborted();
    picks.push(pick);
  }
  return picks;
}

interface RowAcc {
  scores: Record<string, number[]>;
  /** reconstruct: each question's (correct, target) token counts, in question order. */
  tokens: Share[];
  positions: number[];
  asText: number[];
  examples: [string, string, string][];
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

export async function runEval(engine: Engine, o: EvalOptions): Promise<EvalResult> {
  const started = performance.now();
  const m = engine.bundle.manifest;
  const maxNewTokens = o.maxNewTokens ?? 24;
  const workspaces = new Map<string, Workspace>();
  const files: EvalFile[] = [];
  for (const root of o.roots) {
    const loaded = await loadRepository(engine, root, o.signal);
    workspaces.set(loaded.workspace.root, loaded.workspace);
    files.push(...loaded.files);
    o.log?.(`eval: ${loaded.files.length} source files in ${loaded.workspace.root}`);
  }
  const result: EvalResult = {
    bundle: { id: engine.bundle.id, name: m.name, provider: engine.bundle.provider },
    repos: [...workspaces.keys()],
    files: files.length,
    seed: o.seed,
    files_per_question: o.filesPerQuestion,
    topk: o.topk,
    max_new_tokens: maxNewTokens,
    reconstruct_tokens: RECONSTRUCT_TOKENS,
    ...(o.shuffleSoft ? { soft_control: 'shuffled' as const } : {}),
    tasks: {},
    wall_s: 0,
  };
  const stop = [m.chatTemplate.endOfTurn.trim()].filter((s) => s.length > 0);
  for (const task of o.tasks) {
    const questions = buildQuestions(files, task, {
      n: o.n,
      filesPerQuestion: o.filesPerQuestion,
      softTokensPerChunk: m.adapter.softTokensPerChunk,
      seed: o.seed,
    });
    if (questions.length < o.n)
      o.log?.(
        `eval ${task}: only ${questions.length} distinct question(s) in ${o.roots.length > 1 ? 'these repositories' : 'this repository'}`,
      );
    // Soft tokens and retrieval vectors of every chunk the questions use: from the product's cache, or
    // encoded now (and cached). Keyed by content hash: equal text, equal soft tokens, in any repository.
    const soft = new Map<string, SoftPromptEntry>();
    for (const [root, workspace] of workspaces) {
      const unique = new Map<string, EvalChunk>();
      for (const q of questions) if (q.repo === root) for (const f of q.files) for (const c of f.chunks) unique.set(c.hash, c);
      for (const [hash, entry] of await engine.softTokens(workspace, [...unique.values()], o.signal)) soft.set(hash, entry);
    }
    const promptSoft = o.shuffleSoft ? shifted(soft) : soft;
    const rows = rowsFor(task);
    // The encoder's ranking: the retrieved row's top k, and the soft rows' file order for a bundle trained
    // with the most relevant file first (the planner's relevance order, from the encoder alone here).
    const byRelevance = m.decoder.contextOrder === 'relevance' && task !== 'reconstruct';
    const recapChunks = task === 'reconstruct' ? 0 : (m.decoder.recapChunks ?? 0);
    const acc = new Map<EvalRow, RowAcc>(rows.map((r) => [r, { scores: {}, tokens: [], positions: [], asText: [], examples: [] }]));
    o.onProgress?.({ task, done: 0, total: questions.length });
    for (const [qi, q] of questions.entries()) {
      o.signal?.throwIfAborted();
      const all =
        rows.includes('retrieved') || byRelevance || recapChunks > 0
          ? await rankChunks(engine, q, soft, byRelevance ? Infinity : Math.max(recapChunks, o.topk), o.signal)
          : undefined;
      const recap = recapChunks > 0 ? all!.slice(0, recapChunks) : [];
      const ranked = rows.includes('retrieved') ? all!.slice(0, o.topk) : undefined;
      const fileOrder = byRelevance ? [...new Set(all!.map((c) => c.path))] : undefined;
      for (const row of rows) {
        const layout = rowLayout(q, row, {
          ranked,
          fileOrder,
          recap,
          textChunkCost: (c) => engine.builder.textChunkCost(c.path, c.startLine, c.code),
        });
        const prompt = engine.builder.build(rowSpec(q, layout, promptSoft));
        const a = acc.get(row)!;
        a.positions.push(prompt.length);
        const softChunks = layout.soft.flatMap((f) => f.chunks);
        if (softChunks.length > 0) {
          // The same context with its chunks as text: each chunk once (a recap repeats a few, under headers of their own).
          const asText = [...new Set(softChunks)].reduce((n, c) => n + engine.builder.textChunkCost(c.path, c.startLine, c.code), 0);
          const recapHeaders =
            row === 'soft' || row === 'hybrid' ? recap.reduce((n, c) => n + engine.builder.fileHeaderCost(c.path), 0) : 0;
          a.asText.push(prompt.length - softChunks.length * m.adapter.softTokensPerChunk - recapHeaders + asText);
        }
        const score = (name: string, v: number) => (a.scores[name] ??= []).push(v);
        let prediction: string;
        if (task === 'reconstruct') {
          const targets = reconstructTargets(engine, q.answer);
          const picks = await teacherForced(engine, prompt, targets, o.signal);
          const t = tokenAccuracy(picks, targets);
          a.tokens.push({ num: t.correct, den: t.count });
          prediction = engine.bundle.decoderTokenizer.decode(picks);
        } else {
          const out = await engine.generator.generate({
            prefix: engine.usePrefixCache ? contextPrefix(engine.bundle.id, prompt.pieces) : undefined,
            embeds: prompt.embeds,
            length: prompt.length,
            maxTokens: maxNewTokens,
            stop,
            sampling: { temperature: 0 },
            signal: o.signal,
          });
          if (out.stopReason === 'cancelled') o.signal?.throwIfAborted();
          prediction = out.text.trim();
          score('exact', exactMatch(prediction, q.answer));
          if (task === 'where') {
            score('path', pathMatch(prediction, q.answer));
            score(
              'in_context',
              pathAmong(
                prediction,
                q.files.map((f) => f.path),
              ),
            );
            // How much of the answer the order decides: the file placed first (soft files, else text chunks)
            // is the reference's / is the one answered.
            const first = layout.soft[0]?.path ?? layout.text[0]?.path;
            if (first !== undefined) {
              score('reference_first', pathMatch(first, q.answer));
              score('answered_first', pathMatch(prediction, first));
            }
          }
          if (task === 'what' || task === 'summary') score('rougeL', rougeL(prediction, q.answer));
          if (task === 'complete') score('edit_sim', editSimilarity(prediction.trim(), q.answer.trim()));
        }
        if (a.examples.length < 3) a.examples.push([q.request.slice(0, 80), prediction.slice(0, 80), q.answer.slice(0, 80)]);
      }
      o.onProgress?.({ task, done: qi + 1, total: questions.length });
    }
    const taskResult: TaskResult = { n: questions.length, rows: {} };
    for (const [row, a] of acc) {
      const r: RowResult = { n: questions.length, positions_mean: round(mean(a.positions), 1), examples: a.examples };
      if (a.asText.length > 0) r.positions_as_text_mean = round(mean(a.asText), 1);
      for (const [name, xs] of Object.entries(a.scores)) (r as unknown as Record<string, number>)[name] = round(mean(xs), 4);
      if (task === 'reconstruct') r.token_acc = round(pooled(a.tokens), 4);
      const none = acc.get('none');
      if (none && row !== 'none') {
        const rng = new Rng(o.seed, `${task}/${row}/bootstrap`);
        const d = pairedDifference(shares(task, a), shares(task, none), () => rng.next());
        r.vs_none = { diff: round(d.diff, 4), ci95: [round(d.ci95[0], 4), round(d.ci95[1], 4)] };
      }
      // Metrics first, then the comparison, positions and examples, in the JSON.
      const { positions_mean, positions_as_text_mean, examples, n, vs_none, ...metrics } = r;
      taskResult.rows[row] = {
        n,
        ...metrics,
        ...(vs_none ? { vs_none } : {}),
        positions_mean,
        ...(positions_as_text_mean !== undefined ? { positions_as_text_mean } : {}),
        examples,
      };
    }
    result.tasks[task] = taskResult;
  }
  result.wall_s = round((performance.now() - started) / 1000, 1);
  return result;
}

/** The headline metric of each task (the table's column). */
export function headline(task: EvalTask): keyof RowResult {
  switch (task) {
    case 'where':
      return 'path';
    case 'what':
    case 'summary':
      return 'rougeL';
    case 'complete':
      return 'edit_sim';
    case 'reconstruct':
      return 'token_acc';
  }
}

/** Each question's share of the row's headline metric, in question order: token counts for reconstruction
 * (pooled), else the per-question score. */
function shares(task: EvalTask, a: RowAcc): Share[] {
  return task === 'reconstruct' ? a.tokens : (a.scores[headline(task)] ?? []).map((num) => ({ num, den: 1 }));
}

function signed(x: number): string {
  return `${x >= 0 ? '+' : '-'}${Math.abs(x).toFixed(3)}`;
}

/** A plain-text table: one line per task and row. */
export function formatTable(r: EvalResult): string {
  const lines = [
    `bundle ${r.bundle.name} (${r.bundle.id}, ${r.bundle.provider}) on ${r.repos.join(', ')}: ${r.files} source files, ${r.files_per_question} files per question, top-${r.topk} retrieved, seed ${r.seed}` +
      (r.soft_control ? ' (control: soft tokens shuffled between chunks)' : ''),
    '',
    `${'task'.padEnd(12)}${'row'.padEnd(11)}${'n'.padStart(4)}  ${'metric'.padEnd(10)}${'value'.padStart(7)}${'exact'.padStart(8)}${'positions'.padStart(11)}${'as text'.padStart(9)}  vs none [95% CI]`,
  ];
  for (const [task, t] of Object.entries(r.tasks) as [EvalTask, TaskResult][]) {
    for (const [row, x] of Object.entries(t.rows) as [EvalRow, RowResult][]) {
      const key = headline(task);
      const value = x[key] as number | undefined;
      lines.push(
        `${task.padEnd(12)}${row.padEnd(11)}${String(x.n).padStart(4)}  ${key.padEnd(10)}${(value ?? 0).toFixed(3).padStart(7)}` +
          `${x.exact !== undefined ? x.exact.toFixed(3).padStart(8) : '-'.padStart(8)}${x.positions_mean.toFixed(1).padStart(11)}` +
          `${x.positions_as_text_mean !== undefined ? x.positions_as_text_mean.toFixed(0).padStart(9) : x.vs_none ? ''.padStart(9) : ''}` +
          (x.vs_none ? `  ${signed(x.vs_none.diff)} [${signed(x.vs_none.ci95[0])}, ${signed(x.vs_none.ci95[1])}]` : ''),
      );
    }
  }
  lines.push('', `${r.wall_s.toFixed(1)} s`);
  return lines.join('\n') + '\n';
}
