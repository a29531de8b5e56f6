// Grounded answers through the real engine and the bundled model: sources are real definitions at their
// exact lines, a bundle that cannot write answers from the index (no model prose), summaries are a map of
// the code built without the decoder, generate refuses plainly, and the index follows single-file edits.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine, EmptyWorkspaceError } from '../../src/core/runtime/engine';
import type { GenerateResult } from '../../src/core/protocol';

const ROOT = path.resolve(__dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2code-answers-'));
const repo = path.join(tmp, 'repo');
let engine: Engine;

/** 1-based line of the first line of `file` that contains `needle`. */
function lineOf(file: string, needle: string): number {
  const i = readFileSync(path.join(repo, file), 'utf8')
    .split('\n')
    .findIndex((l) => l.includes(needle));
  assert.ok(i >= 0, `${needle} in ${file}`);
  return i + 1;
}

/** Every path:line the answer mentions exists in the repository. */
function assertRealPaths(r: GenerateResult, root = repo): void {
  for (const m of r.answer.matchAll(/([\w./-]+\.[A-Za-z]+):(\d+)/g)) assert.ok(existsSync(path.join(root, m[1])), `${m[1]} exists`);
  for (const s of r.sources) {
    assert.ok(existsSync(path.join(root, s.path)), `source ${s.path} exists`);
    const lines = readFileSync(path.join(root, s.path), 'utf8').split('\n').length;
    assert.ok(s.line >= 1 && s.line <= s.endLine && s.endLine <= lines, `${s.path}:${s.line}-${s.endLine} within ${lines} lines`);
  }
}

before(async () => {
  cpSync(path.join(ROOT, 'test/fixtures/repo-small'), repo, { recursive: true });
  engine = await Engine.create({
    bundlePath: path.join(ROOT, 'models/default'),
    device: 'cpu',
    threads: 1,
    cacheDir: path.join(tmp, 'cache'),
    persistIndex: false,
  });
});
after(async () => {
  await engine.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('the default bundle can only locate, and says so', () => {
  assert.deepEqual(engine.info().capabilities, ['locate']);
});

test('"where is X defined" puts X\'s definition first, at its exact line, with signature and doc quoted', async () => {
  const r = await engine.generate({ task: 'ask', root: repo, prompt: 'Where is count_words defined?' });
  assert.equal(r.origin, 'index');
  const top = r.sources[0];
  assert.equal(top.path, 'scripts/report.py');
  assert.equal(top.line, lineOf('scripts/report.py', 'def count_words'));
  assert.equal(top.symbol, 'count_words');
  assert.equal(top.from, 'definition');
  assert.match(top.signature ?? '', /def count_words\(path\)/);
  assert.match(top.doc ?? '', /whitespace-separated words/);
  assert.ok(r.answer.includes(`scripts/report.py:${top.line}`), r.answer);
  assert.deepEqual(r.citations[0], { path: top.path, line: top.line, symbol: 'count_words' });
  assertRealPaths(r);
});

test('a natural-language question finds the code by its words (split identifiers, docs)', async () => {
  const r = await engine.generate({ task: 'ask', root: repo, prompt: 'How is the area of a polygon computed?' });
  assert.equal(r.origin, 'index');
  assert.ok(
    r.sources.slice(0, 3).some((s) => s.path === 'src/geometry/shapes.ts'),
    JSON.stringify(r.sources.slice(0, 3)),
  );
  assertRealPaths(r);
});

test('a "how do I" question puts the public API before private helpers, unless it names the helper', async () => {
  const api = path.join(tmp, 'api');
  mkdirSync(api);
  // Bodies long enough that each method is a chunk of its own.
  const body = Array.from({ length: 12 }, (_, i) => `    const step${i} = doc.length * ${i + 2} + this.docs.length;`).join('\n') + '\n';
  writeFileSync(
    path.join(api, 'store.ts'),
    'export class DocumentStore {\n' +
      '  private readonly docs: string[] = [];\n\n' +
      '  /** Adds a document to the store. */\n' +
      '  addDocument(doc: string): void {\n' +
      body +
      '    this.docs.push(doc);\n    this.addDocumentTerms(doc);\n  }\n\n' +
      '  /** Adds the terms of a document to the store: each document term, each store entry. */\n' +
      '  private addDocumentTerms(doc: string): void {\n' +
      body +
      '    for (const documentTerm of doc.split(" ")) this.addStoreTerm(documentTerm, doc);\n  }\n\n' +
      '  /** @internal Adds one store term of a document to the store. */\n' +
      '  addStoreTerm(term: string, doc: string): void {\n' +
      body +
      '    void term;\n    void doc;\n  }\n}\n',
  );
  const how = await engine.generate({ task: 'ask', root: api, prompt: 'How do I add a document to the store?' });
  const order = how.sources.map((s) => s.symbol ?? '');
  const at = (symbol: string) => (order.includes(symbol) ? order.indexOf(symbol) : Infinity);
  assert.ok(at('DocumentStore.addDocument') < at('DocumentStore.addDocumentTerms'), JSON.stringify(order));
  assert.ok(at('DocumentStore.addDocument') < at('DocumentStore.addStoreTerm'), JSON.stringify(order));
  // A question about where code is means the implementation, internal or not.
  const impl = await engine.generate({ task: 'ask', root: api, prompt: 'Where is the code that adds the terms of a document?' });
  const implOrder = impl.sources.map((s) => s.symbol ?? '');
  assert.equal(implOrder[0], 'DocumentStore.addDocumentTerms', JSON.stringify(implOrder));
  const where = await engine.generate({ task: 'ask', root: api, prompt: 'Where is addDocumentTerms defined?' });
  assert.equal(where.sources[0]?.symbol, 'DocumentStore.addDocumentTerms');
  assertRealPaths(how, api);
});

test('a question nothing matches says so instead of inventing, and gives no sources', async () => {
  const r = await engine.generate({ task: 'ask', root: repo, prompt: 'zyxwvut qqqplorb frobnicator' });
  assert.equal(r.notice, 'nothing in this workspace matches');
  assert.match(r.answer, /^Nothing in this workspace matches/);
  assert.deepEqual(r.sources, []);
});

test('explain lists the definitions the selection uses, from other files', async () => {
  const file = 'src/geometry/shapes.ts';
  const text = readFileSync(path.join(repo, file), 'utf8');
  const lines = text.split('\n');
  const start = lineOf(file, 'export function centroid');
  const r = await engine.generate({
    task: 'explain',
    root: repo,
    prompt: '',
    selection: { path: file, startLine: start, endLine: start + 3, text: lines.slice(start - 1, start + 3).join('\n') },
  });
  assert.equal(r.origin, 'index');
  const vector = r.sources.find((s) => s.symbol === 'Vector2');
  assert.ok(vector, `Vector2's definition among ${JSON.stringify(r.sources.map((s) => s.symbol))}`);
  assert.equal(vector.path, 'src/geometry/vector.ts');
  assert.equal(vector.line, lineOf('src/geometry/vector.ts', 'export class Vector2'));
  assertRealPaths(r);
});

test('summarize maps the code without running the model: each directory once, scoped on request', async () => {
  const r = await engine.generate({ task: 'summarize', root: repo, prompt: '' });
  assert.equal(r.origin, 'index');
  assert.equal(r.context.decoderRuns, 0);
  const headings = [...r.answer.matchAll(/^### (.+)$/gm)].map((m) => m[1]);
  assert.deepEqual(headings, [...new Set(headings)], 'no directory twice');
  assert.deepEqual([...headings].sort(), ['(root)', 'scripts/', 'src/', 'src/geometry/'].sort());
  assert.match(r.answer, /`count_words` \(scripts\/report\.py:\d+\) — Number of whitespace-separated words/);
  const scoped = await engine.generate({ task: 'summarize', root: repo, prompt: '', scope: 'src/geometry' });
  assert.deepEqual(
    [...scoped.answer.matchAll(/^### (.+)$/gm)].map((m) => m[1]),
    ['src/geometry/'],
  );
  await assert.rejects(
    engine.generate({ task: 'summarize', root: repo, prompt: '', scope: 'no/such/dir' }),
    /nothing indexed under no\/such\/dir/,
  );
});

test('generate with a bundle that cannot write says so, runs nothing and returns no code', async () => {
  const r = await engine.generate({
    task: 'generate',
    root: repo,
    prompt: 'add a function',
    selection: { path: 'scripts/report.py', startLine: 3, endLine: 3, text: 'import sys' },
  });
  assert.equal(r.answer, '');
  assert.match(r.notice ?? '', /cannot write code/);
  assert.equal(r.context.decoderRuns, 0);
});

test('an edit refreshed by path re-encodes only its new chunks and the next answer finds it', async () => {
  await engine.index(repo);
  const file = 'src/geometry/vector.ts';
  writeFileSync(
    path.join(repo, file),
    readFileSync(path.join(repo, file), 'utf8') +
      '\n/** Length of the vector squared. */\nexport function lengthSquaredOf(v: Vector2): number {\n  return dot(v, v);\n}\n',
  );
  const r = await engine.index(repo, { paths: [file] });
  assert.deepEqual(r.changes, { added: 0, updated: 1, removed: 0 });
  assert.ok(r.encoded >= 1 && r.encoded <= 3, `encoded ${r.encoded}`);
  const a = await engine.generate({ task: 'ask', root: repo, prompt: 'Where is lengthSquaredOf defined?' });
  assert.equal(a.sources[0].symbol, 'lengthSquaredOf');
  assert.equal(a.sources[0].line, lineOf(file, 'export function lengthSquaredOf'));
  rmSync(path.join(repo, 'scripts/report.py'));
  const gone = await engine.index(repo, { paths: ['scripts/report.py'] });
  assert.equal(gone.changes?.removed, 1);
  const b = await engine.generate({ task: 'ask', root: repo, prompt: 'Where is count_words defined?' });
  assert.ok(
    b.sources.every((s) => s.path !== 'scripts/report.py'),
    'a deleted file is never a source',
  );
});

test('an empty workspace is refused with what is wrong', async () => {
  const empty = path.join(tmp, 'empty');
  mkdirSync(empty);
  await assert.rejects(
    engine.generate({ task: 'ask', root: empty, prompt: 'anything?' }),
    (err: Error) => err instanceof EmptyWorkspaceError && /nothing is indexed in/.test(err.message),
  );
});

test("a bundle whose manifest says it can write answers with the model's text, paths snapped to real files", async () => {
  const dir = path.join(tmp, 'bundle-writer');
  cpSync(path.join(ROOT, 'models/default'), dir, { recursive: true });
  const manifest = JSON.parse(readFileSync(path.join(dir, 'manifest.json'), 'utf8'));
  manifest.capabilities = ['locate', 'explain', 'summarize', 'generate'];
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  const writer = await Engine.create({
    bundlePath: dir,
    device: 'cpu',
    threads: 1,
    cacheDir: path.join(tmp, 'cache-writer'),
    persistIndex: false,
  });
  try {
    const r = await writer.generate({ task: 'ask', root: repo, prompt: 'Where is polygonArea defined?', options: { maxTokens: 24 } });
    assert.equal(r.origin, 'model');
    assert.equal(r.context.decoderRuns, 1);
    assert.ok(r.sources.length > 0);
    assertRealPaths(r);
    const s = await writer.generate({ task: 'summarize', root: repo, prompt: '', options: { maxTokens: 8 } });
    assert.equal(s.context.decoderRuns, 1, 'one model run for a summary, whatever the number of directories');
  } finally {
    await writer.close();
  }
});
