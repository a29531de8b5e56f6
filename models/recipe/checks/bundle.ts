// Loads a bundle written by models/recipe/export.py with onnxruntime-node and replays the PyTorch
// reference outputs of parity.json; also greedy-generates by the bundle's prompt layout. This is the
// recipe's own check that an exported bundle works in Node; the product's runtime lives in src/core/runtime.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Tokenizer } from '@huggingface/tokenizers';
import type { BundleManifest } from '../../../src/core/bundle/manifest';

export interface LoadedBundle {
  dir: string;
  manifest: BundleManifest;
  tokenizer: Tokenizer;
  encoder: ort.InferenceSession;
  adapter: ort.InferenceSession;
  decoder: ort.InferenceSession;
  embeddings: Float32Array;
}

export async function loadBundle(dir: string): Promise<LoadedBundle> {
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as BundleManifest;
  const tokenizer = new Tokenizer(JSON.parse(readFileSync(join(dir, manifest.decoder.tokenizer), 'utf8')), {});
  const opts: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, executionProviders: ['cpu'] };
  const [encoder, adapter, decoder] = await Promise.all([
    ort.InferenceSession.create(join(dir, manifest.encoder.file), opts),
    ort.InferenceSession.create(join(dir, manifest.adapter.file), opts),
    ort.InferenceSession.create(join(dir, manifest.decoder.file), opts),
  ]);
  const raw = readFileSync(join(dir, manifest.decoder.embeddings.file));
  const embeddings = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  return { dir, manifest, tokenizer, encoder, adapter, decoder, embeddings };
}

const i64 = (values: number[], dims: number[]) => new ort.Tensor('int64', BigInt64Array.from(values.map(BigInt)), dims);

export async function encodeChunks(b: LoadedBundle, ids: number[][], mask: number[][]): Promise<ort.Tensor> {
  const T = ids[0].length;
  const out = await b.encoder.run({ input_ids: i64(ids.flat(), [ids.length, T]), attention_mask: i64(mask.flat(), [ids.length, T]) });
  return out.chunk_vectors;
}

export async function softTokens(b: LoadedBundle, chunkVectors: ort.Tensor): Promise<ort.Tensor> {
  return (await b.adapter.run({ chunk_vectors: chunkVectors })).soft_tokens;
}

export function embedIds(b: LoadedBundle, ids: number[]): Float32Array {
  const H = b.manifest.decoder.hiddenSize;
  const out = new Float32Array(ids.length * H);
  ids.forEach((id, i) => out.set(b.embeddings.subarray(id * H, (id + 1) * H), i * H));
  return out;
}

/** One decoder call over `embeds` ([T*H]) on top of `past` (null = empty cache). */
export async function decoderStep(b: LoadedBundle, embeds: Float32Array, past: Record<string, ort.Tensor> | null) {
  const { hiddenSize: H, numLayers, numKeyValueHeads: kv, headDim } = b.manifest.decoder;
  const T = embeds.length / H;
  const P = past ? (past['present.0.key'].dims[2] as number) : 0;
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: new ort.Tensor('float32', embeds, [1, T, H]),
    attention_mask: i64(Array(P + T).fill(1), [1, P + T]),
    position_ids: i64(
      Array.from({ length: T }, (_, i) => P + i),
      [1, T],
    ),
  };
  for (let i = 0; i < numLayers; i++) {
    for (const kind of ['key', 'value']) {
      feeds[`past_key_values.${i}.${kind}`] = past
        ? past[`present.${i}.${kind}`]
        : new ort.Tensor('float32', new Float32Array(0), [1, kv, 0, headDim]);
    }
  }
  const out = await b.decoder.run(feeds);
  const V = b.manifest.decoder.vocabSize;
  const logits = out.logits.data as Float32Array;
  return { out, lastLogits: logits.subarray((T - 1) * V, T * V), allLogits: logits, T };
}

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

export const argmax = (xs: ArrayLike<number>) => {
  let best = 0;
  for (let i = 1; i < xs.length; i++) if (xs[i] > xs[best]) best = i;
  return best;
};

export interface ParityReport {
  chunkVectors: number;
  softTokens: number;
  prefillLastLogits: number;
  prefillMaxLogits: number;
  stepLogits: number;
  nextTokenMatches: boolean;
  max: number;
}

