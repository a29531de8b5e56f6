// The tasks: ask (chat with history), explain (a selection, with the repository), summarize (a scope) and
// generate (code at a cursor). Every answer carries ranked sources from the index. What the decoder
// writes is shown only where the bundle says it can (manifest capabilities); otherwise the answer is
// built from the index: located code, signatures and docs quoted from the files, no invented prose.
import path from 'node:path';
import type { Capability, GenerateParams, Source } from '../../protocol';
import type { Model } from '../model/model';
import type { WorkspaceState, Workspaces } from '../workspace/workspaces';
import type { Completer, CompletionResult } from '../decode/complete';
import type { IndexedChunk } from '../workspace/workspace';
import { rankChunks, type Ranking } from '../plan/retrieve';
import { requestIdentifiers } from '../plan/planner';
import { SourceResolver } from './sources';
import { lineCounter, snapPaths } from './snap';
import { buildCodeMap } from './codeMap';

export interface TaskDeps {
  model: Model;
  workspaces: Workspaces;
  completer: Completer;
}

export interface TaskHooks {
  onToken?: (text: string) => void;
  signal?: AbortSignal;
  seed?: number;
}

export interface TaskOutcome {
  answer: string;
  origin: 'model' | 'index';
  notice?: string;
  sources: Source[];
  /** From the request to the first text streamed to the caller. */
  firstTokenMs: number;
  /** The completion whose text is (or picked) the answer, when the decoder ran. */
  last?: CompletionResult;
  decoderRuns: number;
}

export const DEFAULT_MAX_TOKENS = 256;
/** The decoder's pick for a bundle that can only locate: a path is all it needs to say. */
const PICK_TOKENS = 24;
const MAX_SOURCES = 8;
const PICK_DEPTH = 10;

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

/** Which capability a task needs for the model's own text to be shown. */
function writes(params: GenerateParams): Capability {
  return params.task === 'ask' ? 'explain' : params.task;
}

export async function runTask(deps: TaskDeps, state: WorkspaceState, params: GenerateParams, hooks: TaskHooks): Promise<TaskOutcome> {
  const started = performance.now();
  let firstTokenMs = 0;
  const emit = (delta: string) => {
    if (!delta) return;
    if (firstTokenMs === 0) firstTokenMs = performance.now() - started;
    hooks.onToken?.(delta);
  };
  const runsBefore = deps.completer.runs;
  const outcome = await (params.task === 'summarize'
    ? summarize(deps, state, params, hooks, emit)
    : params.task === 'generate'
      ? generate(deps, state, params, hooks, emit)
      : answer(deps, state, params, hooks, emit));
  return {
    ...outcome,
    firstTokenMs: firstTokenMs || outcome.last?.output.firstTokenMs || 0,
    decoderRuns: deps.completer.runs - runsBefore,
  };
}

type Emit = (delta: string) => void;
type TaskPart = Omit<TaskOutcome, 'firstTokenMs' | 'decoderRuns'>;

function completionBase(state: WorkspaceState, params: GenerateParams, hooks: TaskHooks) {
  const o = params.options ?? {};
  return {
    state,
    hybrid: o.hybrid ?? true,
    contextBudget: o.contextBudget,
    sampling: { temperature: o.temperature ?? 0, topP: o.topP, seed: hooks.seed },
    stop: o.stop,
    ignoreEos: o.ignoreEos,
    signal: hooks.signal,
  };
}

