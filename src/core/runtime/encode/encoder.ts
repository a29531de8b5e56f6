// Chunk texts -> encoder vectors -> adapter soft tokens, in length-sorted batches (padding is wasted
// compute, so similar lengths share a batch). Texts longer than the encoder's trained length are
// truncated to it, as the recipe does in training.
import * as ort from 'onnxruntime-node';
import type { Bundle } from '../model/bundle';

export interface Encoded {
  /** [vectorsPerChunk * encoderHidden] per text, in input order. */
  vectors: Float32Array[];
  /** [softTokensPerChunk * decoderHidden] per text, in input order. */
  softTokens: Float32Array[];
}

export interface EncodeOptions {
  /** Upper bound on batch size x padded length, in tokens. */
  batchTokens?: number;
  maxBatch?: number;
  signal?: AbortSignal;
  /** Called after each batch with the number of texts done so far. */
  onBatch?: (done: number) => void;
  /** Awaited between batches (indexing pause). */
  between?: () => Promise<void>;
}

export class Encoder {
  private readonly padId: number;

  constructor(private readonly bundle: Bundle) {
    const pad = bundle.manifest.specialTokens.pad;
    this.padId = (pad !== undefined ? bundle.encoderTokenizer.tokenToId(pad) : undefined) ?? 0;
  }

  tokenize(text: string): number[] {
    const ids = this.bundle.encoderTokenizer.encodeUntrusted(text); // chunk text and questions are untrusted
    const max = this.bundle.manifest.encoder.maxTokens;
    return ids.length > max ? ids.slice(0, max) : ids;
  }

  async encode(texts: string[], options: EncodeOptions = {}): Promise<Encoded> {
    const m = this.bundle.manifest;
    const ids = texts.map((t) => this.tokenize(t));
    const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length);
    const vectors = new Array<Float32Array>(texts.length);
    const softTokens = new Array<Float32Array>(texts.length);
    const batchTokens = options.batchTokens ?? 4096;
    const maxBatch = options.maxBatch ?? 64;
    const vecSize = m.encoder.vectorsPerChunk * m.encoder.hiddenSize;
    const softSize = m.adapter.softTokensPerChunk * m.decoder.hiddenSize;
    let done = 0;
    let i = 0;
    while (i < order.length) {
      options.signal?.throwIfAborted();
      if (options.between) await options.between();
      // Sorted ascending, so the last member sets the padded length.
      let j = i;
      while (j < order.length && j - i < maxBatch && (j - i + 1) * Math.max(1, ids[order[j]].length) <= batchTokens) j++;
      if (j === i) j = i + 1;
      const batch = order.slice(i, j);
      const len = Math.max(1, ids[batch[batch.length - 1]].length);
      const inputIds = new BigInt64Array(batch.length * len).fill(BigInt(this.padId));
      const mask = new BigInt64Array(batch.length * len);
      batch.forEach((k, b) => {
        const row = ids[k];
        for (let t = 0; t < row.length; t++) {
          inputIds[b * len + t] = BigInt(row[t]);
          mask[b * len + t] = 1n;
        }
        // An empty text still needs one attended position.
        if (row.length === 0) mask[b * len] = 1n;
      });
      const enc = await this.bundle.encoder.run({
        input_ids: new ort.Tensor('int64', inputIds, [batch.length, len]),
        attention_mask: new ort.Tensor('int64', mask, [batch.length, len]),
      });
      const cv = enc.chunk_vectors;
      const ad = await this.bundle.adapter.run({ chunk_vectors: cv });
      const vData = cv.data as Float32Array;
      const sData = ad.soft_tokens.data as Float32Array;
      if (vData.length !== batch.length * vecSize) {
        throw new Error(`${m.encoder.file}: chunk_vectors has ${vData.length} values for ${batch.length} chunks, expected ${vecSize} each`);
      }
      if (sData.length !== batch.length * softSize) {
        throw new Error(`${m.adapter.file}: soft_tokens has ${sData.length} values for ${batch.length} chunks, expected ${softSize} each`);
      }
      batch.forEach((k, b) => {
        vectors[k] = vData.slice(b * vecSize, (b + 1) * vecSize);
        softTokens[k] = sData.slice(b * softSize, (b + 1) * softSize);
      });
      cv.dispose?.();
      ad.soft_tokens.dispose?.();
      done += batch.length;
      options.onBatch?.(done);
      i = j;
    }
    return { vectors, softTokens };
  }
}
