import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planContext, type Chunk, requestIdentifiers, type PlanInput } from '../../src/core/runtime/plan/planner';
import { VectorSearch } from '../../src/core/runtime/encode/vectorSearch';

function chunk(path: string, i: number, symbols: string[], code: string): Chunk {
  return {
    path,
    language: 'typescript',
    startByte: i * 100,
    endByte: i * 100 + code.length,
    startLine: i * 10 + 1,
    endLine: i * 10 + 9,
    kind: 'function',
    symbolPath: symbols[0] ?? '',
    symbols,
    text: `// ${path}\n${code}`,
    hash: `${path}#${i}`,
  };
}

// A small repository in order: three files, several chunks each.
const repo: Chunk[] = [
  chunk('src/a.ts', 0, ['alpha'], 'function alpha() { return beta(); }'),
  chunk('src/a.ts', 1, ['helperOne'], 'function helperOne() {}'),
  chunk('src/b.ts', 0, ['beta'], 'function beta() { return 2; }'),
  chunk('src/b.ts', 1, ['gamma'], 'function gamma() {}'),
  chunk('src/c.ts', 0, ['polygonArea'], 'export function polygonArea(points) {}'),
  chunk('src/c.ts', 1, ['centroid'], 'export function centroid(points) {}'),
];

const HEADER = 3;
const SOFT = 4;
function input(over: Partial<PlanInput>): PlanInput {
  return {
    chunks: repo,
    budget: 1000,
    softTokensPerChunk: SOFT,
    fileHeaderCost: () => HEADER,
    textChunkCost: (c) => 5 + Math.ceil((c.text ?? '').length / 4),
    request: 'what does this do?',
    definitions: (name) => repo.filter((c) => c.symbols.includes(name)),
    hybrid: true,
    ...over,
  };
}

const flat = (plan: ReturnType<typeof planContext>) => plan.soft.flatMap((f) => f.chunks.map((c) => c.hash));

test('identifiers are taken from the request without common words', () => {
  const ids = requestIdentifiers('Where is polygonArea defined and what does Vector2.add do?');
  assert.ok(ids.includes('polygonArea'));
  assert.ok(ids.includes('Vector2.add'));
  assert.ok(ids.includes('Vector2'));
  assert.ok(!ids.includes('Where') && !ids.includes('does') && !ids.includes('what'));
});

test('when everything fits, every chunk goes in as soft tokens, in repository order, grouped by file', () => {
  const plan = planContext(input({ hybrid: false }));
  assert.equal(plan.complete, true);
  assert.deepEqual(
    flat(plan),
    repo.map((c) => c.hash),
  );
  assert.deepEqual(
    plan.soft.map((f) => f.path),
    ['src/a.ts', 'src/b.ts', 'src/c.ts'],
  );
  assert.equal(plan.positions, 3 * HEADER + repo.length * SOFT);
  assert.equal(plan.text.length, 0);
});

test('over budget, the most relevant chunks win and the budget is never exceeded', () => {
  const budget = HEADER + SOFT; // room for exactly one chunk and its file header
  const plan = planContext(input({ hybrid: false, budget, request: 'how is polygonArea computed?' }));
  assert.equal(plan.complete, false);
  assert.deepEqual(flat(plan), ['src/c.ts#0']);
  assert.ok(plan.positions <= budget);

  for (let b = 0; b < 60; b++) {
    const p = planContext(input({ hybrid: true, budget: b, request: 'beta and centroid' }));
    assert.ok(p.positions <= b, `budget ${b} exceeded: ${p.positions}`);
  }
});

test('chosen chunks keep repository order even when ranked differently', () => {
  const budget = 2 * (HEADER + SOFT);
  const plan = planContext(input({ hybrid: false, budget, request: 'centroid then alpha' }));
  assert.deepEqual(flat(plan), ['src/a.ts#0', 'src/c.ts#1']);
});

test('relevance order (a bundle trained with it) puts the most relevant file first, chunks still in file order', () => {
  const plan = planContext(input({ hybrid: false, request: 'Where is centroid defined?', order: 'relevance' }));
  assert.equal(plan.complete, true);
  assert.deepEqual(
    plan.soft.map((f) => f.path),
    ['src/c.ts', 'src/a.ts', 'src/b.ts'],
    'c.ts defines centroid; the rest keep repository order',
  );
  assert.deepEqual(
    plan.soft[0].chunks.map((c) => c.hash),
    ['src/c.ts#0', 'src/c.ts#1'],
  );
  assert.equal(plan.positions, 3 * HEADER + repo.length * SOFT, 'the same chunks, only reordered');
  // By encoder similarity alone, and pinned files ahead of everything.
  const search = new VectorSearch(3);
  repo.forEach((c, i) => search.set(c.hash, [i === 3 ? 1 : 0, i === 3 ? 0 : 1, 0.1]));
  const bySimilarity = planContext(input({ hybrid: false, order: 'relevance', similarity: search.scores([1, 0, 0]) }));
  assert.deepEqual(
    bySimilarity.soft.map((f) => f.path),
    ['src/b.ts', 'src/a.ts', 'src/c.ts'],
  );
  const pinned = planContext(
    input({ hybrid: false, order: 'relevance', request: 'Where is centroid defined?', pinnedPaths: ['src/b.ts'] }),
  );
  assert.deepEqual(
    pinned.soft.map((f) => f.path),
    ['src/b.ts', 'src/c.ts', 'src/a.ts'],
  );
  // The default stays repository order.
  assert.deepEqual(
    planContext(input({ hybrid: false, request: 'Where is centroid defined?' })).soft.map((f) => f.path),
    ['src/a.ts', 'src/b.ts', 'src/c.ts'],
  );
});