/** ask and explain. */
async function answer(deps: TaskDeps, state: WorkspaceState, params: GenerateParams, hooks: TaskHooks, emit: Emit): Promise<TaskPart> {
  const ws = state.workspace;
  const request = taskRequest(params);
  const sel = params.task === 'explain' ? params.selection : undefined;
  // Explain ranks by what the selection uses; ask by the question.
  const rankText = sel ? `${params.prompt}\n${sel.text}` : request;
  // Explain: every name the selection uses may be defined elsewhere in the workspace.
  const names = sel ? requestIdentifiers(sel.text) : undefined;
  const ranking = await rankChunks(deps.model, state, rankText, { signal: hooks.signal, names });
  const resolver = new SourceResolver(ws.root);
  const maxTokens = params.options?.maxTokens ?? DEFAULT_MAX_TOKENS;

  // A bundle that can write answers in its own words. One that can only locate: its decoder picks a file
  // (what it was trained to do well), the index says where in it, and the answer quotes the code.
  const writing = deps.model.can(writes(params));
  const noMatch = !writing && !ws.lexicalOff && ranking.lexical.length === 0 && ranking.definitions.length === 0 && !sel;
  if (noMatch) {
    const text = `Nothing in this workspace matches “${oneLine(params.prompt, 120)}”.`;
    emit(text);
    return { answer: text, origin: 'index', notice: 'nothing in this workspace matches', sources: [] };
  }
  const last =
    writing || (deps.model.can('locate') && !sel)
      ? await deps.completer.complete({
          ...completionBase(state, params, hooks),
          request,
          history: params.task === 'ask' ? params.history : undefined,
          relevance: ranking.relevance,
          pinnedPaths: sel ? [sel.path] : undefined,
          maxTokens: writing ? maxTokens : Math.min(PICK_TOKENS, maxTokens),
          onText: writing ? emit : undefined,
        })
      : undefined;
  const snapped = last ? snapPaths(last.output.text.trim(), ws.files(), lineCounter(ws.root)) : undefined;
  if (writing) {
    const text = snapped!.text;
    const sources = await rankedSources(ws, resolver, ranking, { picked: snapped!.paths, selection: sel });
    return { answer: text, origin: 'model', sources, last, ...(text.length === 0 ? { notice: 'The model gave an empty answer.' } : {}) };
  }
  const picked = snapped?.paths.slice(0, 1) ?? [];
  const sources = await rankedSources(ws, resolver, ranking, { picked, selection: sel });
  const text = sel ? await explainMarkdown(ws, resolver, sel, sources) : askMarkdown(params.prompt, ranking, sources);
  emit(text);
  return { answer: text, origin: 'index', sources, last };
}

/**
 * Sources best first: exact definitions of names in the request, then the decoder's pick (a file it
 * named, placed by its best-ranked chunk), then the fused ranking; one per location.
 */
async function rankedSources(
  ws: WorkspaceState['workspace'],
  resolver: SourceResolver,
  ranking: Ranking,
  o: { picked: string[]; selection?: GenerateParams['selection'] },
): Promise<Source[]> {
  const out: Source[] = [];
  const seen = new Set<string>();
  const push = (s: Source | null) => {
    if (!s || out.length >= MAX_SOURCES) return;
    const key = `${s.path}:${s.line}`;
    if (seen.has(key)) return;
    // Explain: the selection itself is not a source of its own explanation.
    const sel = o.selection;
    if (sel && s.path === sel.path && s.line >= sel.startLine && s.line <= sel.endLine) return;
    seen.add(key);
    out.push(s);
  };
  const chunk = (hash: string) => ws.chunkByHash(hash);
  for (const d of ranking.definitions) {
    const c = chunk(d.hash);
    if (c) push(await resolver.forChunk(c, 'definition', d.name));
  }
  // The decoder's pick counts only among the retrieval's head: a file it names from nowhere is noise.
  const head = new Set(ranking.fused.slice(0, PICK_DEPTH).map((r) => chunk(r.hash)?.path));
  for (const p of o.picked.filter((x) => head.has(x))) {
    const best = ranking.fused.map((r) => chunk(r.hash)).find((c): c is IndexedChunk => !!c && c.path === p) ?? ws.chunksOf(p)[0];
    if (best) push(await resolver.forChunk(best, 'answer'));
  }
  for (const r of ranking.fused) {
    if (out.length >= MAX_SOURCES) break;
    const c = chunk(r.hash);
    if (c) push(await resolver.forChunk(c, 'search'));
  }
  return out;
}

function askMarkdown(question: string, ranking: Ranking, sources: Source[]): string {
  if (sources.length === 0) return `Nothing in this workspace matches “${oneLine(question, 120)}”.`;
  const lines: string[] = [];
  const exact = sources.filter((s) => s.from === 'definition');
  if (exact.length > 0) {
    for (const s of exact.slice(0, 3)) lines.push(`\`${s.symbol}\` is defined at ${s.path}:${s.line}.`);
  } else {
    lines.push(`The code that best matches your question${ranking.lexical.length === 0 ? ' (by meaning; no words matched)' : ''}:`);
  }
  lines.push('');
  for (const s of sources.slice(0, 5)) lines.push(...sourceBlock(s));
  return lines.join('\n').trim();
}

