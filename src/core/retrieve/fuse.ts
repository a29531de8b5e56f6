/**
 * Reciprocal rank fusion (Cormack, Clarke & Büttcher, SIGIR 2009): an item's score is the sum over the
 * rankings that hold it of weight / (k + rank), rank counted from 1. Only ranks are used, so rankings
 * whose scores are on different scales (BM25, cosine similarity) combine without calibration.
 */

export interface FuseOptions {
  /** Damping constant; 60 is the paper's value. Larger k flattens the difference between top ranks. */
  k?: number;
  /** One weight per ranking (default 1 each). */
  weights?: number[];
}

export interface FusedHit {
  hash: string;
  score: number;
}

/**
 * Fuses rankings (ids, best first) into one, best first. A repeated id within one ranking counts at its
 * best rank only. Ties keep the order in which the ids were first met (ranking by ranking, best first),
 * so the result is deterministic.
 */
export function reciprocalRankFusion(rankings: readonly (readonly string[])[], opts: FuseOptions = {}): FusedHit[] {
  const k = opts.k ?? 60;
  if (!(Number.isFinite(k) && k >= 0)) throw new Error(`reciprocalRankFusion: k must be a finite number >= 0, got ${k}`);
  const weights = opts.weights;
  if (weights && weights.length !== rankings.length) {
    throw new Error(`reciprocalRankFusion: ${weights.length} weights for ${rankings.length} rankings`);
  }
  if (weights?.some((w) => !(Number.isFinite(w) && w >= 0))) throw new Error('reciprocalRankFusion: weights must be finite numbers >= 0');
  const scores = new Map<string, { score: number; first: number }>();
  rankings.forEach((ranking, r) => {
    const w = weights ? weights[r] : 1;
    const seen = new Set<string>();
    ranking.forEach((id, i) => {
      if (seen.has(id)) return;
      seen.add(id);
      const add = w / (k + i + 1);
      const hit = scores.get(id);
      if (hit) hit.score += add;
      else scores.set(id, { score: add, first: scores.size });
    });
  });
  return [...scores].sort(([, a], [, b]) => b.score - a.score || a.first - b.first).map(([hash, { score }]) => ({ hash, score }));
}
