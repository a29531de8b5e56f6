// The runtime's memory settings and weight formats must not change an answer. Peak memory itself is
// measured by bench/ttft.bench.ts (`npm run bench -- ttft`); here: the decoder without onnxruntime's
// memory arena computes what it computes with one, and a float16 embedding table (manifest
// decoder.embeddings.dtype) answers the product's prompts with the same greedy tokens as float32.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ort from 'onnxruntime-node';
import { Bundle } from '../../src/core/runtime/model/bundle';
import { Engine } from '../../src/core/runtime/engine';

const ROOT = path.resolve(__dirname, '../..');
const BUNDLE = path.join(ROOT, 'models/default');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2code-memory-'));

before(() => {
  // A fixed repository: commander's sources, pinned by the lockfile.
  cpSync(path.join(ROOT, 'node_modules/commander/lib'), path.join(tmp, 'repo/lib'), { recursive: true });
});
after(() => rmSync(tmp, { recursive: true, force: true }));

/** float32 -> IEEE 754 half, round to nearest even (what numpy's astype(float16) does). */
function toHalf(value: number): number {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0];
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  let mant = bits & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  let shift = 13;
  let h: number;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    shift = 14 - e;
    h = mant >>> shift;
  } else {
    h = (e << 10) | (mant >>> 13);
  }
  const rest = mant & ((1 << shift) - 1);
  const halfway = 1 << (shift - 1);
  // A carry out of the mantissa correctly moves to the next exponent.
  if (rest > halfway || (rest === halfway && (h & 1) === 1)) h++;
  return sign | h;
}

test('float32 -> float16 conversion rounds to nearest even, subnormals and overflow included', () => {
  const cases: [number, number][] = [
    [0, 0x0000],
    [-0, 0x8000],
    [1, 0x3c00],
    [-2, 0xc000],
    [65504, 0x7bff],
    [65520, 0x7c00], // rounds up past the largest half
    [1e9, 0x7c00],
    [2 ** -24, 0x0001], // smallest subnormal
    [2 ** -14, 0x0400], // smallest normal
    [1 + 2 ** -11, 0x3c00], // halfway, even stays
    [1 + 3 * 2 ** -11, 0x3c02], // halfway, odd rounds up
    [0.1, 0x2e66],
  ];
  for (const [f, h] of cases) assert.equal(toHalf(f), h, `toHalf(${f})`);
  assert.equal(toHalf(NaN) & 0x7c00, 0x7c00);
});

test('the decoder without the memory arena gives exactly the logits and cache it gives with one', async () => {
  const bundle = await Bundle.load(BUNDLE, { device: 'cpu', threads: 1 });
  const withArena = await ort.InferenceSession.create(path.join(BUNDLE, bundle.manifest.decoder.file), {
    executionProviders: ['cpu'],
    intraOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    enableCpuMemArena: true,
  });
  try {
    const d = bundle.manifest.decoder;
    const ids = bundle.decoderTokenizer.encode(readFileSync(path.join(ROOT, 'src/core/runtime/decode/generator.ts'), 'utf8')).slice(0, 300);
    const run = async (session: ort.InferenceSession, at: number, n: number, past: Record<string, ort.Tensor>) => {
      const embeds = new Float32Array(n * d.hiddenSize);
      for (let i = 0; i < n; i++) bundle.embeddings.copyRow(ids[at + i], embeds, i * d.hiddenSize);
      const feeds: Record<string, ort.Tensor> = {
        inputs_embeds: new ort.Tensor('float32', embeds, [1, n, d.hiddenSize]),
        attention_mask: new ort.Tensor('int64', new BigInt64Array(at + n).fill(1n), [1, at + n]),
        position_ids: new ort.Tensor(
          'int64',
          BigInt64Array.from({ length: n }, (_, i) => BigInt(at + i)),
          [1, n],
        ),
        ...past,
      };
      return session.run(feeds);
    };
    const empty = (): Record<string, ort.Tensor> => {
      const past: Record<string, ort.Tensor> = {};
      for (let i = 0; i < d.numLayers; i++) {
        for (const kind of ['key', 'value'])
          past[`past_key_values.${i}.${kind}`] = new ort.Tensor('float32', new Float32Array(0), [1, d.numKeyValueHeads, 0, d.headDim]);
      }
      return past;
    };
    const next = (out: ort.InferenceSession.OnnxValueMapType) => {
      const past: Record<string, ort.Tensor> = {};
      for (let i = 0; i < d.numLayers; i++) {
        past[`past_key_values.${i}.key`] = out[`present.${i}.key`] as ort.Tensor;
        past[`past_key_values.${i}.value`] = out[`present.${i}.value`] as ort.Tensor;
      }
      return past;
    };
    // A prefill in two pieces, then one step: shapes change on every call, as in decoding.
    let a = empty();
    let b = empty();
    for (const [at, n] of [
      [0, 256],
      [256, 43],
      [299, 1],
    ]) {
      const outA = await run(bundle.decoder, at, n, a);
      const outB = await run(withArena, at, n, b);
      assert.deepEqual(outA.logits.data, outB.logits.data, `logits at positions ${at}..${at + n}`);
      for (const name of bundle.decoder.outputNames) assert.deepEqual(outA[name].data, outB[name].data, name);
      a = next(outA);
      b = next(outB);
    }
  } finally {
    await withArena.release();
    await bundle.dispose();
  }
});

