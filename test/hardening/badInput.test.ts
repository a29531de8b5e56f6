// Bad input for the chunker and the walker: a fuzzer run for a fixed small budget, the corpus of cases
// that once failed, and hand-picked worst cases (10,000 nesting levels per grammar, 50 MB lines,
// invalid UTF-8, other encodings, truncations, hostile directory trees). Every chunking must keep the
// coverage invariant (a file's chunks tile [0, length) exactly) and finish in bounded time.
//
// Budget: E2CODE_FUZZ_SECONDS (default 8); seed: E2CODE_FUZZ_SEED (default: a new one per run, printed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createChunker, type Chunker } from '../../src/core/chunker/index';
import { TextTokenizer } from '../../src/core/runtime/model/tokenizer';
import { walkFiles } from '../../src/core/walker/index';
import { WorkspaceIndex } from '../../src/core/index/index';
import {
  ALL_EXTS,
  EXT_BY_LANGUAGE,
  GRAMMAR_LANGUAGES,
  NASTY_BYTES,
  applyMutations,
  checkChunks,
  chunkChecked,
  corpusCases,
  deepNesting,
  fuzzChunker,
  saveCorpusCase,
  seedFiles,
} from '../fuzz/lib';
import { BUNDLE, rmrf, tempDir } from './lib';

const FUZZ_SECONDS = Number(process.env.E2CODE_FUZZ_SECONDS ?? 8);
const FUZZ_SEED = Number(process.env.E2CODE_FUZZ_SEED ?? Date.now() % 2 ** 31);

let estimateChunker: Promise<Chunker> | undefined;
let realChunker: Promise<Chunker> | undefined;
/** The chunker with its default length estimate. */
const estimate = () => (estimateChunker ??= createChunker());
/** The chunker as the runtime configures it: the bundle's tokenizer, its encoder's 128-token budget. */
const real = () =>
  (realChunker ??= (() => {
    const tok = TextTokenizer.fromFile(path.join(BUNDLE, 'tokenizer.json'));
    return createChunker({ maxTokens: 128, countTokens: (t) => tok.encode(t).length });
  })());

test(`fuzz: chunker invariants on random, mutated and token-soup input (${FUZZ_SECONDS} s, seed ${FUZZ_SEED})`, async (t) => {
  const chunker = await estimate();
  for (const s of seedFiles()) await chunker.chunkFile(`warm.${s.ext}`, s.bytes); // load every grammar first
  const stats = await fuzzChunker(chunker, FUZZ_SECONDS, FUZZ_SEED);
  t.diagnostic(
    `fuzzed ${stats.cases} cases (${JSON.stringify(stats.byKind)}), ${(stats.bytes / 1e6).toFixed(2)} MB, slowest ${Math.round(stats.slowestMs)} ms`,
  );
  if (stats.failure) {
    const saved = saveCorpusCase(stats.failure.ext, stats.failure.bytes, `seed ${FUZZ_SEED}: ${stats.failure.error}`);
    assert.fail(`fuzz failure (seed ${FUZZ_SEED}, kept in ${saved}): ${stats.failure.error}`);
  }
  assert.ok(stats.cases >= 10, `only ${stats.cases} cases ran in ${FUZZ_SECONDS} s`);
});

test('fuzz corpus: every case that once failed still chunks correctly (estimate and real tokenizer)', async (t) => {
  const cases = corpusCases();
  assert.ok(cases.length > 0, 'the corpus test/fuzz/corpus/chunker is empty');
  for (const c of cases) {
    await chunkChecked(await estimate(), `corpus/${c.name}`, c.bytes);
    await chunkChecked(await real(), `corpus/${c.name}`, c.bytes);
  }
  t.diagnostic(`replayed ${cases.length} corpus cases`);
});

test('10,000 levels of nesting in every grammar: no crash, bounded time, exact tiling', async (t) => {
  const chunker = await estimate();
  const times: string[] = [];
  for (const language of [...GRAMMAR_LANGUAGES, 'markdown']) {
    const ext = EXT_BY_LANGUAGE[language];
    const bytes = new Uint8Array(Buffer.from(deepNesting(language, 10_000)));
    const { chunks, ms } = await chunkChecked(chunker, `deep/nest.${ext}`, bytes);
    assert.ok(chunks.length > 1, `${language}: ${bytes.length} bytes in ${chunks.length} chunk(s)`);
    times.push(`${language} ${Math.round(ms)} ms`);
  }
  t.diagnostic(times.join(', '));
});

