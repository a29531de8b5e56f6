// Brute-force cosine similarity over unit-normalised rows in one Float32Array. Exact and simple: a
// query is one pass over N x D floats (~60-100 ms at 100k x 256 on one core). It stops scaling past
// roughly 1M chunks (1 GB of vectors at D=256, ~1 s per query): beyond that an approximate index
// (HNSW, IVF) or a quantised matrix is needed.
import type { RetrievalVector } from '../../bundle/manifest';

export class VectorSearch {
  private data: Float32Array;
  private count = 0;
  readonly ids: string[] = [];
  private readonly rowOf = new Map<string, number>();

  constructor(
    readonly dim: number,
    capacity = 1024,
  ) {
    this.data = new Float32Array(dim * Math.max(1, capacity));
  }

  get size(): number {
    return this.count;
  }

  has(id: string): boolean {
    return this.rowOf.has(id);
  }

  /** Adds or replaces the vector of `id` (normalised on the way in). */
  set(id: string, vector: ArrayLike<number>): void {
    if (vector.length !== this.dim) throw new RangeError(`vector of ${id} has ${vector.length} values, index dimension is ${this.dim}`);
    let row = this.rowOf.get(id);
    if (row === undefined) {
      if ((this.count + 1) * this.dim > this.data.length) {
        const grown = new Float32Array(this.data.length * 2);
        grown.set(this.data);
        this.data = grown;
      }
      row = this.count++;
      this.rowOf.set(id, row);
      this.ids.push(id);
    }
    let norm = 0;
    for (let i = 0; i < this.dim; i++) norm += vector[i] * vector[i];
    const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
    const off = row * this.dim;
    for (let i = 0; i < this.dim; i++) this.data[off + i] = vector[i] * inv;
  }

  /** Removes `id` (its row takes the last row's place). */
  delete(id: string): boolean {
    const row = this.rowOf.get(id);
    if (row === undefined) return false;
    const last = --this.count;
    if (row !== last) {
      this.data.copyWithin(row * this.dim, last * this.dim, (last + 1) * this.dim);
      this.ids[row] = this.ids[last];
      this.rowOf.set(this.ids[row], row);
    }
    this.ids.pop();
    this.rowOf.delete(id);
    return true;
  }

  /** Cosine similarity of `query` to every stored vector, by id. */
  scores(query: ArrayLike<number>): Map<string, number> {
    const q = normalise(query, this.dim);
    const out = new Map<string, number>();
    const d = this.dim;
    for (let r = 0; r < this.count; r++) {
      let s = 0;
      const off = r * d;
      for (let i = 0; i < d; i++) s += this.data[off + i] * q[i];
      out.set(this.ids[r], s);
    }
    return out;
  }

  /** The k most similar ids, best first. */
  search(query: ArrayLike<number>, k: number): { id: string; score: number }[] {
    const all = [...this.scores(query)].map(([id, score]) => ({ id, score }));
    all.sort((a, b) => b.score - a.score);
    return all.slice(0, k);
  }
}

function normalise(v: ArrayLike<number>, dim: number): Float32Array {
  if (v.length !== dim) throw new RangeError(`query has ${v.length} values, index dimension is ${dim}`);
  const out = new Float32Array(dim);
  let norm = 0;
  for (let i = 0; i < dim; i++) norm += v[i] * v[i];
  const inv = norm > 0 ? 1 / Math.sqrt(norm) : 0;
  for (let i = 0; i < dim; i++) out[i] = v[i] * inv;
  return out;
}

/**
 * A chunk's (or query's) retrieval vector from the encoder's `vectorsPerChunk` pooled vectors (stored
 * flattened, [vectorsPerChunk * hidden]): their mean ('mean', what the recipe's contrastive stage trains
 * when the encoder has no retrieval query), or the last one alone ('last': the retrieval query's; see
 * manifest encoder.retrieval and models/recipe/model.py Encoder.retrieval). VectorSearch normalises it.
 */
export function retrievalVector(flat: ArrayLike<number>, vectorsPerChunk: number, mode: RetrievalVector = 'mean'): Float32Array {
  if (vectorsPerChunk < 1 || flat.length % vectorsPerChunk !== 0)
    throw new RangeError(`${flat.length} values are not ${vectorsPerChunk} pooled vectors`);
  const hidden = flat.length / vectorsPerChunk;
  if (mode === 'last') return Float32Array.from({ length: hidden }, (_, i) => flat[(vectorsPerChunk - 1) * hidden + i]);
  const out = new Float32Array(hidden);
  for (let v = 0; v < vectorsPerChunk; v++) for (let i = 0; i < hidden; i++) out[i] += flat[v * hidden + i];
  for (let i = 0; i < hidden; i++) out[i] /= vectorsPerChunk;
  return out;
}
