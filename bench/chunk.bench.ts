// Chunking throughput (MB/s) against bare tree-sitter parsing of the same files, on real code: the
// TypeScript compiler's lib/typescript.js and a few large npm packages (plus the Python stdlib when
// present). Overhead = chunk time / parse time - 1 (target: under 25%).
//
// Bare parse = parser.parse(decoded string) + tree.delete(), with the chunker's own parser for the
// language. Chunk time = chunker.chunkFile(path, bytes) end to end: decode, parse, walk, definitions
// definitions, merge, chunk texts and sha256 hashes. Parse and chunk runs alternate, after a warm-up of
// each (wasm compiles lazily); the best run of each is reported (medians alongside), as the machine
// may be shared.
//
// Run alone: `node --import tsx bench/chunk.bench.ts` (prints the BenchResult as JSON); the bench runner
// (`npm run bench`) uses the default export.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { createChunker } from '../src/core/chunker';
import { SyntaxEngine } from '../src/core/chunker/syntax';
import { decodeSource } from '../src/core/chunker/text';
import type { BenchResult, BenchMetric, BenchTable } from './lib/types';

const root = path.join(__dirname, '..');
const nm = (p: string): string => path.join(root, 'node_modules', p);

interface Corpus {
  name: string;
  files: { path: string; bytes: Uint8Array; language: string }[];
}

const SKIP_DIRS = new Set(['node_modules', 'test', 'tests', '__pycache__', 'site-packages', 'idlelib', 'lib2to3']);

function listFiles(dir: string, exts: string[], limitBytes: number): string[] {
  const out: string[] = [];
  let total = 0;
  const stack = [dir];
  while (stack.length > 0 && total < limitBytes) {
    const d = stack.pop()!;
    let entries: string[];
    try {
      entries = readdirSync(d).sort();
    } catch {
      continue;
    }
    for (const e of entries) {
      const full = path.join(d, e);
      let st;
      try {
        st = statSync(full);
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        if (!SKIP_DIRS.has(e)) stack.push(full);
      } else if (exts.some((x) => e.endsWith(x)) && !e.includes('.min.') && st.size < 4 * 1024 * 1024) {
        out.push(full);
        total += st.size;
        if (total >= limitBytes) break;
      }
    }
  }
  return out;
}

async function corpora(): Promise<Corpus[]> {
  const chunker = await createChunker();
  const load = (name: string, paths: string[]): Corpus => ({
    name,
    files: paths.map((p) => ({ path: path.relative(root, p), bytes: readFileSync(p), language: chunker.languageOf(p) })),
  });
  const out: Corpus[] = [];
  const tsjs = nm('typescript/lib/typescript.js');
  if (existsSync(tsjs)) out.push(load('typescript/lib/typescript.js', [tsjs]));
  const pkgs: [string, string, string[]][] = [
    ['lodash (npm)', nm('lodash'), ['.js']],
    ['eslint/lib (npm)', nm('eslint/lib'), ['.js']],
    ['@typescript-eslint (npm, .ts/.js)', nm('@typescript-eslint'), ['.ts', '.js']],
    ['typescript/lib/lib.*.d.ts', nm('typescript/lib'), ['.d.ts']],
  ];
  for (const [name, dir, exts] of pkgs) {
    if (!existsSync(dir)) continue;
    let files = listFiles(dir, exts, 6 * 1024 * 1024);
    if (name.startsWith('typescript/lib/lib')) files = files.filter((f) => path.basename(f).startsWith('lib.'));
    if (files.length > 0) out.push(load(name, files));
  }
  const py = '/root/.pyenv/versions/3.11.7/lib/python3.11';
  if (existsSync(py)) out.push(load('Python 3.11 stdlib (subset)', listFiles(py, ['.py'], 4 * 1024 * 1024)));
  return out;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[s.length >> 1];
}

/**
 * Times two phases over the same input, interleaved run by run (so both see the same machine load),
 * after one warm-up of each. Returns every run's times; the report uses the best run of each phase
 * (least disturbed by other processes) and shows the medians too.
 */
