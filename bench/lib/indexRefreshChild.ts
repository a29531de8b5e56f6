// Warm phase of the index bench, in a fresh process (as the sidecar would be after a restart): open
// the stored index, refresh with nothing changed, then edit one file at a time and refresh, both with
// a full walk (`e2code index`) and with refreshPaths (editor save events). Prints JSON on stdout.
import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { WorkspaceIndex } from '../../src/core/index/index';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

async function main(): Promise<void> {
  const [root, store, ...editTargets] = process.argv.slice(2);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const index = await WorkspaceIndex.open({ root, storeDir: store });
  const openMs = performance.now() - t0;
  const openCpuMs = (process.cpuUsage(c0).user + process.cpuUsage(c0).system) / 1000;
  const loaded = index.loadReport.status;
  const rssAfterOpenMB = process.memoryUsage().rss / 1024 / 1024;

  const cpuMs = (c: NodeJS.CpuUsage) => (c.user + c.system) / 1000;
  const noop: number[] = [];
  const noopCpu: number[] = [];
  for (let i = 0; i < 3; i++) {
    const c0 = process.cpuUsage();
    const r = await index.refresh();
    noopCpu.push(cpuMs(process.cpuUsage(c0)));
    if (r.added.length + r.updated.length + r.removed.length) throw new Error('no-op refresh found changes');
    noop.push(r.seconds * 1000);
  }

  let n = 0;
  const edit = async (rel: string): Promise<void> => {
    n++;
    await fsp.appendFile(path.join(root, rel), `\nexport function benchEdit${n}(x: number): number {\n  return x * ${n};\n}\n`);
  };
  // Warm-up, not measured: the first chunk of each language compiles its tree-sitter grammar (~0.5 s),
  // which a running sidecar has long done.
  for (const rel of editTargets) {
    await edit(rel);
    await index.refreshPaths([rel]);
  }
  const full: number[] = [];
  const fullCpu: number[] = [];
  const fullNew: number[] = [];
  const paths: number[] = [];
  const pathsNew: number[] = [];
  for (let i = 0; i < 5; i++) {
    const rel = editTargets[i % editTargets.length];
    await edit(rel);
    const c0 = process.cpuUsage();
    const r = await index.refresh();
    fullCpu.push(cpuMs(process.cpuUsage(c0)));
    if (r.updated.length !== 1 || r.updated[0] !== rel)
      throw new Error(`full refresh: expected ${rel} updated, got ${JSON.stringify(r.updated)}`);
    full.push(r.seconds * 1000);
    fullNew.push(r.newChunkHashes.length);
  }
  for (let i = 0; i < 5; i++) {
    const rel = editTargets[(i + 1) % editTargets.length];
    await edit(rel);
    const t = performance.now();
    const r = await index.refreshPaths([rel]);
    paths.push(performance.now() - t);
    if (r.updated.length !== 1) throw new Error(`refreshPaths: expected ${rel} updated`);
    pathsNew.push(r.newChunkHashes.length);
  }
  await index.close();
  const out = {
    loaded,
    files: index.stats().files,
    chunks: index.stats().chunks,
    openMs,
    openCpuMs,
    rssAfterOpenMB,
    noopRefreshMs: median(noop),
    noopRefreshCpuMs: median(noopCpu),
    editFullRefreshCpuMs: median(fullCpu),
    editFullRefreshMs: median(full),
    editFullRefreshAllMs: full,
    editRefreshPathsMs: median(paths),
    editRefreshPathsAllMs: paths,
    newChunksPerEdit: median([...fullNew, ...pathsNew]),
    rssMB: process.memoryUsage().rss / 1024 / 1024,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
  };
  process.stdout.write(JSON.stringify(out));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
