// The CLI tasks end to end on the small fixture repository with the bundled model.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = path.resolve(__dirname, '../..');
const FIXTURE = path.join(ROOT, 'test/fixtures/repo-small');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2code-cli-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function cli(...args: string[]) {
  const r = spawnSync(
    process.execPath,
    ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(ROOT, 'src/cli/main.ts'), ...args],
    {
      // A different working directory proves the bundled model is found from the package, not from cwd.
      cwd: tmp,
      encoding: 'utf8',
      env: { ...process.env, E2CODE_CACHE_DIR: path.join(tmp, 'cache'), XDG_CACHE_HOME: path.join(tmp, 'xdg') },
      timeout: 120_000,
    },
  );
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('ask --json indexes the workspace and prints one object with answer, citations, timings, context', () => {
  const r = cli('ask', FIXTURE, 'Where is polygonArea defined?', '--json', '--max-tokens', '12', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 1, `expected one line of JSON, got: ${r.stdout}`);
  const out = JSON.parse(lines[0]);
  assert.deepEqual(Object.keys(out).sort(), ['answer', 'citations', 'context', 'origin', 'sources', 'timings']);
  assert.equal(typeof out.answer, 'string');
  // The bundled model can only locate: the answer is the definition, from the index, at its line.
  assert.equal(out.origin, 'index');
  const line =
    readFileSync(path.join(FIXTURE, 'src/geometry/shapes.ts'), 'utf8')
      .split('\n')
      .findIndex((l) => l.includes('function polygonArea')) + 1;
  assert.deepEqual([out.sources[0].path, out.sources[0].line, out.sources[0].symbol], ['src/geometry/shapes.ts', line, 'polygonArea']);
  assert.ok(out.answer.includes(`src/geometry/shapes.ts:${line}`), out.answer);
  assert.ok(Array.isArray(out.citations));
  for (const c of out.citations) assert.ok(typeof c.path === 'string' && Number.isInteger(c.line));
  assert.ok(out.timings.firstTokenMs >= 0 && out.timings.tokensPerSecond >= 0);
  assert.ok(out.context.positions > 0);
  // The fixture is far below the decoder's budget: every chunk goes in as soft tokens.
  assert.ok(out.context.softChunks >= 5, `only ${out.context.softChunks} soft chunks`);
  assert.ok(out.context.textChunks >= 1, 'hybrid mode should place the definition of polygonArea as text');

  const noHybrid = JSON.parse(cli('ask', FIXTURE, 'Where is polygonArea defined?', '--json', '--max-tokens', '4', '--no-hybrid').stdout);
  assert.equal(noHybrid.context.textChunks, 0);
  assert.equal(noHybrid.context.softChunks, out.context.softChunks);
});

test('ask streams the answer to stdout and a summary to stderr', () => {
  const r = cli('ask', FIXTURE, 'What does LruCache do?', '--max-tokens', '8');
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /indexed \d+ files, \d+ chunks/);
  assert.match(r.stderr, /first token \d+ ms/);
});

