// Decode speed on CPU, side by side in one run (issue 4): e2code's runtime Generator on the bundle's
// decoder.onnx against transformers.js generate() on the SAME decoder weights exported its way
// (models/recipe/export_transformersjs.py: Optimum decoder-with-past with input_ids, config.json
// model_type "llama"). Same prompt tokens, greedy, 128 new tokens with eos ignored, median of 3 after a
// warm-up; both run on onnxruntime-node with its default thread count. Reports tokens/s after the first
// token, first-token latency (prefill + first token), and whether the greedy token sequences agree.
//
// The transformers.js export is a build artefact under models/recipe/work/ (gitignored); the bench makes
// it with the recipe's venv when it is missing or was made from another bundle. Nothing is fetched. A
// fresh clone has neither the venv (PyTorch) nor the training checkpoint the export reads: the bench then
// reports itself skipped, naming what is missing and how to make it.
//
// Run alone: `node --import tsx bench/decode-compare.bench.ts`.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AutoModelForCausalLM, BaseStreamer, Tensor, env, type TextStreamer } from '@huggingface/transformers';
import { Bundle } from '../src/core/runtime/model/bundle';
import type { BundleManifest } from '../src/core/bundle/manifest';
import { Generator } from '../src/core/runtime/decode/generator';
import type { BenchMetric, BenchResult } from './lib/types';

const ROOT = path.resolve(__dirname, '..');
const BUNDLE = path.join(ROOT, 'models/default');
const TJS_ROOT = path.join(ROOT, 'models/recipe/work/transformersjs');
const TJS_NAME = 'default';
const PYTHON = path.join(ROOT, 'models/recipe/.venv/bin/python');
const SCRIPT = path.join(ROOT, 'models/recipe/export_transformersjs.py');
const PROMPT = 64;
const NEW_TOKENS = 128;
const RUNS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const round1 = (x: number) => Math.round(x * 10) / 10;

const EXPORT_DIR = path.join(TJS_ROOT, TJS_NAME);
const PARITY_FILE = path.join(EXPORT_DIR, 'parity.json');

interface ExportParity {
  bundleId?: string;
  maxAbsLogitDiffVsBundle: number;
  checkpoint: string;
}

function readExport(bundleId: string): ExportParity | undefined {
  if (!existsSync(path.join(EXPORT_DIR, 'onnx/model.onnx')) || !existsSync(PARITY_FILE)) return undefined;
  const parity = JSON.parse(readFileSync(PARITY_FILE, 'utf8')) as ExportParity;
  return parity.bundleId === bundleId ? parity : undefined;
}

/** The checkpoint files export_transformersjs.py looks for: work/<run>/<stage>.pt or <stage>-step<step>.pt. */
function checkpointCandidates(manifest: BundleManifest): string[] {
  const training = manifest.training as { run?: unknown; modules?: { decoder?: { stage?: unknown; step?: unknown } } };
  const run = typeof training.run === 'string' ? training.run : 'default';
  const dec = training.modules?.decoder;
  if (typeof dec?.stage !== 'string' || typeof dec.step !== 'number') return [];
  const dir = path.join(ROOT, 'models/recipe/work', run);
  return [path.join(dir, `${dec.stage}.pt`), path.join(dir, `${dec.stage}-step${dec.step}.pt`)];
}

/**
 * Why the transformers.js export can be neither found nor made here (undefined when it can): every
 * missing piece, each with the command that provides it.
 */
export function exportUnavailable(manifest: BundleManifest, python = PYTHON): string | undefined {
  if (readExport(manifest.id)) return undefined;
  const rel = (p: string) => path.relative(ROOT, p);
  const missing: string[] = [];
  if (!existsSync(python)) {
    missing.push(`the recipe's Python environment with PyTorch (${rel(python)}) is not set up: run \`bash models/recipe/setup_env.sh\``);
  } else if (spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' }).status !== 0) {
    missing.push(`PyTorch does not import in ${rel(python)}: run \`bash models/recipe/setup_env.sh\``);
  }
  const candidates = checkpointCandidates(manifest);
  if (!candidates.some((c) => existsSync(c))) {
    const which = candidates.length > 0 ? candidates.map(rel).join(' or ') : "the one the manifest's training.modules.decoder names";
    missing.push(
      `the training checkpoint the bundle's decoder was exported from (${which}) is not there: only a training run writes it (\`npm run train\`, which also re-exports models/default)`,
    );
  }
  if (missing.length === 0) return undefined;
  return (
    `the decoder's transformers.js export (${rel(EXPORT_DIR)}) is not there and cannot be made: ${missing.join('; ')}. ` +
    `Once they are there, \`npm run bench -- decode-compare\` makes the export (models/recipe/export_transformersjs.py) and runs.`
  );
}

