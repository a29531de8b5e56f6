// The tasks on top of one planned-and-decoded completion: ask (chat with history), explain (a selection,
// its file and the repository), generate (code for an instruction at a cursor) and summarize
// (hierarchical: files, then directories, then the whole workspace).
import path from 'node:path';
import type { GenerateParams } from '../../protocol';
import type { Chunk } from '../plan/planner';
import type { CompletionResult, Engine, GenerateHooks, WorkspaceState } from '../engine';

export interface TaskResult {
  answer: string;
  /** From the request to the first token streamed to the caller. */
  firstTokenMs: number;
  /** The completion whose text is the answer (the last one for summarize). */
  last: CompletionResult;
}

export const DEFAULT_MAX_TOKENS = 256;
/** Summaries below the whole-workspace one are short: they are inputs to the next level. */
const FILE_SUMMARY_TOKENS = 48;
const DIR_SUMMARY_TOKENS = 64;
const SUMMARIZE_MAX_FILES = 24;

export function taskRequest(params: GenerateParams): string {
  const s = params.selection;
  switch (params.task) {
    case 'ask':
      return params.prompt;
    case 'explain': {
      if (!s) return params.prompt || 'Explain this code.';
      const ask = params.prompt.trim() || 'Explain what this code does.';
      return `${ask}\n${s.path}:${s.startLine}-${s.endLine}\n${s.text}`;
    }
    case 'generate': {
      if (!s) return params.prompt;
      // The phrasing of the recipe's repository-conditioned completion task, after the instruction.
      const before = s.text.split('\n').slice(-3).join('\n');
      const ask = `In ${s.path}, what line follows:\n${before}`;
      return params.prompt.trim() ? `${params.prompt.trim()}\n${ask}` : ask;
    }
    case 'summarize':
      return params.prompt.trim() || 'Summarize this repository.';
  }
}

export async function runTask(engine: Engine, state: WorkspaceState, params: GenerateParams, hooks: GenerateHooks): Promise<TaskResult> {
  const started = performance.now();
  const o = params.options ?? {};
  let firstTokenMs = 0;
  const onText = (delta: string) => {
    if (firstTokenMs === 0) firstTokenMs = performance.now() - started;
    hooks.onToken?.(delta);
  };
  const base = {
    state,
    hybrid: o.hybrid ?? true,
    contextBudget: o.contextBudget,
    sampling: { temperature: o.temperature ?? 0, topP: o.topP, seed: hooks.seed },
    stop: o.stop,
    ignoreEos: o.ignoreEos,
    signal: hooks.signal,
  };
  const maxTokens = o.maxTokens ?? DEFAULT_MAX_TOKENS;

  if (params.task === 'summarize') return summarize(engine, state, params, { ...base, maxTokens }, onText, started);

  const last = await engine.complete({
    ...base,
    request: taskRequest(params),
    history: params.task === 'ask' ? params.history : undefined,
    pinnedPaths: params.selection ? [params.selection.path] : undefined,
    maxTokens,
    onText,
  });
  return { answer: last.output.text.trim(), firstTokenMs: firstTokenMs || last.output.firstTokenMs, last };
}

type Base = Omit<Parameters<Engine['complete']>[0], 'request'>;

async function summarize(
  engine: Engine,
  state: WorkspaceState,
  params: GenerateParams,
  base: Base,
  onText: (delta: string) => void,
  started: number,
): Promise<TaskResult> {
  const ws = state.workspace;
  // Scope: a directory or file named by the selection, else the whole workspace.
  const scope = params.selection?.path ? params.selection.path.replace(/\/+$/, '') : '';
  const inScope = (p: string) => !scope || p === scope || p.startsWith(scope + '/');
  const files = ws.files().filter(inScope);
  // The largest files carry most of the code; the rest are still in context as soft tokens below.
  const picked = [...files].sort((a, b) => ws.chunksOf(b).length - ws.chunksOf(a).length).slice(0, SUMMARIZE_MAX_FILES).sort();
  const scopedChunks: readonly Chunk[] = files.flatMap((f) => ws.chunksOf(f));

  const fileSummaries = new Map<string, string>();
  for (const file of picked) {
    base.signal?.throwIfAborted();
    const r = await engine.complete({
      ...base,
      request: `Summarize ${file}.`, // the recipe's phrasing
      chunks: ws.chunksOf(file),
      hybrid: false,
      maxTokens: Math.min(FILE_SUMMARY_TOKENS, base.maxTokens),
      onText: undefined,
    });
    fileSummaries.set(file, oneLine(r.output.text));
  }

  const dirs = new Map<string, string[]>();
  for (const file of picked) {
    const dir = path.posix.dirname(file);
    const list = dirs.get(dir);
    if (list) list.push(file);
    else dirs.set(dir, [file]);
  }
  const dirSummaries = new Map<string, string>();
  if (dirs.size > 1) {
    for (const [dir, dirFiles] of dirs) {
      base.signal?.throwIfAborted();
      const listing = dirFiles.map((f) => `- ${f}: ${fileSummaries.get(f)}`).join('\n');
      const r = await engine.complete({
        ...base,
        request: `Summarize the directory ${dir === '.' ? '(root)' : dir}. Its files:\n${listing}`,
        chunks: dirFiles.flatMap((f) => ws.chunksOf(f)),
        hybrid: false,
        maxTokens: Math.min(DIR_SUMMARY_TOKENS, base.maxTokens),
        onText: undefined,
      });
      dirSummaries.set(dir, oneLine(r.output.text));
    }
  }

  const parts = dirSummaries.size > 0 ? [...dirSummaries].map(([d, s]) => `- ${dirLabel(d)}: ${s}`) : [...fileSummaries].map(([f, s]) => `- ${f}: ${s}`);
  const what = scope ? `the directory ${scope}` : 'this repository';
  const request = `${params.prompt.trim() || `Summarize ${what}.`}\n${dirSummaries.size > 0 ? 'Its directories' : 'Its files'}:\n${parts.join('\n')}`;
  let firstTokenMs = 0;
  const last = await engine.complete({
    ...base,
    request,
    chunks: scopedChunks,
    onText: (d) => {
      if (firstTokenMs === 0) firstTokenMs = performance.now() - started;
      onText(d);
    },
  });
  const detail = dirSummaries.size > 0 ? [...dirSummaries].map(([d, s]) => `- \`${dirLabel(d)}\`: ${s}`) : [...fileSummaries].map(([f, s]) => `- \`${f}\`: ${s}`);
  if (detail.length > 0) onText(`\n\n${detail.join('\n')}`);
  const answer = `${last.output.text.trim()}\n\n${detail.join('\n')}`.trim();
  return { answer, firstTokenMs: firstTokenMs || last.output.firstTokenMs, last };
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim() || '(no summary)';
}

function dirLabel(dir: string): string {
  return dir === '.' ? '(root)' : `${dir}/`;
}