test('explain, generate and summarize run on the fixture', () => {
  const explain = cli(
    'explain',
    path.join(FIXTURE, 'src/lruCache.ts'),
    '--lines',
    '8-14',
    '--root',
    FIXTURE,
    '--json',
    '--max-tokens',
    '6',
  );
  assert.equal(explain.code, 0, explain.stderr);
  assert.equal(typeof JSON.parse(explain.stdout).answer, 'string');
  const before = readFileSync(path.join(FIXTURE, 'src/geometry/vector.ts'), 'utf8');
  const gen = cli(
    'generate',
    path.join(FIXTURE, 'src/geometry/vector.ts'),
    'add a subtract method',
    '--line',
    '12',
    '--root',
    FIXTURE,
    '--json',
    '--max-tokens',
    '6',
  );
  // The bundled model cannot write code: it says so, exits non-zero and the file is untouched.
  assert.equal(gen.code, 1, gen.stderr);
  assert.match(JSON.parse(gen.stdout).notice, /cannot write code/);
  assert.equal(readFileSync(path.join(FIXTURE, 'src/geometry/vector.ts'), 'utf8'), before);
  const sum = cli('summarize', FIXTURE, '--json', '--max-tokens', '6');
  assert.equal(sum.code, 0, sum.stderr);
  // The map of the code lists each directory once, without a model run.
  const map = JSON.parse(sum.stdout);
  assert.equal(map.context.decoderRuns, 0);
  assert.equal(map.answer.match(/^### src\/geometry\/$/gm)?.length, 1);
  const scoped = JSON.parse(cli('summarize', FIXTURE, '--path', 'src/geometry', '--json').stdout);
  assert.deepEqual(
    [...scoped.answer.matchAll(/^### (.+)$/gm)].map((m: RegExpMatchArray) => m[1]),
    ['src/geometry/'],
  );
});

test('bad input gets a clear error and a non-zero exit', () => {
  const missing = cli('ask', path.join(tmp, 'nope'), 'hello');
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
  const bundle = cli('ask', FIXTURE, 'hello', '--bundle', path.join(tmp, 'no-bundle'));
  assert.equal(bundle.code, 1);
  assert.match(bundle.stderr, /model bundle not found/);
  const lines = cli('explain', path.join(FIXTURE, 'src/lruCache.ts'), '--lines', 'x-y', '--root', FIXTURE);
  assert.equal(lines.code, 1);
  assert.match(lines.stderr, /--lines must look like/);
  const outside = cli('explain', path.join(ROOT, 'package.json'), '--root', FIXTURE);
  assert.equal(outside.code, 1);
  assert.match(outside.stderr, /outside the workspace/);
  const device = cli('ask', FIXTURE, 'hello', '--device', 'tpu');
  assert.notEqual(device.code, 0);
  assert.match(device.stderr, /Allowed choices are auto, cpu, cuda/);
  // A workspace with nothing e2code can read (here, only a binary file): refused with exit 1, no answer.
  const empty = mkdtempSync(path.join(tmp, 'empty-'));
  writeFileSync(path.join(empty, 'blob.bin'), Buffer.from([0, 1, 2, 0, 255, 0]));
  const nothing = cli('ask', empty, 'Where is main defined?');
  assert.equal(nothing.code, 1, nothing.stderr);
  assert.match(nothing.stderr, /nothing is indexed in .*empty-/);
  assert.equal(nothing.stdout, '', 'no answer');
});

test('doctor prints provider, bundle, cache and threads', () => {
  const r = cli('doctor', '--json', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const d = JSON.parse(r.stdout);
  assert.ok(d.provider === 'cpu' || d.provider === 'cuda');
  assert.equal(d.threads, 1);
  assert.equal(d.bundle.path, path.join(ROOT, 'models/default'));
  assert.equal(d.cache.path, path.join(tmp, 'cache'));
  const text = cli('doctor');
  assert.match(text.stdout, /provider: +(cpu|cuda)/);
  assert.match(text.stdout, /bundle: +default/);
});

test('index then ask keep one index: ask re-chunks nothing, and index --json counts true changes', () => {
  const ws = path.join(tmp, 'one-index');
  cpSync(FIXTURE, ws, { recursive: true });
  const first = JSON.parse(cli('index', ws, '--json').stdout);
  assert.ok(first.added >= 5 && first.newChunks > 0, JSON.stringify(first));
  const ask = cli('ask', ws, 'Where is polygonArea defined?', '--json');
  assert.equal(ask.code, 0, ask.stderr);
  assert.doesNotMatch(ask.stderr, /settings changed|rebuil/i, 'ask opened the same index');
  const again = JSON.parse(cli('index', ws, '--json').stdout);
  assert.deepEqual([again.added, again.updated, again.removed, again.newChunks], [0, 0, 0, 0], JSON.stringify(again));
  assert.equal(again.unchanged, first.added);
  assert.equal(again.rebuilt, undefined);
});
