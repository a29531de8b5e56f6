// Cold index and one-file-edit refresh of a tree of 24,000 files built from real source files
// (the .js/.ts/.mjs/.cjs/.md/.py files of 300 B - 32 KiB in node_modules, copied into a temp workspace,
// a second time under another directory when there are too few), with the real chunker.
// Cold: WorkspaceIndex.open + refresh() from an empty store, in this process (peak RSS of this process).
// Warm: a fresh process opens the stored index and measures a no-op refresh, then edit-one-file +
// refresh() (full walk, what `e2code index` does) and edit-one-file + refreshPaths() (editor save),
// medians of 5 after one unmeasured warm-up edit per file, with that process's peak RSS. Wall times
// depend on machine load (recorded with the result); CPU times are given beside them.
// Run alone: `node --import tsx bench/index.bench.ts`.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { WorkspaceIndex } from '../src/core/index/index';
import type { BenchChart, BenchResult } from './lib/types';

const repoRoot = path.join(__dirname, '..');
const TARGET_FILES = Number(process.env.E2CODE_BENCH_FILES ?? 24_000);
const EXT = /\.(js|ts|mjs|cjs|md|py)$/;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const full = path.join(d, e.name);
      if (e.isDirectory()) stack.push(full);
      else if (e.isFile() && EXT.test(e.name) && !e.name.includes('.min.')) {
        const size = statSync(full).size;
        if (size >= 300 && size <= 32 * 1024) out.push(full);
      }
    }
  }
  return out.sort();
}

/** Copies real files into `root` until it holds `target` files; nested node_modules become `deps`. */
function buildTree(root: string, target: number): number {
  const nm = path.join(repoRoot, 'node_modules');
  const files = sourceFiles(nm);
  if (!files.length) throw new Error('no source files under node_modules: run npm ci first');
  let count = 0;
  for (let copy = 0; count < target; copy++) {
    const top = copy === 0 ? 'packages' : `vendored-${copy}`;
    for (const f of files) {
      if (count >= target) break;
      const rel = path
        .relative(nm, f)
        .split(path.sep)
        .map((s) => (s === 'node_modules' ? 'deps' : s));
      const dest = path.join(root, top, ...rel);
      mkdirSync(path.dirname(dest), { recursive: true });
      copyFileSync(f, dest);
      count++;
    }
  }
  return count;
}

