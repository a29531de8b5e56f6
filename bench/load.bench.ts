// Load: 100 concurrent generate requests through the real sidecar (bundled model, queue limit 8), a
// quarter cancelled shortly after sending, plus 100 concurrent status/chunks requests. Counts what was
// answered, refused ("busy") and cancelled, latency of the answered ones, and the sidecar's peak RSS.
import path from 'node:path';
import { SidecarClient } from '../src/sidecar/client';
import { BUNDLE, REPO_SMALL, copyWorkspace, rmrf, rssBytes, tempDir } from '../test/hardening/lib';
import type { BenchResult } from './lib/types';

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] : 0;
}

export default async function run(): Promise<BenchResult> {
  const root = copyWorkspace(REPO_SMALL);
  const cacheDir = tempDir('e2code-load-cache-');
  const xdg = tempDir('e2code-load-xdg-');
  const client = new SidecarClient({
    sidecarPath: path.join(__dirname, '..', 'src', 'sidecar', 'main.ts'),
    env: { E2CODE_CACHE_DIR: cacheDir, XDG_CACHE_HOME: xdg, E2CODE_SIDECAR_MAX_QUEUE: '8' },
  });
  await client.start({ bundlePath: BUNDLE, device: 'cpu', cacheDir });
  const pid = client.pid!;
  try {
    await client.index({ root });
    await client.generate({ task: 'ask', root, prompt: 'warm up', options: { maxTokens: 2 } });
    const rss0 = rssBytes(pid);
    let peak = rss0;
    const timer = setInterval(() => (peak = Math.max(peak, rssBytes(pid))), 50);
    const t0 = Date.now();
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, async (_, i) => {
        const c = new AbortController();
        if (i % 4 === 3) setTimeout(() => c.abort(), 200 + i * 5);
        const s = Date.now();
        try {
          const r = await client.generate(
            { task: 'ask', root, prompt: `Question ${i}: what does shapes.ts define?`, options: { maxTokens: 16 } },
            undefined,
            c.signal,
          );
          return { kind: r.stopReason === 'cancelled' ? 'cancelled' : 'answered', ms: Date.now() - s };
        } catch (e) {
          const m = (e as Error).message;
          return { kind: /busy/.test(m) ? 'refused' : c.signal.aborted ? 'cancelled' : 'error', ms: Date.now() - s };
        }
      }),
    );
    const wall = Date.now() - t0;
    const s1 = Date.now();
    await Promise.all(Array.from({ length: 100 }, (_, i) => (i % 2 ? client.status() : client.chunks({ root, path: 'src/lruCache.ts' }))));
    const sideMs = Date.now() - s1;
    clearInterval(timer);
    const count = (k: string) => outcomes.filter((o) => o.kind === k).length;
    const answered = outcomes.filter((o) => o.kind === 'answered').map((o) => o.ms);
    return {
      description:
        '100 concurrent generate requests (16 tokens, 25 cancelled after 0.2-0.7 s) through the real sidecar with a queue limit of 8, then 100 concurrent status/chunks requests.',
      metrics: [
        { name: 'answered', value: count('answered'), unit: 'requests' },
        { name: 'refused (busy, clear error)', value: count('refused'), unit: 'requests' },
        { name: 'cancelled', value: count('cancelled'), unit: 'requests' },
        { name: 'other errors', value: count('error'), unit: 'requests', target: { op: '<=', value: 0 } },
        { name: 'answered latency p50', value: pct(answered, 50), unit: 'ms' },
        { name: 'answered latency p95', value: pct(answered, 95), unit: 'ms' },
        { name: 'wall time of the 100', value: wall, unit: 'ms' },
        { name: '100 status/chunks requests', value: sideMs, unit: 'ms' },
        { name: 'sidecar RSS growth under load', value: Math.round((peak - rss0) / 1048576), unit: 'MB', target: { op: '<', value: 512 } },
      ],
    };
  } finally {
    await client.dispose();
    rmrf(root);
    rmrf(cacheDir);
    rmrf(xdg);
  }
}
