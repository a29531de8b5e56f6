// `train.py import`: a run continues from a bundle's weights (the work directory does not outlive a
// session; the committed bundle does). The weights must come back exactly, from ONNX files whose weights
// the exporter renamed and transposed, and a bundle of another architecture or tokenizer must be refused.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ensureVenv, PYTHON, RECIPE, run } from './lib/run';

const EXPORT_AND_IMPORT = `
import sys, json, shutil, torch
from pathlib import Path
sys.path.insert(0, '.')
from export import _DecoderWithPast, write_bundle
from runs import latest_modules, model_configs, run_dir
from stages.bundle import import_bundle
from train import parse_args
from model import Adapter, Decoder, Encoder
out, run, mode = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
torch.manual_seed(1)
dec_cfg, enc_cfg, ad_cfg = model_configs(True)
dec, enc, ad = Decoder(dec_cfg), Encoder(enc_cfg), Adapter(ad_cfg)
for m in (dec, enc, ad):  # trained-looking weights: no two tensors alike, norms not all ones
    for p in m.parameters():
        p.data.normal_(0, 0.5)
write_bundle(out, name='imp', encoder=enc.eval(), adapter=ad.eval(), decoder_module=_DecoderWithPast(dec.eval(), dec_cfg.num_layers),
             embed_weight=dec.embed.weight, tokenizer_path=Path('../default/tokenizer.json'),
             enc_info={'vocab': enc_cfg.vocab_size, 'hiddenSize': enc_cfg.hidden_size, 'vectorsPerChunk': enc.outputs,
                       'maxTokens': enc_cfg.max_tokens, 'retrieval': 'last' if enc_cfg.retrieval_query else 'mean'},
             dec_info={'hiddenSize': dec_cfg.hidden_size, 'numLayers': dec_cfg.num_layers, 'numKeyValueHeads': dec_cfg.num_kv_heads,
                       'headDim': dec_cfg.head_dim, 'vocabSize': dec_cfg.vocab_size, 'maxPositions': dec_cfg.max_positions},
             soft_tokens_per_chunk=ad_cfg.soft_tokens_per_chunk, training={})
if mode == 'tokenizer':  # the run already has another tokenizer
    d = run_dir(run); (d / 'tokenizer.json').write_text('{}')
import_bundle(parse_args(['import', '--run', run, '--smoke', '--bundle', str(out)]))
ck = torch.load(run_dir(run) / 'imported.pt', weights_only=False)
same = {name: all(torch.equal(v, ck[name][k]) for k, v in m.state_dict().items()) for name, m in (('decoder', dec), ('encoder', enc), ('adapter', ad))}
latest = latest_modules(parse_args(['align', '--run', run, '--smoke']), upto='align')[3]
print(json.dumps({'same': same, 'bundle': ck['bundle'], 'from': {k: v['stage'] for k, v in latest.items()}}))
`;

