// train.py's argument rules that decide what a rerun of `npm run train` does: a bad --task-mix (or an align
// option that means nothing with the others) fails before any data loads, and an option added after
// checkpoints began recording legs leaves the keys of the legs that did not use it unchanged (else a rerun
// would take a finished, time-capped leg for a new one).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { ensureVenv, PYTHON, RECIPE, run } from './lib/run';

function py(code: string): string {
  return run(PYTHON, ['-c', `import sys; sys.path.insert(0, '.'); import train\n${code}`], { cwd: RECIPE }).trim();
}

test('a bad --task-mix is refused with the rule, before any data loads', () => {
  ensureVenv();
  for (const bad of ['wher:2', 'where:x', 'where:0']) {
    const r = spawnSync(PYTHON, ['train.py', 'instruct', '--run', 'no-such-run', '--task-mix', bad], { cwd: RECIPE, encoding: 'utf8' });
    assert.notEqual(r.status, 0, `--task-mix ${bad} was accepted`);
    assert.match(r.stderr, /--task-mix/, r.stderr);
  }
  assert.equal(py('print(train.task_mix("where:2,summary:1"))'), "['where', 'where', 'summary']");
});

test('align: --contrast-weight with --freeze-encoder is refused (there is no encoder training to balance)', () => {
  const r = spawnSync(PYTHON, ['train.py', 'align', '--run', 'no-such-run', '--freeze-encoder', '--contrast-weight', '1'], { cwd: RECIPE, encoding: 'utf8' });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--contrast-weight .*--freeze-encoder/, r.stderr);
});

test('--task-mix at its default leaves a leg key as before the option existed; another value makes a new leg', () => {
  const keys = py(`import json
base = ['instruct', '--run', 'r', '--steps', '10']
plain = json.loads(train.leg_key(train.parse_args(base)))
print('task_mix' in plain, train.leg_key(train.parse_args(base)) == train.leg_key(train.parse_args(base + ['--task-mix', 'where:5,what:1,params:1,defines:1,summary:1,complete:1'])),
      train.leg_key(train.parse_args(base)) == train.leg_key(train.parse_args(base + ['--task-mix', 'where:1,summary:2'])))`);
  assert.equal(keys, 'False True False');
});
