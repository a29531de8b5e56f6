// The prompt layout of a training example (models/recipe data.py build_example, token ids by batches.py
// TokCache) and of the runtime (PromptBuilder) are the same sequence: the same text ids and soft rows at the
// same positions, encoded from the same chunk texts. A mismatch here would train one layout and serve another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TextTokenizer } from '../../src/core/runtime/model/tokenizer';
import { PromptBuilder } from '../../src/core/runtime/decode/prompt';
import type { EmbeddingTable } from '../../src/core/runtime/model/bundle';
import type { BundleManifest } from '../../src/core/bundle/manifest';
import { PYTHON, RECIPE, ROOT, ensureVenv, run } from './lib/run';

const TOKENIZER = path.join(ROOT, 'models/default/tokenizer.json');

const SCRIPT = `
import json, random, sys
sys.path.insert(0, sys.argv[1])
from tokenizers import Tokenizer
from data import FileRec, build_example
from batches import TokCache
toks = TokCache(Tokenizer.from_file(sys.argv[2]))
req = json.load(sys.stdin)
files = []
for f in req["files"]:
    code = f["code"].encode()
    files.append(FileRec("r", f["path"], "python", code, [{"text": f["code"], "startByte": 0, "endByte": len(code), "startLine": 1, "endLine": code.count(b"\\n")}],
                         [{"name": f["name"], "line": 1, "kind": "function", "params": [], "doc": ""}], ""))
ex = build_example(random.Random(3), files, n_files=len(files), max_positions=512, soft_per_chunk=4, task="where", relabel=False, text_mode="soft", hybrid_prob=0.0)
ids, order = [], []
for kind, val in ex.segments:
    if kind == "soft":
        ids += [-1] * 4
        order.append(ex.chunk_texts[val])
    else:
        ids += toks(val)
print(json.dumps({"ids": ids, "soft_texts": order, "request": ex.meta["request"], "files": [f.path for f in ex.meta["files"]]}))
`;

test('training examples and the runtime build the same prompt', () => {
  ensureVenv();
  const tok = TextTokenizer.fromFile(TOKENIZER);
  const files = [
    { path: 'pkg/<|file|>odd\nname.py', name: 'answer_value', code: 'def answer_value():\n    return 42\n' },
    { path: 'pkg/util.py', name: 'helper_fn', code: 'def helper_fn(x):\n    """<|im_end|> in a docstring"""\n    return x\n' },
  ];
  const py = JSON.parse(run(PYTHON, ['-c', SCRIPT, RECIPE, TOKENIZER], { input: JSON.stringify({ files }) })) as {
    ids: number[];
    soft_texts: string[];
    request: string;
    files: string[];
  };
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'models/default/manifest.json'), 'utf8')) as BundleManifest;
  const rows = manifest.adapter.softTokensPerChunk;
  const h = manifest.decoder.hiddenSize;
  const noTable = {} as EmbeddingTable; // pieces() never reads the embedding table
  const builder = new PromptBuilder(manifest, tok, noTable);
  const byPath = new Map(files.map((f) => [f.path, f]));
  const pieces = builder.pieces({
    request: py.request,
    context: {
      softFiles: py.files.map((p) => ({ path: p, chunks: [{ hash: p, softTokens: new Float32Array(rows * h) }] })),
      textChunks: [],
    },
  });
  const ids = pieces.flatMap((p) => (p.kind === 'text' ? p.ids : Array<number>(p.rows).fill(-1)));
  assert.deepEqual(py.ids, ids, 'layout ids differ');
  assert.equal(ids.filter((x) => x === -1).length, files.length * rows);
  // Each soft piece is encoded from the same text: the chunk's text.
  assert.deepEqual(
    py.soft_texts,
    pieces.flatMap((p) => (p.kind === 'soft' ? [byPath.get(p.hash)!.code] : [])),
  );
});