function runId(): string {
  return `imp-test-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
}

test("train.py import brings a bundle's decoder, encoder and adapter back exactly, and later stages start from them", () => {
  ensureVenv();
  const out = mkdtempSync(path.join(os.tmpdir(), 'e2code-imp-'));
  const id = runId();
  try {
    const stdout = run(PYTHON, ['-c', EXPORT_AND_IMPORT, out, id, 'ok'], { cwd: RECIPE });
    const r = JSON.parse(stdout.trim().split('\n').pop()!);
    assert.deepEqual(r.same, { decoder: true, encoder: true, adapter: true });
    assert.match(r.bundle, /^imp-[0-9a-f]{16}$/);
    assert.deepEqual(r.from, { decoder: 'imported', encoder: 'imported', adapter: 'imported' });
    assert.match(stdout, /logits within [0-9.e-]+ of decoder\.onnx/);
  } finally {
    rmSync(out, { recursive: true, force: true });
    rmSync(path.join(RECIPE, 'work', id), { recursive: true, force: true });
  }
});

test('train.py import refuses a bundle of another architecture, or with another tokenizer than the run', () => {
  const id = runId();
  try {
    // The default bundle is the full-size model: a smoke run cannot hold it.
    assert.throws(
      () => run(PYTHON, ['train.py', 'import', '--run', id, '--smoke', '--bundle', '../default'], { cwd: RECIPE }),
      /decoder\.onnx: .*(no counterpart|is \[)/,
    );
    const out = mkdtempSync(path.join(os.tmpdir(), 'e2code-imp-'));
    try {
      assert.throws(
        () => run(PYTHON, ['-c', EXPORT_AND_IMPORT, out, `${id}-tok`, 'tokenizer'], { cwd: RECIPE }),
        /another tokenizer than run/,
      );
    } finally {
      rmSync(out, { recursive: true, force: true });
      rmSync(path.join(RECIPE, 'work', `${id}-tok`), { recursive: true, force: true });
    }
    assert.throws(() => run(PYTHON, ['train.py', 'import', '--run', id], { cwd: RECIPE }), /--bundle DIR is required/);
  } finally {
    rmSync(path.join(RECIPE, 'work', id), { recursive: true, force: true });
  }
});

// The committed bundle predates the encoder's retrieval query (it ranks by the mean of its 4 pooled vectors)
// and its adapter has no input slice: `--keep-encoder` continues it as a whole, the run's encoder taking
// the bundle's shape, and the imported encoder and adapter must compute what the bundle's ONNX files compute.
const KEEP_ENCODER = `
import sys, json, torch, numpy as np, onnxruntime as ort
sys.path.insert(0, '.')
from runs import latest_modules, run_dir
from stages.bundle import import_bundle
from train import parse_args
run = sys.argv[1]
import_bundle(parse_args(['import', '--run', run, '--bundle', '../default', '--keep-encoder']))
dec, enc, ad, rec = latest_modules(parse_args(['instruct', '--run', run]))
enc.eval(); ad.eval()
torch.manual_seed(0)
ids = torch.randint(0, enc.cfg.vocab_size, (3, 128)); mask = torch.ones(3, 128, dtype=torch.long); mask[1, 60:] = 0
v = ort.InferenceSession('../default/encoder.onnx').run(None, {'input_ids': ids.numpy(), 'attention_mask': mask.numpy()})[0]
s = ort.InferenceSession('../default/adapter.onnx').run(None, {'chunk_vectors': v})[0]
with torch.no_grad():
    enc_diff = float(np.abs(enc(ids, mask).numpy() - v).max()); ad_diff = float(np.abs(ad(torch.from_numpy(v)).numpy() - s).max())
print(json.dumps({'outputs': enc.outputs, 'retrieval': enc.retrieval_mode, 'from': {k: r['stage'] for k, r in rec.items()},
                  'enc_diff': enc_diff, 'ad_diff': ad_diff, 'model': json.loads((run_dir(run) / 'model.json').read_text())}))
`;

test('train.py import --keep-encoder continues the committed bundle as a whole (an encoder without the retrieval query)', () => {
  ensureVenv();
  const id = runId();
  try {
    const r = JSON.parse(run(PYTHON, ['-c', KEEP_ENCODER, id], { cwd: RECIPE }).trim().split('\n').pop()!);
    assert.deepEqual(r.model, { retrieval_query: false });
    assert.equal(r.outputs, 4);
    assert.equal(r.retrieval, 'mean');
    assert.deepEqual(r.from, { decoder: 'imported', encoder: 'imported', adapter: 'imported' });
    assert.ok(r.enc_diff < 1e-4, `encoder differs from encoder.onnx by ${r.enc_diff}`);
    assert.ok(r.ad_diff < 1e-4, `adapter differs from adapter.onnx by ${r.ad_diff}`);
  } finally {
    rmSync(path.join(RECIPE, 'work', id), { recursive: true, force: true });
  }
});
