// A model bundle loaded and checked: manifest, tokenizers, the three ONNX sessions and the decoder's
// token-embedding table. Every mismatch with the contract (../bundle/manifest.ts) is a BundleError
// that names the file and the field or tensor.
import { existsSync } from 'node:fs';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { BundleManifest } from '../../bundle/manifest';
import { BundleError, parseManifest } from '../../bundle/validate';
import { TextTokenizer } from './tokenizer';
import { createSession, type DeviceChoice, type ProviderName, type SessionChoice } from './providers';
import { FILE_CAPS, checkRegularFile, readRegularFile } from './bundleFiles';
import { threadsProblem } from './threads';

export { BundleError };

export interface LoadOptions {
  device?: DeviceChoice;
  /** Intra-op threads per session; 0 or undefined = onnxruntime's default. */
  threads?: number;
  /**
   * onnxruntime's memory arena for the decoder; default off (see ./providers.ts). Only benchmarks that
   * run prompts past decoder.maxPositions turn it on: there the arena is faster and holds less.
   */
  decoderMemoryArena?: boolean;
}

export class EmbeddingTable {
  constructor(
    private readonly data: Float32Array | Uint16Array,
    readonly vocabSize: number,
    readonly hiddenSize: number,
  ) {}

  /** Copies the embedding row of `id` into `out` at `offset`. */
  copyRow(id: number, out: Float32Array, offset: number): void {
    if (!(id >= 0 && id < this.vocabSize)) throw new RangeError(`token id ${id} outside the embedding table (vocabSize ${this.vocabSize})`);
    const h = this.hiddenSize;
    const start = id * h;
    if (this.data instanceof Float32Array) {
      out.set(this.data.subarray(start, start + h), offset);
    } else {
      const table = halfTable();
      for (let i = 0; i < h; i++) out[offset + i] = table[this.data[start + i]];
    }
  }
}

export class Bundle {
  private constructor(
    readonly dir: string,
    readonly manifest: BundleManifest,
    readonly encoderTokenizer: TextTokenizer,
    readonly decoderTokenizer: TextTokenizer,
    readonly embeddings: EmbeddingTable,
    readonly encoder: InferenceSession,
    readonly adapter: InferenceSession,
    readonly decoder: InferenceSession,
    readonly provider: ProviderName,
    readonly providerNote: string | undefined,
  ) {}

  get id(): string {
    return this.manifest.id;
  }

  /** Reads and checks the manifest and every file it names, without creating ONNX sessions. */
  static readManifest(dir: string): BundleManifest {
    const manifestPath = path.join(dir, 'manifest.json');
    if (!existsSync(dir)) throw new BundleError(`model bundle not found: ${dir} does not exist`, 'manifest.json');
    if (!existsSync(manifestPath)) throw new BundleError(`model bundle ${dir} has no manifest.json`, 'manifest.json');
    let manifestText: string;
    try {
      manifestText = readRegularFile(manifestPath, FILE_CAPS.manifest).toString('utf8');
    } catch (err) {
      throw new BundleError(`model bundle ${dir}: manifest.json cannot be read: ${(err as Error).message}`, 'manifest.json');
    }
    const manifest = parseManifest(manifestText, manifestPath);
    const m = manifest;
    const files: [string, string, number][] = [
      ['encoder.file', m.encoder.file, FILE_CAPS.onnx],
      ['encoder.tokenizer', m.encoder.tokenizer, FILE_CAPS.tokenizer],
      ['adapter.file', m.adapter.file, FILE_CAPS.onnx],
      ['decoder.file', m.decoder.file, FILE_CAPS.onnx],
      ['decoder.tokenizer', m.decoder.tokenizer, FILE_CAPS.tokenizer],
      // Its exact size is checked against the manifest when it is loaded (a clearer message than a cap).
      ['decoder.embeddings.file', m.decoder.embeddings.file, Number.MAX_SAFE_INTEGER],
    ];
    for (const [field, file, cap] of files) {
      const full = path.join(dir, file);
      if (!existsSync(full)) {
        throw new BundleError(`model bundle ${dir}: file ${file} (named by manifest field "${field}") is missing`, file, field);
      }
      try {
        checkRegularFile(full, cap);
      } catch (err) {
        throw new BundleError(`model bundle ${dir}: ${file} (manifest "${field}") cannot be used: ${(err as Error).message}`, file, field);
      }
    }
    return manifest;
  }

