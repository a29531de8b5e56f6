// What Generate Code puts in the editor from a model answer.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { extractCode, lineWindow } from '../../src/extension/codeText';

test('extractCode takes the longest fenced block and keeps indentation', () => {
  const answer =
    'Here:\n\n```ts\nconst a = 1;\n```\n\nand the function:\n\n```ts\nfunction double(x: number) {\n  return 2 * x;\n}\n```\nDone.';
  assert.equal(extractCode(answer), 'function double(x: number) {\n  return 2 * x;\n}\n');
  assert.equal(extractCode('~~~\n  indented();\n~~~'), '  indented();\n');
});

test('extractCode uses the whole answer when there is no fence, trimming trailing blank space', () => {
  assert.equal(extractCode('return x * 2;\n\n  \n'), 'return x * 2;');
  assert.equal(extractCode(''), '');
  // An unclosed fence is not a block.
  assert.equal(extractCode('```py\nprint(1)'), '```py\nprint(1)');
});

test('lineWindow is 1-based and inclusive, clamped to the text', () => {
  const text = 'a\nb\nc\nd';
  assert.equal(lineWindow(text, 2, 3), 'b\nc');
  assert.equal(lineWindow(text, 0, 1), 'a');
  assert.equal(lineWindow(text, 3, 99), 'c\nd');
});
