// The context planner: which chunks enter the prompt as soft tokens and which few as raw text, within
// the decoder's position budget. Everything fits -> everything goes in, in repository order. Otherwise
// chunks are ranked by relevance (encoder-vector similarity plus identifier matches) and the best fill
// the budget. The chosen ones are emitted grouped by file, chunks in file order, the files in the order
// the bundle was trained with (manifest decoder.contextOrder): repository order, or the most relevant file
// first for a model that learned to read its best evidence early. Hybrid mode puts
// exact symbol definitions and the top few chunks in as text, because soft tokens carry gist, not
// exact names and line numbers.
import type { ContextOrder } from '../../bundle/manifest';
import type { Chunk as FullChunk } from '../../types';

/** A chunk as the planner needs it: text is optional (the index keeps metadata only). */
export type Chunk = Omit<FullChunk, 'text'> & { text?: string };

export interface PlanInput {
  /** Every chunk of the workspace, in repository order (files in order, chunks in file order). */
  chunks: readonly Chunk[];
  /** Decoder positions the context may use (file headers, soft tokens and text chunks together). */
  budget: number;
  softTokensPerChunk: number;
  /** Positions of a file's text header. */
  fileHeaderCost: (path: string) => number;
  /** Positions of a chunk placed as text (its header + code). */
  textChunkCost: (chunk: Chunk) => number;
  /** The request text: identifiers in it are matched against chunk symbols, text and paths. */
  request: string;
  /** Cosine similarity of each chunk (by hash) to the request, when vectors are available. */
  similarity?: Map<string, number>;
  /**
   * The request's relevance of each chunk by hash (the fused lexical + vector ranking of ./retrieve.ts):
   * when given it is the ranking, so the context and an answer's sources come from one ranking.
   */
  relevance?: ReadonlyMap<string, number>;
  /** Chunks defining a name (the index's definitions table). */
  definitions?: (name: string) => readonly Chunk[];
  hybrid?: boolean;
  maxTextChunks?: number;
  /** Positions text chunks may take at most; default a third of the budget, at most 1536. */
  textBudget?: number;
  /** Files that must be in context when anything is (explain: the selection's file). */
  pinnedPaths?: string[];
  /**
   * The order of the soft-token files: 'repository' (default) or 'relevance' (pinned files, then by the
   * best score among each file's chunks; ties keep repository order).
   */
  order?: ContextOrder;
  /** How many of the best-ranked soft chunks to repeat after the files (manifest decoder.recapChunks). */
  recapChunks?: number;
}

export interface PlannedFile {
  path: string;
  chunks: Chunk[];
}

export interface Plan {
  soft: PlannedFile[];
  text: Chunk[];
  /** Soft chunks repeated after the files, best first, each under its file's header (also in `soft`). */
  recap: Chunk[];
  /** Positions used by the context part (headers + soft + text). */
  positions: number;
  /** True when every chunk went in as soft tokens. */
  complete: boolean;
}

const STOP_WORDS = new Set(
  (
    'the and for are but not you all any can had her was one our out day get has him his how man new now old see two way who boy did its let put say she too use ' +
    'what where when which with this that from into does this file code function class method defined define return returns about explain ' +
    'summarize summary write generate there their them they then than these those have should would could make work works used using how why'
  ).split(' '),
);

/** Identifiers in a request, longest first, without common English words. */
export function requestIdentifiers(request: string): string[] {
  const found = new Set<string>();
  for (const m of request.matchAll(/[A-Za-z_$][A-Za-z0-9_$]*(?:\.[A-Za-z_$][A-Za-z0-9_$]*)*/g)) {
    for (const part of [m[0], ...m[0].split('.')]) {
      if (part.length < 3 || STOP_WORDS.has(part.toLowerCase())) continue;
      found.add(part);
    }
  }
  return [...found].sort((a, b) => b.length - a.length);
}

function wordRegex(word: string): RegExp {
  return new RegExp(`(^|[^A-Za-z0-9_$])${word.replace(/[$.]/g, (c) => `\\${c}`)}($|[^A-Za-z0-9_$])`);
}

/** Relevance of each chunk: vector similarity + identifier matches (defined > used > in path). */
export function scoreChunks(chunks: readonly Chunk[], request: string, similarity?: Map<string, number>): Map<string, number> {
  const ids = requestIdentifiers(request);
  const patterns = ids.map((id) => ({ id, lower: id.toLowerCase(), re: wordRegex(id) }));
  const scores = new Map<string, number>();
  for (const c of chunks) {
    let s = similarity?.get(c.hash) ?? 0;
    for (const p of patterns) {
      if (c.symbols.includes(p.id)) s += 1;
      else if (c.symbols.some((x) => x.toLowerCase() === p.lower)) s += 0.6;
      if (c.text !== undefined ? p.re.test(c.text) : p.re.test(c.symbolPath)) s += 0.3;
      if (c.path.toLowerCase().includes(p.lower)) s += 0.3;
    }
    scores.set(chunkKey(c), s);
  }
  return scores;
}

function relevanceByKey(chunks: readonly Chunk[], relevance: ReadonlyMap<string, number>): Map<string, number> {
  const scores = new Map<string, number>();
  for (const c of chunks) scores.set(chunkKey(c), relevance.get(c.hash) ?? 0);
  return scores;
}