test('50 MB single line, and a 1.3 MB single line that is parsed: windows that tile the file', async (t) => {
  const chunker = await estimate();
  const line = Buffer.alloc(50 * 1024 * 1024, 'a = b + c; ');
  const big = await chunkChecked(chunker, 'big/min.js', new Uint8Array(line));
  // One line: every chunk is on line 1; the 256-token budget at ~3 characters a token.
  assert.ok(big.chunks.every((c) => c.startLine === 1 && c.endLine === 1));
  assert.ok(big.chunks.length > 50_000, `${big.chunks.length} chunks for 50 MB`);
  const json = Buffer.from(JSON.stringify(Array.from({ length: 60_000 }, (_, i) => ({ k: i, v: `x${i}` }))));
  assert.ok(json.length > 1.2e6);
  const parsed = await chunkChecked(chunker, 'big/data.json', new Uint8Array(json));
  t.diagnostic(
    `50 MB line: ${big.chunks.length} chunks in ${Math.round(big.ms)} ms; ${(json.length / 1e6).toFixed(1)} MB JSON line: ${parsed.chunks.length} chunks in ${Math.round(parsed.ms)} ms`,
  );
});

/** Variants of a real file: invalid UTF-8 at every line start, UTF-16LE with BOM, Latin-1, CR/CRLF endings, NULs. */
function encodingVariants(bytes: Uint8Array): { name: string; bytes: Uint8Array }[] {
  const text = Buffer.from(bytes).toString('utf8');
  const lines = text.split('\n');
  const withNasty = Buffer.concat(
    lines.map((l, i) => Buffer.concat([Buffer.from(NASTY_BYTES[i % NASTY_BYTES.length]), Buffer.from(`${l}\n`)])),
  );
  const mixed = Buffer.concat(
    lines.map((l, i) =>
      i % 3 === 0
        ? Buffer.from(`${l}é€😀\n`, 'utf16le')
        : i % 3 === 1
          ? Buffer.from(`${l}é\n`, 'latin1')
          : Buffer.from(`${l}é€😀\n`, 'utf8'),
    ),
  );
  return [
    { name: 'nasty-bytes', bytes: withNasty },
    { name: 'utf16le-bom', bytes: Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]) },
    { name: 'utf16be-bom', bytes: Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from(text, 'utf16le').swap16()]) },
    { name: 'latin1', bytes: Buffer.from(`${text}\n// café naïve ©\n`, 'latin1') },
    { name: 'mixed', bytes: mixed },
    { name: 'cr-only', bytes: Buffer.from(text.replace(/\n/g, '\r')) },
    { name: 'crlf', bytes: Buffer.from(text.replace(/\n/g, '\r\n')) },
    { name: 'nul', bytes: Buffer.from(text.replace(/ /g, '\0')) },
  ].map((v) => ({ name: v.name, bytes: new Uint8Array(v.bytes) }));
}

test('invalid UTF-8 and mixed encodings in every language: exact tiling with both token counters', async (t) => {
  let n = 0;
  for (const seed of seedFiles()) {
    for (const v of encodingVariants(seed.bytes)) {
      await chunkChecked(await estimate(), `enc/${v.name}.${seed.ext}`, v.bytes);
      await chunkChecked(await real(), `enc/${v.name}.${seed.ext}`, v.bytes);
      n += 2;
    }
  }
  t.diagnostic(`${n} encodings x languages x counters`);
});

test('truncations: 24 prefixes of every sample file keep the invariants', async () => {
  const chunker = await estimate();
  for (const seed of seedFiles()) {
    const len = seed.bytes.length;
    for (let k = 0; k <= 24; k++) {
      const at = Math.floor((len * k) / 24);
      await chunkChecked(chunker, `trunc/${k}.${seed.ext}`, seed.bytes.subarray(0, at));
      // and a cut one byte into a multi-byte character, if any
      await chunkChecked(chunker, `trunc/${k}b.${seed.ext}`, applyMutations(seed.bytes, [{ op: 'truncate', at: at + 1 }]));
    }
  }
});