export default async function run(): Promise<BenchResult> {
  const work = mkdtempSync(path.join(os.tmpdir(), 'e2code-index-bench-'));
  const root = path.join(work, 'ws');
  const store = path.join(work, 'store');
  try {
    const tGen = performance.now();
    const generated = buildTree(root, TARGET_FILES);
    const genSeconds = (performance.now() - tGen) / 1000;
    process.stderr.write(`index bench: ${generated} files copied in ${genSeconds.toFixed(1)} s\n`);

    // Cold index, sampling progress for the throughput chart.
    const index = await WorkspaceIndex.open({ root, storeDir: store });
    const progress: Array<[number, number]> = [[0, 0]];
    const t0 = performance.now();
    let lastSample = 0;
    const cold = await index.refresh({
      onProgress: (p) => {
        const t = (performance.now() - t0) / 1000;
        if (t - lastSample >= 1 || (p.total > 0 && p.done === p.total)) {
          lastSample = t;
          progress.push([Math.round(t * 10) / 10, p.done]);
          process.stderr.write(`\rindex bench: cold ${p.done}/${p.total} files, ${t.toFixed(0)} s   `);
        }
      },
    });
    process.stderr.write('\n');
    const coldPeakRssMB = process.resourceUsage().maxRSS / 1024;
    const coldRssMB = process.memoryUsage().rss / 1024 / 1024;
    await index.close();
    const snapshotMB = statSync(path.join(store, 'index.snapshot')).size / 1024 / 1024;

    // Edit targets: mid-sized TypeScript/JavaScript files that were indexed.
    const candidates = index
      .files()
      .filter((f) => /\.(ts|js)$/.test(f) && (index.file(f)?.size ?? 0) > 2000 && (index.file(f)?.size ?? 0) < 8000);
    const editTargets = [0, 0.25, 0.5, 0.75].map((q) => candidates[Math.floor(q * (candidates.length - 1))]);

    const child = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'lib', 'indexRefreshChild.ts'), root, store, ...editTargets],
      {
        cwd: repoRoot,
        encoding: 'utf8',
        maxBuffer: 16 * 1024 * 1024,
      },
    );
    if (child.status !== 0) throw new Error(`warm phase failed: ${child.stderr}`);
    const warm = JSON.parse(child.stdout) as {
      loaded: string;
      openMs: number;
      openCpuMs: number;
      rssAfterOpenMB: number;
      noopRefreshMs: number;
      noopRefreshCpuMs: number;
      editFullRefreshCpuMs: number;
      editFullRefreshMs: number;
      editFullRefreshAllMs: number[];
      editRefreshPathsMs: number;
      editRefreshPathsAllMs: number[];
      newChunksPerEdit: number;
      rssMB: number;
      peakRssMB: number;
    };
    if (warm.loaded !== 'loaded') throw new Error(`warm phase did not load the stored index (${warm.loaded})`);

    const r1 = (x: number) => Math.round(x * 10) / 10;
    const chart: BenchChart = {
      id: 'cold',
      title: `Cold index of ${cold.files.toLocaleString('en')} files`,
      xLabel: 'seconds',
      yLabel: 'files read (indexed or skipped)',
      series: [{ name: 'files done', points: progress }],
    };
    return {
      description:
        `Cold index and one-file-edit refresh of a ${generated.toLocaleString('en')}-file workspace made of real .js/.ts/.mjs/.cjs/.md/.py ` +
        'files copied from node_modules, with the real chunker (256-token chunks, length-estimate token counter).',
      metrics: [
        {
          name: 'files indexed',
          value: cold.files,
          unit: 'files',
          note: `of ${generated} in the tree; skipped: ${JSON.stringify(cold.skipped)}`,
        },
        { name: 'chunks', value: cold.chunks, unit: 'chunks' },
        { name: 'bytes indexed', value: r1(cold.bytes / 1024 / 1024), unit: 'MB' },
        { name: 'cold index', value: r1(cold.seconds), unit: 's', note: 'walk + read + sha256 + chunk + write snapshot' },
        { name: 'cold index throughput', value: r1(cold.bytes / 1024 / 1024 / cold.seconds), unit: 'MB/s' },
        {
          name: 'cold index peak RSS',
          value: Math.round(coldPeakRssMB),
          unit: 'MB',
          target: { op: '<', value: 500 },
          note: `RSS at the end ${Math.round(coldRssMB)} MB`,
        },
        { name: 'index snapshot on disk', value: r1(snapshotMB), unit: 'MB' },
        {
          name: 'open stored index',
          value: Math.round(warm.openMs),
          unit: 'ms',
          note: `fresh process: read + verify + parse the snapshot; CPU time ${Math.round(warm.openCpuMs)} ms`,
        },
        {
          name: 'no-op refresh (full walk)',
          value: Math.round(warm.noopRefreshMs),
          unit: 'ms',
          note: `median of 3; CPU time ${Math.round(warm.noopRefreshCpuMs)} ms`,
        },
        {
          name: 'one-file edit, refresh() (full walk)',
          value: Math.round(warm.editFullRefreshMs),
          unit: 'ms',
          target: { op: '<', value: 300 },
          note: `median of 5: ${warm.editFullRefreshAllMs.map(Math.round).join(', ')}; CPU time (median) ${Math.round(warm.editFullRefreshCpuMs)} ms`,
        },
        {
          name: 'one-file edit, refreshPaths() (editor save)',
          value: Math.round(warm.editRefreshPathsMs),
          unit: 'ms',
          target: { op: '<', value: 300 },
          note: `median of 5: ${warm.editRefreshPathsAllMs.map((x) => x.toFixed(1)).join(', ')}`,
        },
        { name: 'new chunks per edit', value: warm.newChunksPerEdit, unit: 'chunks', note: 'median: only the edited part is re-encoded' },
        {
          name: 'refresh process peak RSS',
          value: Math.round(warm.peakRssMB),
          unit: 'MB',
          target: { op: '<', value: 500 },
          note: `after open ${Math.round(warm.rssAfterOpenMB)} MB, at the end ${Math.round(warm.rssMB)} MB`,
        },
        { name: 'tree generation', value: r1(genSeconds), unit: 's', note: 'copying the files (not part of indexing)' },
      ],
      charts: [chart],
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run().then((r) => process.stdout.write(JSON.stringify(r, null, 2) + '\n'));
}
