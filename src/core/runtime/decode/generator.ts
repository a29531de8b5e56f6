// KV-cached decoding over decoder.onnx (Hugging Face/Optimum decoder-with-past convention): the prompt's
// inputs_embeds are prefilled in pieces (attention cost is quadratic in piece length), then one token per
// step. Text streams out in deltas that never split a multi-byte character nor show a partial stop
// sequence. Cancellation is checked before every step, so it takes effect within one step.
import * as ort from 'onnxruntime-node';
import type { Bundle } from '../model/bundle';

export type StopReason = 'eos' | 'maxTokens' | 'stop' | 'cancelled' | 'repetition' | 'maxPositions';

export interface SamplingOptions {
  /** 0 or less = greedy. */
  temperature?: number;
  topP?: number;
  /** Seed of the sampler's random numbers; default: random. */
  seed?: number;
}

export interface GenerateInput {
  embeds: Float32Array;
  length: number;
  maxTokens: number;
  stop?: string[];
  sampling?: SamplingOptions;
  signal?: AbortSignal;
  onText?: (delta: string) => void;
  /** Prefill piece length in positions. */
  prefillChunk?: number;
  /** Decode past eos ids and the repetition guard: a fixed-length run (benchmarks, tests). */
  ignoreEos?: boolean;
  /**
   * Longest sequence allowed; default the bundle's decoder.maxPositions. Benchmarks raise it to time
   * full-text prompts past the trained length (the output there is meaningless, the cost is not).
   */
  positionLimit?: number;
  /**
   * The first `length` positions form a prefix identified by `key` (e.g. the repository context): its
   * KV cache is kept, and reused when the next request starts with the same prefix.
   */
  prefix?: { key: string; length: number };
  /** Sees the logits each token is picked from (evaluation, tests). */
  onLogits?: (logits: Float32Array) => void;
}

export interface GenerateOutput {
  text: string;
  tokens: number[];
  stopReason: StopReason;
  /** From the start of prefill to the first generated token. */
  firstTokenMs: number;
  /** Generated tokens per second after the first. */
  tokensPerSecond: number;
  promptPositions: number;
  /** Prompt positions whose KV cache came from the previous request's identical prefix. */
  reusedPositions: number;
}

type Past = Record<string, ort.Tensor>;

export class Generator {
  private readonly eos: Set<number>;
  /** KV cache at the end of the last request's reusable prefix. */
  private prefixCache: { key: string; length: number; past: Past } | undefined;

  constructor(private readonly bundle: Bundle) {
    this.eos = new Set(bundle.manifest.eosTokenIds);
  }

