// The sidecar's generate queue: one at a time, in order, bounded, and never stranded by cancellations.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { QueueFullError, Turns } from '../../src/sidecar/turns';

const tick = () => new Promise((r) => setImmediate(r));

/** A job that runs until released, recording when it started. */
function job(log: string[], name: string) {
  let release!: () => void;
  const done = new Promise<void>((r) => (release = r));
  return {
    release: () => release(),
    work: async () => {
      log.push(`start ${name}`);
      await done;
      log.push(`end ${name}`);
      return name;
    },
  };
}

test('runs one at a time, in arrival order', async () => {
  const turns = new Turns(8);
  const log: string[] = [];
  const jobs = ['a', 'b', 'c'].map((n) => job(log, n));
  const results = jobs.map((j) => turns.run(new AbortController().signal, j.work, () => 'cancelled'));
  await tick();
  assert.deepEqual(log, ['start a']);
  assert.equal(turns.queueLength, 2);
  jobs[0].release();
  await tick();
  assert.deepEqual(log, ['start a', 'end a', 'start b']);
  jobs[1].release();
  jobs[2].release();
  assert.deepEqual(await Promise.all(results), ['a', 'b', 'c']);
  assert.equal(turns.running, false);
  assert.equal(turns.queueLength, 0);
});

test('refuses beyond the limit, counting the running request', async () => {
  const turns = new Turns(2);
  const log: string[] = [];
  const a = job(log, 'a');
  const b = job(log, 'b');
  const ra = turns.run(new AbortController().signal, a.work, () => 'x');
  const rb = turns.run(new AbortController().signal, b.work, () => 'x');
  await assert.rejects(
    turns.run(
      new AbortController().signal,
      async () => 'c',
      () => 'x',
    ),
    (e: Error) => {
      assert.ok(e instanceof QueueFullError);
      assert.match(e.message, /2 generate requests already running or queued \(limit 2\)/);
      return true;
    },
  );
  a.release();
  b.release();
  assert.deepEqual(await Promise.all([ra, rb]), ['a', 'b']);
});

test('a waiter cancelled while queued leaves at once and the rest still run', async () => {
  const turns = new Turns(8);
  const log: string[] = [];
  const a = job(log, 'a');
  const c = job(log, 'c');
  const stop = new AbortController();
  const ra = turns.run(new AbortController().signal, a.work, () => 'cancelled');
  const rb = turns.run(
    stop.signal,
    async () => 'b',
    () => 'cancelled',
  );
  const rc = turns.run(new AbortController().signal, c.work, () => 'cancelled');
  stop.abort();
  assert.equal(await rb, 'cancelled');
  assert.equal(turns.queueLength, 1);
  a.release();
  c.release();
  assert.deepEqual(await Promise.all([ra, rc]), ['a', 'c']);
  assert.equal(turns.running, false);
});

test('a request cancelled before it queued never takes a turn and strands nobody', async () => {
  const turns = new Turns(8);
  const log: string[] = [];
  const a = job(log, 'a');
  const ra = turns.run(new AbortController().signal, a.work, () => 'cancelled');
  const gone = new AbortController();
  gone.abort(); // e.g. $/cancelRequest arrived before the handler ran
  const rb = turns.run(
    gone.signal,
    async () => 'b',
    () => 'cancelled',
  );
  const c = job(log, 'c');
  const rc = turns.run(new AbortController().signal, c.work, () => 'cancelled');
  assert.equal(await rb, 'cancelled');
  a.release();
  c.release();
  assert.deepEqual(await Promise.all([ra, rc]), ['a', 'c']);
  assert.equal(turns.running, false);
  assert.equal(turns.queueLength, 0);
});

test('a failing request passes its turn on', async () => {
  const turns = new Turns(8);
  const ra = turns.run(
    new AbortController().signal,
    async () => {
      await tick();
      throw new Error('boom');
    },
    () => 'cancelled',
  );
  const rb = turns.run(
    new AbortController().signal,
    async () => 'b',
    () => 'cancelled',
  );
  await assert.rejects(ra, /boom/);
  assert.equal(await rb, 'b');
  assert.equal(turns.running, false);
});

test('many requests with random cancellations all settle and leave the queue empty', async () => {
  const turns = new Turns(1000);
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  let concurrent = 0;
  let maxConcurrent = 0;
  const runs = Array.from({ length: 300 }, () => {
    const c = new AbortController();
    const r = rand();
    if (r < 0.2) c.abort();
    else if (r < 0.5) setTimeout(() => c.abort(), Math.floor(rand() * 20));
    return turns.run(
      c.signal,
      async () => {
        concurrent++;
        maxConcurrent = Math.max(maxConcurrent, concurrent);
        await new Promise((res) => setTimeout(res, Math.floor(rand() * 3)));
        concurrent--;
        return 'ran';
      },
      () => 'cancelled',
    );
  });
  const out = await Promise.all(runs);
  assert.equal(maxConcurrent, 1);
  assert.ok(out.includes('ran') && out.includes('cancelled'));
  assert.equal(turns.running, false);
  assert.equal(turns.queueLength, 0);
});
