// Soak: the real sidecar (src/sidecar/main.ts, bundled model) under a steady mix of requests for a few
// minutes (E2CODE_SOAK_SECONDS, default 180): file edit + re-index, a short answer, chunk listing, status,
// and a cancelled answer, in a loop. Samples the sidecar's RSS and open file descriptors
// (/proc/<pid>/fd) every 2 s and compares the first and last fifth of the run: no growth is the goal.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SidecarClient } from '../src/sidecar/client';
import { BUNDLE, REPO_SMALL, copyWorkspace, rmrf, tempDir, rssBytes } from '../test/hardening/lib';
import type { BenchResult } from './lib/types';

const SECONDS = Number(process.env.E2CODE_SOAK_SECONDS ?? 180);

function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : 0;
}

export default async function run(): Promise<BenchResult> {
  const root = copyWorkspace(REPO_SMALL);
  const cacheDir = tempDir('e2code-soak-cache-');
  const xdg = tempDir('e2code-soak-xdg-');
  const client = new SidecarClient({
    sidecarPath: path.join(__dirname, '..', 'src', 'sidecar', 'main.ts'),
    env: { E2CODE_CACHE_DIR: cacheDir, XDG_CACHE_HOME: xdg },
  });
  await client.start({ bundlePath: BUNDLE, device: 'cpu', cacheDir });
  const pid = client.pid!;
  const samples: { t: number; rss: number; fds: number }[] = [];
  const t0 = Date.now();
  const sample = () => samples.push({ t: (Date.now() - t0) / 1000, rss: rssBytes(pid) / 1048576, fds: fdCount(pid) });
  const timer = setInterval(sample, 2000);
  const file = path.join(root, 'src', 'lruCache.ts');
  const original = readFileSync(file, 'utf8');
  let requests = 0;
  let errors = 0;
  let i = 0;
  try {
    await client.index({ root });
    sample();
    while (Date.now() - t0 < SECONDS * 1000) {
      i++;
      try {
        writeFileSync(file, `${original}\nexport const soak${i % 50} = ${i};\n`);
        await client.index({ root });
        await client.generate({ task: 'ask', root, prompt: `What does lruCache.ts export? (${i % 10})`, options: { maxTokens: 8 } });
        await client.chunks({ root, path: 'src/lruCache.ts' });
        await client.status();
        const c = new AbortController();
        const p = client.generate(
          { task: 'ask', root, prompt: 'Explain everything.', options: { maxTokens: 64, ignoreEos: true } },
          undefined,
          c.signal,
        );
        setTimeout(() => c.abort(), 50);
        await p.catch(() => undefined);
        requests += 6;
      } catch {
        errors++;
      }
    }
    sample();
  } finally {
    clearInterval(timer);
    await client.dispose();
    rmrf(root);
    rmrf(cacheDir);
    rmrf(xdg);
  }
  const n = samples.length;
  const fifth = Math.max(1, Math.floor(n / 5));
  const head = samples.slice(0, fifth);
  const tail = samples.slice(n - fifth);
  const rssGrowth = median(tail.map((s) => s.rss)) - median(head.map((s) => s.rss));
  const fdGrowth = median(tail.map((s) => s.fds)) - median(head.map((s) => s.fds));
  return {
    description: `Real sidecar for ${SECONDS} s: edit + re-index, short answer, chunks, status and a cancelled answer in a loop (${i} rounds); RSS and fd count sampled every 2 s.`,
    metrics: [
      { name: 'requests', value: requests, unit: 'requests', note: `${errors} rounds failed` },
      {
        name: 'RSS growth (last fifth - first fifth, medians)',
        value: Math.round(rssGrowth * 10) / 10,
        unit: 'MB',
        target: { op: '<', value: 50 },
      },
      { name: 'open fd growth (last fifth - first fifth, medians)', value: fdGrowth, unit: 'fds', target: { op: '<=', value: 2 } },
      { name: 'peak sidecar RSS', value: Math.round(Math.max(...samples.map((s) => s.rss))), unit: 'MB' },
      { name: 'failed rounds', value: errors, unit: 'rounds', target: { op: '<=', value: 0 } },
    ],
    charts: [
      {
        id: 'rss',
        title: 'Sidecar RSS during the soak',
        xLabel: 's',
        yLabel: 'MB',
        series: [{ name: 'RSS', points: samples.map((s) => [s.t, Math.round(s.rss)]) }],
      },
      {
        id: 'fds',
        title: 'Sidecar open file descriptors',
        xLabel: 's',
        yLabel: 'fds',
        series: [{ name: 'fds', points: samples.map((s) => [s.t, s.fds]) }],
      },
    ],
  };
}
