// A synthetic 50,000-file workspace (E2CODE_BENCH_SYNTH_FILES): cold index with the persistent
// WorkspaceIndex and the real chunker, with the event loop's longest stall measured by a 20 ms timer;
// then a fresh store indexed again and cancelled at a third: how long the cancel takes, what was kept,
// and the resume. Peak RSS of this process is recorded by the runner.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkspaceIndex } from '../src/core/index/index';
import { rmrf, tempDir } from '../test/hardening/lib';
import type { BenchResult } from './lib/types';

const FILES = Number(process.env.E2CODE_BENCH_SYNTH_FILES ?? 50_000);

function makeWorkspace(files: number): string {
  const root = tempDir('e2code-50k-');
  const made = new Set<string>();
  for (let i = 0; i < files; i++) {
    const dir = path.join(root, `pkg${i % 100}`, `mod${i % 13}`);
    if (!made.has(dir)) {
      mkdirSync(dir, { recursive: true });
      made.add(dir);
    }
    const ext = ['ts', 'py', 'go', 'js', 'md'][i % 5];
    writeFileSync(
      path.join(dir, `f${i}.${ext}`),
      `// file ${i}\nfunction f${i}(a, b) {\n  const t = a * ${i} + b;\n  return t - (a >> 1);\n}\n\nclass C${i} {\n  m(x) { return f${i}(x, ${i % 17}); }\n}\n`,
    );
  }
  return root;
}

function lagMeter(): { stop: () => number } {
  let max = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    max = Math.max(max, now - last - 20);
    last = now;
  }, 20);
  return {
    stop: () => {
      clearInterval(timer);
      return max;
    },
  };
}

export default async function run(): Promise<BenchResult> {
  const t0 = performance.now();
  const root = makeWorkspace(FILES);
  const makeS = (performance.now() - t0) / 1000;
  const store1 = tempDir('e2code-50k-store-');
  const store2 = tempDir('e2code-50k-store-');
  try {
    // Cold index.
    let lag = lagMeter();
    let s = performance.now();
    const index = await WorkspaceIndex.open({ root, storeDir: store1 });
    const r = await index.refresh();
    const coldS = (performance.now() - s) / 1000;
    const coldLag = lag.stop();
    await index.close();
    const heapMB = process.memoryUsage().heapUsed / 1048576;

    // Cancelled at a third, then resumed.
    const idx2 = await WorkspaceIndex.open({ root, storeDir: store2 });
    const controller = new AbortController();
    let abortedAt = 0;
    lag = lagMeter();
    await idx2
      .refresh({
        signal: controller.signal,
        onProgress: (p) => {
          if (!abortedAt && p.total > 0 && p.done >= p.total / 3) {
            abortedAt = performance.now();
            controller.abort();
          }
        },
      })
      .catch(() => undefined);
    const cancelMs = performance.now() - abortedAt;
    const kept = idx2.stats().files;
    s = performance.now();
    const resumed = await idx2.refresh();
    const resumeS = (performance.now() - s) / 1000;
    const resumeLag = lag.stop();
    await idx2.close();
    return {
      description: `Synthetic workspace of ${FILES} small source files (5 languages, 1,300 directories; built in ${makeS.toFixed(1)} s): cold index, then a cancelled-at-a-third index and its resume.`,
      metrics: [
        { name: 'files indexed', value: r.files, unit: 'files', target: { op: '>=', value: FILES } },
        { name: 'chunks', value: r.chunks, unit: 'chunks' },
        { name: 'cold index', value: Math.round(coldS * 10) / 10, unit: 's' },
        { name: 'cold index rate', value: Math.round(r.files / coldS), unit: 'files/s' },
        {
          name: 'longest event-loop stall while indexing',
          value: Math.round(Math.max(coldLag, resumeLag)),
          unit: 'ms',
          target: { op: '<', value: 1000 },
        },
        { name: 'cancel latency at a third', value: Math.round(cancelMs), unit: 'ms', target: { op: '<', value: 2000 } },
        { name: 'files kept by the cancelled run', value: kept, unit: 'files' },
        {
          name: 'resume to complete',
          value: Math.round(resumeS * 10) / 10,
          unit: 's',
          note: `${resumed.files} files, ${resumed.unchanged.length} not re-read`,
        },
        { name: 'heap used after the cold index', value: Math.round(heapMB), unit: 'MB' },
      ],
    };
  } finally {
    rmrf(root);
    rmrf(store1);
    rmrf(store2);
  }
}