  /** One decoder call: returns the logits of the last position and the new cache. */
  private async step(embeds: Float32Array, t: number, past: Past, pastLen: number): Promise<{ logits: Float32Array; past: Past }> {
    const d = this.bundle.manifest.decoder;
    const mask = new BigInt64Array(pastLen + t).fill(1n);
    const positions = new BigInt64Array(t);
    for (let i = 0; i < t; i++) positions[i] = BigInt(pastLen + i);
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: new ort.Tensor('float32', embeds, [1, t, d.hiddenSize]),
      attention_mask: new ort.Tensor('int64', mask, [1, pastLen + t]),
      position_ids: new ort.Tensor('int64', positions, [1, t]),
      ...past,
    };
    const out = await this.bundle.decoder.run(feeds);
    const logitsT = out.logits;
    const all = logitsT.data as Float32Array;
    const v = d.vocabSize;
    const logits = all.slice((t - 1) * v, t * v);
    const next: Past = {};
    for (let i = 0; i < d.numLayers; i++) {
      next[`past_key_values.${i}.key`] = out[`present.${i}.key`];
      next[`past_key_values.${i}.value`] = out[`present.${i}.value`];
    }
    logitsT.dispose?.();
    return { logits, past: next };
  }

  private emptyPast(): Past {
    const d = this.bundle.manifest.decoder;
    const past: Past = {};
    for (let i = 0; i < d.numLayers; i++) {
      for (const kind of ['key', 'value']) {
        past[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, d.numKeyValueHeads, 0, d.headDim]);
      }
    }
    return past;
  }

  async generate(input: GenerateInput): Promise<GenerateOutput> {
    const m = this.bundle.manifest;
    const h = m.decoder.hiddenSize;
    const maxPositions = input.positionLimit ?? m.decoder.maxPositions;
    if (input.length < 1) throw new Error('empty prompt');
    if (input.length >= maxPositions) {
      throw new Error(`prompt has ${input.length} positions; the decoder takes at most ${maxPositions} (manifest decoder.maxPositions)`);
    }
    const started = performance.now();
    const stream = new TextStream(this.bundle, input.stop ?? [], input.onText);
    const sampler = new Sampler(input.sampling ?? {});
    const guard = new RepetitionGuard();
    // 256-position pieces: same speed as 512 here, and the transient attention scores (piece x past) stay
    // small, so peak memory grows with the KV cache rather than with pieces (measured: 2045 positions,
    // peak RSS 276 MB at 256 vs 356 MB at 512 vs 448 MB at 1024).
    const piece = Math.max(1, input.prefillChunk ?? 256);

    let past = this.emptyPast();
    let pastLen = 0;
    let logits: Float32Array | undefined;
    let stopReason: StopReason | undefined;
    // Reuse the KV cache of an identical prompt prefix (the repository context) from the last request.
    const prefix = input.prefix && input.prefix.length > 0 && input.prefix.length < input.length ? input.prefix : undefined;
    if (prefix && this.prefixCache && this.prefixCache.key === prefix.key && this.prefixCache.length === prefix.length) {
      past = this.prefixCache.past;
      pastLen = prefix.length;
    }
    const reusedPositions = pastLen;
    const keep = () => (this.prefixCache ? new Set(Object.values(this.prefixCache.past)) : new Set<ort.Tensor>());
    while (pastLen < input.length) {
      if (input.signal?.aborted) {
        stopReason = 'cancelled';
        break;
      }
      // Pieces end exactly at the prefix boundary so that the cache there can be kept.
      const end = prefix && pastLen < prefix.length ? Math.min(prefix.length, pastLen + piece) : Math.min(input.length, pastLen + piece);
      const t = end - pastLen;
      const r = await this.step(input.embeds.subarray(pastLen * h, end * h), t, past, pastLen);
      disposePast(past, keep());
      past = r.past;
      pastLen = end;
      logits = r.logits;
      if (prefix && pastLen === prefix.length) {
        const old = this.prefixCache;
        this.prefixCache = { key: prefix.key, length: prefix.length, past };
        if (old && old.past !== past) disposePast(old.past, new Set(Object.values(past)));
      }
    }

    let firstTokenAt = 0;
    const tokens: number[] = [];
    const row = new Float32Array(h);
    while (!stopReason && logits) {
      input.onLogits?.(logits);
      const token = sampler.pick(logits);
      if (tokens.length === 0) firstTokenAt = performance.now();
      if (this.eos.has(token) && !input.ignoreEos) {
        stopReason = 'eos';
        break;
      }
      tokens.push(token);
      if (stream.push(token)) {
        stopReason = 'stop';
        break;
      }
      if (!input.ignoreEos && guard.repeating(tokens)) {
        stopReason = 'repetition';
        break;
      }
      if (tokens.length >= input.maxTokens) {
        stopReason = 'maxTokens';
        break;
      }
      if (pastLen + 1 >= maxPositions) {
        stopReason = 'maxPositions';
        break;
      }
      if (input.signal?.aborted) {
        stopReason = 'cancelled';
        break;
      }
      this.bundle.embeddings.copyRow(token, row, 0);
      const r = await this.step(row, 1, past, pastLen);
      disposePast(past, keep());
      past = r.past;
      pastLen += 1;
      logits = r.logits;
    }
    disposePast(past, keep());
    const text = stream.finish(stopReason === 'stop');
    const ended = performance.now();
    const afterFirst = tokens.length > 1 && firstTokenAt > 0 ? (tokens.length - 1) / ((ended - firstTokenAt) / 1000) : 0;
    return {
      text,
      tokens,
      stopReason: stopReason ?? 'cancelled',
      firstTokenMs: firstTokenAt > 0 ? firstTokenAt - started : 0,
      tokensPerSecond: afterFirst,
      promptPositions: input.length,
      reusedPositions,
    };
  }
}

function disposePast(past: Past, keep: Set<ort.Tensor>): void {
  for (const t of Object.values(past)) if (!keep.has(t)) t.dispose?.();
}

