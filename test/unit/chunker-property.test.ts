// Chunker invariant, property-tested: a file's chunks tile it exactly (in order, no gap, no overlap),
// with exact byte offsets, lines, header + code text and hashes, and within the token budget except for
// single-line chunks — on fixtures of every language under random byte mutations, truncations and
// splices, on random bytes, and on random Unicode text.
import { test } from 'node:test';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { createChunker, type Chunker } from '../../src/core/chunker';
import { checkChunks, estimate } from './chunker/check';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'chunker');
const NAMES = readdirSync(FIXTURES).sort();
const SEED = Number(process.env.FC_SEED ?? 20261129);

type Op =
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'insertText'; at: number; text: string }
  | { kind: 'delete'; at: number; len: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'splice'; from: number; len: number; at: number };

const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 12 }) }),
  fc.record({
    kind: fc.constant('insertText' as const),
    at: fc.nat(),
    text: fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom('{', '}', '(', ')', '"', "'", '`', '/*', '*/', '\n', '\t', '#', '<<EOF\n', '"""', ':\n    ', 'é', '😀', '\r\n'),
    ),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 40 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('splice' as const), from: fc.nat(), len: fc.integer({ min: 1, max: 80 }), at: fc.nat() }),
);

function apply(bytes: Uint8Array, ops: Op[]): Uint8Array {
  let b = Buffer.from(bytes);
  for (const op of ops) {
    const n = b.length;
    const pos = (x: number) => (n === 0 ? 0 : x % (n + 1));
    switch (op.kind) {
      case 'insert': {
        const at = pos(op.at);
        b = Buffer.concat([b.subarray(0, at), op.bytes, b.subarray(at)]);
        break;
      }
      case 'insertText': {
        const at = pos(op.at);
        b = Buffer.concat([b.subarray(0, at), Buffer.from(op.text, 'utf8'), b.subarray(at)]);
        break;
      }
      case 'delete': {
        const at = pos(op.at);
        b = Buffer.concat([b.subarray(0, at), b.subarray(Math.min(n, at + op.len))]);
        break;
      }
      case 'truncate':
        b = b.subarray(0, pos(op.at));
        break;
      case 'splice': {
        const from = pos(op.from);
        const piece = b.subarray(from, Math.min(n, from + op.len));
        const at = pos(op.at);
        b = Buffer.concat([b.subarray(0, at), piece, b.subarray(at)]);
        break;
      }
    }
  }
  return b;
}

const chunkers = new Map<number, Promise<Chunker>>();
function chunkerFor(maxTokens: number): Promise<Chunker> {
  let c = chunkers.get(maxTokens);
  if (!c) {
    c = createChunker({ maxTokens });
    chunkers.set(maxTokens, c);
  }
  return c;
}
const BUDGETS = [8, 16, 40, 100, 256, 700];

test('mutated fixtures of every language: chunks tile the file exactly', async () => {
  for (const name of NAMES) {
    const original = readFileSync(path.join(FIXTURES, name));
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 6 }), fc.constantFrom(...BUDGETS), async (ops, maxTokens) => {
        const bytes = apply(original, ops);
        const chunks = await (await chunkerFor(maxTokens)).chunkFile(name, bytes);
        checkChunks(chunks, bytes, { path: name, maxTokens, countTokens: estimate });
      }),
      { numRuns: 30, seed: SEED },
    );
  }
});

test('random bytes under every language: chunks tile the input exactly', async () => {
  const exts = NAMES.map((n) => n.slice(n.lastIndexOf('.')));
  await fc.assert(
    fc.asyncProperty(
      fc.uint8Array({ maxLength: 3000 }),
      fc.constantFrom(...exts),
      fc.constantFrom(...BUDGETS),
      async (bytes, ext, maxTokens) => {
        const name = `random${ext}`;
        const chunks = await (await chunkerFor(maxTokens)).chunkFile(name, bytes);
        checkChunks(chunks, bytes, { path: name, maxTokens, countTokens: estimate });
      },
    ),
    { numRuns: 300, seed: SEED },
  );
});

test('random Unicode text (astral, combining, lone surrogates): byte offsets stay exact', async () => {
  const exts = ['.ts', '.py', '.md', '.txt', '.json', '.yaml', '.rs', '.css'];
  const line = fc.string({ unit: 'binary', maxLength: 60 });
  await fc.assert(
    fc.asyncProperty(
      fc.array(line, { maxLength: 40 }),
      fc.constantFrom(...exts),
      fc.constantFrom(8, 32, 256),
      async (lines, ext, maxTokens) => {
        const bytes = Buffer.from(lines.join('\n'), 'utf8');
        const name = `u${ext}`;
        const chunks = await (await chunkerFor(maxTokens)).chunkFile(name, bytes);
        checkChunks(chunks, bytes, { path: name, maxTokens, countTokens: estimate });
      },
    ),
    { numRuns: 200, seed: SEED },
  );
});

test('a custom token counter is respected under mutation', async () => {
  const counter = (t: string): number => t.split(/\s+/).filter(Boolean).length + Math.ceil(t.length / 50);
  const c = await createChunker({ maxTokens: 30, countTokens: counter });
  for (const name of ['sample.ts', 'sample.py', 'sample.go', 'sample.md', 'sample.json']) {
    const original = readFileSync(path.join(FIXTURES, name));
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 4 }), async (ops) => {
        const bytes = apply(original, ops);
        checkChunks(await c.chunkFile(name, bytes), bytes, { path: name, maxTokens: 30, countTokens: counter });
      }),
      { numRuns: 20, seed: SEED },
    );
  }
});
