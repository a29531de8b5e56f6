// `train.py sweep` (the compression sweep, issue 21) in smoke mode: a tiny model, two arms, a few steps each.
// Every arm starts from the run's decoder and encoder trunk with new pooling queries and a new adapter of its
// own size, and writes held-out reconstruction rows with its own and shuffled soft tokens (and, at the end,
// none, with intervals); a finished arm is skipped when the sweep runs again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ensureVenv, PYTHON, RECIPE, run } from './lib/run';

function file(repo: string, i: number): string {
  const chunks = [];
  let code = '';
  for (let j = 0; j < 3; j++) {
    const part = `def f${i}_${j}(x):\n    """Return x plus ${j}."""\n    return x + ${i * 10 + j}\n`;
    chunks.push({
      text: `${repo}/m${i}.py\n${part}`,
      startLine: 3 * j + 1,
      endLine: 3 * j + 3,
      startByte: code.length,
      endByte: code.length + part.length,
    });
    code += part;
  }
  return JSON.stringify({ repo, path: `m${i}.py`, language: 'python', content: code, chunks, defs: [], moduleDoc: '' });
}

test('the sweep trains one arm per soft-token count and logs own, shuffled and no-context reconstruction', () => {
  ensureVenv();
  const runName = `sweep-test-${process.pid}`;
  const work = path.join(RECIPE, 'work', runName);
  const data = path.join(RECIPE, 'work', `data-${runName}`);
  try {
    mkdirSync(work, { recursive: true });
    mkdirSync(data, { recursive: true });
    copyFileSync(path.join(RECIPE, '../default/tokenizer.json'), path.join(work, 'tokenizer.json'));
    writeFileSync(path.join(work, 'model.json'), '{"retrieval_query": false}\n'); // the shipped encoder's shape, as after import --keep-encoder
    writeFileSync(path.join(data, 'train.jsonl'), [0, 1, 2, 3].map((i) => file('a', i)).join('\n') + '\n');
    writeFileSync(path.join(data, 'heldout.jsonl'), [4, 5, 6].map((i) => file('b', i)).join('\n') + '\n');
    const args = [
      'train.py',
      'sweep',
      '--run',
      runName,
      '--smoke',
      '--data',
      data,
      '--arms',
      '2,4',
      '--steps',
      '4',
      '--eval-every',
      '2',
      '--batch',
      '4',
      '--threads',
      '2',
      '--no-bf16',
    ];
    run(PYTHON, args, { cwd: RECIPE });
    const rows = readFileSync(path.join(work, 'sweep.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    for (const arm of [2, 4]) {
      const own = rows.filter((r) => r.arm === arm);
      assert.deepEqual(
        own.map((r) => r.step),
        [0, 2, 4],
        `arm ${arm}: an evaluation at steps 0, 2 and the end`,
      );
      for (const r of own) {
        assert.ok(r.own >= 0 && r.own <= 1 && r.shuffled >= 0 && r.shuffled <= 1, `arm ${arm} step ${r.step}: accuracies`);
        assert.equal(r.gap, Math.round((r.own - r.shuffled) * 1e4) / 1e4);
      }
      const final = own[own.length - 1];
      assert.equal(final.event, 'final');
      assert.equal(typeof final.none, 'number', 'no-context row at the end');
      assert.equal(final.gap_ci95.length, 2);
      assert.ok(final.gap_ci95[0] <= final.gap && final.gap <= final.gap_ci95[1], 'the interval holds the gap');
      assert.equal(final.compression, 64 / arm, 'smoke chunks are 64 tokens');
    }
    // The arms' modules: the base trunk as it is, as many pooling queries and soft tokens as the arm's count.
    const check = run(
      PYTHON,
      [
        '-c',
        `import sys, json, torch; sys.path.insert(0, '.')
from runs import latest_modules
from stages.sweep import arm_modules
from train import parse_args
dec, enc, ad, _ = latest_modules(parse_args(['sweep', '--run', '${runName}', '--smoke']))
out = {}
for n in (2, 4):
    ck = torch.load('work/${runName}/sweep-%d.pt' % n, weights_only=False)
    d2, e2, a2 = arm_modules(dec, enc, ad, n, seed=0)
    trunk = all(torch.equal(v, enc.state_dict()[k]) for k, v in e2.state_dict().items() if k != 'queries')
    out[n] = [ck['finished'], ck['configs']['encoder']['vectors_per_chunk'], ck['configs']['adapter']['soft_tokens_per_chunk'],
              list(e2.queries.shape), trunk, all(torch.equal(v, dec.state_dict()[k]) for k, v in d2.state_dict().items()),
              list(a2(torch.zeros(3, e2.outputs, e2.cfg.hidden_size)).shape)]
print(json.dumps(out))`,
      ],
      { cwd: RECIPE },
    );
    const modules = JSON.parse(check.trim().split('\n').pop()!);
    assert.deepEqual(modules['2'], [true, 2, 2, [2, 64], true, true, [3, 2, 64]]);
    assert.deepEqual(modules['4'], [true, 4, 4, [4, 64], true, true, [3, 4, 64]]);
    // Running the sweep again skips the finished arms (no new rows).
    const again = run(PYTHON, args, { cwd: RECIPE });
    assert.match(again, /arm 2 finished earlier/);
    assert.match(again, /arm 4 finished earlier/);
    assert.equal(readFileSync(path.join(work, 'sweep.jsonl'), 'utf8').trim().split('\n').length, rows.length);
    // With --minutes each arm trains for that much wall time (evaluation not counted), whatever the step count.
    rmSync(path.join(work, 'sweep.jsonl'));
    for (const arm of [2, 4]) rmSync(path.join(work, `sweep-${arm}.pt`));
    const timed = args.map((a, i) => (args[i - 1] === '--steps' ? '1000000' : args[i - 1] === '--eval-every' ? '1000000' : a));
    run(PYTHON, [...timed, '--arms', '2', '--minutes', '0.03'], { cwd: RECIPE });
    const timedRows = readFileSync(path.join(work, 'sweep.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const last = timedRows[timedRows.length - 1];
    assert.equal(last.event, 'final');
    assert.equal(last.budget_min, 0.03);
    assert.equal(last.total_steps, undefined, 'a time budget, not a step count');
    assert.ok(last.step >= 1 && last.step < 1000000, `trained some steps, not all: ${last.step}`);
    // wall_s and eval_s are each logged rounded to 0.1 s, so their difference may read up to 0.1 s short.
    const trained = last.wall_s - last.eval_s;
    assert.ok(trained >= 1.8 - 0.1 - 1e-9, `trained at least the budget (1.8 s): ${trained}`);
    // A bad --arms fails before any data loads.
    assert.throws(
      () => run(PYTHON, ['train.py', 'sweep', '--run', runName, '--arms', '4,x'], { cwd: RECIPE }),
      /--arms wants soft-token counts/,
    );
  } finally {
    rmSync(work, { recursive: true, force: true });
    rmSync(data, { recursive: true, force: true });
  }
});