test('walker + workspace index over a hostile tree: nothing throws, every file is indexed or skipped with a reason', async (t) => {
  const root = tempDir('e2code-hostile-');
  const outside = tempDir('e2code-outside-');
  try {
    writeFileSync(path.join(outside, 'secret.ts'), 'export const secret = 1;\n');
    let expectFiles = 0;
    // Random and mutated content under every extension.
    const seeds = seedFiles();
    let x = FUZZ_SEED >>> 0 || 1;
    const rnd = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32;
    for (const ext of ALL_EXTS) {
      const bytes = Buffer.alloc(200 + Math.floor(rnd() * 3000));
      for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rnd() * 256);
      writeFileSync(path.join(root, `random.${ext}`), bytes);
      const s = seeds[Math.floor(rnd() * seeds.length)];
      writeFileSync(
        path.join(root, `mutated.${ext}`),
        applyMutations(s.bytes, [{ op: 'insert', at: Math.floor(rnd() * s.bytes.length), bytes: Uint8Array.from([0xff, 0xc3]) }]),
      );
      expectFiles += 2;
    }
    // Odd names, empty files, NULs, a file over the size cap, one very long line.
    const odd = [
      'new\nline.ts',
      'tab\there.py',
      'ünïcödé-名前.go',
      ' leading space.rs',
      'dash-.c',
      '.hidden.js',
      '#hash#.rb',
      'quote"\'.sh',
    ];
    for (const name of odd) writeFileSync(path.join(root, name), 'x = 1\n');
    writeFileSync(path.join(root, 'empty.ts'), '');
    writeFileSync(path.join(root, 'nul.ts'), 'a\0b\0c\n');
    writeFileSync(path.join(root, 'huge.ts'), Buffer.alloc(2 * 1024 * 1024, 'let a = 1;\n'));
    writeFileSync(path.join(root, 'oneline.js'), Buffer.alloc(200_000, 'a+'));
    expectFiles += odd.length + 4;
    // Symlinks: dangling, self loop, loop to an ancestor, out of the workspace (file and dir).
    symlinkSync('nowhere.ts', path.join(root, 'dangling.ts'));
    symlinkSync('self.ts', path.join(root, 'self.ts'));
    mkdirSync(path.join(root, 'sub'));
    symlinkSync('..', path.join(root, 'sub', 'up'));
    symlinkSync(path.join(outside, 'secret.ts'), path.join(root, 'leak.ts'));
    symlinkSync(outside, path.join(root, 'leakdir'));
    expectFiles += 3; // the file-like links (dangling.ts, self.ts, leak.ts) must each be skipped with a reason
    // A FIFO (reading it would block forever) and a directory tree deeper than PATH_MAX.
    execFileSync('mkfifo', [path.join(root, 'pipe.ts')]);
    // (3 x 700 levels through relative paths: each mkdir/cd stays under PATH_MAX, the whole does not.)
    execFileSync('bash', [
      '-c',
      'set -P; cd "$1" && p=$(printf "d/%.0s" $(seq 1 700)); for i in 1 2 3; do mkdir -p "$p" && cd "$p" || exit 1; done; echo "x = 1" > deep.py',
      '_',
      root,
    ]);

    const seen = new Map<string, string>();
    const t0 = performance.now();
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), 120_000);
    try {
      for await (const item of walkFiles(root, { signal: controller.signal })) {
        if ('skip' in item) seen.set(item.skip.path, `skip:${item.skip.reason}`);
        else seen.set(item.file.path, 'file');
      }
    } finally {
      clearTimeout(timer);
    }
    const walkMs = performance.now() - t0;
    for (const name of ['secret.ts', 'leakdir/secret.ts'])
      assert.ok(![...seen.keys()].some((p) => p.endsWith(name) && seen.get(p) === 'file'), `${name} escaped the workspace`);
    assert.equal(seen.get('leak.ts'), 'skip:symlink-outside');
    assert.equal(seen.get('leakdir'), 'skip:symlink-outside');
    assert.equal(seen.get('sub/up'), 'skip:symlink-loop');
    assert.ok(seen.get('dangling.ts')?.startsWith('skip:'));
    assert.ok(seen.get('self.ts')?.startsWith('skip:'));
    assert.equal(seen.get('huge.ts'), 'skip:too-large');
    assert.equal(seen.get('oneline.js'), 'skip:minified');
    assert.equal(seen.has('pipe.ts'), false, 'a FIFO was listed as a file');
    assert.ok(
      [...seen.entries()].some(([p, v]) => p.startsWith('d/d/d/') && v === 'skip:unreadable'),
      'the over-deep directory is not reported',
    );
    for (const name of odd) assert.equal(seen.get(name), 'file', `${JSON.stringify(name)}: ${seen.get(name)}`);
    const accounted = [...seen.keys()].filter((p) => !p.includes('/')).length;
    assert.ok(accounted >= expectFiles, `${accounted} top-level paths accounted for, expected at least ${expectFiles}`);

    // The persistent index over the same tree: every indexed file's chunks tile it.
    const index = await WorkspaceIndex.open({ root, storeDir: path.join(tempDir('e2code-store-'), 's') });
    const r = await index.refresh();
    assert.ok(r.files > 0);
    for (const p of index.files()) {
      const bytes = new Uint8Array(readFileSync(path.join(root, p)));
      checkChunks(p, bytes, await index.readChunks(p));
    }
    await index.close();
    rmrf(index.storeDir);
    t.diagnostic(
      `walked ${seen.size} paths in ${Math.round(walkMs)} ms; indexed ${r.files} files, ${r.chunks} chunks; skipped ${JSON.stringify(r.skipped)}`,
    );
  } finally {
    rmrf(root);
    rmrf(outside);
  }
});
