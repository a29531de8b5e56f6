// The sidecar's strict frame reader (src/sidecar/framing.ts) over a real stream: frames split anywhere are
// delivered whole and in order; every kind of broken framing is one error, after which nothing more is
// delivered; a frame that stops arriving is an error after the stall limit; `priority` answers ahead.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import type { Message } from 'vscode-jsonrpc/node';
import { FramingError, StrictMessageReader, parseFrameHeader } from '../../src/sidecar/framing';
import { checkPromptFits } from '../../src/sidecar/validate';

function frame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`), body]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function reader(limits = { maxFrameBytes: 1024 * 1024, stallMs: 200 }, priority?: (m: Message) => boolean) {
  const stream = new PassThrough();
  const r = new StrictMessageReader(stream, limits, priority);
  const got: Message[] = [];
  const errors: Error[] = [];
  r.onError((e) => errors.push(e));
  const sub = r.listen((m) => got.push(m));
  return { stream, got, errors, dispose: () => sub.dispose() };
}

test('frame headers: Content-Length must be a byte count within the cap; other headers are checked or ignored', () => {
  assert.equal(parseFrameHeader('Content-Length: 12', 100), 12);
  assert.equal(parseFrameHeader('content-length:7\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8', 100), 7);
  assert.equal(parseFrameHeader('Content-Length: 5\r\nX-Other: y', 100), 5);
  for (const [header, message] of [
    ['hello world', /malformed header line "hello world"/],
    ['Content-Length: -5', /"-5" is not a byte count/],
    ['Content-Length: 2147483648', /2147483648 is outside 1\.\.100/],
    ['Content-Length: 0', /0 is outside/],
    ['Content-Length: 1e3', /"1e3" is not a byte count/],
    ['Content-Length: ', /"" is not a byte count/],
    ['Content-Type: text/plain', /no Content-Length/],
    ['Content-Length: 5\r\nContent-Type: x; charset=latin1', /charset "latin1" is not utf-8/],
  ] as const) {
    assert.throws(
      () => parseFrameHeader(header, 100),
      (e: Error) => e instanceof FramingError && message.test(e.message),
      header,
    );
  }
});

test('frames split at every byte boundary arrive whole, in order', async () => {
  const messages = Array.from({ length: 5 }, (_, i) => ({ jsonrpc: '2.0', id: i, method: 'm', params: { text: 'é'.repeat(i * 7) } }));
  const bytes = Buffer.concat(messages.map(frame));
  for (const step of [1, 2, 3, 7, 64, bytes.length]) {
    const r = reader();
    for (let at = 0; at < bytes.length; at += step) r.stream.write(bytes.subarray(at, at + step));
    await sleep(5);
    assert.deepEqual(r.got, messages, `chunks of ${step}`);
    assert.deepEqual(r.errors, []);
    r.dispose();
  }
});

test('broken framing is one error, and nothing after it is delivered', async () => {
  const cases: [string, Buffer, RegExp][] = [
    ['garbage', Buffer.from('hello world\r\n\r\n'), /malformed header/],
    ['huge length', Buffer.from('Content-Length: 2147483648\r\n\r\n{'), /outside/],
    ['negative length', Buffer.from('Content-Length: -5\r\n\r\n'), /not a byte count/],
    ['a body that is not JSON', Buffer.from('Content-Length: 3\r\n\r\n{{{'), /is not JSON/],
    ['a body that is not an object', Buffer.from('Content-Length: 2\r\n\r\n[]'), /an array, not a JSON-RPC message object/],
    ['a header without end', Buffer.from('X'.repeat(9000)), /no end of a frame header within/],
  ];
  for (const [what, bad, message] of cases) {
    const r = reader();
    r.stream.write(frame({ jsonrpc: '2.0', id: 1, method: 'before' }));
    r.stream.write(bad);
    r.stream.write(frame({ jsonrpc: '2.0', id: 2, method: 'after' }));
    await sleep(5);
    assert.deepEqual(
      r.got.map((m) => (m as { method?: string }).method),
      ['before'],
      what,
    );
    assert.equal(r.errors.length, 1, what);
    assert.match(r.errors[0].message, message, what);
    r.dispose();
  }
});

test('a frame that stops arriving (a header with no body) is an error after the stall limit; a slow but moving one is not', async () => {
  const stalled = reader({ maxFrameBytes: 1024, stallMs: 150 });
  stalled.stream.write('Content-Length: 100\r\n\r\n');
  stalled.stream.write(frame({ jsonrpc: '2.0', id: 1, method: 'swallowed' }).subarray(0, 40));
  await sleep(400);
  assert.equal(stalled.errors.length, 1);
  assert.match(stalled.errors[0].message, /a frame stopped after 40 of its 100 bytes for 150 ms/);
  assert.deepEqual(stalled.got, []);
  stalled.dispose();

  const slow = reader({ maxFrameBytes: 1024, stallMs: 150 });
  const bytes = frame({ jsonrpc: '2.0', id: 1, method: 'slow' });
  for (let at = 0; at < bytes.length; at += 8) {
    slow.stream.write(bytes.subarray(at, at + 8));
    await sleep(40);
  }
  await sleep(300);
  assert.deepEqual(slow.errors, []);
  assert.equal(slow.got.length, 1);
  slow.dispose();
});

test('priority answers a message on arrival, and it is not passed on', async () => {
  const seen: string[] = [];
  const r = reader(undefined, (m) => {
    const method = (m as { method?: string }).method ?? '';
    seen.push(method);
    return method === 'status';
  });
  r.stream.write(Buffer.concat(['a', 'status', 'b'].map((method, id) => frame({ jsonrpc: '2.0', id, method }))));
  await sleep(5);
  assert.deepEqual(seen, ['a', 'status', 'b']);
  assert.deepEqual(
    r.got.map((m) => (m as { method?: string }).method),
    ['a', 'b'],
  );
  r.dispose();
});

test("a prompt that cannot fit the decoder is refused before it is tokenized, with the bundle's numbers", () => {
  assert.doesNotThrow(() => checkPromptFits('x'.repeat(2048 * 76), 2048, 76));
  assert.throws(
    () => checkPromptFits('x'.repeat(2048 * 76 + 1), 2048, 76),
    /"prompt" is too long for this model: 155649 characters, and its decoder holds 2048 positions of at most 76 characters each \(limit 155648\)/,
  );
  assert.doesNotThrow(() => checkPromptFits('x'.repeat(1_000_000), 2048, Infinity), 'no bound without a sound characters-per-token limit');
});