// Questions of the product's layout: an ask request planned over the repository (soft tokens of the
// chosen files, text chunks, the question), as the CLI and the extension send them.
const QUESTIONS = [
  'Where is the Command class defined?',
  'Which function writes the help text?',
  'Where are command line options parsed?',
  'How are options with default values handled?',
  'Where is the Option class defined?',
  'What does the Argument class hold?',
  'Where is the error thrown for an unknown option?',
  'How does commander suggest a similar command name?',
  'Where are subcommands added?',
  'Which method sets the program version?',
  'Where does the program exit after an error?',
  'How are environment variables read for options?',
  'Where is the help option added?',
  'What does the Help class format?',
  'Where are variadic arguments handled?',
  'How is an option name split into short and long flags?',
  'Where is the action handler of a command called?',
  'Which method returns the parsed options?',
  'Where are hooks run before an action?',
  'How does a command find its executable subcommand?',
  'Where is the CommanderError class defined?',
  'What does the InvalidArgumentError mean?',
  'Where is the width of the help text computed?',
  'How are required options checked?',
];

interface Answers {
  tokens: number[][];
  logits: Float32Array[][];
}

/** Greedy answers (32 tokens at most, the product's stop rules) and every step's logits. */
async function answers(bundlePath: string, cacheDir: string): Promise<Answers> {
  const engine = await Engine.create({ bundlePath, device: 'cpu', threads: 1, cacheDir, persistIndex: false, prefixCache: false });
  try {
    const root = path.join(tmp, 'repo');
    await engine.index(root);
    const state = await engine.workspaces.ready(root);
    const generator = engine.generator;
    const generate = generator.generate.bind(generator);
    let steps: Float32Array[] = [];
    // The completer does not hand out logits; the generator sees them on its way.
    generator.generate = (input) => generate({ ...input, onLogits: (l) => steps.push(l.slice()) });
    const out: Answers = { tokens: [], logits: [] };
    for (const request of QUESTIONS) {
      steps = [];
      const r = await engine.complete({ state, request, hybrid: true, maxTokens: 32, sampling: {} });
      out.tokens.push(r.output.tokens);
      out.logits.push(steps);
    }
    return out;
  } finally {
    await engine.close();
  }
}

test('a float16 embedding table answers 24 questions with the same greedy tokens as float32, logits within 0.02', async (t) => {
  const half = path.join(tmp, 'bundle-f16');
  cpSync(BUNDLE, half, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(BUNDLE, 'manifest.json'), 'utf8'));
  const f32 = readFileSync(path.join(BUNDLE, manifest.decoder.embeddings.file));
  assert.equal(manifest.decoder.embeddings.dtype, 'float32', 'the shipped table is float32: this test compares float16 with it');
  const values = new Float32Array(f32.buffer, f32.byteOffset, f32.byteLength / 4);
  writeFileSync(path.join(half, manifest.decoder.embeddings.file), Buffer.from(Uint16Array.from(values, toHalf).buffer));
  manifest.decoder.embeddings.dtype = 'float16';
  writeFileSync(path.join(half, 'manifest.json'), JSON.stringify(manifest));

  // One cache: the encoder and adapter are the same, so are the chunks' soft tokens.
  const cacheDir = path.join(tmp, 'cache');
  const ref = await answers(BUNDLE, cacheDir);
  const got = await answers(half, cacheDir);
  let maxDiff = 0;
  for (let q = 0; q < QUESTIONS.length; q++) {
    assert.deepEqual(got.tokens[q], ref.tokens[q], `greedy tokens of "${QUESTIONS[q]}"`);
    assert.equal(got.logits[q].length, ref.logits[q].length);
    for (let s = 0; s < ref.logits[q].length; s++) {
      const a = ref.logits[q][s];
      const b = got.logits[q][s];
      for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
    }
  }
  t.diagnostic(`greedy tokens compared: ${ref.tokens.reduce((n, x) => n + x.length, 0)}; max abs logit diff ${maxDiff}`);
  assert.ok(maxDiff <= 0.02, `float16 embeddings moved a logit by ${maxDiff}`);
  // Not a vacuous comparison: the answers have tokens to compare.
  assert.ok(ref.tokens.reduce((n, t) => n + t.length, 0) >= QUESTIONS.length * 2);
});