/** The transformers.js export of this bundle's decoder: made here when missing or stale. */
function ensureExport(bundleId: string): ExportParity {
  const dir = EXPORT_DIR;
  const found = readExport(bundleId);
  if (found) return found;
  const how = `make it with: models/recipe/.venv/bin/python models/recipe/export_transformersjs.py --out ${path.relative(ROOT, dir)} (needs the recipe venv, models/recipe/setup_env.sh, and the checkpoint the bundle came from in models/recipe/work/)`;
  process.stderr.write(`decode-compare: exporting the decoder for transformers.js to ${path.relative(ROOT, dir)}\n`);
  const r = spawnSync(PYTHON, [SCRIPT, '--out', dir], { cwd: path.dirname(SCRIPT), stdio: ['ignore', 'inherit', 'inherit'] });
  const made = r.status === 0 ? readExport(bundleId) : undefined;
  if (!made) throw new Error(`export_transformersjs.py failed (${r.error?.message ?? `exit ${r.status}`}); ${how}`);
  return made;
}

/** Times generate(): put() is called once with the prompt, then once per generated token. */
class TimingStreamer extends BaseStreamer {
  puts = 0;
  firstTokenAt = 0;
  endedAt = 0;
  override put(): void {
    this.puts += 1;
    if (this.puts === 2) this.firstTokenAt = performance.now();
  }
  override end(): void {
    this.endedAt = performance.now();
  }
}

interface Run {
  tokens: number[];
  firstTokenMs: number;
  tokensPerSecond: number;
}

const DESCRIPTION_SKIPPED =
  "Decode speed on CPU, one run: e2code's runtime Generator against transformers.js generate() on the same decoder weights (onnxruntime-node both); greedy, same prompt tokens.";

