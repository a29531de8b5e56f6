// One refresh per root at a time (SerialRuns): what the engine's workspaces and the model-free index share.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SerialRuns } from '../../src/core/runtime/workspace/serialRuns';

function deferred(): { promise: Promise<void>; resolve: () => void; reject: (e: Error) => void } {
  let resolve!: () => void;
  let reject!: (e: Error) => void;
  const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

test('runs of one root wait for each other, even after a failure; runs of other roots do not wait', async () => {
  const runs = new SerialRuns<string>();
  const log: string[] = [];
  const first = deferred();
  const a1 = runs.run('/a', async () => {
    log.push('a1 start');
    await first.promise;
    log.push('a1 end');
    return 'a1';
  });
  const a2 = runs.run('/a', async () => {
    log.push('a2 start');
    return 'a2';
  });
  const b1 = runs.run('/b', async () => {
    log.push('b1 start');
    return 'b1';
  });
  assert.equal(await b1, 'b1');
  assert.deepEqual(log, ['a1 start', 'b1 start'], 'b runs while a1 is in flight; a2 waits');
  assert.equal(runs.inFlight('/a'), a2, 'the last queued run of /a');
  first.reject(new Error('a1 failed'));
  await assert.rejects(a1, /a1 failed/);
  assert.equal(await a2, 'a2', 'the next run goes on after a failed one');
  assert.deepEqual(log, ['a1 start', 'b1 start', 'a2 start']);
  await new Promise((r) => setImmediate(r));
  assert.equal(runs.inFlight('/a'), undefined, 'settled runs are forgotten');
  assert.equal(runs.inFlight('/b'), undefined);
});
