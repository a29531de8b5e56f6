// train.py's argument rules that decide what a rerun of `npm run train` does: a bad --task-mix (or an align
// option that means nothing with the others) fails before any data loads; a leg's key is its settings that
// differ from their defaults, so an option added later leaves the keys of the legs that do not use it
// unchanged (else a rerun would take a finished, time-capped leg for a new one); and the default run's
// config keeps the legs the shipped bundle was trained with.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
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
  assert.equal(py('from stages.instruct import task_mix\nprint(task_mix("where:2,summary:1"))'), "['where', 'where', 'summary']");
});

test('align: --contrast-weight with --freeze-encoder is refused (there is no encoder training to balance)', () => {
  const r = spawnSync(PYTHON, ['train.py', 'align', '--run', 'no-such-run', '--freeze-encoder', '--contrast-weight', '1'], {
    cwd: RECIPE,
    encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--contrast-weight .*--freeze-encoder/, r.stderr);
});

test('a leg key holds the settings that differ from their defaults: a default is no new leg, another value is, where and how fast are not', () => {
  const keys = py(`import json
base = ['instruct', '--run', 'r', '--steps', '10']
key = lambda extra: train.parse_args(base + extra).leg_key
print(json.dumps([json.loads(key([])), key([]) == key(['--task-mix', 'where:5,what:1,params:1,defines:1,summary:1,complete:1']),
                  key([]) == key(['--task-mix', 'where:1,summary:2']), key([]) == key(['--threads', '2', '--log-every', '5', '--data', 'd', '--out', 'o'])]))`);
  assert.deepEqual(JSON.parse(keys), [{ stage: 'instruct', run: 'r', steps: 10 }, true, false, true]);
});

test('configs/default.toml keeps the legs the shipped bundle was trained with (their keys, as a rerun recognises them)', () => {
  // The shipped bundle's run ("repro") ran train.sh's legs with these settings. A change here would make a
  // rerun of `npm run train` train something else than what produced models/default.
  const out = py(`import json, tomllib
from pathlib import Path
c = tomllib.loads(Path('configs/default.toml').read_text())
over = ['--run', 'default', '--data', 'work/data', '--out', '../default', '--threads', '2']
print(json.dumps({'model': c['model'], 'keys': [train.parse_args(train.config_argv(l, 'default') + over).leg_key for l in c['legs']]}))`);
  const { model, keys } = JSON.parse(out);
  assert.deepEqual(model, { retrieval_query: false }, 'the shipped encoder ranks by its mean vector');
  assert.deepEqual(
    keys.map((k: string) => JSON.parse(k)),
    [
      { stage: 'lm', steps: 600, minutes: 45 },
      { stage: 'copy', init_from: 'lm', lr: 0.001, batch: 32, steps: 1200, minutes: 8 },
      { stage: 'contrast', steps: 2500, minutes: 20 },
      { stage: 'align', freeze_encoder: true, steps: 1500, minutes: 12 },
      {
        stage: 'instruct',
        text_control: true,
        init_from: 'copy',
        lr: 0.001,
        batch: 16,
        extra_questions: 4,
        max_positions: 448,
        steps: 1500,
        minutes: 20,
      },
      {
        stage: 'instruct',
        init_from: 'textctl',
        lr: 0.001,
        batch: 16,
        max_positions: 448,
        text_frac: 0.5,
        extra_questions: 3,
        extra_names: 8,
        recon_frac: 0.15,
        names_weight: 0.5,
        copy_mix: 4,
        lm_mix: 4,
        steps: 2000,
        minutes: 90,
      },
      {
        stage: 'instruct',
        lr: 0.001,
        batch: 16,
        max_positions: 448,
        text_frac: 0.3,
        recon_frac: 0.1,
        names_weight: 0.5,
        copy_mix: 4,
        lm_mix: 4,
        rank_files: true,
        retrieved_frac: 0.15,
        steps: 3000,
        minutes: 60,
      },
      {
        stage: 'instruct',
        lr: 0.001,
        batch: 16,
        max_positions: 448,
        text_frac: 0.3,
        recon_frac: 0.2,
        names_weight: 0.5,
        copy_mix: 4,
        lm_mix: 4,
        rank_files: true,
        retrieved_frac: 0.15,
        task_mix: 'where:3,what:2,params:1,defines:1,summary:4,complete:1',
        steps: 3100,
        minutes: 45,
      },
      { stage: 'export' },
    ],
  );
});

test('a config leg with an unknown setting, or a flag given a non-boolean, is refused with the leg named', () => {
  for (const [leg, message] of [
    ['{"stage": "lm", "stepz": 5}', /leg 1: unknown setting 'stepz'/],
    ['{"stage": "align", "freeze_encoder": "yes"}', /freeze_encoder is true or false/],
  ] as const) {
    const r = spawnSync(
      PYTHON,
      ['-c', `import sys, json; sys.path.insert(0, '.'); import train; train.config_argv(json.loads(sys.argv[1]), 'c.toml: leg 1')`, leg],
      { cwd: RECIPE, encoding: 'utf8' },
    );
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, message, r.stderr);
  }
});

