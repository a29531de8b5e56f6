// The committed default bundle: the contract's fields and files, size, and onnxruntime-node parity with PyTorch.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { checkParity, generate, loadBundle } from '../../models/recipe/checks/bundle';
import { ROOT } from './lib/run';

const DIR = path.join(ROOT, 'models/default');

test('default bundle: manifest, files and size', () => {
  const m = JSON.parse(readFileSync(path.join(DIR, 'manifest.json'), 'utf8'));
  assert.equal(m.formatVersion, 1);
  for (const f of [m.encoder.file, m.adapter.file, m.decoder.file, m.decoder.embeddings.file, m.decoder.tokenizer, m.encoder.tokenizer]) {
    assert.ok(statSync(path.join(DIR, f)).size > 0, f);
  }
  const { vocabSize, hiddenSize, numKeyValueHeads, headDim } = m.decoder;
  assert.equal(statSync(path.join(DIR, m.decoder.embeddings.file)).size, vocabSize * hiddenSize * 4);
  assert.equal(numKeyValueHeads * headDim <= hiddenSize, true);
  const total = readdirSync(DIR).reduce((n, f) => n + statSync(path.join(DIR, f)).size, 0);
  assert.ok(total < 50e6, `bundle is ${total} bytes`);
  const tok = JSON.parse(readFileSync(path.join(DIR, m.decoder.tokenizer), 'utf8'));
  const special = new Map<string, number>(tok.added_tokens.map((t: { content: string; id: number }) => [t.content, t.id]));
  assert.deepEqual(m.eosTokenIds, [special.get(m.specialTokens.endOfTurn), special.get(m.specialTokens.eos)]);
  assert.ok(m.chatTemplate.fileHeader.includes('{path}') && m.chatTemplate.textChunkHeader.includes('{line}'));
  assert.ok(m.training && typeof m.training === 'object' && 'modules' in m.training);
});

test('default bundle: onnxruntime-node reproduces PyTorch (max abs diff < 1e-3) and generates', async () => {
  const b = await loadBundle(DIR);
  assert.deepEqual(b.decoder.inputNames.slice(0, 3), ['inputs_embeds', 'attention_mask', 'position_ids']);
  assert.equal(b.decoder.inputNames.length, 3 + 2 * b.manifest.decoder.numLayers);
  assert.ok(b.decoder.outputNames.includes(`present.${b.manifest.decoder.numLayers - 1}.value`));
  const p = await checkParity(b);
  assert.ok(p.max < 1e-3, `parity ${JSON.stringify(p)}`);
  assert.ok(p.nextTokenMatches);
  const g = await generate(b, [{ path: 'a.py', chunkTexts: ['a.py\ndef f():\n    return 1\n'] }], [], 'What does f do?', 4);
  assert.ok(g.positions > b.manifest.adapter.softTokensPerChunk);
  assert.ok(g.ids.every((id) => id >= 0 && id < b.manifest.decoder.vocabSize));
});

test('corpus: training and held-out repositories never overlap', () => {
  const c = JSON.parse(readFileSync(path.join(ROOT, 'models/recipe/corpus.json'), 'utf8'));
  const key = (r: { root: string; dir: string }) => `${r.root}/${r.dir}`;
  const trainAll = [...c.train, ...(c.train_more ?? [])]; // train_more: prep/build.ts --with-more
  const train = new Set<string>(trainAll.map(key));
  for (const r of c.heldout) {
    assert.ok(!train.has(key(r)), `${key(r)} in both`);
    // A held-out directory must not sit inside a (non-flat) training directory either.
    for (const t of trainAll) if (!t.flat && t.root === r.root) assert.ok(!r.dir.startsWith(`${t.dir}/`), `${r.dir} inside ${t.dir}`);
  }
  const names = [...trainAll, ...c.heldout].map((r: { name: string }) => r.name);
  assert.equal(new Set(names).size, names.length);
});
