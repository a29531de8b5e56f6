// Property: on random trees with random nested .gitignore files (and .git/info/exclude), the walker
// lists exactly the files git itself considers (`git ls-files --others --exclude-standard`).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { listFiles } from '../../src/core/walker/index';

const PATTERNS = [
  '*.log',
  '!keep.log',
  'build/',
  '/a/',
  'b/*.ts',
  '**/tmp/',
  'x?.ts',
  '!b/',
  'a/**/y.log',
  '*.ts',
  '!x1.ts',
  'tmp',
  '/b/c/',
];
const DIRS = ['', 'a', 'b', 'build', 'tmp', 'a/b', 'a/tmp', 'b/c', 'a/b/build', 'c/tmp/a'];
const NAMES = ['x1.ts', 'x2.ts', 'y.log', 'keep.log', 'main.py', 'xy.ts'];

const temps: string[] = [];
after(async () => {
  for (const d of temps) await fsp.rm(d, { recursive: true, force: true });
});

const treeArb = fc.record({
  files: fc.uniqueArray(fc.tuple(fc.constantFrom(...DIRS), fc.constantFrom(...NAMES)), {
    minLength: 1,
    maxLength: 25,
    selector: ([d, n]) => `${d}/${n}`,
  }),
  ignores: fc.array(fc.tuple(fc.constantFrom(...DIRS), fc.array(fc.constantFrom(...PATTERNS), { minLength: 1, maxLength: 4 })), {
    maxLength: 4,
  }),
  infoExclude: fc.array(fc.constantFrom(...PATTERNS), { maxLength: 2 }),
});

test('walker file list equals git ls-files --others --exclude-standard', async () => {
  await fc.assert(
    fc.asyncProperty(treeArb, async ({ files, ignores, infoExclude }) => {
      const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'e2code-gitparity-'));
      temps.push(root);
      execFileSync('git', ['init', '-q', root]);
      for (const [dir, name] of files) {
        await fsp.mkdir(path.join(root, dir), { recursive: true });
        await fsp.writeFile(path.join(root, dir, name), 'x\n');
      }
      for (const [dir, patterns] of ignores) {
        await fsp.mkdir(path.join(root, dir), { recursive: true });
        await fsp.writeFile(path.join(root, dir, '.gitignore'), patterns.join('\n') + '\n');
      }
      if (infoExclude.length) await fsp.writeFile(path.join(root, '.git/info/exclude'), infoExclude.join('\n') + '\n');
      const git = execFileSync('git', ['-C', root, 'ls-files', '--others', '--exclude-standard', '-z'], { encoding: 'utf8' })
        .split('\0')
        .filter(Boolean)
        .sort();
      const ours = (await listFiles(root, { defaultExcludes: [] })).files.map((f) => f.path);
      assert.deepEqual(ours, git);
      await fsp.rm(root, { recursive: true, force: true });
    }),
    { numRuns: 40, seed: 20261129 },
  );
});
