// Chunker invariant on real files: the TypeScript compiler's lib files, npm packages' JavaScript,
// JSON, YAML, Markdown, CSS, shell scripts, C and C++ sources shipped in node_modules, and the Python
// standard library of this machine image. (Languages no installed package ships — Java, Ruby, TSX —
// are covered by the fixtures in test/fixtures/chunker and the property test.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { createChunker } from '../../src/core/chunker';
import { checkChunks, estimate } from './chunker/check';

const root = path.join(__dirname, '..', '..');
const nm = (p: string) => path.join(root, 'node_modules', p);
const PY = '/root/.pyenv/versions/3.11.7/lib/python3.11';

const CANDIDATES: string[] = [
  nm('typescript/lib/lib.es5.d.ts'),
  nm('typescript/lib/lib.es2015.core.d.ts'),
  nm('typescript/lib/lib.es2023.array.d.ts'),
  nm('lodash/lodash.js'),
  nm('eslint/lib/linter/linter.js'),
  nm('fast-check/lib/fast-check.js'),
  nm('flatted/python/flatted.py'),
  nm('flatted/golang/pkg/flatted/flatted.go'),
  nm('flatted/php/flatted.php'),
  nm('lmdb/dependencies/lz4/lib/xxhash.c'),
  nm('lmdb/dependencies/lmdb/libraries/liblmdb/midl.c'),
  nm('lmdb/dependencies/lz4/lib/lz4.h'),
  nm('lmdb/src/lmdb-js.cpp'),
  nm('lmdb/src/writer.cpp'),
  nm('keytar/src/async.cc'),
  nm('playwright-core/bin/reinstall_chrome_stable_linux.sh'),
  nm('mocha/mocha.css'),
  nm('typescript/package.json'),
  nm('eslint/package.json'),
  nm('@vscode/codicons/.github/workflows/release.yml'),
  nm('reusify/.github/workflows/ci.yml'),
  nm('typescript/README.md'),
  nm('eslint/README.md'),
  '/usr/lib/node_modules/npm/node_modules/node-gyp/lib/Find-VisualStudio.cs',
  '/root/.rustup/toolchains/stable-x86_64-unknown-linux-gnu/share/doc/rust/html/error_codes/main.rs',
  ...[
    'argparse.py',
    'typing.py',
    'dataclasses.py',
    'textwrap.py',
    'json/decoder.py',
    'asyncio/base_events.py',
    'collections/__init__.py',
  ].map((f) => path.join(PY, f)),
];

const FILES = CANDIDATES.filter((f) => existsSync(f));
const label = (f: string) => (f.startsWith(root) ? path.relative(root, f) : f).split(path.sep).join('/');

test('real files: the machine provides files of most supported languages', async () => {
  const c = await createChunker();
  const langs = new Set(FILES.map((f) => c.languageOf(f)));
  for (const l of ['typescript', 'javascript', 'python', 'go', 'php', 'c', 'cpp', 'bash', 'css', 'json', 'yaml', 'markdown']) {
    assert.ok(langs.has(l), `no real ${l} file found (looked for ${CANDIDATES.length} paths)`);
  }
});

test('real files of every available language tile exactly and keep the budget', async () => {
  for (const maxTokens of [256, 64]) {
    const c = await createChunker({ maxTokens });
    for (const f of FILES) {
      const bytes = readFileSync(f);
      const name = label(f);
      const chunks = await c.chunkFile(name, bytes);
      checkChunks(chunks, bytes, { path: name, language: c.languageOf(name), maxTokens, countTokens: estimate });
      const lang = c.languageOf(name);
      if (!['markdown', 'text', 'yaml'].includes(lang) && bytes.length > 2000) {
        assert.ok(
          chunks.some((ch) => ch.symbols.length > 0),
          `${name}: no symbols at all`,
        );
      }
    }
  }
});

test('real files: known definitions are found with their symbol paths', async () => {
  const c = await createChunker();
  const expect: [string, string, RegExp][] = [
    [nm('lodash/lodash.js'), 'debounce', /debounce/],
    [nm('typescript/lib/lib.es5.d.ts'), 'Array', /interface Array/],
    [path.join(PY, 'argparse.py'), 'ArgumentParser', /class ArgumentParser/],
    [path.join(PY, 'argparse.py'), 'parse_args', /class ArgumentParser > method parse_args/],
    [nm('lmdb/dependencies/lmdb/libraries/liblmdb/midl.c'), 'mdb_midl_search', /function mdb_midl_search/],
  ];
  for (const [f, symbol, pathRe] of expect) {
    if (!existsSync(f)) continue;
    const chunks = await c.chunkFile(label(f), readFileSync(f));
    const hit = chunks.find((ch) => ch.symbols.includes(symbol));
    assert.ok(hit, `${label(f)}: ${symbol} not defined in any chunk`);
    assert.ok(
      chunks.some((ch) => pathRe.test(ch.symbolPath)),
      `${label(f)}: no symbol path like ${pathRe}`,
    );
  }
});

test('real files truncated and mutated still tile exactly', async () => {
  const small = FILES.filter((f) => readFileSync(f).length < 120_000);
  const c = await createChunker({ maxTokens: 96 });
  await fc.assert(
    fc.asyncProperty(
      fc.constantFrom(...small),
      fc.double({ min: 0, max: 1, noNaN: true }),
      fc.uint8Array({ maxLength: 8 }),
      fc.double({ min: 0, max: 1, noNaN: true }),
      async (f, cut, noise, where) => {
        const full = readFileSync(f);
        const truncated = full.subarray(0, Math.floor(full.length * cut));
        const at = Math.floor(truncated.length * where);
        const bytes = Buffer.concat([truncated.subarray(0, at), noise, truncated.subarray(at)]);
        const name = label(f);
        checkChunks(await c.chunkFile(name, bytes), bytes, { path: name, maxTokens: 96, countTokens: estimate });
      },
    ),
    { numRuns: 40, seed: 7 },
  );
});

test('the whole Python stdlib top level chunks without error (sampled)', async () => {
  if (!existsSync(PY)) return;
  const files = readdirSync(PY)
    .filter((f) => f.endsWith('.py'))
    .sort()
    .filter((_, i) => i % 4 === 0);
  const c = await createChunker();
  for (const f of files) {
    const bytes = readFileSync(path.join(PY, f));
    checkChunks(await c.chunkFile(f, bytes), bytes, { path: f, maxTokens: 256, countTokens: estimate });
  }
});
