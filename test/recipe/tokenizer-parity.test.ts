// Python HF tokenizers vs @huggingface/tokenizers (the runtime's) on a few hundred real texts: ids and decodes identical.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { ROOT, PYTHON, ensureVenv, run } from './lib/run';

const TOKENIZER = path.join(ROOT, 'models/default/tokenizer.json');

function sampleTexts(): string[] {
  const texts: string[] = [];
  // Held-out Python (never seen by the tokenizer trainer) and JavaScript, cut into pieces of varied size.
  const sources = [
    ...readdirSync('/root/.pyenv/versions/3.11.7/lib/python3.11/json')
      .filter((f) => f.endsWith('.py'))
      .map((f) => `/root/.pyenv/versions/3.11.7/lib/python3.11/json/${f}`),
    path.join(ROOT, 'node_modules/commander/lib/command.js'),
    path.join(ROOT, 'node_modules/semver/classes/range.js'),
    path.join(ROOT, 'src/core/types.ts'),
  ];
  for (const file of sources) {
    let src: string;
    try {
      src = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (let i = 0; i < src.length && texts.length < 300; i += 397) texts.push(src.slice(i, i + 100 + (i % 500)));
  }
  texts.push(
    '<|im_start|>user\nWhere is parse defined?<|im_end|>\n<|im_start|>assistant\n',
    '<|context|>\n<|file|>src/a.py\n<|code|>src/a.py:12\ndef f():\n    pass\n<|/context|>\n',
    'naïve café — 日本語のテキスト 🚀 emoji\ttabs\r\nCRLF',
    '    \n\n\t\t  trailing   ',
    'x = 12345678901234567890 + 0x1f * 3.14e-10',
    '',
  );
  return texts;
}

test('python and typescript tokenizers agree on ids and decode', () => {
  ensureVenv();
  const texts = sampleTexts();
  assert.ok(texts.length >= 200, `only ${texts.length} texts`);
  const py = JSON.parse(run(PYTHON, [path.join(ROOT, 'models/recipe/tokenizer_dump.py'), TOKENIZER], { input: JSON.stringify(texts) }));
  const ts = new Tokenizer(JSON.parse(readFileSync(TOKENIZER, 'utf8')), {});
  let same = 0;
  texts.forEach((t, i) => {
    const ids = ts.encode(t, { add_special_tokens: false }).ids;
    assert.deepEqual(ids, py.ids[i], `ids differ for text #${i}: ${JSON.stringify(t.slice(0, 80))}`);
    // decode([]) throws in tokenizers.js: the empty text decodes to '' by definition
    const decoded = ids.length ? ts.decode(ids, { skip_special_tokens: false, clean_up_tokenization_spaces: false }) : '';
    assert.equal(decoded, py.decoded[i], `decode differs for text #${i}`);
    same++;
  });
  assert.equal(same, texts.length);
});
