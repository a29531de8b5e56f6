// The prompt layout of a training example (models/recipe data.py build_example + add_query, token ids by
// train.py TokCache) and of the runtime (PromptBuilder) are the same sequence: the same text ids, soft rows
// at the same positions, and the request's own soft tokens (decoder.querySoftTokens) right after the
// request, encoded from the same text. A mismatch here would train one layout and serve another.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { TextTokenizer } from '../../src/core/runtime/tokenizer';
import { PromptBuilder } from '../../src/core/runtime/prompt';
import type { EmbeddingTable } from '../../src/core/runtime/bundle';
import type { BundleManifest } from '../../src/core/bundle/manifest';
import { PYTHON, RECIPE, ROOT, ensureVenv, run } from './lib/run';

const TOKENIZER = path.join(ROOT, 'models/default/tokenizer.json');

const SCRIPT = `
import json, random, sys
sys.path.insert(0, sys.argv[1])
from tokenizers import Tokenizer
from data import FileRec, add_query, build_example
from train import TokCache
toks = TokCache(Tokenizer.from_file(sys.argv[2]))
req = json.load(sys.stdin)
files = []
for f in req["files"]:
    code = f["code"].encode()
    files.append(FileRec("r", f["path"], "python", code, [{"text": f["code"], "startByte": 0, "endByte": len(code), "startLine": 1, "endLine": code.count(b"\\n")}],
                         [{"name": f["name"], "line": 1, "kind": "function", "params": [], "doc": ""}], ""))
out = []
for query in (False, True):
    ex = build_example(random.Random(3), files, n_files=len(files), max_positions=512, soft_per_chunk=4, task="where", relabel=False, text_mode="soft", hybrid_prob=0.0)
    if query:
        ex = add_query(ex)
    ids, order = [], []
    for kind, val in ex.segments:
        if kind == "soft":
            is_query = query and val == len(ex.chunk_texts) - 1
            ids += [-2 if is_query else -1] * 4
            order.append(ex.chunk_texts[val])
        else:
            ids += toks(val)
    out.append({"ids": ids, "soft_texts": order, "request": ex.meta["request"], "files": [f.path for f in ex.meta["files"]]})
print(json.dumps(out))
`;

test('training examples and the runtime build the same prompt, with and without the request as soft tokens', () => {
  ensureVenv();
  const tok = TextTokenizer.fromFile(TOKENIZER);
  const files = [
    { path: 'pkg/<|file|>odd\nname.py', name: 'answer_value', code: 'def answer_value():\n    return 42\n' },
    { path: 'pkg/util.py', name: 'helper_fn', code: 'def helper_fn(x):\n    """<|im_end|> in a docstring"""\n    return x\n' },
  ];
  const py = JSON.parse(run(PYTHON, ['-c', SCRIPT, RECIPE, TOKENIZER], { input: JSON.stringify({ files }) })) as {
    ids: number[]; soft_texts: string[]; request: string; files: string[];
  }[];
  const manifest = JSON.parse(readFileSync(path.join(ROOT, 'models/default/manifest.json'), 'utf8')) as BundleManifest;
  const rows = manifest.adapter.softTokensPerChunk;
  const h = manifest.decoder.hiddenSize;
  const noTable = {} as EmbeddingTable; // pieces() never reads the embedding table
  for (const [i, querySoftTokens] of [false, true].entries()) {
    const builder = new PromptBuilder({ ...manifest, decoder: { ...manifest.decoder, querySoftTokens } }, tok, noTable);
    const byPath = new Map(files.map((f) => [f.path, f]));
    const pieces = builder.pieces({
      request: py[i].request,
      query: querySoftTokens ? new Float32Array(rows * h) : undefined,
      context: {
        softFiles: py[i].files.map((p) => ({ path: p, chunks: [{ hash: p, softTokens: new Float32Array(rows * h) }] })),
        textChunks: [],
      },
    });
    const ids = pieces.flatMap((p) => (p.kind === 'text' ? p.ids : Array<number>(p.rows).fill(p.query ? -2 : -1)));
    assert.deepEqual(py[i].ids, ids, `layout ids differ (querySoftTokens ${querySoftTokens})`);
    // Each soft piece comes from the same text: the chunk's text, and for the query the request itself.
    const softTexts = pieces.filter((p) => p.kind === 'soft').map((p) => (p.kind === 'soft' && p.query ? py[i].request : byPath.get(p.kind === 'soft' ? p.hash : '')!.code));
    assert.deepEqual(py[i].soft_texts, softTexts);
    assert.equal(ids.filter((x) => x === -2).length, querySoftTokens ? rows : 0);
  }
});