test('train.py run refuses a config whose [model] differs from the encoder shape the run was built with, before any leg trains', () => {
  const id = `cfg-test-${process.pid}`;
  const dir = path.join(RECIPE, 'work', id);
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'model.json'), '{"retrieval_query": true}\n');
    const r = spawnSync(PYTHON, ['train.py', 'run', 'configs/default.toml', '--run', id], { cwd: RECIPE, encoding: 'utf8' });
    assert.notEqual(r.status, 0);
    assert.match(
      r.stderr,
      /\[model\] is \{'retrieval_query': False\}, but run cfg-test-\d+ was built as \{"retrieval_query": true\}/,
      r.stderr,
    );
    assert.deepEqual(readdirSync(dir), ['model.json'], 'no leg started');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('held-out instruct sets hold distinct questions: a small repository is not asked the same thing again and again', () => {
  // Two repositories drawn equally often: "tiny" has one documented function, "big" has twelve. Drawn with
  // repeats, "tiny"'s one question took about half of the set (as tomllib's did: 21 of 120 "what" questions).
  const out = py(`from data import FileRec
def rec(repo, i, name):
    code = f"def {name}():\\n    '''Does thing {i}.'''\\n    return {i}\\n"
    return FileRec(repo, f"m{i}.py", "python", code.encode(), [{"text": code, "startLine": 1, "endLine": 3, "startByte": 0, "endByte": len(code)}],
                   [{"name": name, "line": 1, "kind": "function", "doc": f"Does thing {i}.", "params": []}], "")
held = {"tiny": [rec("tiny", 0, "only_one")], "big": [rec("big", i, f"func_{i}") for i in range(1, 13)]}
from batches import heldout_instruct_set
exs = heldout_instruct_set(held, 10, 4, "soft", 0.0, 1, 3, ["what"])
qs = [(e.meta["request"], e.answer) for e in exs]
print(len(qs), len(set(qs)), sum(q[0] == "What does only_one do?" for q in qs))`);
  assert.equal(out, '10 10 1');
});

test('--prose-files grows "what"/summary contexts from 1 file at the leg\'s start to N by its end, and a resumed leg keeps its start', () => {
  const out = py(`import json
from common import Clock
from loop import Leg
from stages.instruct import prose_files
from train import parse_args
print(json.dumps([prose_files(s, 100, 500, 4) for s in (100, 199, 200, 300, 400, 499, 500)]))
a = parse_args(['instruct', '--run', 'r', '--steps', '500', '--prose-files', '4'])
fresh = Leg(a, {'step': 100, 'legs_done': []}, Clock(60.0))  # a new leg on a checkpoint at step 100
resumed = Leg(a, {'step': 250, **fresh.record()}, Clock(90.0))  # the same leg, resumed at step 250
other = Leg(parse_args(['instruct', '--run', 'r', '--steps', '900']), {'step': 250, **fresh.record()}, Clock(90.0))
print(json.dumps([fresh.start_step, resumed.start_step, other.start_step, 'prose_files' in parse_args(['instruct']).leg_key]))`);
  const [files, starts] = out.split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(files, [1, 1, 2, 3, 4, 4, 4]);
  assert.deepEqual(starts, [100, 100, 250, false]);
});

