// Prompt assembly and decoding on the real bundled model. Assertions are about behaviour (layout,
// determinism, stop conditions, streaming), never about what the current weights happen to say.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Bundle } from '../../src/core/runtime/model/bundle';
import { Encoder } from '../../src/core/runtime/encode/encoder';
import { Generator, RepetitionGuard, Sampler, TextStream } from '../../src/core/runtime/decode/generator';
import { PromptBuilder, contextPrefix, type PromptSpec } from '../../src/core/runtime/decode/prompt';

const BUNDLE = path.resolve(__dirname, '../../models/default');
let bundle: Bundle;
let builder: PromptBuilder;
let generator: Generator;
let encoder: Encoder;

before(async () => {
  bundle = await Bundle.load(BUNDLE, { device: 'cpu', threads: 1 });
  builder = new PromptBuilder(bundle.manifest, bundle.decoderTokenizer, bundle.embeddings);
  generator = new Generator(bundle);
  encoder = new Encoder(bundle);
});
after(async () => {
  await bundle.dispose();
});

async function spec(): Promise<PromptSpec> {
  const enc = await encoder.encode(['export function add(a, b) { return a + b; }', 'class Stack { push(x) {} }']);
  return {
    context: {
      softFiles: [
        { path: 'src/math.ts', chunks: [{ hash: 'h1', softTokens: enc.softTokens[0] }] },
        { path: 'src/stack.ts', chunks: [{ hash: 'h2', softTokens: enc.softTokens[1] }] },
      ],
      textChunks: [{ path: 'src/math.ts', line: 1, code: 'export function add(a, b) { return a + b; }' }],
    },
    history: [
      { role: 'user', content: 'hi' },
      { role: 'assistant', content: 'hello' },
    ],
    request: 'Where is add defined?',
  };
}

test('encoder output has the manifest shapes, independent of batching', async () => {
  const m = bundle.manifest;
  const texts = ['a', 'function f() {}\n'.repeat(5), '', 'x'.repeat(2000)];
  const together = await encoder.encode(texts);
  const alone = await encoder.encode([texts[1]]);
  assert.equal(together.vectors.length, 4);
  for (const v of together.vectors) assert.equal(v.length, m.encoder.vectorsPerChunk * m.encoder.hiddenSize);
  for (const s of together.softTokens) assert.equal(s.length, m.adapter.softTokensPerChunk * m.decoder.hiddenSize);
  // Padding in a shared batch must not change a chunk's vector.
  const diff = Math.max(...together.vectors[1].map((x, i) => Math.abs(x - alone.vectors[0][i])));
  assert.ok(diff < 1e-3, `batched and single encodings differ by ${diff}`);
});

test('the prompt follows the bundle layout: context, file headers, soft rows, text chunks, turns', async () => {
  const s = await spec();
  const t = bundle.manifest.chatTemplate;
  const built = builder.build(s);
  const kinds = built.pieces.map((p) => (p.kind === 'text' ? p.text : `<soft:${p.hash}>`));
  // A filled template is split into its own text and the (untrusted) values filled in.
  const [fileOpen, fileClose] = t.fileHeader.split('{path}');
  const [codeOpen, codeRest] = t.textChunkHeader.split('{path}');
  const [codeColon, codeClose] = codeRest.split('{line}');
  const [userOpen] = t.user.split('{content}');
  assert.deepEqual(kinds, [
    t.contextStart,
    fileOpen,
    'src/math.ts',
    fileClose,
    '<soft:h1>',
    fileOpen,
    'src/stack.ts',
    fileClose,
    '<soft:h2>',
    codeOpen,
    'src/math.ts',
    codeColon,
    '1',
    codeClose,
    'export function add(a, b) { return a + b; }\n',
    t.contextEnd,
    userOpen,
    'hi',
    t.endOfTurn,
    t.assistant,
    'hello',
    t.endOfTurn,
    userOpen,
    'Where is add defined?',
    t.endOfTurn,
    t.assistant,
  ]);
  const values = new Set([
    'src/math.ts',
    'src/stack.ts',
    '1',
    'export function add(a, b) { return a + b; }\n',
    'hi',
    'hello',
    'Where is add defined?',
  ]);
  for (const p of built.pieces)
    if (p.kind === 'text') assert.equal(p.untrusted === true, values.has(p.text), `untrusted flag of ${JSON.stringify(p.text)}`);
  // Pieces are tokenized separately; the embeds are the table rows of text ids and the soft rows verbatim.
  const h = bundle.manifest.decoder.hiddenSize;
  const row = new Float32Array(h);
  let pos = 0;
  for (const p of built.pieces) {
    if (p.kind === 'text') {
      assert.deepEqual(p.ids, p.untrusted ? bundle.decoderTokenizer.encodeUntrusted(p.text) : bundle.decoderTokenizer.encode(p.text));
      for (const id of p.ids) {
        bundle.embeddings.copyRow(id, row, 0);
        assert.deepEqual(built.embeds.subarray(pos * h, (pos + 1) * h), row);
        pos++;
      }
    } else {
      assert.deepEqual(built.embeds.subarray(pos * h, (pos + p.rows) * h), p.data);
      pos += p.rows;
    }
  }
  assert.equal(pos, built.length);
  // The planner's cost functions add up to exactly the built length.
  const soft = bundle.manifest.adapter.softTokensPerChunk;
  const context =
    builder.fileHeaderCost('src/math.ts') +
    builder.fileHeaderCost('src/stack.ts') +
    2 * soft +
    builder.textChunkCost('src/math.ts', 1, s.context.textChunks[0].code);
  assert.equal(builder.overheadCost(s) + context, built.length);
});

