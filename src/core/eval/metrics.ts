// The evaluation's metrics, as the recipe computes them (models/recipe/eval.py, batches.py rouge_l) so that
// the product's numbers and the recipe's are comparable: exact match after trimming, ROUGE-L as the
// F1 of the longest common subsequence of whitespace-split tokens, and edit similarity as Python's
// difflib.SequenceMatcher(None, a, b).ratio() (same matching-block algorithm, autojunk included).

/** Exact match after trimming both sides. */
export function exactMatch(prediction: string, answer: string): number {
  return prediction.trim() === answer.trim() ? 1 : 0;
}

/** Path accuracy of a "where" answer: the part before any `:line` suffix, trimmed, equals the path. */
export function pathMatch(prediction: string, answer: string): number {
  return prediction.trim().split(':')[0] === answer.trim().split(':')[0] ? 1 : 0;
}

/** Whether a "where" answer names one of the question's files at all (right or wrong): a diagnostic that
 * tells a wrong pick among the files in context from a path that is in none of them. */
export function pathAmong(prediction: string, paths: readonly string[]): number {
  return paths.some((p) => pathMatch(prediction, p) === 1) ? 1 : 0;
}

/** ROUGE-L F1 over whitespace tokens (batches.py rouge_l): 0 when either side is empty. */
export function rougeL(prediction: string, answer: string): number {
  const x = words(prediction);
  const y = words(answer);
  if (x.length === 0 || y.length === 0) return 0;
  // One row of the LCS table at a time.
  let prev = new Array<number>(y.length + 1).fill(0);
  for (let i = 0; i < x.length; i++) {
    const cur = new Array<number>(y.length + 1).fill(0);
    for (let j = 0; j < y.length; j++) cur[j + 1] = x[i] === y[j] ? prev[j] + 1 : Math.max(prev[j + 1], cur[j]);
    prev = cur;
  }
  const lcs = prev[y.length];
  if (lcs === 0) return 0;
  const p = lcs / x.length;
  const r = lcs / y.length;
  return (2 * p * r) / (p + r);
}

function words(s: string): string[] {
  return s.split(/\s+/).filter((w) => w.length > 0);
}

/**
 * difflib.SequenceMatcher(None, a, b).ratio(): 2*M/T, M the characters in matching blocks found by
 * recursively taking the longest matching block (leftmost in a, then in b), T = len(a) + len(b).
 * Characters are Unicode code points, as Python's str.
 */
export function editSimilarity(a: string, b: string): number {
  const A = Array.from(a);
  const B = Array.from(b);
  const total = A.length + B.length;
  if (total === 0) return 1;
  return (2 * matchingCharacters(A, B)) / total;
}

function matchingCharacters(a: string[], b: string[]): number {
  const b2j = new Map<string, number[]>();
  b.forEach((c, j) => {
    const list = b2j.get(c);
    if (list) list.push(j);
    else b2j.set(c, [j]);
  });
  // autojunk: in sequences of 200+ items, items more frequent than 1% + 1 are "popular" and not indexed.
  if (b.length >= 200) {
    const ntest = Math.floor(b.length / 100) + 1;
    for (const [c, idx] of [...b2j]) if (idx.length > ntest) b2j.delete(c);
  }
  const longest = (alo: number, ahi: number, blo: number, bhi: number): [number, number, number] => {
    let besti = alo;
    let bestj = blo;
    let bestsize = 0;
    let j2len = new Map<number, number>();
    for (let i = alo; i < ahi; i++) {
      const next = new Map<number, number>();
      for (const j of b2j.get(a[i]) ?? []) {
        if (j < blo) continue;
        if (j >= bhi) break;
        const k = (j2len.get(j - 1) ?? 0) + 1;
        next.set(j, k);
        if (k > bestsize) {
          besti = i - k + 1;
          bestj = j - k + 1;
          bestsize = k;
        }
      }
      j2len = next;
    }
    // No junk predicate: extend over equal (possibly popular) items on both sides.
    while (besti > alo && bestj > blo && a[besti - 1] === b[bestj - 1]) {
      besti--;
      bestj--;
      bestsize++;
    }
    while (besti + bestsize < ahi && bestj + bestsize < bhi && a[besti + bestsize] === b[bestj + bestsize]) bestsize++;
    return [besti, bestj, bestsize];
  };
  let matched = 0;
  const queue: [number, number, number, number][] = [[0, a.length, 0, b.length]];
  while (queue.length > 0) {
    const [alo, ahi, blo, bhi] = queue.pop()!;
    const [i, j, k] = longest(alo, ahi, blo, bhi);
    if (k === 0) continue;
    matched += k;
    if (alo < i && blo < j) queue.push([alo, i, blo, j]);
    if (i + k < ahi && j + k < bhi) queue.push([i + k, ahi, j + k, bhi]);
  }
  return matched;
}

