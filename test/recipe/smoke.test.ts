// `npm run train -- --smoke`: every stage a few steps on real corpus files, export, load in Node, generate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { lastJson, run, RECIPE } from './lib/run';

test('train --smoke runs every stage, exports a bundle that loads and generates in Node', () => {
  const out = mkdtempSync(path.join(tmpdir(), 'e2code-smoke-'));
  try {
    const t0 = Date.now();
    const stdout = run('bash', [path.join(RECIPE, 'train.sh'), '--smoke', '--out', out], { timeoutMs: 900_000 });
    const seconds = (Date.now() - t0) / 1000;
    for (const stage of ['"stage": "lm"', '"stage": "contrast"', '"stage": "align"', '"stage": "textctl"', '"stage": "instruct"']) {
      assert.ok(stdout.includes(stage), `no ${stage} in output`);
    }
    // Resume: rerunning a leg that finished (lm by its steps, copy by its --minutes) does nothing; a time-capped
    // leg is not extended by the rerun (its cap counts across resumes).
    for (const stage of ['lm', 'copy']) {
      assert.ok(stdout.includes(`${stage}: this leg finished earlier`), `the rerun of ${stage} did not skip it`);
      const stops = stdout.split('\n').filter((l) => l.startsWith(`{"stage": "${stage}"`) && l.includes('"event": "stop"'));
      assert.equal(stops.length, 1, `${stage} stopped ${stops.length} times`);
    }
    const copyStop = JSON.parse(stdout.split('\n').find((l) => l.startsWith('{"stage": "copy"') && l.includes('"event": "stop"'))!);
    assert.ok(copyStop.step < 100_000, 'copy stopped at its time cap, not its step cap');
    // The last instruct leg (--rank-files --pointer-weight) evaluates lookup in drawn order, the shuffled-soft
    // control and the pointer head's hit rate.
    for (const key of [
      'heldout_where_drawn_path',
      'heldout_where_drawn_shuffled_path',
      'heldout_where_soft_shuffled_path',
      'heldout_where_drawn_pointer',
    ]) {
      assert.match(stdout, new RegExp(`"${key}": [0-9.]+`), `no ${key} in the instruct rows`);
    }
    // Alignment reports its shuffled-soft-token control; the leg that trains the encoder also its retrieval.
    const alignStops = stdout
      .split('\n')
      .filter((l) => l.startsWith('{"stage": "align"') && l.includes('"event": "stop"'))
      .map((l) => JSON.parse(l));
    assert.equal(alignStops.length, 2, 'two align legs');
    assert.ok(
      alignStops.every((r) => typeof r.heldout_recon_token_acc_shuffled === 'number'),
      'no shuffled control in align',
    );
    assert.equal(alignStops[0].heldout_retrieval_top1, undefined, 'the frozen-encoder leg has no retrieval to watch');
    assert.equal(typeof alignStops[1].heldout_retrieval_top1, 'number', 'the encoder-training leg watches retrieval');
    assert.equal(alignStops[1].step, 12);
    // The last leg is weighted by --task-mix (as the full run's summary leg) and scores summaries (ROUGE-L).
    const instructRows = stdout.split('\n').filter((l) => l.startsWith('{"stage": "instruct"'));
    assert.match(instructRows[instructRows.length - 1], /"heldout_summary": [0-9.]+/, 'the last instruct row has no summary score');
    // Its mix has "what" (trained with --focus-frac): prose rows come with their shuffled-soft control.
    for (const key of ['heldout_what', 'heldout_what_shuffled', 'heldout_summary_shuffled']) {
      assert.match(instructRows[instructRows.length - 1], new RegExp(`"${key}": [0-9.]+`), `no ${key} in the last instruct row`);
    }
    assert.equal(JSON.parse(instructRows[instructRows.length - 1]).step, 10, 'the --task-mix leg continued the checkpoint to its --steps');
    const report = lastJson(stdout) as { parity: { max: number }; generatedIds: number[]; positions: number };
    assert.ok(report.parity.max < 1e-3, `parity ${report.parity.max}`);
    assert.ok(report.positions > 0);
    assert.ok(Array.isArray(report.generatedIds));
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(m.training.smoke, true);
    // The recipe's encoder has a retrieval query: one pooled vector more than the adapter reads, ranked alone.
    assert.equal(m.encoder.retrieval, 'last');
    assert.equal(m.encoder.vectorsPerChunk, m.training.configs.encoder.vectors_per_chunk + 1);
    assert.equal(m.decoder.contextOrder, 'relevance', 'the smoke instruct run trains with --rank-files; the manifest says so');
    // The context size comes from the instruct checkpoint (the smoke run trains at 160 positions), not a flag.
    assert.equal(m.decoder.contextPositions, 160);
    // What the bundle can do is stated, from its held-out metrics; this recipe never claims to write code.
    assert.ok(Array.isArray(m.capabilities) && !m.capabilities.includes('generate'), JSON.stringify(m.capabilities));
    assert.equal(m.decoder.recapChunks, 1, 'the last smoke instruct leg trains with --recap-chunks 1; the manifest says so');
    for (const s of ['lm', 'contrast', 'align', 'instruct']) assert.ok(m.training.stageWallSeconds[s] > 0, `stage ${s} did not train`);
    assert.ok(existsSync(path.join(out, 'decoder.onnx')));
    console.log(`smoke: ${seconds.toFixed(0)} s`);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});