/** Replays parity.json: max abs difference of every output against PyTorch. */
export async function checkParity(b: LoadedBundle): Promise<ParityReport> {
  const ref = JSON.parse(readFileSync(join(b.dir, 'parity.json'), 'utf8'));
  const vec = await encodeChunks(b, ref.encoder_input_ids, ref.encoder_attention_mask);
  const soft = await softTokens(b, vec);
  const H = b.manifest.decoder.hiddenSize;
  const text = embedIds(b, ref.decoder_input_ids);
  const softData = soft.data as Float32Array;
  const embeds = new Float32Array(softData.length + text.length);
  embeds.set(softData, 0);
  embeds.set(text, softData.length);
  const pre = await decoderStep(b, embeds, null);
  const V = b.manifest.decoder.vocabSize;
  const maxPerPos = Array.from({ length: pre.T }, (_, t) => Math.max(...pre.allLogits.subarray(t * V, (t + 1) * V)));
  const next = argmax(pre.lastLogits);
  const step = await decoderStep(b, embedIds(b, [ref.next_token]), pre.out as Record<string, ort.Tensor>);
  const r = {
    chunkVectors: maxAbsDiff(vec.data as Float32Array, ref.chunk_vectors),
    softTokens: maxAbsDiff(softData, ref.soft_tokens),
    prefillLastLogits: maxAbsDiff(pre.lastLogits, ref.prefill_last_logits),
    prefillMaxLogits: maxAbsDiff(maxPerPos, ref.prefill_logits_max_over_positions),
    stepLogits: maxAbsDiff(step.lastLogits, ref.step_logits),
    nextTokenMatches: next === ref.next_token,
  };
  void H;
  return { ...r, max: Math.max(r.chunkVectors, r.softTokens, r.prefillLastLogits, r.prefillMaxLogits, r.stepLogits) };
}

export interface ContextFile {
  path: string;
  /** Encoder input texts of this file's chunks (placed as soft tokens). */
  chunkTexts: string[];
}

const fill = (template: string, vars: Record<string, string>) =>
  template.replace(/\{(content|path|line)\}/g, (_, k: string) => vars[k] ?? '');

/** Prompt layout of src/core/bundle/manifest.ts (soft-token files, then text chunks), greedy decoding. */
export async function generate(
  b: LoadedBundle,
  files: ContextFile[],
  textChunks: { path: string; line: number; code: string }[],
  request: string,
  maxNewTokens: number,
): Promise<{ text: string; ids: number[]; positions: number }> {
  const t = b.manifest.chatTemplate;
  const tokens = (s: string) => b.tokenizer.encode(s, { add_special_tokens: false }).ids;
  const H = b.manifest.decoder.hiddenSize;
  const pieces: Float32Array[] = [];
  const bos = b.manifest.specialTokens.bos;
  if (bos) pieces.push(embedIds(b, tokens(bos)));
  pieces.push(embedIds(b, tokens(t.contextStart)));
  const maxT = b.manifest.encoder.maxTokens;
  for (const f of files) {
    pieces.push(embedIds(b, tokens(fill(t.fileHeader, { path: f.path }))));
    if (f.chunkTexts.length === 0) continue;
    const enc = f.chunkTexts.map((c) => tokens(c).slice(0, maxT));
    const T = Math.max(...enc.map((e) => e.length));
    const ids = enc.map((e) => [...e, ...Array(T - e.length).fill(0)]);
    const mask = enc.map((e) => [...Array(e.length).fill(1), ...Array(T - e.length).fill(0)]);
    pieces.push((await softTokens(b, await encodeChunks(b, ids, mask))).data as Float32Array);
  }
  for (const c of textChunks) {
    pieces.push(embedIds(b, tokens(fill(t.textChunkHeader, { path: c.path, line: String(c.line) }))));
    pieces.push(embedIds(b, tokens(c.code.endsWith('\n') ? c.code : c.code + '\n')));
  }
  pieces.push(embedIds(b, tokens(t.contextEnd)));
  pieces.push(embedIds(b, tokens(fill(t.user, { content: request }))));
  pieces.push(embedIds(b, tokens(t.endOfTurn)));
  pieces.push(embedIds(b, tokens(t.assistant)));
  const total = pieces.reduce((n, p) => n + p.length, 0);
  const embeds = new Float32Array(total);
  let off = 0;
  for (const p of pieces) {
    embeds.set(p, off);
    off += p.length;
  }
  let step = await decoderStep(b, embeds, null);
  const ids: number[] = [];
  const stops = new Set(b.manifest.eosTokenIds);
  for (let i = 0; i < maxNewTokens; i++) {
    const next = argmax(step.lastLogits);
    if (stops.has(next)) break;
    ids.push(next);
    step = await decoderStep(b, embedIds(b, [next]), step.out as Record<string, ort.Tensor>);
  }
  return {
    text: ids.length === 0 ? '' : b.tokenizer.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }),
    ids,
    positions: total / H,
  };
}
