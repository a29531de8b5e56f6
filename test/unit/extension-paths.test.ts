// Citation paths are model output: only files inside the folder may open.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isInside, relativeTo, resolveCitation } from '../../src/extension/paths';

test('resolveCitation opens files inside the folder and refuses everything else', async () => {
  const base = mkdtempSync(path.join(tmpdir(), 'e2code-paths-'));
  const root = path.join(base, 'ws');
  mkdirSync(path.join(root, 'src'), { recursive: true });
  writeFileSync(path.join(root, 'src', 'a.ts'), 'export {};\n');
  writeFileSync(path.join(base, 'secret.txt'), 'outside\n');
  symlinkSync(path.join(base, 'secret.txt'), path.join(root, 'link-out.txt'));
  symlinkSync(path.join(root, 'src', 'a.ts'), path.join(root, 'link-in.ts'));
  symlinkSync(base, path.join(root, 'dir-out'));
  try {
    assert.deepEqual(await resolveCitation(root, 'src/a.ts', 3), { ok: true, file: path.join(root, 'src', 'a.ts'), line: 3 });
    assert.deepEqual(await resolveCitation(root, 'src\\a.ts', 1), { ok: true, file: path.join(root, 'src', 'a.ts'), line: 1 });
    assert.equal((await resolveCitation(root, 'link-in.ts', 1)).ok, true, 'a symlink that stays inside is fine');
    const refused: [string, number, string][] = [
      ['../secret.txt', 1, 'parent-directory segment'],
      ['src/../../secret.txt', 1, 'parent-directory segment'],
      [path.join(base, 'secret.txt'), 1, 'absolute path'],
      ['/etc/passwd', 1, 'absolute path'],
      ['C:/Windows/win.ini', 1, 'absolute path'],
      ['link-out.txt', 1, 'resolves outside the workspace folder'],
      ['dir-out/secret.txt', 1, 'resolves outside the workspace folder'],
      ['src', 1, 'not a regular file'],
      ['src/missing.ts', 1, 'no such file'],
      ['src/a.ts', 0, 'bad line number'],
      ['src/a.ts', 1.5, 'bad line number'],
      ['', 1, 'empty or oversized path'],
      ['src/a.ts\0.png', 1, 'NUL in path'],
    ];
    for (const [p, line, reason] of refused) {
      assert.deepEqual(await resolveCitation(root, p, line), { ok: false, reason }, `${JSON.stringify(p)}:${line}`);
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('isInside and relativeTo', () => {
  assert.equal(isInside('/a/b', '/a/b/c.ts'), true);
  assert.equal(isInside('/a/b', '/a/b'), false);
  assert.equal(isInside('/a/b', '/a/bc/d.ts'), false);
  assert.equal(isInside('/a/b', '/a/c.ts'), false);
  assert.equal(relativeTo('/a/b', '/a/b/src/c.ts'), 'src/c.ts');
  assert.equal(relativeTo('/a/b', '/x/c.ts'), undefined);
});