test('encoder-vector similarity ranks chunks when the request names nothing', () => {
  const search = new VectorSearch(3);
  repo.forEach((c, i) => search.set(c.hash, [i === 3 ? 1 : 0, i === 3 ? 0 : 1, 0.1]));
  const similarity = search.scores([1, 0, 0]);
  const plan = planContext(input({ hybrid: false, budget: HEADER + SOFT, similarity }));
  assert.deepEqual(flat(plan), ['src/b.ts#1']);
});

test('hybrid mode places exact definitions of named symbols as text; --no-hybrid places none', () => {
  const plan = planContext(input({ request: 'Where is beta defined?' }));
  assert.ok(
    plan.text.some((c) => c.hash === 'src/b.ts#0'),
    'the definition of beta should be placed as text',
  );
  assert.ok(plan.text.length <= 3);
  const none = planContext(input({ request: 'Where is beta defined?', hybrid: false }));
  assert.equal(none.text.length, 0);
});

test('text chunks respect their own budget and the maximum count', () => {
  const plan = planContext(input({ request: 'alpha beta gamma centroid polygonArea', maxTextChunks: 2 }));
  assert.equal(plan.text.length, 2);
  const tight = planContext(input({ request: 'alpha beta', textBudget: 1 }));
  assert.equal(tight.text.length, 0);
});

test("pinned files come first when the budget is short (explain: the selection's file)", () => {
  const plan = planContext(input({ hybrid: false, budget: HEADER + 2 * SOFT, pinnedPaths: ['src/b.ts'], request: 'polygonArea' }));
  assert.deepEqual(flat(plan), ['src/b.ts#0', 'src/b.ts#1']);
});

test('vector search returns the nearest ids by cosine and rejects wrong dimensions', () => {
  const s = new VectorSearch(2, 1);
  s.set('x', [1, 0]);
  s.set('y', [0, 2]);
  s.set('z', [1, 1]);
  assert.deepEqual(
    s.search([0, 1], 2).map((r) => r.id),
    ['y', 'z'],
  );
  assert.ok(Math.abs(s.scores([3, 0]).get('x')! - 1) < 1e-6);
  assert.throws(() => s.set('w', [1, 2, 3]), /dimension/);
});

test('a recap repeats the best-ranked soft chunks after the files, best first, and pays for them', () => {
  const request = 'Where is centroid defined, and beta?';
  const plain = planContext(input({ hybrid: false, request, order: 'relevance' }));
  const plan = planContext(input({ hybrid: false, request, order: 'relevance', recapChunks: 2 }));
  assert.deepEqual(plan.soft, plain.soft, 'the files and their chunks do not change');
  assert.deepEqual(plain.recap, []);
  // beta and centroid are each defined by one chunk (score 1 + 0.3 for the word); ties keep repository order.
  assert.deepEqual(
    plan.recap.map((c) => c.hash),
    ['src/b.ts#0', 'src/c.ts#1'],
  );
  assert.equal(plan.positions, plain.positions + 2 * (HEADER + SOFT));
  // A tight budget: the recap is paid for first, and each recapped chunk also has its own place.
  const tight = planContext(input({ hybrid: false, request, order: 'relevance', recapChunks: 2, budget: 4 * (HEADER + SOFT) }));
  assert.deepEqual(
    tight.recap.map((c) => c.hash),
    ['src/b.ts#0', 'src/c.ts#1'],
  );
  assert.deepEqual(new Set(flat(tight)), new Set(['src/b.ts#0', 'src/c.ts#1']));
  assert.equal(tight.positions, 4 * (HEADER + SOFT));
  // A budget too small for the recap: no recap, the best chunk alone.
  const small = planContext(input({ hybrid: false, request, order: 'relevance', recapChunks: 2, budget: HEADER + SOFT + 1 }));
  assert.deepEqual(small.recap, []);
  assert.deepEqual(flat(small), ['src/b.ts#0']);
});
