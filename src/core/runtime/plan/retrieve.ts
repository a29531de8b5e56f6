// Which chunks a request is about: the index's BM25 (identifiers split, symbols, doc comments, paths),
// the encoder's vectors, and exact definitions of names in the request, fused by reciprocal rank. This
// one ranking orders what goes into the context (soft tokens and text) and the sources of the answer.
import type { Model } from '../model/model';
import type { WorkspaceState } from '../workspace/workspaces';
import { reciprocalRankFusion } from '../../retrieve/fuse';
import { symbolPathNames } from '../../chunker/engine';
import type { Chunk } from '../../types';

export interface Ranked {
  hash: string;
  score: number;
}

export interface Ranking {
  /** Best first. */
  fused: Ranked[];
  lexical: Ranked[];
  vector: Ranked[];
  /** Chunks defining a name the request mentions, longest name first. */
  definitions: (Ranked & { name: string })[];
  /** Fused score by chunk hash (for the planner). */
  relevance: Map<string, number>;
}

export type RetrievalMode = 'fused' | 'lexical' | 'vector';

/** How many of each list are fused: a source past this depth is noise. */
const DEPTH = 100;

const TEST_WEIGHT = 0.5;
const VECTOR_WEIGHT = 0.1;
const TEST_PATH = /(^|\/)(tests?|__tests__|specs?|testdata)\/|[._-](test|spec)s?\.[A-Za-z]+$|(^|\/)test_[^/]*$/;

export function isTestPath(p: string): boolean {
  return TEST_PATH.test(p);
}

const INTERNAL_WEIGHT = 0.5;
const USAGE = /\bhow\s+(?:do|can|should|would|could)\s+(?:i|we|you|one)\b|\bhow\s+to\b/i;

/**
 * The names a request mentions as code, not as English: "Where is X defined?" / "What does X do?",
 * `backticked` names, and code-shaped words (inner capitals, underscores, digits, dots, a trailing ? or !
 * or ()). A plain word such as "request" or "call" is a name only in those phrasings: else a question in
 * words would put every method that happens to be called "call" first.
 */
