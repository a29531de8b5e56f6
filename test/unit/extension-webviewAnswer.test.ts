// The chat panel's text for an answer assembled from the index: the blocks that quote a source (shown as
// clickable cards under it) are left out; everything else stays. Real runtime output shapes.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { Source } from '../../src/core/protocol';
import { isEmptyAnswer, sourceLocation, withoutQuotedSources } from '../../src/webview/answer';

const src = (path: string, line: number, extra: Partial<Source> = {}): Source => ({
  path,
  line,
  endLine: line + 2,
  from: 'search',
  ...extra,
});

test('a lookup keeps its lead sentence; the quoted source blocks go to the cards', () => {
  const answer = [
    '`centimetresToMetres` is defined at src/geometry/units.ts:4.',
    '',
    '**`centimetresToMetres` — src/geometry/units.ts:4**',
    '```ts',
    'export function centimetresToMetres(cm: number): number',
    '```',
    '> Converts centimetres to metres.',
    '',
    '**src/cli/main.ts:1**',
    '```ts',
    "import { centimetresToMetres } from '../geometry/units';",
    '```',
  ].join('\n');
  const sources = [src('src/geometry/units.ts', 4, { symbol: 'centimetresToMetres' }), src('src/cli/main.ts', 1)];
  assert.equal(withoutQuotedSources(answer, sources), '`centimetresToMetres` is defined at src/geometry/units.ts:4.');
});

test('an explanation keeps its own quote and the line introducing the definitions', () => {
  const answer = [
    'The selection is src/cli/main.ts:5-9, in `runCli`.',
    '',
    '> Parses "width height" in centimetres and returns the area in square metres.',
    '',
    'What it uses, as defined in this workspace:',
    '',
    '**`Rectangle` — src/shapes/rectangle.ts:4**',
    '```ts',
    'export class Rectangle',
    '```',
    '> An axis-aligned rectangle given by its width and height.',
  ].join('\n');
  assert.equal(
    withoutQuotedSources(answer, [src('src/shapes/rectangle.ts', 4)]),
    'The selection is src/cli/main.ts:5-9, in `runCli`.\n\n> Parses "width height" in centimetres and returns the area in square metres.\n\nWhat it uses, as defined in this workspace:',
  );
});

test('text whose blocks name no source is unchanged: a summary map, a block of another line, code with bold lines', () => {
  const map = '### src/cli/\nFiles (1): `main.ts`\n- `runCli` (src/cli/main.ts:5) — Parses arguments.';
  assert.equal(withoutQuotedSources(map, [src('src/cli/main.ts', 5)]), map);
  const other = '**src/a.ts:40**\n```ts\nx\n```';
  assert.equal(withoutQuotedSources(other, [src('src/a.ts', 4)]), other, 'line 4 is not line 40');
  const code = '```md\n**src/a.ts:4**\n```';
  assert.equal(withoutQuotedSources(code, [src('src/a.ts', 4)]), code, 'a bold line inside a code block is code');
  assert.equal(withoutQuotedSources('**src/a.ts:4**\nx', undefined), '**src/a.ts:4**\nx');
});

test('sourceLocation and isEmptyAnswer', () => {
  assert.equal(sourceLocation(src('a.go', 3)), 'a.go:3–5');
  assert.equal(sourceLocation({ path: 'a.go', line: 3, endLine: 3, from: 'definition' }), 'a.go:3');
  assert.equal(isEmptyAnswer({ id: 'a', role: 'assistant', content: '  ', sources: [] }), true);
  assert.equal(isEmptyAnswer({ id: 'a', role: 'assistant', content: '', sources: [src('a.go', 1)] }), false);
  assert.equal(isEmptyAnswer({ id: 'a', role: 'assistant', content: '', stopReason: 'cancelled' }), false);
  assert.equal(isEmptyAnswer({ id: 'a', role: 'assistant', content: '', pending: true }), false);
  assert.equal(isEmptyAnswer({ id: 'a', role: 'assistant', content: '', error: 'boom' }), false);
});
