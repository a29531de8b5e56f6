// Time to first token and peak memory: the E2LLM prompt (repository as soft tokens, warm and cold
// soft-prompt cache) against the same repository as full text, with the same decoder and question, at
// several repository sizes. Full text past the decoder's trained length (manifest maxPositions) is
// timed only: its answers are meaningless there, its cost is what a long-context model would pay.
// Each measurement runs in a fresh child process so that its peak RSS is its own, and that process is
// what the product runs: this file bundled by esbuild as scripts/build.mjs bundles the CLI and sidecar
// (under tsx, the TypeScript loader alone added 36 MB to every process).
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { BenchResult, BenchMetric } from './lib/types';

const ROOT = path.resolve(__dirname, '..');
const BUNDLE = path.join(ROOT, 'models/default');
const QUESTION = 'Where is the function that parses command line options defined, and what does it return?';
const FOLLOW_UP = 'And which function writes the help text?';

type Method = 'e2llm-warm' | 'e2llm-cold' | 'fulltext';
interface ChildArgs {
  method: Method;
  bundle: string;
  repo: string;
  cacheDir: string;
  xdg: string;
  repeats: number;
}
interface ChildResult {
  ttftMs: number;
  /** Peak RSS of the child process over its life (model load included). */
  peakRssMB: number;
  /** RSS once the model is loaded and (E2LLM) the workspace is ready, before the measured request. */
  baselineRssMB: number;
  positions: number;
  extra?: Record<string, number>;
}

/** Real code to build repositories from: this project's sources and a few npm packages, in a fixed order. */
function corpusFiles(): { rel: string; abs: string }[] {
  const roots: [string, string][] = [
    ['e2code/src', path.join(ROOT, 'src')],
    ['commander', path.join(ROOT, 'node_modules/commander/lib')],
    ['jsonrpc', path.join(ROOT, 'node_modules/vscode-jsonrpc/lib/common')],
    ['markdown-it', path.join(ROOT, 'node_modules/markdown-it/lib')],
    ['lmdb', path.join(ROOT, 'node_modules/lmdb')],
    ['fdir', path.join(ROOT, 'node_modules/fdir/dist')],
  ];
  const out: { rel: string; abs: string }[] = [];
  const walk = (prefix: string, dir: string) => {
    let names: string[];
    try {
      names = readdirSync(dir).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const abs = path.join(dir, n);
      const st = statSync(abs);
      if (st.isDirectory()) {
        if (n !== 'node_modules' && n !== 'dist' && prefix.split('/').length < 6) walk(`${prefix}/${n}`, abs);
      } else if (/\.(ts|js|mjs)$/.test(n) && !n.endsWith('.d.ts') && !n.endsWith('.min.js') && st.size < 200_000) {
        out.push({ rel: `${prefix}/${n}`, abs });
      }
    }
  };
  for (const [prefix, dir] of roots) walk(prefix, dir);
  return out;
}

/** Writes a repository of about `tokens` decoder tokens of real code into a new directory. */
async function makeRepo(tokens: number, dir: string): Promise<{ tokens: number; files: number }> {
  const { TextTokenizer } = await import('../src/core/runtime/model/tokenizer');
  const tok = TextTokenizer.fromFile(path.join(BUNDLE, 'tokenizer.json'));
  let total = 0;
  let files = 0;
  for (const f of corpusFiles()) {
    if (total >= tokens) break;
    let text = readFileSync(f.abs, 'utf8');
    let n = tok.encode(text).length;
    if (total + n > tokens) {
      // Cut the last file at a line boundary to land near the target.
      const lines = text.split('\n');
      const keep = Math.max(1, Math.floor((lines.length * (tokens - total)) / n));
      text = lines.slice(0, keep).join('\n') + '\n';
      n = tok.encode(text).length;
    }
    const out = path.join(dir, f.rel);
    mkdirSync(path.dirname(out), { recursive: true });
    writeFileSync(out, text);
    total += n;
    files++;
  }
  return { tokens: total, files };
}

function rssMB(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}
function peakMB(): number {
  return process.resourceUsage().maxRSS / 1024;
}