test('greedy decoding is deterministic and chunked prefill matches one-piece prefill', async () => {
  const built = builder.build(await spec());
  const run = (prefillChunk: number) =>
    generator.generate({ embeds: built.embeds, length: built.length, maxTokens: 12, ignoreEos: true, prefillChunk });
  const a = await run(512);
  const b = await run(512);
  const c = await run(7);
  assert.deepEqual(a.tokens, b.tokens);
  assert.deepEqual(c.tokens, a.tokens, 'KV-cached prefill in pieces must give the same tokens');
  assert.equal(a.tokens.length, 12);
  assert.equal(a.stopReason, 'maxTokens');
  assert.ok(a.firstTokenMs > 0);
});

test('a reused KV prefix (same repository context, new question) gives the same tokens as a fresh prefill', async () => {
  const base = await spec();
  const q1 = builder.build({ ...base, history: [], request: 'Where is add defined?' });
  const q2 = builder.build({ ...base, history: [], request: 'What does Stack do?' });
  const p1 = contextPrefix(bundle.id, q1.pieces)!;
  const p2 = contextPrefix(bundle.id, q2.pieces)!;
  assert.deepEqual(p1, p2, 'same context, same prefix key');
  let reusedPositions = 0;
  const first = (g: Generator, embeds: Float32Array, length: number, prefix?: { key: string; length: number }) => {
    let logits: Float32Array | undefined;
    return g.generate({ embeds, length, maxTokens: 1, ignoreEos: true, prefix, onLogits: (l) => (logits ??= l.slice()) }).then((out) => {
      reusedPositions = out.reusedPositions;
      return logits!;
    });
  };
  const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
  const cached = new Generator(bundle);
  const l1 = await first(cached, q1.embeds, q1.length, p1);
  assert.equal(reusedPositions, 0);
  const reused = await first(cached, q2.embeds, q2.length, p2);
  assert.equal(reusedPositions, p2.length, 'the second question should reuse the context prefix');
  const fresh = await first(new Generator(bundle), q2.embeds, q2.length);
  assert.ok(maxDiff(l1, fresh) > 1e-3, 'the two questions should lead to different logits (else this test proves nothing)');
  assert.ok(maxDiff(reused, fresh) < 1e-3, `reused prefix changed the logits by ${maxDiff(reused, fresh)}`);

  // Another context under the same generator must not reuse the stale prefix.
  const enc = await encoder.encode(['def totally_different(): pass']);
  const other = builder.build({
    request: 'What does Stack do?',
    context: { softFiles: [{ path: 'x.py', chunks: [{ hash: 'h9', softTokens: enc.softTokens[0] }] }], textChunks: [] },
  });
  const po = contextPrefix(bundle.id, other.pieces)!;
  assert.notEqual(po.key, p1.key);
  const afterSwitch = await first(cached, other.embeds, other.length, po);
  assert.equal(reusedPositions, 0);
  const freshOther = await first(new Generator(bundle), other.embeds, other.length);
  assert.ok(maxDiff(afterSwitch, freshOther) < 1e-3);
});

test('max tokens bounds the answer; stop sequences end it without including the stop text', async () => {
  const built = builder.build(await spec());
  const free = await generator.generate({ embeds: built.embeds, length: built.length, maxTokens: 24, ignoreEos: true });
  assert.ok(free.tokens.length <= 24);
  assert.ok(free.text.length > 0, 'the model produced no text at all');
  // A stop sequence taken from the free run's own text: the stopped run must end right before it.
  const stop = free.text.slice(Math.min(2, free.text.length - 1), Math.min(4, free.text.length));
  const first = free.text.indexOf(stop);
  const deltas: string[] = [];
  const stopped = await generator.generate({
    embeds: built.embeds,
    length: built.length,
    maxTokens: 24,
    ignoreEos: true,
    stop: [stop],
    onText: (d) => deltas.push(d),
  });
  assert.equal(stopped.stopReason, 'stop');
  assert.equal(stopped.text, free.text.slice(0, first));
  assert.equal(deltas.join(''), stopped.text, 'streamed text must equal the final text');
});

