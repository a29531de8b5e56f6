// The engine in-process on the fixture repository: indexing fills the cache once, a corrupt cache
// entry is re-encoded on use, explain pins the selection's file, and an edit re-encodes only what changed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, appendFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { Engine } from '../../src/core/runtime/engine';
import { cacheKey } from '../../src/core/runtime/cache/cache';

const ROOT = path.resolve(__dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2code-engine-'));
const repo = path.join(tmp, 'repo');
const cacheDir = path.join(tmp, 'cache');
let engine: Engine;

before(async () => {
  cpSync(path.join(ROOT, 'test/fixtures/repo-small'), repo, { recursive: true });
  engine = await Engine.create({ bundlePath: path.join(ROOT, 'models/default'), device: 'cpu', threads: 1, cacheDir, persistIndex: false });
});
after(async () => {
  await engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('indexing encodes each distinct chunk once and reports progress up to the total', async () => {
  const progress: { phase: string; done: number; total: number }[] = [];
  const r = await engine.index(repo, { onProgress: (p) => progress.push(p) });
  assert.ok(r.chunks >= 5);
  assert.equal(r.cached, 0);
  assert.ok(r.encoded > 0 && r.encoded <= r.chunks);
  assert.equal(engine.cache.stats().entries, r.encoded);
  const enc = progress.filter((p) => p.phase === 'encode');
  assert.deepEqual(enc[enc.length - 1], { ...enc[enc.length - 1], done: r.encoded, total: r.encoded });
  const again = await engine.index(repo);
  assert.equal(again.encoded, 0);
  assert.equal(again.cached, r.encoded);
});

test('editing one file re-encodes only the chunks whose text changed', async () => {
  appendFileSync(path.join(repo, 'src/lruCache.ts'), '\nexport function clearAll(): void {}\n');
  const r = await engine.index(repo);
  assert.ok(r.encoded >= 1, 'the edited file has a new chunk');
  assert.ok(r.encoded < r.chunks / 2, `re-encoded ${r.encoded} of ${r.chunks} chunks for a one-file edit`);
});

test('a corrupt cache entry is detected and re-encoded when a request needs it', async () => {
  const ws = engine.workspace(repo)!;
  const victim = ws.chunksOf('src/geometry/shapes.ts')[0];
  await engine.cache.close();
  // Damage the stored value as bit rot would, then reopen the engine on the same cache.
  const raw = open({ path: cacheDir, maxDbs: 4 });
  const values = raw.openDB({ name: 'soft-prompts', encoding: 'binary' });
  const bytes = Buffer.from(values.getBinary(cacheKey(engine.bundle.id, victim.hash))!);
  bytes[bytes.length - 1] ^= 0x55;
  await values.put(cacheKey(engine.bundle.id, victim.hash), bytes);
  await raw.close();
  await engine.bundle.dispose();
  engine = await Engine.create({ bundlePath: path.join(ROOT, 'models/default'), device: 'cpu', threads: 1, cacheDir, persistIndex: false });
  await engine.index(repo);
  // The file changed since its clean close, so the open's full check finds it (bit rot that leaves no
  // trace is found by the checksum on read instead: test/unit/cache.test.ts).
  assert.equal((engine.cache.openCheck.corrupt ?? 0) + engine.cache.stats().corrupt, 1, 'the corrupt entry must be noticed');
  assert.ok(engine.cache.has(engine.bundle.id, victim.hash), 'and store a fresh encoding');
  const r = await engine.generate({ task: 'ask', root: repo, prompt: 'What is the area of a polygon?', options: { maxTokens: 2 } });
  assert.ok(r.context.softChunks > 0);
});

/** An engine on a copy of the bundled model whose manifest says it can write (the model's text is the answer). */
async function writerEngine(name: string): Promise<Engine> {
  const dir = path.join(tmp, `bundle-${name}`);
  cpSync(path.join(ROOT, 'models/default'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  manifest.capabilities = ['locate', 'explain', 'summarize', 'generate'];
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  return Engine.create({ bundlePath: dir, device: 'cpu', threads: 1, cacheDir: path.join(tmp, `cache-${name}`), persistIndex: false });
}

test("explain keeps the selection's file in context even with a tiny budget", async () => {
  const writer = await writerEngine('explain');
  const r = await writer.generate({
    task: 'explain',
    root: repo,
    prompt: '',
    selection: { path: 'scripts/report.py', startLine: 5, endLine: 8, text: 'def count_words(path):' },
    options: { maxTokens: 2, contextBudget: 12, hybrid: false },
  });
  await writer.close();
  assert.deepEqual(r.context.softFiles, ['scripts/report.py']);
});

test('a request too long for the decoder is refused with what to do', async () => {
  await assert.rejects(
    engine.generate({ task: 'ask', root: repo, prompt: 'why '.repeat(3000), options: { maxTokens: 8 } }),
    /shorten the question or history, or lower max tokens/,
  );
});

test('the context budget defaults to the positions the bundle was trained with (manifest decoder.contextPositions)', async () => {
  const trained = engine.bundle.manifest.decoder.contextPositions;
  assert.ok(trained !== undefined && trained < engine.bundle.manifest.decoder.maxPositions, 'the default bundle declares contextPositions');
  // A repository whose soft tokens alone need more than that.
  const big = path.join(tmp, 'big');
  mkdirSync(big);
  for (let f = 0; f < 12; f++) {
    const body = Array.from(
      { length: 30 },
      (_, i) =>
        `def handler_${f}_${i}(request, retries=3):\n    """Handle request ${i} of group ${f}."""\n    value = request.get("k${i}") or retries * ${i}\n    return value + ${f}\n`,
    ).join('\n');
    writeFileSync(path.join(big, `mod${f}.py`), body);
  }
  const whole = await engine.generate({
    task: 'ask',
    root: big,
    prompt: 'Where is handler_3_7 defined?',
    options: { maxTokens: 1, contextBudget: 1500 },
  });
  const byDefault = await engine.generate({ task: 'ask', root: big, prompt: 'Where is handler_3_7 defined?', options: { maxTokens: 1 } });
  assert.ok(whole.context.positions > trained + 100, `an explicit budget fills more (${whole.context.positions})`);
  assert.ok(byDefault.context.positions <= trained + 64, `the default stays near ${trained} (${byDefault.context.positions})`);
  assert.ok(byDefault.context.softChunks > 0 && byDefault.context.softChunks < whole.context.softChunks);
});

test('a bundle trained with a recap (manifest decoder.recapChunks) repeats its best chunks after the files', async () => {
  const dir = path.join(tmp, 'bundle-recap');
  cpSync(path.join(ROOT, 'models/default'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  manifest.decoder.recapChunks = 2;
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  const recapping = await Engine.create({
    bundlePath: dir,
    device: 'cpu',
    threads: 1,
    cacheDir: path.join(tmp, 'cache-recap'),
    persistIndex: false,
  });
  try {
    const ask = { task: 'ask' as const, root: repo, prompt: 'Where is count_words defined?', options: { maxTokens: 1, hybrid: false } };
    const plain = await engine.generate(ask);
    const recapped = await recapping.generate(ask);
    assert.deepEqual(recapped.context.softFiles, plain.context.softFiles, 'the same files, chunks and order');
    assert.equal(recapped.context.softChunks, plain.context.softChunks);
    // Two chunks again (4 soft rows each), each under its file's header; the best is count_words' own.
    const extra = recapped.context.positions - plain.context.positions - 2 * engine.bundle.manifest.adapter.softTokensPerChunk;
    const second = extra - recapping.builder.fileHeaderCost('scripts/report.py');
    assert.ok(
      plain.context.softFiles.some((p) => recapping.builder.fileHeaderCost(p) === second),
      `${extra} positions of headers`,
    );
  } finally {
    await recapping.close();
  }
});

test('ignoreEos decodes to maxTokens, past the end of turn as well; caller stop strings still apply', async () => {
  // The decoder's own text (before the answer layer snaps paths in it), through one completion.
  const state = await engine.workspaces.ready(repo);
  const run = (o: { ignoreEos?: boolean; stop?: string[] }) =>
    engine.complete({ state, request: 'Where is area defined?', hybrid: true, maxTokens: 48, sampling: { temperature: 0 }, ...o });
  const natural = (await run({})).output;
  assert.ok(['stop', 'eos'].includes(natural.stopReason), `the model ends this answer itself (${natural.stopReason})`);
  assert.ok(natural.text.trim().length >= 3, `a non-empty answer: ${JSON.stringify(natural.text)}`);
  const fixed = (await run({ ignoreEos: true })).output;
  assert.equal(fixed.stopReason, 'maxTokens');
  assert.ok(fixed.text.startsWith(natural.text.trimEnd()), 'the same greedy answer, continued');
  assert.ok(fixed.text.length > natural.text.length);
  const first = natural.text.trim().slice(0, 3);
  const stopped = (await run({ ignoreEos: true, stop: [first] })).output;
  assert.equal(stopped.stopReason, 'stop', `a caller's stop string (${JSON.stringify(first)}) ends a fixed-length run`);
});