async function explainMarkdown(
  ws: WorkspaceState['workspace'],
  resolver: SourceResolver,
  sel: NonNullable<GenerateParams['selection']>,
  sources: Source[],
): Promise<string> {
  const lines: string[] = [];
  // The definition that holds the selection, from the index.
  const holder = ws.chunksOf(sel.path).find((c) => c.startLine <= sel.startLine && c.endLine >= sel.startLine);
  const own = holder ? await resolver.forChunk(holder, 'search') : null;
  lines.push(`The selection is ${sel.path}:${sel.startLine}-${sel.endLine}${own?.symbol ? `, in \`${own.symbol}\`` : ''}.`);
  if (own?.doc) lines.push('', ...own.doc.split('\n').map((l) => `> ${l}`));
  // Only exact definitions of names the selection uses: a source found by search is related, not used.
  const used = sources.filter((s) => s.symbol && s.from === 'definition');
  if (used.length > 0) {
    lines.push('', 'What it uses, as defined in this workspace:', '');
    for (const s of used.slice(0, 5)) lines.push(...sourceBlock(s));
  }
  return lines.join('\n').trim();
}

function sourceBlock(s: Source): string[] {
  const out = [`**${s.symbol ? `\`${s.symbol}\` — ` : ''}${s.path}:${s.line}**`];
  if (s.signature) out.push('```' + fence(s.path), s.signature, '```');
  if (s.doc) out.push(...s.doc.split('\n').map((l) => `> ${l}`));
  out.push('');
  return out;
}

function fence(p: string): string {
  const ext = path.posix.extname(p).slice(1);
  return /^[A-Za-z0-9]+$/.test(ext) ? ext : '';
}

function oneLine(text: string, max: number): string {
  const t = text.replace(/\s+/g, ' ').trim();
  return t.length > max ? t.slice(0, max - 1) + '…' : t;
}

async function summarize(deps: TaskDeps, state: WorkspaceState, params: GenerateParams, hooks: TaskHooks, emit: Emit): Promise<TaskPart> {
  const ws = state.workspace;
  const scope = (params.scope ?? params.selection?.path ?? '').replace(/^\.\/?/, '').replace(/\/+$/, '');
  if (scope && !ws.files().some((f) => f === scope || f.startsWith(scope + '/'))) {
    throw new Error(`nothing indexed under ${scope}`);
  }
  const resolver = new SourceResolver(ws.root);
  const map = await buildCodeMap(ws, resolver, scope, hooks.signal);
  if (!deps.model.can('summarize')) {
    emit(map.markdown);
    return { answer: map.markdown, origin: 'index', sources: map.sources.slice(0, MAX_SOURCES) };
  }
  // A bundle that can write: one decoder run over the scope's chunks, its prose first, the map after.
  const inScope = (p: string) => !scope || p === scope || p.startsWith(scope + '/');
  const last = await deps.completer.complete({
    ...completionBase(state, params, hooks),
    request: params.prompt.trim() || `Summarize ${scope ? `the directory ${scope}` : 'this repository'}.`,
    chunks: ws.allChunks().filter((c) => inScope(c.path)),
    maxTokens: params.options?.maxTokens ?? DEFAULT_MAX_TOKENS,
    onText: emit,
  });
  const prose = snapPaths(last.output.text.trim(), ws.files(), lineCounter(ws.root)).text;
  emit(`\n\n${map.markdown}`);
  return { answer: `${prose}\n\n${map.markdown}`.trim(), origin: 'model', sources: map.sources.slice(0, MAX_SOURCES), last };
}

async function generate(deps: TaskDeps, state: WorkspaceState, params: GenerateParams, hooks: TaskHooks, emit: Emit): Promise<TaskPart> {
  if (!deps.model.can('generate')) {
    return { answer: '', origin: 'index', notice: 'This model cannot write code, so nothing was changed.', sources: [] };
  }
  const ranking = await rankChunks(deps.model, state, taskRequest(params), { signal: hooks.signal });
  const last = await deps.completer.complete({
    ...completionBase(state, params, hooks),
    request: taskRequest(params),
    relevance: ranking.relevance,
    pinnedPaths: params.selection ? [params.selection.path] : undefined,
    maxTokens: params.options?.maxTokens ?? DEFAULT_MAX_TOKENS,
    onText: emit,
  });
  const sources = await rankedSources(state.workspace, new SourceResolver(state.workspace.root), ranking, { picked: [] });
  return { answer: last.output.text.trim(), origin: 'model', sources, last };
}