export function symbolMentions(request: string): string[] {
  const out = new Set<string>();
  const name = String.raw`[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*[?!]?`;
  const phrased = [
    new RegExp(
      String.raw`\b(?:where|how)\s+(?:is|are)\s+(?:the\s+)?(${name})\s+(?:defined|declared|implemented|set|created|located)`,
      'gi',
    ),
    new RegExp(String.raw`\bwhat\s+(?:does|do|is|are)\s+(?:the\s+)?(${name})(?:\s+(?:do|does|mean|for|return))?\s*\??$`, 'gi'),
    new RegExp(String.raw`\b(?:definition|source|callers?|uses?|usages?|implementation)\s+of\s+(${name})`, 'gi'),
  ];
  // A trailing ? is part of a Ruby name or the end of the question: keep both readings.
  const add = (w: string) => {
    out.add(w);
    out.add(w.replace(/[?!]$/, ''));
  };
  for (const re of phrased) for (const m of request.matchAll(re)) add(m[1]);
  for (const m of request.matchAll(/`([^`\s]+)`/g)) out.add(m[1].replace(/\(\)$/, ''));
  for (const m of request.matchAll(new RegExp(String.raw`(?<![\w$.])(${name})(\(\))?`, 'g'))) {
    const w = m[1];
    const bare = w.replace(/[?!]$/, '');
    // Code-shaped, or a capitalised word inside the sentence (a type name: "the Command type").
    const codeShaped =
      /[a-z][A-Z]|_|\d|\./.test(bare) || m[2] !== undefined || (/^[A-Z]/.test(bare) && /\S\s+$/.test(request.slice(0, m.index!)));
    if (codeShaped && bare.length >= 3) add(bare);
  }
  // Longer (more specific) names first; each also as its last dotted part (`Command.AddCommand`).
  const names = new Set<string>();
  for (const n of [...out].sort((a, b) => b.length - a.length)) {
    names.add(n);
    if (n.includes('.')) names.add(n.slice(n.lastIndexOf('.') + 1));
  }
  return [...names].filter((n) => n.length >= 2);
}

/**
 * The definitions of `name` the request means. A name defined in several places (`area` in `Circle` and
 * in `Rectangle`) means the ones inside something else the request names (`new Rectangle(...)`, then
 * `shape.area()`); when none is, all of them.
 */
export function narrowDefinitions<C extends Pick<Chunk, 'symbols' | 'symbolPath'>>(
  name: string,
  defs: readonly C[],
  named: readonly string[],
): readonly C[] {
  if (defs.length < 2) return defs;
  const others = new Set(named.filter((n) => n !== name));
  const inside = defs.filter((c) => c.symbols.some((s) => others.has(s)) || symbolPathNames(c.symbolPath).some((e) => others.has(e)));
  return inside.length > 0 ? inside : defs;
}

export async function rankChunks(
  model: Model,
  state: WorkspaceState,
  request: string,
  options: {
    signal?: AbortSignal;
    mode?: RetrievalMode;
    depth?: number;
    /** Names whose definitions rank first (default: the request's symbolMentions). */ names?: readonly string[];
    /** The request's query vector when the caller already has it (the evaluation ranks one request three ways). */
    queryVector?: Float32Array;
  } = {},
): Promise<Ranking> {
  const depth = options.depth ?? DEPTH;
  const mode = options.mode ?? 'fused';
  const lexical = mode === 'vector' ? [] : state.workspace.lexicalSearch(request, depth);
  let vector: Ranked[] = [];
  if (mode !== 'lexical' && state.search.size > 0) {
    const q = options.queryVector ?? (await model.queryVector(request, options.signal));
    vector = state.search.search(q, depth).map((r) => ({ hash: r.id, score: r.score }));
  }
  const definitions: (Ranked & { name: string })[] = [];
  if (mode === 'fused') {
    const seen = new Set<string>();
    const names = options.names ?? symbolMentions(request);
    for (const name of names) {
      for (const c of narrowDefinitions(name, state.workspace.definitions(name), names)) {
        if (seen.has(c.hash)) continue;
        seen.add(c.hash);
        definitions.push({ hash: c.hash, score: 1, name });
      }
    }
  }
  // An exact definition of a named identifier is the strongest evidence there is. The bundled encoder
  // ranks far below BM25 on unseen code, so its vote counts 0.1: on 60-question draws of rack (Ruby) and
  // commander (JS), natural-language file@3 was 0.817/0.892 at weight 0.3 and 0.900/0.892 at 0.1, and
  // 0.75/0.79 at weight 1 (docs/evaluation.md has the table and the command).
  const lists = [definitions.map((r) => r.hash), lexical.map((r) => r.hash), vector.map((r) => r.hash)];
  let fused = reciprocalRankFusion(lists, { weights: [2, 1, VECTOR_WEIGHT] });
  // Tests mention everything they test, so they outrank the code itself on words; unless the request is
  // about tests, the code comes first. A question about using the code ("how do I ...") wants the public
  // API before the internals that share its words, unless it names the internal definition. A question
  // about where code is wants the implementation, internal or not: on the grounded evaluation's "where is
  // the code that ..." questions, demoting internals cost 3-6 points (commander, Python http).
  const aboutTests = /\btest|\bspec/i.test(request);
  const aboutUsage = USAGE.test(request) && !/\b(?:private|internal|protected|helper)s?\b/i.test(request);
  const named = new Set(definitions.map((r) => r.hash));
  const weight = (h: string) => {
    const c = state.workspace.chunkByHash(h);
    if (!c) return 1;
    let w = 1;
    if (!aboutTests && isTestPath(c.path)) w *= TEST_WEIGHT;
    if (aboutUsage && !named.has(h) && c.internal) w *= INTERNAL_WEIGHT;
    return w;
  };
  fused = fused.map((r) => ({ ...r, score: r.score * weight(r.hash) })).sort((a, b) => b.score - a.score);
  return { fused, lexical, vector, definitions, relevance: new Map(fused.map((r) => [r.hash, r.score])) };
}
