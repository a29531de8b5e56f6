// Runs the benchmarks: `npm run bench [-- name ...]` (names without `.bench.ts`; default: all).
// Each bench/<name>.bench.ts runs in a child process of its own, so the peak RSS reported is that
// bench's alone. Writes bench/results/<name>.json, bench/results/<name>-<chart>.svg for each chart, and
// bench/results/README.md (every result present, so one rerun bench keeps the others' tables).
// Exit code 1 if a bench failed; a missed goal is reported, not an error (benches measure).
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync, rmSync, mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { lineChartSvg } from './lib/svg';
import { renderReadme, targetMet } from './lib/report';
import type { BenchFn, BenchRecord, BenchResult } from './lib/types';

const benchDir = __dirname;
const resultsDir = path.join(benchDir, 'results');

function environment(): BenchRecord['environment'] {
  const cpus = os.cpus();
  return {
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cpus: cpus[0]?.model.trim() ?? 'unknown',
    cpuCount: cpus.length,
    totalMemMB: Math.round(os.totalmem() / 1024 / 1024),
  };
}

export function discover(names: string[]): { name: string; file: string }[] {
  const all = readdirSync(benchDir)
    .filter((f) => f.endsWith('.bench.ts'))
    .sort()
    .map((f) => ({ name: f.slice(0, -'.bench.ts'.length), file: path.join(benchDir, f) }));
  if (!names.length) return all;
  const unknown = names.filter((n) => !all.some((b) => b.name === n));
  if (unknown.length) throw new Error(`unknown bench: ${unknown.join(', ')} (have: ${all.map((b) => b.name).join(', ')})`);
  return all.filter((b) => names.includes(b.name));
}

function validate(r: unknown): BenchResult {
  const x = r as BenchResult;
  if (!x || typeof x !== 'object' || typeof x.description !== 'string' || !Array.isArray(x.metrics)) {
    throw new Error('a bench must resolve to a BenchResult ({ description, metrics, ... })');
  }
  for (const m of x.metrics) {
    if (typeof m.name !== 'string' || typeof m.value !== 'number' || typeof m.unit !== 'string') {
      throw new Error(`bad metric ${JSON.stringify(m)}: needs name, numeric value, unit`);
    }
  }
  return x;
}

/** Child side: run one bench file, write its result + own peak RSS to `outFile`. */
async function runChild(file: string, outFile: string): Promise<void> {
  let payload: { result?: BenchResult; error?: string; peakRssMB: number };
  try {
    const mod = (await import(pathToFileURL(file).href)) as { default?: BenchFn | { default?: BenchFn } };
    // Under tsx a CommonJS-compiled module's default export may arrive wrapped once more.
    const fn = typeof mod.default === 'function' ? mod.default : (mod.default as { default?: BenchFn } | undefined)?.default;
    if (typeof fn !== 'function') throw new Error(`${path.basename(file)} has no default export function`);
    const result = validate(await fn());
    payload = { result, peakRssMB: process.resourceUsage().maxRSS / 1024 };
  } catch (err) {
    payload = { error: err instanceof Error ? (err.stack ?? err.message) : String(err), peakRssMB: process.resourceUsage().maxRSS / 1024 };
  }
  writeFileSync(outFile, JSON.stringify(payload));
}

function runOne(bench: { name: string; file: string }): Promise<BenchRecord> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2code-bench-'));
  const outFile = path.join(tmp, 'result.json');
  const t0 = performance.now();
  const loadStart = os.loadavg()[0];
  return new Promise<BenchRecord>((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', __filename, '--child', bench.file, outFile], {
      stdio: 'inherit',
      cwd: path.join(benchDir, '..'),
    });
    child.on('close', (code, signal) => {
      const wallSeconds = (performance.now() - t0) / 1000;
      let payload: { result?: BenchResult; error?: string; peakRssMB?: number } = {};
      try {
        payload = JSON.parse(readFileSync(outFile, 'utf8'));
      } catch {
        payload = { error: `bench process ended (${signal ?? `exit ${code}`}) without a result` };
      }
      rmSync(tmp, { recursive: true, force: true });
      const result: BenchResult = payload.result ?? { description: '', metrics: [] };
      resolve({
        ...result,
        name: bench.name,
        description: result.description || '(no result)',
        finishedAt: new Date().toISOString(),
        wallSeconds,
        peakRssMB: Math.round((payload.peakRssMB ?? 0) * 10) / 10,
        environment: { ...environment(), loadAverage: { start: loadStart, end: os.loadavg()[0] } },
        ...(payload.error ? { error: payload.error } : {}),
      });
    });
  });
}

function chartFileName(bench: string, id: string): string {
  return `${bench}-${id.replace(/[^A-Za-z0-9_-]/g, '_')}.svg`;
}

export function writeResults(records: BenchRecord[], dir = resultsDir): void {
  mkdirSync(dir, { recursive: true });
  for (const r of records) {
    writeFileSync(path.join(dir, `${r.name}.json`), JSON.stringify(r, null, 2) + '\n');
    for (const c of r.charts ?? []) writeFileSync(path.join(dir, chartFileName(r.name, c.id)), lineChartSvg(c));
  }
  // The README covers every result on disk, not just this run's.
  const all: BenchRecord[] = readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .flatMap((f) => {
      try {
        const rec = JSON.parse(readFileSync(path.join(dir, f), 'utf8')) as BenchRecord;
        return rec && rec.name && Array.isArray(rec.metrics) ? [rec] : [];
      } catch {
        return [];
      }
    });
  writeFileSync(path.join(dir, 'README.md'), renderReadme(all, chartFileName));
}

async function main(argv: string[]): Promise<void> {
  if (argv[0] === '--child') {
    await runChild(argv[1], argv[2]);
    return;
  }
  const benches = discover(argv.filter((a) => !a.startsWith('-')));
  const records: BenchRecord[] = [];
  for (const b of benches) {
    process.stderr.write(`=== bench ${b.name}\n`);
    const rec = await runOne(b);
    if (rec.skipped && !rec.error) {
      process.stderr.write(`=== bench ${b.name}: skipped: ${rec.skipped}\n`);
      continue;
    }
    records.push(rec);
    writeResults([rec]);
    if (rec.error) process.stderr.write(`=== bench ${b.name}: FAILED:\n${rec.error}\n`);
    for (const m of rec.metrics) {
      const met = targetMet(m);
      const goal = m.target ? ` (goal ${m.target.op} ${m.target.value}: ${met ? 'met' : 'MISSED'})` : '';
      process.stderr.write(`  ${m.name}: ${m.value} ${m.unit}${goal}\n`);
    }
    process.stderr.write(`=== bench ${b.name}: ${rec.wallSeconds.toFixed(1)} s, peak RSS ${rec.peakRssMB} MB\n`);
  }
  process.stderr.write(`results: ${path.relative(process.cwd(), resultsDir)}/README.md\n`);
  if (records.some((r) => r.error)) process.exitCode = 1;
}

if (require.main === module || process.argv[1] === __filename) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  });
}
