// Chunker on hostile input: 10,000 levels of nesting in every grammar (no stack overflow: the walk is
// iterative), a 50 MB single line, a minified bundle, files over the parse threshold — each stays
// exact and finishes in bounded time.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createChunker } from '../../src/core/chunker';
import { checkChunks, estimate } from './chunker/check';

const N = 10_000;
const nest = (open: string, inner: string, close: string) => open.repeat(N) + inner + close.repeat(N);

const DEEP: [string, string][] = [
  ['deep.json', nest('[', '1', ']')],
  ['deep-obj.json', nest('{"a":', '1', '}')],
  ['deep.js', `x = ${nest('(', '1', ')')};\n`],
  ['deep-blocks.js', nest('{', '', '}')],
  ['deep-fn.js', nest('function f() {', '', '}') + '\n'],
  ['deep.ts', `type T = ${nest('A<', 'x', '>')};\n`],
  ['deep.tsx', `const a = ${nest('<div>', 'x', '</div>')};\n`],
  ['deep.py', `x = ${nest('[', '1', ']')}\n`],
  ['deep-call.py', `f${nest('(', '1', ')')}\n`],
  ['deep.go', `package p\nvar x = ${nest('(', '1', ')')}\n`],
  ['deep.rs', `fn f() ${nest('{', '', '}')}\n`],
  ['deep.java', `class A { int x = ${nest('(', '1', ')')}; }\n`],
  ['deep.c', `int f() ${nest('{', '', '}')}\n`],
  ['deep.cpp', `int x = ${nest('(', '1', ')')};\n`],
  ['deep.cs', `class A { int x = ${nest('(', '1', ')')}; }\n`],
  ['deep.rb', `x = ${nest('[', '1', ']')}\n`],
  ['deep.php', `<?php $x = ${nest('(', '1', ')')};\n`],
  ['deep.sh', `x=${nest('$(', 'y', ')')}\n`],
  ['deep.css', `a ${nest('{', '', '}')}\n`],
  ['deep.yaml', `a: ${nest('[', '1', ']')}\n`],
  ['deep.md', `${'> '.repeat(N)}quote\n${'#'.repeat(N)} not a heading\n`],
];

test('10,000 levels of nesting in every language: exact, no stack overflow, bounded time', async () => {
  const c = await createChunker();
  for (const [name, src] of DEEP) {
    const bytes = Buffer.from(src);
    const t0 = performance.now();
    const chunks = await c.chunkFile(name, bytes);
    const ms = performance.now() - t0;
    checkChunks(chunks, bytes, { path: name, maxTokens: 256, countTokens: estimate });
    assert.ok(ms < 15_000, `${name}: ${ms.toFixed(0)} ms`);
  }
});

test('a 50 MB single line is cut into windows quickly, never parsed', async () => {
  const c = await createChunker();
  const bytes = Buffer.alloc(50 * 1024 * 1024, 'x');
  const t0 = performance.now();
  const chunks = await c.chunkFile('huge.js', bytes);
  const ms = performance.now() - t0;
  assert.ok(ms < 60_000, `${ms.toFixed(0)} ms`);
  assert.equal(chunks[0].startByte, 0);
  assert.equal(chunks[chunks.length - 1].endByte, bytes.length);
  for (let i = 1; i < chunks.length; i++) assert.equal(chunks[i].startByte, chunks[i - 1].endByte);
  assert.ok(chunks.every((ch) => ch.kind === 'window'));
  assert.ok(
    chunks.every((ch) => estimate(ch.text) <= 256),
    'windows fit the budget even within one line',
  );
});

test('a minified bundle (one long line) is windowed, exact, with a custom counter too', async () => {
  const unit = 'function f(a){return a+1};var x={a:1,b:[1,2,3]};if(x){f(2)}else{f(3)};';
  const bytes = Buffer.from(unit.repeat(Math.ceil(2_000_000 / unit.length)));
  let calls = 0;
  const counter = (t: string) => {
    calls++;
    return Math.ceil(t.length / 4);
  };
  for (const c of [await createChunker(), await createChunker({ countTokens: counter })]) {
    const t0 = performance.now();
    const chunks = await c.chunkFile('bundle.min.js', bytes);
    assert.ok(performance.now() - t0 < 20_000);
    checkChunks(chunks, bytes, { path: 'bundle.min.js', maxTokens: 256, countTokens: estimate });
    assert.ok(chunks.every((ch) => ch.kind === 'window'));
  }
  assert.ok(calls > 0);
});

test('files over maxParseBytes are windowed without calling countTokens', async () => {
  let calls = 0;
  const c = await createChunker({ maxParseBytes: 4096, countTokens: () => ++calls });
  const src = Buffer.from(Array.from({ length: 2000 }, (_, i) => `function f${i}() { return ${i}; }`).join('\n'));
  const chunks = await c.chunkFile('big.js', src);
  checkChunks(chunks, src, { path: 'big.js' });
  assert.equal(calls, 0);
  assert.ok(chunks.every((ch) => ch.kind === 'window'));
});

test('many files in parallel with pathological content do not interfere', async () => {
  const c = await createChunker({ maxTokens: 64 });
  const inputs = DEEP.slice(0, 8).map(([n, s]) => [n, Buffer.from(s)] as const);
  const results = await Promise.all(inputs.map(([n, b]) => c.chunkFile(n, b)));
  results.forEach((chunks, i) => checkChunks(chunks, inputs[i][1], { path: inputs[i][0], maxTokens: 64, countTokens: estimate }));
});
