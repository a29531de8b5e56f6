// The grounded metric: an answer's top source is the defining file at the definition's line.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { groundedMatch } from '../../../src/core/eval/metrics';

test("grounded: the top source is the definition's file and first line", () => {
  const def = { path: 'command.go', line: 1297 };
  assert.equal(groundedMatch({ path: 'command.go', line: 1297 }, def), 1);
  assert.equal(groundedMatch({ path: ' command.go ', line: 1297 }, def), 1);
  assert.equal(groundedMatch({ path: 'command.go', line: 1298 }, def), 0, 'a line off is not grounded');
  assert.equal(groundedMatch({ path: 'command_test.go', line: 1297 }, def), 0);
  assert.equal(groundedMatch(undefined, def), 0, 'no source');
});