/**
 * Full text: the decoder alone (no index, cache or workspace), with onnxruntime's memory arena, which
 * holds less than the runtime's arena-free decoder past its trained length and is 3x faster there
 * (src/core/runtime/model/providers.ts): each method is measured at its best.
 */
async function fullTextChild(args: ChildArgs): Promise<ChildResult> {
  const { Bundle } = await import('../src/core/runtime/model/bundle');
  const { PromptBuilder } = await import('../src/core/runtime/decode/prompt');
  const { Generator } = await import('../src/core/runtime/decode/generator');
  const bundle = await Bundle.load(args.bundle, { device: 'cpu', decoderMemoryArena: true });
  try {
    const builder = new PromptBuilder(bundle.manifest, bundle.decoderTokenizer, bundle.embeddings);
    const generator = new Generator(bundle);
    const files: { path: string; code: string }[] = [];
    const walk = (dir: string, rel: string) => {
      for (const n of readdirSync(dir).sort()) {
        const abs = path.join(dir, n);
        if (statSync(abs).isDirectory()) walk(abs, rel ? `${rel}/${n}` : n);
        else files.push({ path: rel ? `${rel}/${n}` : n, code: readFileSync(abs, 'utf8') });
      }
    };
    walk(args.repo, '');
    const baselineRssMB = rssMB();
    const times: number[] = [];
    let positions = 0;
    for (let r = 0; r < args.repeats; r++) {
      const t0 = performance.now();
      const prompt = builder.build({
        request: QUESTION,
        context: { softFiles: [], textChunks: files.map((f) => ({ path: f.path, line: 1, code: f.code })) },
      });
      const out = await generator.generate({
        embeds: prompt.embeds,
        length: prompt.length,
        maxTokens: 1,
        ignoreEos: true,
        positionLimit: prompt.length + 2,
      });
      times.push(performance.now() - t0);
      positions = out.promptPositions;
    }
    return { ttftMs: median(times), peakRssMB: peakMB(), baselineRssMB, positions };
  } finally {
    await bundle.dispose();
  }
}