function chunkKey(c: Chunk): string {
  return c.hash + '\u0000' + c.path + '\u0000' + c.startByte;
}

export function planContext(input: PlanInput): Plan {
  const { chunks, budget, softTokensPerChunk } = input;
  const hybrid = input.hybrid ?? true;
  const scores = input.relevance ? relevanceByKey(chunks, input.relevance) : scoreChunks(chunks, input.request, input.similarity);
  const pinned = new Set(input.pinnedPaths ?? []);
  const ranked = [...chunks].sort((a, b) => {
    const pa = pinned.has(a.path) ? 1 : 0;
    const pb = pinned.has(b.path) ? 1 : 0;
    if (pa !== pb) return pb - pa;
    return (scores.get(chunkKey(b)) ?? 0) - (scores.get(chunkKey(a)) ?? 0);
  });

  // 1. Text chunks (hybrid): exact definitions of named identifiers first, then the best-ranked.
  const text: Chunk[] = [];
  const inText = new Set<string>();
  let textPositions = 0;
  if (hybrid && chunks.length > 0) {
    const maxText = input.maxTextChunks ?? 3;
    const textBudget = Math.min(input.textBudget ?? Math.min(Math.floor(budget / 3), 1536), budget);
    const tryAdd = (c: Chunk) => {
      if (text.length >= maxText || inText.has(chunkKey(c))) return;
      const cost = input.textChunkCost(c);
      if (textPositions + cost > textBudget) return;
      text.push(c);
      inText.add(chunkKey(c));
      textPositions += cost;
    };
    if (input.definitions) {
      for (const id of requestIdentifiers(input.request)) {
        for (const def of input.definitions(id).slice(0, 2 * maxText)) tryAdd(def);
      }
    }
    // Only the head of the ranking is worth its text: costing every chunk would tokenize the repository.
    for (const c of ranked.slice(0, maxText * 3)) {
      if (text.length >= maxText) break;
      if ((scores.get(chunkKey(c)) ?? 0) <= 0 && !pinned.has(c.path)) break;
      tryAdd(c);
    }
  }

  // 2. Soft chunks: all of them when they fit, else the best-ranked until the budget is spent. The recap
  // (the best few again, after the files) is paid for first: its chunks are the head of the ranking, which
  // the soft selection takes first too.
  const headerCost = new Map<string, number>();
  const costOfHeader = (p: string) => {
    let c = headerCost.get(p);
    if (c === undefined) headerCost.set(p, (c = input.fileHeaderCost(p)));
    return c;
  };
  let recap = ranked.slice(0, Math.max(0, input.recapChunks ?? 0));
  let recapPositions = recap.reduce((n, c) => n + softTokensPerChunk + costOfHeader(c.path), 0);
  if (recapPositions > budget - textPositions) {
    recap = [];
    recapPositions = 0;
  }
  const softBudget = budget - textPositions - recapPositions;
  let allCost = 0;
  const allPaths = new Set<string>();
  for (const c of chunks) {
    if (!allPaths.has(c.path)) {
      allPaths.add(c.path);
      allCost += costOfHeader(c.path);
    }
    allCost += softTokensPerChunk;
  }
  let chosen: Set<string>;
  let softPositions: number;
  let complete: boolean;
  if (allCost <= softBudget) {
    chosen = new Set(chunks.map(chunkKey));
    softPositions = allCost;
    complete = true;
  } else {
    chosen = new Set();
    const paths = new Set<string>();
    softPositions = 0;
    complete = false;
    for (const c of ranked) {
      const cost = softTokensPerChunk + (paths.has(c.path) ? 0 : costOfHeader(c.path));
      if (softPositions + cost > softBudget) continue;
      chosen.add(chunkKey(c));
      paths.add(c.path);
      softPositions += cost;
      if (softBudget - softPositions < softTokensPerChunk) break;
    }
  }

  const soft: PlannedFile[] = [];
  for (const c of chunks) {
    if (!chosen.has(chunkKey(c))) continue;
    const last = soft[soft.length - 1];
    if (last && last.path === c.path) last.chunks.push(c);
    else soft.push({ path: c.path, chunks: [c] });
  }
  if (input.order === 'relevance') {
    const best = new Map(
      soft.map((f) => [f, pinned.has(f.path) ? Infinity : Math.max(...f.chunks.map((c) => scores.get(chunkKey(c)) ?? 0))]),
    );
    // Compared, not subtracted (Infinity - Infinity is NaN); the sort is stable, so ties keep repository order.
    soft.sort((a, b) => Number(best.get(b)! > best.get(a)!) - Number(best.get(b)! < best.get(a)!));
  }
  // Text chunks in repository order: reading order helps the decoder as much as it helps people.
  const order = new Map(chunks.map((c, i) => [chunkKey(c), i]));
  text.sort((a, b) => (order.get(chunkKey(a)) ?? 0) - (order.get(chunkKey(b)) ?? 0));
  // A recap chunk whose own place did not fit is not repeated: it was never there.
  recap = recap.filter((c) => chosen.has(chunkKey(c)));
  recapPositions = recap.reduce((n, c) => n + softTokensPerChunk + costOfHeader(c.path), 0);
  return { soft, text, recap, positions: softPositions + recapPositions + textPositions, complete };
}