async function timePair(a: () => void, b: () => Promise<void>, runs: number): Promise<{ a: number[]; b: number[] }> {
  a();
  await b();
  const ta: number[] = [];
  const tb: number[] = [];
  for (let i = 0; i < runs; i++) {
    let t0 = performance.now();
    a();
    ta.push(performance.now() - t0);
    t0 = performance.now();
    await b();
    tb.push(performance.now() - t0);
  }
  return { a: ta, b: tb };
}

export default async function bench(): Promise<BenchResult> {
  const runs = Number(process.env.BENCH_RUNS ?? 5);
  const chunker = await createChunker();
  const engine = new SyntaxEngine();
  const metrics: BenchMetric[] = [];
  const table: BenchTable = {
    title: 'Chunking vs bare tree-sitter parse (best of N interleaved runs after a warm-up; medians in the last column)',
    columns: ['corpus', 'files', 'MB', 'chunks', 'parse ms', 'chunk ms', 'parse MB/s', 'chunk MB/s', 'overhead %', 'overhead % (medians)'],
    rows: [],
  };
  let totalParse = 0;
  let totalChunk = 0;
  let totalMB = 0;
  for (const corpus of await corpora()) {
    const texts = corpus.files.map((f) => decodeSource(f.bytes).text);
    const grammars = await Promise.all(corpus.files.map((f) => engine.load(f.language)));
    let chunks = 0;
    const times = await timePair(
      () => {
        for (let i = 0; i < texts.length; i++) {
          const g = grammars[i];
          if (!g) continue;
          const tree = g.parser.parse(texts[i]);
          tree?.delete();
        }
      },
      async () => {
        chunks = 0;
        for (const f of corpus.files) chunks += (await chunker.chunkFile(f.path, f.bytes)).length;
      },
      runs,
    );
    const parseMs = Math.min(...times.a);
    const chunkMs = Math.min(...times.b);
    const medianOverhead = (median(times.b) / median(times.a) - 1) * 100;
    const mb = corpus.files.reduce((s, f) => s + f.bytes.length, 0) / 1e6;
    const overhead = (chunkMs / parseMs - 1) * 100;
    totalParse += parseMs;
    totalChunk += chunkMs;
    totalMB += mb;
    table.rows.push([
      corpus.name,
      corpus.files.length,
      mb.toFixed(2),
      chunks,
      parseMs.toFixed(0),
      chunkMs.toFixed(0),
      (mb / (parseMs / 1000)).toFixed(2),
      (mb / (chunkMs / 1000)).toFixed(2),
      overhead.toFixed(1),
      medianOverhead.toFixed(1),
    ]);
    metrics.push({
      name: `overhead: ${corpus.name}`,
      value: Number(overhead.toFixed(1)),
      unit: '%',
      target: { op: '<', value: 25 },
      note: `${corpus.files.length} files, ${mb.toFixed(2)} MB; chunk ${(mb / (chunkMs / 1000)).toFixed(2)} MB/s vs parse ${(mb / (parseMs / 1000)).toFixed(2)} MB/s`,
    });
    if (process.env.BENCH_VERBOSE) process.stderr.write(`${table.rows[table.rows.length - 1].join('\t')}\n`);
  }
  metrics.unshift(
    { name: 'chunk throughput (all corpora)', value: Number((totalMB / (totalChunk / 1000)).toFixed(2)), unit: 'MB/s' },
    { name: 'bare parse throughput (all corpora)', value: Number((totalMB / (totalParse / 1000)).toFixed(2)), unit: 'MB/s' },
    {
      name: 'overhead over bare parse (all corpora)',
      value: Number(((totalChunk / totalParse - 1) * 100).toFixed(1)),
      unit: '%',
      target: { op: '<', value: 25 },
      note: `best of ${runs} interleaved runs after a warm-up; default token budget (256, length estimate)`,
    },
  );
  return {
    description:
      'Chunking throughput against bare tree-sitter parsing of the same files (typescript.js, npm packages, Python stdlib), default budget.',
    metrics,
    tables: [table],
  };
}

if (require.main === module) {
  bench().then(
    (r) => process.stdout.write(`${JSON.stringify(r, null, 2)}\n`),
    (err: unknown) => {
      process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