/** Teacher-forced token accuracy: the share of positions whose argmax is the target. */
export function tokenAccuracy(predicted: readonly number[], target: readonly number[]): { correct: number; count: number } {
  let correct = 0;
  for (let i = 0; i < target.length; i++) if (predicted[i] === target[i]) correct++;
  return { correct, count: target.length };
}

export function mean(xs: readonly number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((s, x) => s + x, 0) / xs.length;
}

/** One question's share of a row's headline metric: the metric is sum(num) / sum(den) over the questions
 * (den 1 for a per-question score such as ROUGE-L; the target's token count for pooled token accuracy). */
export interface Share {
  num: number;
  den: number;
}

export interface PairedDifference {
  /** The row's metric minus the other row's, on the same questions. */
  diff: number;
  /** 95% percentile interval of the difference over bootstrap resamples of the questions. */
  ci95: [number, number];
}

/** The metric over all questions: sum(num) / sum(den), 0 when there are none. */
export function pooled(xs: readonly Share[]): number {
  return ratio(xs, xs.keys());
}

function ratio(xs: readonly Share[], idx: Iterable<number>): number {
  let num = 0;
  let den = 0;
  for (const i of idx) {
    num += xs[i].num;
    den += xs[i].den;
  }
  return den > 0 ? num / den : 0;
}

/**
 * Paired bootstrap of a difference between two rows answered on the same questions: questions are drawn
 * with replacement (the same draw for both rows, so the question-to-question spread cancels) and the
 * difference recomputed; the interval is the 2.5th to 97.5th percentile. An interval that excludes 0 says the
 * difference is not an accident of which questions were drawn; with 18 questions it often cannot.
 * `random` returns uniform [0, 1) numbers (a seeded generator, so that a run is reproducible).
 */
export function pairedDifference(a: readonly Share[], b: readonly Share[], random: () => number, resamples = 2000): PairedDifference {
  if (a.length !== b.length) throw new Error(`pairedDifference: ${a.length} vs ${b.length} questions`);
  const diff = pooled(a) - pooled(b);
  if (a.length === 0) return { diff: 0, ci95: [0, 0] };
  const diffs = new Float64Array(resamples);
  const idx = new Array<number>(a.length);
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < idx.length; i++) idx[i] = Math.floor(random() * a.length);
    diffs[r] = ratio(a, idx) - ratio(b, idx);
  }
  diffs.sort();
  const at = (q: number) => diffs[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  return { diff, ci95: [at(0.025), at(0.975)] };
}

/** Grounded accuracy of an answer's top source (issue 20's `grounded` row): 1 when it is the defining file
 * at the definition's first line (path compared as pathMatch does), 0 otherwise or when there is none. */
export function groundedMatch(source: { path: string; line: number } | undefined, definition: { path: string; line: number }): number {
  return source !== undefined && source.line === definition.line && pathMatch(source.path, definition.path) === 1 ? 1 : 0;
}