async function child(args: ChildArgs): Promise<ChildResult> {
  if (args.method === 'fulltext') return fullTextChild(args);
  const { Engine } = await import('../src/core/runtime/engine');
  process.env.XDG_CACHE_HOME = args.xdg;
  // KV prefix reuse off: every measured request pays its whole prefill, as the full-text runs do.
  const engine = await Engine.create({ bundlePath: args.bundle, device: 'cpu', cacheDir: args.cacheDir, prefixCache: false });
  try {
    const t0 = performance.now();
    const indexed = await engine.index(args.repo);
    const indexMs = performance.now() - t0;
    const baselineRssMB = rssMB();
    const times: number[] = [];
    let positions = 0;
    let softChunks = 0;
    for (let r = 0; r < args.repeats; r++) {
      const t1 = performance.now();
      const res = await engine.generate({ task: 'ask', root: args.repo, prompt: QUESTION, options: { maxTokens: 1, ignoreEos: true } });
      times.push(performance.now() - t1);
      positions = res.context.positions;
      softChunks = res.context.softChunks;
    }
    const ttft = median(times) + (args.method === 'e2llm-cold' ? indexMs : 0);
    const peakRssMB = peakMB();
    const extra: Record<string, number> = {
      indexMs,
      encoded: indexed.encoded,
      chunks: indexed.chunks,
      softChunks,
      encodeChunksPerSecond: indexed.encoded / (indexMs / 1000),
    };
    if (args.method === 'e2llm-warm') {
      // A follow-up question in a chat: with KV prefix reuse on, an unchanged repository context is not
      // prefilled again (it is when the planner picks different chunks for the new question).
      engine.usePrefixCache = true;
      await engine.generate({ task: 'ask', root: args.repo, prompt: QUESTION, options: { maxTokens: 1, ignoreEos: true } });
      const t2 = performance.now();
      await engine.generate({ task: 'ask', root: args.repo, prompt: FOLLOW_UP, options: { maxTokens: 1, ignoreEos: true } });
      extra.followUpMs = performance.now() - t2;
      // Decode speed with the same sessions (after the peak above was read): 64 tokens past the first.
      const long = await engine.generate({ task: 'ask', root: args.repo, prompt: QUESTION, options: { maxTokens: 65, ignoreEos: true } });
      extra.decodeTokensPerSecond = long.timings.tokensPerSecond;
    }
    return { ttftMs: ttft, peakRssMB, baselineRssMB, positions, extra };
  } finally {
    await engine.close();
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

/**
 * This file bundled as the product's processes are (scripts/build.mjs: CommonJS, the native and wasm
 * packages external). Written under node_modules/.cache so that those packages resolve from it.
 */
async function bundleChild(): Promise<string> {
  const { build } = await import('esbuild');
  const out = path.join(ROOT, 'node_modules/.cache/e2code-bench/ttft-child.js');
  const version = (JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  await build({
    absWorkingDir: ROOT,
    entryPoints: [__filename],
    outfile: out,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // esbuild itself: only the parent builds.
    external: ['vscode', 'onnxruntime-node', 'lmdb', 'web-tree-sitter', '@vscode/tree-sitter-wasm', 'esbuild'],
    define: { __VERSION__: JSON.stringify(version) },
    logLevel: 'warning',
  });
  return out;
}

function runChild(script: string, args: ChildArgs): ChildResult {
  const r = spawnSync(process.execPath, [script, '--ttft-child', JSON.stringify(args)], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 16 * 1024 * 1024,
    timeout: 30 * 60 * 1000,
  });
  const line = r.stdout.split('\n').find((l) => l.startsWith('TTFT_RESULT '));
  if (r.status !== 0 || !line) throw new Error(`${args.method} on ${args.repo} failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  return JSON.parse(line.slice('TTFT_RESULT '.length)) as ChildResult;
}

export default async function run(): Promise<BenchResult> {
  const sizes = (process.env.E2CODE_TTFT_SIZES ?? '2000,8000,32000').split(',').map(Number);
  const work = mkdtempSync(path.join(os.tmpdir(), 'e2code-ttft-'));
  const metrics: BenchMetric[] = [];
  const rows: (string | number)[][] = [];
  const ttft: Record<Method, [number, number][]> = { 'e2llm-warm': [], 'e2llm-cold': [], fulltext: [] };
  const mem: Record<Method, [number, number][]> = { 'e2llm-warm': [], 'e2llm-cold': [], fulltext: [] };
  const maxPositions = (JSON.parse(readFileSync(path.join(BUNDLE, 'manifest.json'), 'utf8')) as { decoder: { maxPositions: number } })
    .decoder.maxPositions;
  const script = await bundleChild();
  try {
    for (const size of sizes) {
      const repo = path.join(work, `repo-${size}`);
      const made = await makeRepo(size, repo);
      const cacheDir = path.join(work, `cache-${size}`);
      const xdg = path.join(work, `xdg-${size}`);
      // Cold first: it fills the cache and index store that the warm run then finds.
      const cold = runChild(script, { method: 'e2llm-cold', bundle: BUNDLE, repo, cacheDir, xdg, repeats: 1 });
      const warm = runChild(script, { method: 'e2llm-warm', bundle: BUNDLE, repo, cacheDir, xdg, repeats: 3 });
      const full = runChild(script, {
        method: 'fulltext',
        bundle: BUNDLE,
        repo,
        cacheDir: path.join(work, `cache-full-${size}`),
        xdg: path.join(work, `xdg-full-${size}`),
        repeats: 1,
      });
      const beyond = full.positions >= maxPositions;
      for (const [m, r] of [
        ['e2llm-warm', warm],
        ['e2llm-cold', cold],
        ['fulltext', full],
      ] as [Method, ChildResult][]) {
        ttft[m].push([made.tokens, r.ttftMs]);
        mem[m].push([made.tokens, r.peakRssMB]);
        rows.push([
          made.tokens,
          made.files,
          m + (m === 'fulltext' && beyond ? ' (past trained length: timed only)' : ''),
          r.positions,
          Math.round(r.ttftMs),
          Math.round(r.peakRssMB),
          Math.round(r.peakRssMB - r.baselineRssMB),
        ]);
      }
      const tag = `${Math.round(made.tokens / 1000)}k`;
      metrics.push(
        {
          name: `TTFT speed-up, warm cache, ${tag} tokens`,
          value: round(full.ttftMs / warm.ttftMs),
          unit: 'x',
          ...(size >= 32000 ? { target: { op: '>=', value: 100 } } : {}),
          note: `full text ${Math.round(full.ttftMs)} ms (${full.positions} positions) vs E2LLM ${Math.round(warm.ttftMs)} ms (${warm.positions} positions), median of 3`,
        },
        {
          name: `TTFT speed-up, cold cache, ${tag} tokens`,
          value: round(full.ttftMs / cold.ttftMs),
          unit: 'x',
          ...(size >= 32000 ? { target: { op: '>=', value: 10 } } : {}),
          note: `cold = walk + chunk + encode ${cold.extra?.encoded} chunks (${Math.round(cold.extra?.indexMs ?? 0)} ms) + first token`,
        },
        {
          name: `peak RSS ratio, ${tag} tokens`,
          value: round(full.peakRssMB / warm.peakRssMB),
          unit: 'x',
          ...(size >= 32000 ? { target: { op: '>=', value: 5 } } : {}),
          note: `whole process incl. ~${Math.round(warm.baselineRssMB)} MB of runtime + model: full text ${Math.round(full.peakRssMB)} MB vs E2LLM ${Math.round(warm.peakRssMB)} MB`,
        },
        {
          name: `context memory ratio (peak above loaded model), ${tag} tokens`,
          value: round(Math.max(1, full.peakRssMB - full.baselineRssMB) / Math.max(1, warm.peakRssMB - warm.baselineRssMB)),
          unit: 'x',
          note: 'peak RSS minus RSS with the model loaded and the workspace ready: what the context itself costs',
        },
        { name: `E2LLM TTFT warm, ${tag} tokens`, value: Math.round(warm.ttftMs), unit: 'ms' },
        {
          name: `E2LLM decode speed, ${tag} tokens`,
          value: round(warm.extra?.decodeTokensPerSecond ?? 0),
          unit: 'tokens/s',
          note: 'warm process, the same question answered to 65 tokens (eos ignored), tokens after the first',
        },
        {
          name: `E2LLM TTFT of a follow-up question with KV prefix reuse, ${tag} tokens`,
          value: Math.round(warm.extra?.followUpMs ?? 0),
          unit: 'ms',
          note: 'the repository context is prefilled once per chat when the plan keeps it unchanged (it fits the budget); full text could reuse its prefix too, holding a KV cache for every repository token',
        },
        {
          name: `encoder throughput (cold index), ${tag} tokens`,
          value: round(cold.extra?.encodeChunksPerSecond ?? 0),
          unit: 'chunks/s',
          note: 'walk + chunk + encode + cache write, per encoded chunk',
        },
      );
    }
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  const series = (d: Record<Method, [number, number][]>) => (Object.keys(d) as Method[]).map((name) => ({ name, points: d[name] }));
  return {
    description: `Time to first token (1 token, greedy) and peak RSS of one process (bundled by esbuild, as the CLI and sidecar are) answering the same question about repositories of real code, at ${sizes.join(', ')} decoder tokens: E2LLM soft tokens (warm cache; cold = index + encode first) vs the same files as full text (the decoder alone, with onnxruntime's memory arena: its lower peak that long), same decoder, CPU (${os.cpus().length} cores).`,
    metrics,
    tables: [
      {
        title: 'Per repository size and method',
        columns: ['repo tokens', 'files', 'method', 'positions', 'TTFT ms', 'peak RSS MB', 'peak above loaded model MB'],
        rows,
      },
    ],
    charts: [
      { id: 'ttft', title: 'Time to first token vs repository size', xLabel: 'repository tokens', yLabel: 'ms', series: series(ttft) },
      { id: 'memory', title: 'Peak RSS vs repository size', xLabel: 'repository tokens', yLabel: 'MB', series: series(mem) },
    ],
  };
}

function round(x: number): number {
  return Math.round(x * 10) / 10;
}

const childAt = process.argv.indexOf('--ttft-child');
if (childAt >= 0) {
  child(JSON.parse(process.argv[childAt + 1]) as ChildArgs).then(
    (r) => process.stdout.write(`TTFT_RESULT ${JSON.stringify(r)}\n`),
    (err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exit(1);
    },
  );
}