  static async load(dir: string, options: LoadOptions = {}): Promise<Bundle> {
    const threadsWhy = threadsProblem(options.threads ?? 0);
    if (threadsWhy) throw new RangeError(threadsWhy);
    dir = path.resolve(dir);
    const manifest = Bundle.readManifest(dir);
    const m = manifest;
    const loadTokenizer = (file: string, field: string): TextTokenizer => {
      try {
        return TextTokenizer.fromFile(path.join(dir, file));
      } catch (err) {
        throw new BundleError(
          `model bundle ${dir}: ${file} (manifest "${field}") cannot be loaded: ${(err as Error).message}`,
          file,
          field,
        );
      }
    };
    const encoderTokenizer = loadTokenizer(m.encoder.tokenizer, 'encoder.tokenizer');
    const decoderTokenizer =
      m.decoder.tokenizer === m.encoder.tokenizer ? encoderTokenizer : loadTokenizer(m.decoder.tokenizer, 'decoder.tokenizer');
    if (decoderTokenizer.idLimit > m.decoder.vocabSize) {
      throw new BundleError(
        `model bundle ${dir}: tokenizer ${m.decoder.tokenizer} has ids up to ${decoderTokenizer.idLimit - 1} but manifest "decoder.vocabSize" is ${m.decoder.vocabSize} (the embedding table would have no row for them)`,
        m.decoder.tokenizer,
        'decoder.vocabSize',
      );
    }
    const embeddings = loadEmbeddings(dir, m);

    const sessionOptions = { device: options.device ?? 'auto', threads: options.threads ?? 0 };
    const encoderS = await openSession(dir, m.encoder.file, 'encoder.file', sessionOptions);
    const adapterS = await openSession(dir, m.adapter.file, 'adapter.file', { ...sessionOptions, device: encoderS.provider });
    const decoderS = await openSession(dir, m.decoder.file, 'decoder.file', {
      ...sessionOptions,
      device: encoderS.provider,
      memoryArena: options.decoderMemoryArena ?? false,
    });
    checkEncoder(encoderS.session, m);
    checkAdapter(adapterS.session, m);
    checkDecoder(decoderS.session, m);
    return new Bundle(
      dir,
      m,
      encoderTokenizer,
      decoderTokenizer,
      embeddings,
      encoderS.session,
      adapterS.session,
      decoderS.session,
      encoderS.provider,
      encoderS.note,
    );
  }

  async dispose(): Promise<void> {
    await Promise.all([this.encoder.release(), this.adapter.release(), this.decoder.release()]);
  }
}

async function openSession(
  dir: string,
  file: string,
  field: string,
  options: SessionChoice,
): Promise<{ session: InferenceSession; provider: ProviderName; note?: string }> {
  try {
    // onnxruntime opens the file itself: checked just before, as the files read here are.
    checkRegularFile(path.join(dir, file), FILE_CAPS.onnx);
    return await createSession(path.join(dir, file), options);
  } catch (err) {
    if (err instanceof BundleError) throw err;
    const msg = (err as Error).message;
    // Provider errors already explain themselves; anything else is a model file ORT cannot read.
    if ((err as { providerError?: boolean }).providerError) throw err;
    throw new BundleError(`model bundle ${dir}: ${file} (manifest "${field}") is not a loadable ONNX model: ${msg}`, file, field);
  }
}

function loadEmbeddings(dir: string, m: BundleManifest): EmbeddingTable {
  const { file, dtype } = m.decoder.embeddings;
  const full = path.join(dir, file);
  const bytesPer = dtype === 'float32' ? 4 : 2;
  const expected = m.decoder.vocabSize * m.decoder.hiddenSize * bytesPer;
  let size: number;
  try {
    size = checkRegularFile(full, Number.MAX_SAFE_INTEGER);
  } catch (err) {
    throw new BundleError(
      `model bundle ${dir}: ${file} (manifest "decoder.embeddings.file") cannot be used: ${(err as Error).message}`,
      file,
      'decoder.embeddings',
    );
  }
  if (size !== expected) {
    const rows = size / (m.decoder.hiddenSize * bytesPer);
    throw new BundleError(
      `model bundle ${dir}: ${file} has ${size} bytes but decoder.vocabSize ${m.decoder.vocabSize} x decoder.hiddenSize ${m.decoder.hiddenSize} x ${bytesPer} (${dtype}) = ${expected}` +
        (Number.isInteger(rows)
          ? ` (it holds ${rows} rows of that width)`
          : ' (not a whole number of rows: wrong decoder.hiddenSize or dtype?)'),
      file,
      'decoder.embeddings',
    );
  }
  const buf = readRegularFile(full, expected);
  // A typed array views the bytes read where they are aligned (a file this size gets a buffer of its
  // own); only a misaligned view is copied, so the table is held once.
  const bytes = buf.byteOffset % bytesPer === 0 ? buf : Uint8Array.from(buf);
  const data =
    dtype === 'float32'
      ? new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
      : new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  return new EmbeddingTable(data, m.decoder.vocabSize, m.decoder.hiddenSize);
}

