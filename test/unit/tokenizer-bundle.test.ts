// The default bundle's tokenizer as the runtime loads it (@huggingface/tokenizers): byte-level round trip
// on real source, each prompt-layout marker one id, and the manifest's eos ids pointing at its stop tokens.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { TextTokenizer } from '../../src/core/runtime/model/tokenizer';

const DIR = path.resolve(__dirname, '../../models/default');
const manifest = JSON.parse(readFileSync(path.join(DIR, 'manifest.json'), 'utf8'));
const tok = new Tokenizer(JSON.parse(readFileSync(path.join(DIR, manifest.decoder.tokenizer), 'utf8')), {});
const decode = (ids: number[]) => (ids.length ? tok.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : '');

test('round-trips real source text byte for byte', () => {
  const files = ['src/core/types.ts', 'src/core/bundle/manifest.ts', 'package.json', 'models/recipe/model.py'];
  for (const f of files) {
    const text = readFileSync(path.resolve(__dirname, '../..', f), 'utf8');
    const ids = tok.encode(text, { add_special_tokens: false }).ids;
    assert.ok(ids.length > 0 && ids.length < text.length, `${f}: ${ids.length} tokens for ${text.length} chars`);
    assert.equal(decode(ids), text, f);
  }
  const odd = 'naïve 日本語 🚀\r\n\t  x';
  assert.equal(decode(tok.encode(odd, { add_special_tokens: false }).ids), odd);
});

test('prompt-layout markers are single tokens and eos ids are the stop tokens', () => {
  for (const role of ['eos', 'endOfTurn', 'turnStart', 'contextStart', 'contextEnd', 'file', 'code']) {
    const s: string = manifest.specialTokens[role];
    const ids = tok.encode(s, { add_special_tokens: false }).ids;
    assert.equal(ids.length, 1, `${role} ${s} -> ${ids}`);
  }
  assert.deepEqual(manifest.eosTokenIds, [tok.token_to_id(manifest.specialTokens.endOfTurn), tok.token_to_id(manifest.specialTokens.eos)]);
  // A marker inside text still splits out as its own id (the header text around it is tokenized normally).
  const header = manifest.chatTemplate.fileHeader.replace('{path}', 'src/a.py');
  const ids = tok.encode(header, { add_special_tokens: false }).ids;
  assert.equal(ids[0], tok.token_to_id(manifest.specialTokens.file));
  assert.equal(decode(ids), header);
});

test("maxTokenChars bounds any text's token count from below (the sidecar refuses what cannot fit by it)", () => {
  const t = TextTokenizer.fromFile(path.join(DIR, manifest.decoder.tokenizer));
  assert.equal(t.maxTokenChars, 76, 'the longest vocabulary entry of the default tokenizer');
  const samples = [
    'a'.repeat(30_000),
    '='.repeat(5000),
    ' //' + '-'.repeat(4000),
    '😀'.repeat(3000),
    'naïve café résumé '.repeat(500),
    readFileSync(path.join(__dirname, '..', '..', 'src', 'core', 'runtime', 'model', 'tokenizer.ts'), 'utf8'),
    '<|im_end|><|file|>'.repeat(300),
  ];
  for (const text of samples) {
    const n = t.encodeUntrusted(text).length;
    assert.ok(n * t.maxTokenChars >= text.length, `${n} tokens x ${t.maxTokenChars} < ${text.length} characters`);
  }
});

test('a tokenizer file that is not a regular file is refused without reading it', () => {
  assert.throws(() => TextTokenizer.fromFile('/dev/zero'), /\/dev\/zero is a character device, not a regular file/);
  assert.throws(() => TextTokenizer.fromFile(DIR), /is a directory, not a regular file/);
});