export default async function run(): Promise<BenchResult> {
  const unavailable = exportUnavailable(Bundle.readManifest(BUNDLE));
  if (unavailable) return { description: DESCRIPTION_SKIPPED, metrics: [], skipped: unavailable };
  const bundle = await Bundle.load(BUNDLE, { device: 'cpu' });
  const m = bundle.manifest;
  const parity = ensureExport(m.id);

  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.useFSCache = false;
  env.localModelPath = TJS_ROOT + path.sep;
  const tjs = await AutoModelForCausalLM.from_pretrained(TJS_NAME, { dtype: 'fp32', device: 'cpu', local_files_only: true });

  try {
    // Prompt: the first PROMPT tokens of this project's generator source, the same ids for both.
    const text = readFileSync(path.join(ROOT, 'src/core/runtime/decode/generator.ts'), 'utf8');
    const ids = bundle.decoderTokenizer.encode(text).slice(0, PROMPT);
    if (ids.length < PROMPT) throw new Error(`prompt has only ${ids.length} tokens`);
    const h = m.decoder.hiddenSize;
    const embeds = new Float32Array(ids.length * h);
    ids.forEach((id, i) => bundle.embeddings.copyRow(id, embeds, i * h));

    const generator = new Generator(bundle);
    const e2code = async (maxTokens: number): Promise<Run> => {
      const out = await generator.generate({ embeds, length: ids.length, maxTokens, ignoreEos: true });
      return { tokens: out.tokens, firstTokenMs: out.firstTokenMs, tokensPerSecond: out.tokensPerSecond };
    };

    const inputIds = new Tensor('int64', BigInt64Array.from(ids.map(BigInt)), [1, ids.length]);
    const attentionMask = new Tensor('int64', new BigInt64Array(ids.length).fill(1n), [1, ids.length]);
    const transformersJs = async (maxTokens: number): Promise<Run> => {
      const streamer = new TimingStreamer();
      const started = performance.now();
      const out = (await tjs.generate({
        inputs: inputIds,
        attention_mask: attentionMask,
        max_new_tokens: maxTokens,
        min_new_tokens: 0,
        do_sample: false,
        eos_token_id: [], // a fixed-length run, as e2code's ignoreEos
        streamer: streamer as unknown as TextStreamer, // the typings want a TextStreamer; any BaseStreamer works
      })) as Tensor;
      const all = Array.from(out.data as BigInt64Array, Number);
      const tokens = all.slice(ids.length);
      const ended = streamer.endedAt || performance.now();
      const afterFirst =
        tokens.length > 1 && streamer.firstTokenAt > 0 ? (tokens.length - 1) / ((ended - streamer.firstTokenAt) / 1000) : 0;
      return { tokens, firstTokenMs: streamer.firstTokenAt - started, tokensPerSecond: afterFirst };
    };

    // Warm-up, then alternate the two so that load changes hit both alike.
    await e2code(8);
    await transformersJs(8);
    const runs: Record<'e2code' | 'tjs', Run[]> = { e2code: [], tjs: [] };
    for (let r = 0; r < RUNS; r++) {
      runs.e2code.push(await e2code(NEW_TOKENS));
      runs.tjs.push(await transformersJs(NEW_TOKENS));
    }
    for (const [name, rs] of Object.entries(runs)) {
      for (const r of rs)
        if (r.tokens.length !== NEW_TOKENS) throw new Error(`${name} produced ${r.tokens.length} tokens, expected ${NEW_TOKENS}`);
    }

    const a = runs.e2code[0].tokens;
    const b = runs.tjs[0].tokens;
    let samePrefix = 0;
    while (samePrefix < a.length && a[samePrefix] === b[samePrefix]) samePrefix++;
    const deterministic = runs.e2code.every((r) => r.tokens.join() === a.join()) && runs.tjs.every((r) => r.tokens.join() === b.join());
    const e2Rate = median(runs.e2code.map((r) => r.tokensPerSecond));
    const tjsRate = median(runs.tjs.map((r) => r.tokensPerSecond));
    const e2First = median(runs.e2code.map((r) => r.firstTokenMs));
    const tjsFirst = median(runs.tjs.map((r) => r.firstTokenMs));
    const tjsVersion = (
      JSON.parse(readFileSync(path.join(ROOT, 'node_modules/@huggingface/transformers/package.json'), 'utf8')) as { version: string }
    ).version;
    const note = `${PROMPT}-token prompt, ${NEW_TOKENS} new tokens, greedy, eos ignored, median of ${RUNS} after a warm-up`;

    const metrics: BenchMetric[] = [
      {
        name: 'e2code decode speed',
        value: round1(e2Rate),
        unit: 'tokens/s',
        note: `runtime Generator, decoder.onnx (inputs_embeds), tokens after the first; ${note}`,
      },
      {
        name: 'transformers.js decode speed',
        value: round1(tjsRate),
        unit: 'tokens/s',
        note: `@huggingface/transformers generate(), same weights exported with input_ids, tokens after the first; ${note}`,
      },
      {
        name: 'e2code / transformers.js decode speed',
        value: Math.round((e2Rate / tjsRate) * 100) / 100,
        unit: 'x',
        note: 'ratio of the two medians above',
      },
      {
        name: 'e2code first-token latency',
        value: round1(e2First),
        unit: 'ms',
        note: `prefill of ${PROMPT} positions + first token; median of ${RUNS}`,
      },
      {
        name: 'transformers.js first-token latency',
        value: round1(tjsFirst),
        unit: 'ms',
        note: `generate() call to the first generated token (streamer); median of ${RUNS}`,
      },
      {
        name: 'greedy tokens in agreement',
        value: samePrefix,
        unit: `of ${NEW_TOKENS}`,
        target: { op: '>=', value: NEW_TOKENS },
        note: `leading generated tokens identical between the two${deterministic ? '' : ' (runs of one side differed among themselves)'}`,
      },
      {
        name: 'export parity: max abs logit diff',
        value: parity.maxAbsLogitDiffVsBundle,
        unit: 'logit',
        target: { op: '<=', value: 1e-3 },
        note: `transformers.js export vs the bundle's decoder.onnx, onnxruntime, prefill + 4 cached steps (${parity.checkpoint})`,
      },
    ];
    return {
      description: `Decode speed on CPU (${os.cpus().length} cores), one run: e2code's runtime Generator against transformers.js ${tjsVersion} generate() on the same decoder weights (onnxruntime-node both); greedy, same prompt tokens.`,
      metrics,
      tables: [
        {
          title: 'Per run (tokens/s after the first token; first-token ms)',
          columns: ['run', 'e2code tokens/s', 'transformers.js tokens/s', 'e2code first ms', 'transformers.js first ms'],
          rows: runs.e2code.map((r, i) => [
            i + 1,
            round1(r.tokensPerSecond),
            round1(runs.tjs[i].tokensPerSecond),
            round1(r.firstTokenMs),
            round1(runs.tjs[i].firstTokenMs),
          ]),
        },
      ],
    };
  } finally {
    await tjs.dispose();
    await bundle.dispose();
  }
}

if (require.main === module) {
  run().then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'));
}