test("--recap-chunks repeats the ranking's best chunks after the files, each under its file header, as the runtime does", () => {
  const out = py(`import json, random
from data import FileRec, build_example, variant
from common import CHAT_TEMPLATE as T
def rec(i):
    chunks, defs, code = [], [], ""
    for j in range(3):
        part = f"def f{i}_{j}():\\n    '''Does thing {i}.{j}.'''\\n    return {j}\\n"
        chunks.append({"text": part, "startLine": 3 * j + 1, "endLine": 3 * j + 3, "startByte": len(code), "endByte": len(code) + len(part)})
        defs.append({"name": f"f{i}_{j}", "line": 3 * j + 1, "kind": "function", "doc": f"Does thing {i}.{j}.", "params": []})
        code += part
    return FileRec("r", f"m{i}.py", "python", code.encode(), chunks, defs, "")
files = [rec(i) for i in range(3)]
rank = lambda request, fs, labels: [(f, c) for f in reversed(fs) for c in reversed(f.chunks)]  # any fixed ranking
args = dict(n_files=3, max_positions=448, soft_per_chunk=4, task="what", relabel=False, text_mode="soft", hybrid_prob=0.0)
plain = build_example(random.Random(1), files, **args)
ex = build_example(random.Random(1), files, **args, rank=rank, recap_chunks=2)
best = rank(None, ex.meta["files"], None)[:2]
end = ex.segments.index(("text", T["contextEnd"]))
tail = ex.segments[end - 4:end]
print(json.dumps([len(ex.chunk_texts) - len(plain.chunk_texts), [s[1] for s in tail[0::2]] == [T["fileHeader"].replace("{path}", f.path) for f, _ in best],
                  [s[0] for s in tail], ex.chunk_texts[-2:] == [c["text"] for _, c in best],
                  ex.segments[:end - 4] == plain.segments[:plain.segments.index(("text", T["contextEnd"]))],
                  variant(ex, "soft").segments[:end] == ex.segments[:end], "recap_chunks" in train.parse_args(["instruct"]).leg_key]))`);
  const [more, headers, kinds, sameTexts, filesUnchanged, variantKeeps, inKey] = JSON.parse(out);
  assert.equal(more, 2, 'two chunks again');
  assert.equal(headers, true, 'each under its own file header');
  assert.deepEqual(kinds, ['text', 'soft', 'text', 'soft']);
  assert.equal(sameTexts, true, 'the best two of the ranking');
  assert.equal(filesUnchanged, true, 'the files before the recap are as without it');
  assert.equal(variantKeeps, true, 'the evaluation rows keep the recap');
  assert.equal(inKey, false, 'legs without the option keep their keys');
});

test("export's capabilities come from the run's held-out metrics: the shipped bundle's say 'locate' only, prose needs a margin over shuffled soft tokens", () => {
  const script = [
    'import json, sys',
    'from stages.bundle import capabilities_from',
    "m = json.load(open('../default/manifest.json'))['training']['lastMetrics']['instruct']",
    'prose = {"heldout_where_hybrid_path": 0.9, "heldout_what": 0.4, "heldout_what_shuffled": 0.3, "heldout_summary": 0.31, "heldout_summary_shuffled": 0.29}',
    'print(json.dumps([capabilities_from(m), capabilities_from({}), capabilities_from(prose)]))',
  ].join('\n');
  const r = spawnSync(PYTHON, ['-c', script], { cwd: RECIPE, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), [['locate'], [], ['locate', 'explain']]);
});
