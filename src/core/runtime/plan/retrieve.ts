// Which chunks a request is about: the index's BM25 (identifiers split, symbols, doc comments, paths),
// the encoder's vectors, and exact definitions of names in the request, fused by reciprocal rank. This
// one ranking orders what goes into the context (soft tokens and text) and the sources of the answer.
import type { Model } from '../model/model';
import type { WorkspaceState } from '../workspace/workspaces';
import { requestIdentifiers } from './planner';
import { reciprocalRankFusion } from '../../retrieve/fuse';

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
const TEST_PATH = /(^|\/)(tests?|__tests__|specs?|testdata)\/|[._-](test|spec)s?\.[A-Za-z]+$|(^|\/)test_[^/]*$/;

export function isTestPath(p: string): boolean {
  return TEST_PATH.test(p);
}

export async function rankChunks(
  model: Model,
  state: WorkspaceState,
  request: string,
  options: { signal?: AbortSignal; mode?: RetrievalMode; depth?: number } = {},
): Promise<Ranking> {
  const depth = options.depth ?? DEPTH;
  const mode = options.mode ?? 'fused';
  const lexical = mode === 'vector' ? [] : state.workspace.lexicalSearch(request, depth);
  let vector: Ranked[] = [];
  if (mode !== 'lexical' && state.search.size > 0) {
    const q = await model.queryVector(request, options.signal);
    vector = state.search.search(q, depth).map((r) => ({ hash: r.id, score: r.score }));
  }
  const definitions: (Ranked & { name: string })[] = [];
  if (mode === 'fused') {
    const seen = new Set<string>();
    for (const name of requestIdentifiers(request)) {
      for (const c of state.workspace.definitions(name)) {
        if (seen.has(c.hash)) continue;
        seen.add(c.hash);
        definitions.push({ hash: c.hash, score: 1, name });
      }
    }
  }
  // An exact definition of a named identifier is the strongest evidence there is; lexical and vector
  // agree often enough on the rest that equal weights do well (measured: docs/evaluation.md).
  const lists = [definitions.map((r) => r.hash), lexical.map((r) => r.hash), vector.map((r) => r.hash)];
  let fused = reciprocalRankFusion(lists, { weights: [2, 1, 1] });
  // Tests mention everything they test, so they outrank the code itself on words; unless the request is
  // about tests, the code comes first.
  if (!/\btest|\bspec/i.test(request)) {
    const path = (h: string) => state.workspace.chunkByHash(h)?.path ?? '';
    fused = fused.map((r) => (isTestPath(path(r.hash)) ? { ...r, score: r.score * TEST_WEIGHT } : r)).sort((a, b) => b.score - a.score);
  }
  return { fused, lexical, vector, definitions, relevance: new Map(fused.map((r) => [r.hash, r.score])) };
}
