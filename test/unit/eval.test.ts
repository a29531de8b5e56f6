// `e2code eval` in-process: the metrics on hand-checked inputs (values from Python's difflib and the
// recipe's rouge_l), deterministic questions in the recipe's phrasing, and each row's prompt layout
// (the recipe's data.py segments) built by the product's PromptBuilder with the real bundle.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Engine } from '../../src/core/runtime/engine';
import { retrievalVector } from '../../src/core/runtime/encode/vectorSearch';
import type { SoftPromptEntry } from '../../src/core/runtime/cache/cache';
import type { PromptPiece } from '../../src/core/runtime/decode/prompt';
import { editSimilarity, exactMatch, pairedDifference, pathAmong, pathMatch, rougeL, tokenAccuracy } from '../../src/core/eval/metrics';
import { buildQuestions, goodName, Rng, TASKS, type EvalFile, type EvalQuestion } from '../../src/core/eval/questions';
import { rowLayout, rowsFor, TRUNCATED_POSITIONS } from '../../src/core/eval/rows';
import { loadRepository, rankChunks, reconstructTargets, rowSpec, shifted } from '../../src/core/eval/run';
import { SOURCE_FILES, writeEvalFixture } from './eval/fixture';

const ROOT = path.resolve(__dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2code-eval-'));
const repo = writeEvalFixture(path.join(tmp, 'repo'));
let engine: Engine;
let files: EvalFile[];
let soft: Map<string, SoftPromptEntry>;

before(async () => {
  engine = await Engine.create({
    bundlePath: path.join(ROOT, 'models/default'),
    device: 'cpu',
    threads: 1,
    cacheDir: path.join(tmp, 'cache'),
    persistIndex: false,
  });
  const loaded = await loadRepository(engine, repo);
  files = loaded.files;
  soft = await engine.softTokens(
    loaded.workspace,
    files.flatMap((f) => f.chunks),
  );
});
after(async () => {
  await engine?.close();
  rmSync(tmp, { recursive: true, force: true });
});

test('edit similarity equals difflib.SequenceMatcher(None, a, b).ratio()', () => {
  const cases: [string, string, number][] = [
    ['return self._value', 'return self.value', 0.9714285714285714],
    ['abcd', 'bcda', 0.75],
    ['', 'abc', 0],
    ['x = foo(a, b)', 'y = foo(b, a)', 0.7692307692307693],
    ['héllo wörld', 'hello world', 0.8181818181818182],
    ['private', 'privately', 0.875],
    // 300 characters: difflib's autojunk drops the popular 'a'/'b' from the index.
    ['a'.repeat(150) + 'b'.repeat(150), 'ab'.repeat(150), 0.0033333333333333335],
  ];
  for (const [a, b, want] of cases)
    assert.ok(Math.abs(editSimilarity(a, b) - want) < 1e-12, `${a.slice(0, 20)} / ${b.slice(0, 20)}: ${editSimilarity(a, b)} != ${want}`);
  assert.equal(editSimilarity('', ''), 1);
});

test('ROUGE-L is the F1 of the whitespace-token LCS (train.py rouge_l)', () => {
  const cases: [string, string, number][] = [
    ['the cat sat on the mat', 'the cat on a mat', 0.7272727272727272],
    ['Return the value.', 'Returns the value of x.', 0.25],
    ['', 'x', 0],
    ['a b c', 'c b a', 1 / 3],
    ['  same   words\n', 'same words', 1],
  ];
  for (const [a, b, want] of cases) assert.ok(Math.abs(rougeL(a, b) - want) < 1e-12, `${a} / ${b}: ${rougeL(a, b)} != ${want}`);
});

test('exact, path and token accuracy', () => {
  assert.equal(exactMatch('  pkg/util.py\n', 'pkg/util.py'), 1);
  assert.equal(exactMatch('pkg/util.py:4', 'pkg/util.py'), 0);
  assert.equal(pathMatch('pkg/util.py:4', 'pkg/util.py'), 1);
  assert.equal(pathMatch('pkg/utils.py', 'pkg/util.py'), 0);
  assert.equal(pathAmong('pkg/b.py:3', ['pkg/a.py', 'pkg/b.py']), 1);
  assert.equal(pathAmong('pkg/c.py', ['pkg/a.py', 'pkg/b.py']), 0);
  assert.deepEqual(tokenAccuracy([1, 2, 3, 9], [1, 2, 4, 9]), { correct: 3, count: 4 });
  assert.deepEqual(tokenAccuracy([1], [1, 2]), { correct: 1, count: 2 });
});

test('paired bootstrap: the difference of two rows on the same questions, with a 95% interval', () => {
  const rng = new Rng(3, 'bootstrap');
  const random = () => rng.next();
  const ones = (xs: number[]) => xs.map((num) => ({ num, den: 1 }));
  // A row better on every question: the whole interval is above 0.
  const base = Array.from({ length: 30 }, (_, i) => (i % 7) / 10);
  const better = pairedDifference(ones(base.map((x) => x + 0.05)), ones(base), random);
  assert.ok(Math.abs(better.diff - 0.05) < 1e-12, String(better.diff));
  assert.ok(better.ci95[0] > 0.049 && better.ci95[1] < 0.051, String(better.ci95));
  // The same scores: no difference, whatever the draw.
  assert.deepEqual(pairedDifference(ones(base), ones(base), random), { diff: 0, ci95: [0, 0] });
  // A difference carried by 2 of 18 questions is not one the interval can tell from 0 in the other direction.
  const few = Array.from({ length: 18 }, (_, i) => (i < 2 ? 0.5 : 0));
  const noisy = pairedDifference(ones(few), ones(new Array(18).fill(0)), random);
  assert.ok(Math.abs(noisy.diff - 1 / 18) < 1e-12);
  assert.ok(noisy.ci95[0] === 0 && noisy.ci95[1] > noisy.diff, String(noisy.ci95));
  // Pooled ratios (token accuracy): sums over questions, not a mean of per-question ratios.
  const pooled = pairedDifference(
    [
      { num: 9, den: 10 },
      { num: 0, den: 90 },
    ],
    [
      { num: 0, den: 10 },
      { num: 0, den: 90 },
    ],
    random,
  );
  assert.ok(Math.abs(pooled.diff - 0.09) < 1e-12, String(pooled.diff));
  assert.throws(() => pairedDifference(ones([1]), ones([1, 2]), random), /1 vs 2 questions/);
});

test('the retrieval vector is the mean of the pooled vectors, or the last one (model.py Encoder.retrieval)', () => {
  assert.deepEqual([...retrievalVector([1, 2, 3, 4, 5, 6], 2)], [2.5, 3.5, 4.5]);
  assert.throws(() => retrievalVector([1, 2, 3], 2), RangeError);
  // encoder.retrieval "last": the retrieval query's vector alone, the others (the adapter's) ignored
  assert.deepEqual([...retrievalVector([1, 2, 3, 4, 5, 6], 3, 'last')], [5, 6]);
  assert.deepEqual([...retrievalVector([1, 2, 3, 4, 5, 6], 3, 'mean')], [3, 4]);
});

test('the seeded generator is deterministic and samples without repeats', () => {
  const a = new Rng(7, 'where');
  const b = new Rng(7, 'where');
  assert.deepEqual([a.next(), a.next(), a.int(10)], [b.next(), b.next(), b.int(10)]);
  assert.notEqual(new Rng(7, 'what').next(), new Rng(7, 'where').next());
  const s = new Rng(1).sample([1, 2, 3, 4, 5, 6], 4);
  assert.equal(new Set(s).size, 4);
  assert.equal(new Rng(1).sample([1, 2], 5).length, 2);
});

test('the repository loads through the product index: source files only, with chunks and facts', () => {
  assert.deepEqual(files.map((f) => f.path).sort(), SOURCE_FILES);
  const shapes = files.find((f) => f.path === 'pkg/shapes.py')!;
  assert.equal(shapes.moduleDoc, 'Geometric shapes with areas and perimeters.');
  assert.deepEqual(
    shapes.defs.find((d) => d.name === 'square_area'),
    {
      name: 'square_area',
      line: 20,
      endLine: 23,
      kind: 'function',
      params: ['side'],
      doc: 'Area of a square with the given side length.',
      fullDoc: 'Area of a square with the given side length.',
      signature: 'def square_area(side)',
      parent: '',
    },
  );
  for (const f of files) {
    assert.ok(f.chunks.length > 0);
    // Each chunk's code is the file's bytes in its range.
    assert.equal(f.chunks.map((c) => c.code).join(''), f.content);
  }
});

function key(q: EvalQuestion) {
  return [q.request, q.answer, q.files.map((f) => f.path)];
}

test('questions are deterministic for a seed and phrased exactly as the recipe phrases them', () => {
  const opts = { n: 12, filesPerQuestion: 4, softTokensPerChunk: engine.bundle.manifest.adapter.softTokensPerChunk, seed: 3 };
  for (const task of TASKS) {
    const qs = buildQuestions(files, task, opts);
    assert.ok(qs.length > 0, `no ${task} questions`);
    assert.deepEqual(qs.map(key), buildQuestions(files, task, opts).map(key), `${task} questions changed between two builds`);
    assert.equal(new Set(qs.map((q) => q.request + '\u0000' + q.answer)).size, qs.length, 'questions repeat');
    for (const q of qs) {
      const own = files.find((f) => f.path === q.file)!;
      assert.ok(
        q.files.some((f) => f.path === q.file),
        'the answer file is among the question files',
      );
      if (task === 'reconstruct') {
        assert.equal(q.request, 'Repeat the code.');
        assert.equal(q.files.length, 1);
        assert.equal(q.files[0].chunks.length, 1);
        assert.equal(q.answer, q.files[0].chunks[0].code);
        continue;
      }
      assert.ok(q.files.length <= 4 && q.files.length >= 1);
      assert.equal(new Set(q.files.map((f) => f.path)).size, q.files.length);
      const defsIn = (name: string) => q.files.flatMap((f) => files.find((x) => x.path === f.path)!.defs.filter((d) => d.name === name));
      if (task === 'where' || task === 'what') {
        const name = (task === 'where' ? /^Where is (\S+) defined\?$/ : /^What does (\S+) do\?$/).exec(q.request)?.[1];
        assert.ok(name, `bad phrasing: ${q.request}`);
        assert.ok(goodName(name) && name !== 'ab' && !name.startsWith('__'));
        assert.equal(defsIn(name).length, 1, `${name} is ambiguous among ${q.files.map((f) => f.path)}`);
        assert.equal(q.def?.name, name);
        assert.ok(own.defs.includes(q.def!));
        if (task === 'where') assert.equal(q.answer, q.file, 'the answer is the path alone');
        else assert.equal(q.answer, q.def!.doc);
        assert.ok(q.defChunk && q.defChunk.path === q.file && q.defChunk.startLine <= q.def!.line && q.def!.line <= q.defChunk.endLine);
      } else if (task === 'summary') {
        assert.equal(q.request, `Summarize ${q.file}.`);
        assert.equal(q.answer, own.moduleDoc);
      } else if (task === 'complete') {
        const m = /^In (\S+), what line follows:\n([\s\S]*)$/.exec(q.request);
        assert.ok(m && m[1] === q.file, q.request);
        const lines = own.content.split('\n');
        const at = lines.findIndex((_, i) => i >= 3 && lines.slice(i - 3, i).join('\n') === m[2] && lines[i].trim() === q.answer);
        assert.ok(at >= 3, `the answer does not follow the three lines in ${q.file}`);
        assert.ok(q.answer.length > 8);
      }
    }
  }
  // Another seed draws another set (the fixture has enough for the draws to differ).
  const other = buildQuestions(files, 'complete', { ...opts, seed: 4 });
  assert.notDeepEqual(other.map(key), buildQuestions(files, 'complete', opts).map(key));
  // Only what the repository holds: fewer distinct questions than asked is not an error.
  assert.ok(buildQuestions(files, 'summary', { ...opts, n: 100 }).length <= files.length);
});

test('over several repositories each question is about one of them', async () => {
  const other = await loadRepository(engine, path.join(ROOT, 'test/fixtures/repo-small'));
  const both = [...files, ...other.files];
  const opts = { n: 16, filesPerQuestion: 4, softTokensPerChunk: 4, seed: 1 };
  for (const task of ['where', 'complete', 'reconstruct'] as const) {
    const qs = buildQuestions(both, task, opts);
    assert.deepEqual(new Set(qs.map((q) => q.repo)), new Set([repo, other.workspace.root]), `${task}: both repositories asked about`);
    for (const q of qs) {
      const own = both.filter((f) => f.repo === q.repo);
      for (const f of q.files)
        assert.ok(
          own.some((x) => x.path === f.path && x.chunks.includes(f.chunks[0])),
          `${task}: ${f.path} is not in ${q.repo}`,
        );
    }
  }
});

const SOFT = '\u00a7';
/** The prompt as text, each soft piece shown as one marker per chunk. */
function render(pieces: PromptPiece[]): string {
  return pieces.map((p) => (p.kind === 'text' ? p.text : SOFT)).join('');
}

test("each row's prompt has the recipe's layout (data.py segments)", async () => {
  const opts = { n: 6, filesPerQuestion: 4, softTokensPerChunk: engine.bundle.manifest.adapter.softTokensPerChunk, seed: 0 };
  const q = buildQuestions(files, 'where', opts).find((x) => x.files.length >= 2)!;
  assert.ok(q, 'need a where question over several files');
  const tail = `<|/context|>\n<|im_start|>user\n${q.request}<|im_end|>\n<|im_start|>assistant\n`;
  const softPart = q.files.map((f) => `<|file|>${f.path}\n${SOFT.repeat(f.chunks.length)}`).join('');
  const code = (c: { path: string; startLine: number; code: string }) =>
    `<|code|>${c.path}:${c.startLine}\n${c.code.endsWith('\n') ? c.code : c.code + '\n'}`;
  const ranked = await rankChunks(engine, q, soft, 2);
  const textChunkCost = (c: { path: string; startLine: number; code: string }) => engine.builder.textChunkCost(c.path, c.startLine, c.code);
  const build = (row: ReturnType<typeof rowsFor>[number]) => {
    const layout = rowLayout(q, row, { ranked, textChunkCost });
    const prompt = engine.builder.build(rowSpec(q, layout, soft));
    const positions = prompt.pieces.reduce((n, p) => n + (p.kind === 'text' ? p.ids.length : p.rows), 0);
    assert.equal(prompt.length, positions);
    return { layout, prompt, text: render(prompt.pieces), softPieces: prompt.pieces.filter((p) => p.kind === 'soft') };
  };
  assert.deepEqual(rowsFor('where'), ['none', 'truncated', 'retrieved', 'soft', 'hybrid']);

  const none = build('none');
  assert.equal(none.text, `<|context|>\n${tail}`);
  assert.equal(none.softPieces.length, 0);

  const softRow = build('soft');
  assert.equal(softRow.text, `<|context|>\n${softPart}${tail}`, 'every chunk as soft tokens under its file header, no text chunks');
  assert.equal(
    softRow.softPieces.length,
    q.files.reduce((n, f) => n + f.chunks.length, 0),
  );
  assert.ok(softRow.prompt.length > none.prompt.length + 4 * softRow.softPieces.length - 1);

  const hybrid = build('hybrid');
  assert.equal(hybrid.text, `<|context|>\n${softPart}${code(q.defChunk!)}${tail}`, 'soft tokens + the defining chunk as text');
  assert.ok(hybrid.text.includes(`def ${q.def!.name}`) || hybrid.text.includes(q.def!.name));

  const retrieved = build('retrieved');
  assert.equal(ranked.length, 2);
  assert.ok(ranked.every((c) => q.files.some((f) => f.chunks.includes(c))));
  assert.equal(retrieved.text, `<|context|>\n${ranked.map(code).join('')}${tail}`);
  assert.equal(retrieved.softPieces.length, 0);

  const truncated = build('truncated');
  assert.equal(truncated.softPieces.length, 0);
  assert.ok(truncated.layout.text.length > 0);
  assert.ok(truncated.layout.text.reduce((n, c) => n + textChunkCost(c), 0) <= TRUNCATED_POSITIONS);
  assert.equal(truncated.text, `<|context|>\n${truncated.layout.text.map(code).join('')}${tail}`);
  // In the files' order, each file's chunks from its start.
  const order = q.files.flatMap((f) => f.chunks);
  const at = truncated.layout.text.map((c) => order.indexOf(c));
  assert.deepEqual(
    at,
    [...at].sort((a, b) => a - b),
  );
  assert.equal(truncated.layout.text[0], order[0]);

  // A bundle trained with relevance order: the soft rows' files follow the encoder's ranking, best first;
  // the chunks and everything else are the same.
  const all = await rankChunks(engine, q, soft, Infinity);
  const fileOrder = [...new Set(all.map((c) => c.path))];
  assert.deepEqual([...fileOrder].sort(), q.files.map((f) => f.path).sort());
  const byRelevance = rowLayout(q, 'soft', { fileOrder, textChunkCost });
  assert.deepEqual(
    byRelevance.soft.map((f) => f.path),
    fileOrder,
  );
  assert.equal(byRelevance.soft[0].path, all[0].path, 'the file of the best-ranked chunk first');
  assert.deepEqual(new Set(byRelevance.soft.flatMap((f) => f.chunks)), new Set(softRow.layout.soft.flatMap((f) => f.chunks)));
  // A bundle that repeats its best chunks (decoder.recapChunks): the soft rows end with them, each under
  // its own file header; the other rows do not change.
  const recap = all.slice(0, 2);
  const recapped = rowLayout(q, 'soft', { fileOrder, recap, textChunkCost });
  assert.deepEqual(recapped.soft.slice(0, -2), byRelevance.soft);
  assert.deepEqual(
    recapped.soft.slice(-2),
    recap.map((c) => ({ path: c.path, chunks: [c] })),
  );
  assert.deepEqual(rowLayout(q, 'hybrid', { fileOrder, recap, textChunkCost }).soft, recapped.soft);
  assert.deepEqual(rowLayout(q, 'retrieved', { ranked: all.slice(0, 2), recap, textChunkCost }).soft, []);
  assert.deepEqual(rowLayout(q, 'none', { recap, textChunkCost }), { soft: [], text: [] });

  // Summary/complete questions have no definition: hybrid is the soft row.
  const s = buildQuestions(files, 'summary', opts)[0];
  assert.deepEqual(rowLayout(s, 'hybrid', { textChunkCost }), rowLayout(s, 'soft', { textChunkCost }));
});

test("--shuffle-soft gives every chunk another chunk's soft tokens, each used once", () => {
  const entries = new Map([...soft].slice(0, 5));
  assert.ok(entries.size >= 3);
  const s = shifted(entries);
  assert.deepEqual([...s.keys()].sort(), [...entries.keys()].sort());
  for (const [h, e] of s) assert.notEqual(e, entries.get(h), `${h} kept its own soft tokens`);
  assert.equal(new Set(s.values()).size, entries.size, 'a permutation: every entry used once');
});

test('reconstruction: one chunk as soft tokens vs no context; the target is its first 48 tokens and the end of turn', () => {
  const q = buildQuestions(files, 'reconstruct', { n: 1, filesPerQuestion: 4, softTokensPerChunk: 4, seed: 0 })[0];
  assert.deepEqual(rowsFor('reconstruct'), ['none', 'soft']);
  const c = q.files[0].chunks[0];
  const tail = '<|/context|>\n<|im_start|>user\nRepeat the code.<|im_end|>\n<|im_start|>assistant\n';
  const softText = render(engine.builder.build(rowSpec(q, rowLayout(q, 'soft', { textChunkCost: () => 0 }), soft)).pieces);
  assert.equal(softText, `<|context|>\n<|file|>${c.path}\n${SOFT}${tail}`);
  assert.equal(
    render(engine.builder.build(rowSpec(q, rowLayout(q, 'none', { textChunkCost: () => 0 }), soft)).pieces),
    `<|context|>\n${tail}`,
  );
  const targets = reconstructTargets(engine, q.answer);
  const eot = engine.builder.tokens('<|im_end|>\n');
  assert.deepEqual(targets.slice(-eot.length), eot);
  assert.deepEqual(targets.slice(0, -eot.length), engine.builder.tokens(c.code).slice(0, 48));
});