/** Greedy, or temperature + nucleus (top-p) sampling with a seedable generator. */
export class Sampler {
  private readonly temperature: number;
  private readonly topP: number;
  private state: number;

  constructor(options: SamplingOptions) {
    this.temperature = options.temperature ?? 0;
    this.topP = Math.min(1, Math.max(0, options.topP ?? 1));
    this.state = (options.seed ?? Math.floor(Math.random() * 2 ** 32)) >>> 0;
  }

  /** mulberry32: small, fast, good enough to sample tokens reproducibly. */
  private random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  pick(logits: Float32Array): number {
    let best = 0;
    for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
    if (this.temperature <= 0) return best;
    const max = logits[best];
    const probs = new Float64Array(logits.length);
    let sum = 0;
    for (let i = 0; i < logits.length; i++) {
      const p = Math.exp((logits[i] - max) / this.temperature);
      probs[i] = p;
      sum += p;
    }
    const order = Array.from(probs.keys()).sort((a, b) => probs[b] - probs[a]);
    let kept = 0;
    let mass = 0;
    for (const i of order) {
      mass += probs[i] / sum;
      kept++;
      if (mass >= this.topP) break;
    }
    let r = this.random() * mass * sum;
    for (let k = 0; k < kept; k++) {
      r -= probs[order[k]];
      if (r <= 0) return order[k];
    }
    return order[kept - 1];
  }
}

/**
 * Stops a generation stuck in a loop: the same n-gram (n up to 64 tokens) repeated back to back over
 * at least max(3n, 32) tokens. Small models fall into such loops; real text rarely repeats that long.
 */
export class RepetitionGuard {
  constructor(
    private readonly maxPeriod = 64,
    private readonly minSpan = 32,
  ) {}

  repeating(tokens: number[]): boolean {
    const n = tokens.length;
    for (let p = 1; p <= this.maxPeriod; p++) {
      const span = Math.max(3 * p, this.minSpan);
      if (n < span) break;
      let ok = true;
      for (let i = n - span; i < n - p; i++) {
        if (tokens[i] !== tokens[i + p]) {
          ok = false;
          break;
        }
      }
      if (ok) return true;
    }
    return false;
  }
}

/**
 * Turns generated ids into text deltas. Decodes the whole answer each step (answers are short; this
 * keeps byte-level BPE merges right), holds back a trailing replacement character (an incomplete UTF-8
 * sequence) and any tail that could start a stop sequence.
 */
export class TextStream {
  private readonly ids: number[] = [];
  private emitted = 0;
  private text = '';
  private stopAt = -1;

  constructor(
    private readonly decoder: { decoderTokenizer: { decode(ids: number[]): string } },
    private readonly stops: string[],
    private readonly onText?: (delta: string) => void,
  ) {}

  /** Adds a token; true when a stop sequence is now complete. */
  push(id: number): boolean {
    this.ids.push(id);
    this.text = this.decoder.decoderTokenizer.decode(this.ids);
    for (const s of this.stops) {
      if (s.length === 0) continue;
      const at = this.text.indexOf(s);
      if (at >= 0 && (this.stopAt < 0 || at < this.stopAt)) this.stopAt = at;
    }
    if (this.stopAt >= 0) {
      this.emit(this.stopAt);
      return true;
    }
    let safe = this.text.length;
    while (safe > 0 && this.text.charCodeAt(safe - 1) === 0xfffd) safe--;
    safe -= this.partialStopLength(this.text.slice(0, safe));
    this.emit(safe);
    return false;
  }

  /** The final text; flushes whatever was held back (a stop sequence itself is never included). */
  finish(stopped: boolean): string {
    const end = stopped && this.stopAt >= 0 ? this.stopAt : this.text.length;
    this.emit(end);
    return this.text.slice(0, end);
  }

  private partialStopLength(text: string): number {
    let longest = 0;
    for (const s of this.stops) {
      for (let k = Math.min(s.length - 1, text.length); k > longest; k--) {
        if (text.endsWith(s.slice(0, k))) {
          longest = k;
          break;
        }
      }
    }
    return longest;
  }

  private emit(end: number): void {
    if (end > this.emitted) {
      this.onText?.(this.text.slice(this.emitted, end));
      this.emitted = end;
    }
  }
}
