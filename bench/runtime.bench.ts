// Model runtime throughput on CPU with the bundled model: encoder (chunks/s, batched, real code chunks),
// decode (tokens/s after a short and a long prompt, KV-cached), prefill time against prompt length,
// and brute-force vector search (ms per query against the number of chunks).
//
// The side-by-side decode comparison with transformers.js (same decoder, exported its way) is
// bench/decode-compare.bench.ts; this bench measures e2code's runtime alone.
//
// Run alone: `node --import tsx bench/runtime.bench.ts`.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createChunker } from '../src/core/chunker';
import { Bundle } from '../src/core/runtime/model/bundle';
import { Encoder } from '../src/core/runtime/encode/encoder';
import { Generator } from '../src/core/runtime/decode/generator';
import { VectorSearch } from '../src/core/runtime/encode/vectorSearch';
import type { BenchMetric, BenchResult } from './lib/types';

const ROOT = path.resolve(__dirname, '..');

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const n of readdirSync(dir).sort()) {
    const p = path.join(dir, n);
    if (statSync(p).isDirectory()) sourceFiles(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export default async function run(): Promise<BenchResult> {
  const bundle = await Bundle.load(path.join(ROOT, 'models/default'), { device: 'cpu' });
  const m = bundle.manifest;
  const metrics: BenchMetric[] = [];
  try {
    // Encoder: chunks of this project's own sources, cut the way indexing cuts them.
    const chunker = await createChunker({ maxTokens: m.encoder.maxTokens, countTokens: (t) => bundle.encoderTokenizer.encode(t).length });
    const texts: string[] = [];
    for (const f of sourceFiles(path.join(ROOT, 'src'))) {
      for (const c of await chunker.chunkFile(path.relative(ROOT, f), readFileSync(f))) texts.push(c.text);
      if (texts.length >= 512) break;
    }
    const encoder = new Encoder(bundle);
    await encoder.encode(texts.slice(0, 16)); // warm-up
    const encTimes: number[] = [];
    for (let r = 0; r < 3; r++) {
      const t0 = performance.now();
      await encoder.encode(texts);
      encTimes.push(performance.now() - t0);
    }
    const encMs = median(encTimes);
    metrics.push({
      name: 'encoder + adapter throughput',
      value: Math.round((texts.length / (encMs / 1000)) * 10) / 10,
      unit: 'chunks/s',
      note: `${texts.length} real chunks (<= ${m.encoder.maxTokens} tokens), length-sorted batches, median of 3`,
    });

    // Decode: tokens/s after the first token, fixed length (eos ignored), short and long prompts.
    const generator = new Generator(bundle);
    const h = m.decoder.hiddenSize;
    const prompt = (n: number) => {
      const e = new Float32Array(n * h);
      const ids = bundle.decoderTokenizer.encode(texts.join('\n')).slice(0, n);
      ids.forEach((id, i) => bundle.embeddings.copyRow(id, e, i * h));
      return e;
    };
    for (const n of [64, 1024]) {
      const embeds = prompt(n);
      await generator.generate({ embeds, length: n, maxTokens: 8, ignoreEos: true });
      const rates: number[] = [];
      for (let r = 0; r < 3; r++) {
        const out = await generator.generate({ embeds, length: n, maxTokens: 128, ignoreEos: true });
        rates.push(out.tokensPerSecond);
      }
      metrics.push({
        name: `decode speed after a ${n}-position prompt`,
        value: Math.round(median(rates) * 10) / 10,
        unit: 'tokens/s',
        note: '128 tokens, greedy, KV cache, median of 3',
      });
    }

    // Prefill: time to first token against prompt length.
    const points: [number, number][] = [];
    for (const n of [128, 512, 1024, 2000]) {
      const embeds = prompt(n);
      const times: number[] = [];
      for (let r = 0; r < 3; r++) {
        const t0 = performance.now();
        await generator.generate({ embeds, length: n, maxTokens: 1, ignoreEos: true });
        times.push(performance.now() - t0);
      }
      points.push([n, Math.round(median(times))]);
      metrics.push({ name: `prefill + first token, ${n} positions`, value: Math.round(median(times)), unit: 'ms', note: 'median of 3' });
    }

    // Vector search: one query against N chunk vectors of the bundle's width.
    const dim = m.encoder.vectorsPerChunk * m.encoder.hiddenSize;
    const searchPoints: [number, number][] = [];
    for (const n of [1000, 10_000, 30_000]) {
      const s = new VectorSearch(dim, n);
      const v = new Float32Array(dim);
      for (let i = 0; i < n; i++) {
        for (let d = 0; d < dim; d++) v[d] = Math.sin(i * 0.37 + d);
        s.set(`c${i}`, v);
      }
      const times: number[] = [];
      for (let r = 0; r < 5; r++) {
        const t0 = performance.now();
        s.scores(v);
        times.push(performance.now() - t0);
      }
      searchPoints.push([n, Math.round(median(times) * 10) / 10]);
      metrics.push({
        name: `vector search, ${n} chunks x ${dim} dims`,
        value: Math.round(median(times) * 10) / 10,
        unit: 'ms',
        note: 'brute-force cosine, median of 5; linear in N: ~1M chunks (3 GB at this width) is where an ANN index is needed',
      });
    }
    return {
      description: `onnxruntime-node on CPU (${os.cpus().length} cores) with the bundled model: encoder throughput, decode speed, prefill cost against prompt length, vector search cost against index size.`,
      metrics,
      charts: [
        {
          id: 'prefill',
          title: 'Prefill + first token vs prompt length',
          xLabel: 'positions',
          yLabel: 'ms',
          series: [{ name: 'decoder', points }],
        },
        {
          id: 'search',
          title: 'Vector search vs chunks',
          xLabel: 'chunks',
          yLabel: 'ms',
          series: [{ name: 'brute-force cosine', points: searchPoints }],
        },
      ],
    };
  } finally {
    await bundle.dispose();
  }
}

if (require.main === module) {
  run().then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'));
}
