import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { reciprocalRankFusion } from '../../src/core/retrieve/fuse';

const close = (a: number, b: number) => assert.ok(Math.abs(a - b) < 1e-12, `${a} != ${b}`);

describe('reciprocalRankFusion', () => {
  test('scores are sums of 1 / (k + rank), rank from 1, k = 60 by default', () => {
    const fused = reciprocalRankFusion([
      ['a', 'b', 'c'],
      ['c', 'a'],
    ]);
    assert.deepEqual(
      fused.map((h) => h.hash),
      ['a', 'c', 'b'],
    );
    close(fused[0].score, 1 / 61 + 1 / 62);
    close(fused[1].score, 1 / 63 + 1 / 61);
    close(fused[2].score, 1 / 62);
  });

  test('an item high in both rankings beats one first in only one', () => {
    const fused = reciprocalRankFusion([
      ['x', 'both', 'p', 'q'],
      ['y', 'both', 'r', 's'],
    ]);
    assert.equal(fused[0].hash, 'both');
  });

  test('k changes how much the top ranks dominate', () => {
    // top: first in one ranking only; steady: third in both.
    const lists = [
      ['top', 'x', 'steady'],
      ['y', 'z', 'steady'],
    ];
    assert.equal(reciprocalRankFusion(lists).at(0)?.hash, 'steady'); // 2/63 > 1/61
    assert.equal(reciprocalRankFusion(lists, { k: 0 }).at(0)?.hash, 'top'); // 1 > 2/3
  });

  test('weights scale each ranking', () => {
    const lists = [
      ['a', 'b'],
      ['b', 'a'],
    ];
    assert.deepEqual(
      reciprocalRankFusion(lists, { weights: [2, 1] }).map((h) => h.hash),
      ['a', 'b'],
    );
    assert.deepEqual(
      reciprocalRankFusion(lists, { weights: [1, 2] }).map((h) => h.hash),
      ['b', 'a'],
    );
    close(reciprocalRankFusion(lists, { weights: [2, 1] })[0].score, 2 / 61 + 1 / 62);
  });

  test('ties keep the order items were first met, ranking by ranking', () => {
    const fused = reciprocalRankFusion([['p', 'q'], ['r', 's'], ['t']]);
    assert.deepEqual(
      fused.map((h) => h.hash),
      ['p', 'r', 't', 'q', 's'],
    );
    assert.deepEqual(
      reciprocalRankFusion([['s'], ['r']]).map((h) => h.hash),
      ['s', 'r'],
    );
  });

  test('a repeated id in one ranking counts once, at its best rank', () => {
    const fused = reciprocalRankFusion([['a', 'a', 'b']]);
    assert.deepEqual(
      fused.map((h) => h.hash),
      ['a', 'b'],
    );
    close(fused[0].score, 1 / 61);
    close(fused[1].score, 1 / 63);
  });

  test('empty input gives an empty result', () => {
    assert.deepEqual(reciprocalRankFusion([]), []);
    assert.deepEqual(reciprocalRankFusion([[], []]), []);
  });

  test('bad options are clear errors', () => {
    assert.throws(() => reciprocalRankFusion([['a'], ['b']], { weights: [1] }), /1 weights for 2 rankings/);
    assert.throws(() => reciprocalRankFusion([['a']], { k: -1 }), /k must be/);
    assert.throws(() => reciprocalRankFusion([['a']], { k: Number.NaN }), /k must be/);
    assert.throws(() => reciprocalRankFusion([['a']], { weights: [Number.POSITIVE_INFINITY] }), /weights must be/);
  });
});
