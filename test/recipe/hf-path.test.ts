// The recipe with Hugging Face models: tiny random BERT + Qwen2 (hidden 32) from a local directory, LoRA,
// a few reconstruction steps on real chunks, export by the same bundle contract, parity in onnxruntime-node.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { checkParity, generate, loadBundle } from '../../models/recipe/checks/bundle';
import { PYTHON, RECIPE, ROOT, ensureVenv, lastJson, run } from './lib/run';

test('HF encoder/decoder path trains and exports a bundle that runs in Node', async () => {
  ensureVenv();
  const tmp = mkdtempSync(path.join(tmpdir(), 'e2code-hf-'));
  try {
    const tokenizer = path.join(ROOT, 'models/default/tokenizer.json');
    run('node', [
      '--import',
      'tsx',
      path.join(RECIPE, 'prep/build.ts'),
      '--out',
      path.join(tmp, 'data'),
      '--tokenizer',
      tokenizer,
      '--max-tokens',
      '64',
      '--split',
      'heldout',
      '--repos',
      'py-json',
    ]);
    const out = path.join(tmp, 'bundle');
    const r = lastJson(
      run(PYTHON, [path.join(RECIPE, 'hf.py'), '--tiny-test', out, '--tokenizer', tokenizer, '--data', path.join(tmp, 'data')], {
        cwd: RECIPE,
      }),
    );
    assert.equal((r.losses as number[]).length, 4);
    const m = JSON.parse(readFileSync(path.join(out, 'manifest.json'), 'utf8'));
    assert.equal(m.decoder.hiddenSize, 32);
    assert.equal(m.decoder.numKeyValueHeads, 2);
    const b = await loadBundle(out);
    const p = await checkParity(b);
    assert.ok(p.max < 1e-3, `parity ${JSON.stringify(p)}`);
    const g = await generate(
      b,
      [{ path: 'x.py', chunkTexts: ['x.py\nx = 1\n'] }],
      [{ path: 'x.py', line: 1, code: 'x = 1' }],
      'What is x?',
      3,
    );
    assert.ok(g.positions > 0);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});