type Dim = number | string;

function tensorShape(session: InferenceSession, name: string, kind: 'input' | 'output'): readonly Dim[] | undefined {
  const list = kind === 'input' ? session.inputMetadata : session.outputMetadata;
  const meta = list.find((x) => x.name === name);
  return meta && meta.isTensor ? meta.shape : undefined;
}

function requireNames(session: InferenceSession, file: string, kind: 'input' | 'output', names: string[]): void {
  const have = kind === 'input' ? session.inputNames : session.outputNames;
  const missing = names.filter((n) => !have.includes(n));
  if (missing.length > 0) {
    throw new BundleError(
      `${file}: missing ${kind}${missing.length > 1 ? 's' : ''} ${missing.map((n) => `"${n}"`).join(', ')} (it has ${kind}s ${have.map((n) => `"${n}"`).join(', ')})`,
      file,
      missing[0],
    );
  }
}

/** Checks that a static dimension, where the model declares one, equals what the manifest says. */
function requireDim(
  session: InferenceSession,
  file: string,
  kind: 'input' | 'output',
  tensor: string,
  axis: number,
  expected: number,
  field: string,
): void {
  const shape = tensorShape(session, tensor, kind);
  if (!shape || shape.length === 0) return;
  const index = axis < 0 ? shape.length + axis : axis;
  const dim = shape[index];
  if (typeof dim === 'number' && dim > 0 && dim !== expected) {
    throw new BundleError(
      `${file}: ${kind} "${tensor}" has size ${dim} on axis ${index} but manifest "${field}" is ${expected}`,
      file,
      field,
    );
  }
}

function checkEncoder(s: InferenceSession, m: BundleManifest): void {
  const f = m.encoder.file;
  requireNames(s, f, 'input', ['input_ids', 'attention_mask']);
  requireNames(s, f, 'output', ['chunk_vectors']);
  requireDim(s, f, 'output', 'chunk_vectors', -1, m.encoder.hiddenSize, 'encoder.hiddenSize');
  requireDim(s, f, 'output', 'chunk_vectors', -2, m.encoder.vectorsPerChunk, 'encoder.vectorsPerChunk');
}

function checkAdapter(s: InferenceSession, m: BundleManifest): void {
  const f = m.adapter.file;
  requireNames(s, f, 'input', ['chunk_vectors']);
  requireNames(s, f, 'output', ['soft_tokens']);
  requireDim(s, f, 'input', 'chunk_vectors', -1, m.encoder.hiddenSize, 'encoder.hiddenSize');
  requireDim(s, f, 'output', 'soft_tokens', -1, m.decoder.hiddenSize, 'decoder.hiddenSize');
  requireDim(s, f, 'output', 'soft_tokens', -2, m.adapter.softTokensPerChunk, 'adapter.softTokensPerChunk');
}

function checkDecoder(s: InferenceSession, m: BundleManifest): void {
  const f = m.decoder.file;
  const d = m.decoder;
  const past: string[] = [];
  const present: string[] = [];
  for (let i = 0; i < d.numLayers; i++) {
    past.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
    present.push(`present.${i}.key`, `present.${i}.value`);
  }
  requireNames(s, f, 'input', ['inputs_embeds', 'attention_mask', 'position_ids', ...past]);
  requireNames(s, f, 'output', ['logits', ...present]);
  const extraPast = s.inputNames.filter((n) => n.startsWith('past_key_values.') && !past.includes(n));
  if (extraPast.length > 0) {
    throw new BundleError(
      `${f}: has ${extraPast.length / 2 + d.numLayers} layers of past_key_values but manifest "decoder.numLayers" is ${d.numLayers}`,
      f,
      'decoder.numLayers',
    );
  }
  requireDim(s, f, 'input', 'inputs_embeds', -1, d.hiddenSize, 'decoder.hiddenSize');
  requireDim(s, f, 'output', 'logits', -1, d.vocabSize, 'decoder.vocabSize');
  for (const name of [...past.slice(0, 2)]) {
    requireDim(s, f, 'input', name, 1, d.numKeyValueHeads, 'decoder.numKeyValueHeads');
    requireDim(s, f, 'input', name, 3, d.headDim, 'decoder.headDim');
  }
}

let halves: Float32Array | undefined;

/** Every half's float value (256 KB, made once): rows convert by lookup (32k rows: 0.3 s, not 2.4 s). */
function halfTable(): Float32Array {
  if (!halves) {
    halves = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) halves[h] = halfToFloat(h);
  }
  return halves;
}

/** IEEE 754 half -> float. */
function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}
