// Decoder text is untrusted: paths in it are snapped to indexed ones or dropped.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { lineCounter, snapPath, snapPaths } from '../../src/core/runtime/answer/snap';

const files = ['command.go', 'args.go', 'cobra/doc.go', 'lib/etag.rb', 'src/a/util.ts', 'src/b/util.ts', 'README.md'];

test('mangled file names the bundled model writes are snapped to the indexed file', () => {
  assert.equal(snapPath('command.go.go', files), 'command.go');
  assert.equal(snapPath('args.go.js', files), 'args.go');
  assert.equal(snapPath('etag.rb.rb', files), 'lib/etag.rb');
  assert.equal(snapPath('./cobra/doc.go', files), 'cobra/doc.go');
  assert.equal(snapPath('doc.go', files), 'cobra/doc.go');
});

test('an ambiguous or unknown name is not guessed', () => {
  assert.equal(snapPath('util.ts', files), undefined);
  assert.equal(snapPath('a/util.ts', files), 'src/a/util.ts');
  assert.equal(snapPath('missing.py', files), undefined);
});

test('text keeps snapped paths with their lines and loses paths to nothing', () => {
  const r = snapPaths('See command.go.go:12 and missing.py, version 1.2.3 and example.com.', files, () => 20);
  assert.equal(r.text, 'See command.go:12 and , version 1.2.3 and example.com.');
  assert.deepEqual(r.paths, ['command.go']);
});

test('a line is kept only where the file on disk has it', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'e2code-snap-'));
  try {
    mkdirSync(path.join(root, 'src'));
    writeFileSync(path.join(root, 'src/a.ts'), 'one\ntwo\nthree\n');
    writeFileSync(path.join(root, 'b.ts'), 'no newline at the end');
    const indexed = ['src/a.ts', 'b.ts', 'gone.ts'];
    const r = snapPaths(
      'src/a.ts:3, `./src/a.ts:2`, a.ts.ts:4, src/a.ts:0, b.ts:1, b.ts:2, gone.ts:1, missing.ts:1.',
      indexed,
      lineCounter(root),
    );
    assert.equal(r.text, 'src/a.ts:3, `src/a.ts:2`, src/a.ts, src/a.ts, b.ts:1, b.ts, gone.ts, .');
    assert.deepEqual(r.paths, ['src/a.ts', 'b.ts', 'gone.ts']);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

import { symbolMentions } from '../../src/core/runtime/plan/retrieve';

test('names a request mentions as code, not as English', () => {
  assert.deepEqual(symbolMentions('Where is skip_caching? defined?'), ['skip_caching?', 'skip_caching']);
  assert.deepEqual(symbolMentions('Where is call defined?'), ['call']);
  assert.deepEqual(symbolMentions('What does the Command type do?'), ['Command']);
  assert.deepEqual(symbolMentions('How does polygonArea() work?'), ['polygonArea']);
  // Plain words are not names: a question in words must not put every method called "body" first.
  assert.deepEqual(symbolMentions('How do I add a subcommand?'), []);
  assert.deepEqual(symbolMentions('Where is the code that returns the request body?'), []);
});

import { narrowDefinitions } from '../../src/core/runtime/plan/retrieve';

test('a name defined in several places means the one inside something else the request names', () => {
  const rectangle = { symbols: ['Rectangle', 'area', 'constructor'], symbolPath: 'class Rectangle' };
  const circleArea = { symbols: ['area'], symbolPath: 'class Circle > method area' };
  const squareArea = { symbols: ['area'], symbolPath: 'class Square > method area' };
  const all = [rectangle, circleArea, squareArea];
  // The selection: `const shape = new Rectangle(w, h); return shape.area();`
  assert.deepEqual(narrowDefinitions('area', all, ['shape', 'Rectangle', 'area']), [rectangle]);
  assert.deepEqual(narrowDefinitions('area', all, ['Circle', 'area']), [circleArea]);
  assert.deepEqual(narrowDefinitions('area', all, ['Circle', 'Square', 'area']), [circleArea, squareArea]);
  // Nothing else named: every definition (where is `area` defined?), and one definition is left alone.
  assert.deepEqual(narrowDefinitions('area', all, ['area']), all);
  assert.deepEqual(narrowDefinitions('area', [circleArea], ['Rectangle', 'area']), [circleArea]);
});