test('cancellation stops decoding within one step', async () => {
  const built = builder.build(await spec());
  const controller = new AbortController();
  let tokensAtAbort = -1;
  let steps = 0;
  const out = await generator.generate({
    embeds: built.embeds,
    length: built.length,
    maxTokens: 200,
    ignoreEos: true,
    signal: controller.signal,
    onText: () => {
      steps++;
      if (steps === 3) {
        controller.abort();
        tokensAtAbort = steps;
      }
    },
  });
  assert.equal(out.stopReason, 'cancelled');
  assert.ok(tokensAtAbort > 0);
  assert.ok(out.tokens.length <= tokensAtAbort + 1, `decoded ${out.tokens.length} tokens after abort at ${tokensAtAbort}`);
  const pre = new AbortController();
  pre.abort();
  const none = await generator.generate({ embeds: built.embeds, length: built.length, maxTokens: 10, signal: pre.signal });
  assert.equal(none.stopReason, 'cancelled');
  assert.equal(none.tokens.length, 0);
});

test('a prompt longer than the decoder allows is refused with the limit in the message', async () => {
  const max = bundle.manifest.decoder.maxPositions;
  const h = bundle.manifest.decoder.hiddenSize;
  await assert.rejects(generator.generate({ embeds: new Float32Array(max * h), length: max, maxTokens: 1 }), new RegExp(`at most ${max}`));
});

test('streamed text never splits a multi-byte character', () => {
  const text = 'naïve café → 世界 🎉🚀 done';
  const ids = bundle.decoderTokenizer.encode(text);
  const deltas: string[] = [];
  const stream = new TextStream(bundle, [], (d) => deltas.push(d));
  let sawPartial = false;
  for (let i = 0; i < ids.length; i++) {
    stream.push(ids[i]);
    if (bundle.decoderTokenizer.decode(ids.slice(0, i + 1)).endsWith('\uFFFD')) sawPartial = true;
  }
  const final = stream.finish(false);
  assert.ok(sawPartial, 'the tokenizer split no character across tokens: this test would prove nothing');
  for (const d of deltas) assert.ok(!d.includes('\uFFFD'), `delta ${JSON.stringify(d)} holds a broken character`);
  assert.equal(deltas.join(''), text);
  assert.equal(final, text);
});

test('a partial stop sequence is held back and released when it does not complete', () => {
  const ids = bundle.decoderTokenizer.encode('abc END def');
  const deltas: string[] = [];
  const stream = new TextStream(bundle, ['ENDX'], (d) => deltas.push(d));
  for (const id of ids) stream.push(id);
  assert.equal(stream.finish(false), 'abc END def');
  assert.equal(deltas.join(''), 'abc END def');
});

test('the repetition guard fires on loops, not on ordinary varied text', () => {
  const guard = new RepetitionGuard();
  assert.equal(guard.repeating(new Array(40).fill(7)), true);
  const loop = Array.from({ length: 60 }, (_, i) => [1, 2, 3, 4, 5][i % 5]);
  assert.equal(guard.repeating(loop), true);
  const varied = Array.from({ length: 200 }, (_, i) => (i * 7919) % 1000);
  assert.equal(guard.repeating(varied), false);
  assert.equal(guard.repeating(new Array(10).fill(7)), false);
});

test('sampling: greedy picks the maximum; a seed makes sampling reproducible; tiny top-p is greedy', () => {
  const logits = Float32Array.from({ length: 50 }, (_, i) => Math.sin(i) * 3);
  const argmax = logits.indexOf(Math.max(...logits));
  assert.equal(new Sampler({}).pick(logits), argmax);
  const draw = (seed: number) => {
    const s = new Sampler({ temperature: 1.5, seed });
    return Array.from({ length: 30 }, () => s.pick(logits));
  };
  assert.deepEqual(draw(42), draw(42));
  assert.ok(new Set(draw(42)).size > 1, 'temperature sampling should vary');
  const nucleus = new Sampler({ temperature: 1, topP: 1e-6, seed: 1 });
  for (let i = 0; i < 20; i++) assert.equal(nucleus.pick(logits), argmax);
});
