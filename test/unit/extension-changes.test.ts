// Saves, creates, deletes and renames become batches of workspace-relative paths (IndexParams.paths);
// a full index covers them; ignore-rule files and very large batches ask for a full index.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import path from 'node:path';
import { changedPath, MAX_BATCH_PATHS, PendingChanges } from '../../src/extension/changes';

const root = path.join(path.sep, 'ws', 'proj');
const at = (...p: string[]) => path.join(root, ...p);

test('changedPath: workspace-relative with forward slashes; VCS, cache and dependency folders are not changes', () => {
  assert.equal(changedPath(root, at('src', 'cmd', 'root.go')), 'src/cmd/root.go');
  assert.equal(changedPath(root, at('README.md')), 'README.md');
  assert.equal(changedPath(root, at('.git', 'index')), undefined);
  assert.equal(changedPath(root, at('.e2code', 'cache.mdb')), undefined);
  assert.equal(changedPath(root, at('web', 'node_modules', 'x', 'i.js')), undefined);
  assert.equal(changedPath(root, at('.github', 'ci.yml')), '.github/ci.yml', 'other dot folders are source');
  assert.equal(changedPath(root, root), undefined, 'the folder itself');
  assert.equal(changedPath(root, path.join(path.sep, 'ws', 'other', 'a.ts')), undefined, 'outside the folder');
});

test('paths batch per folder, sorted and without repeats; take empties the folder', () => {
  const q = new PendingChanges();
  q.addPath(root, 'src/b.ts');
  q.addPath(root, 'src/a.ts');
  q.addPath(root, 'src/b.ts');
  q.addPath('/other', 'x.py');
  assert.equal(q.size, 2);
  assert.equal(q.next(), root, 'first queued first');
  assert.deepEqual(q.take(root), { full: false, paths: ['src/a.ts', 'src/b.ts'] });
  assert.equal(q.has(root), false);
  assert.equal(q.take(root), undefined);
  assert.equal(q.next(), '/other');
});

test('a full index covers waiting paths, and paths after it are not kept separately', () => {
  const q = new PendingChanges();
  q.addPath(root, 'a.ts');
  q.addFull(root);
  q.addPath(root, 'b.ts');
  assert.deepEqual(q.take(root), { full: true });
});

test('a change to .gitignore or .e2codeignore asks for a full index', () => {
  for (const rule of ['.gitignore', 'sub/.gitignore', '.e2codeignore']) {
    const q = new PendingChanges();
    q.addPath(root, 'a.ts');
    q.addPath(root, rule);
    assert.deepEqual(q.take(root), { full: true }, rule);
  }
});

test('more than MAX_BATCH_PATHS changed paths (a branch switch) become a full index', () => {
  const q = new PendingChanges();
  for (let i = 0; i < MAX_BATCH_PATHS; i++) q.addPath(root, `f${i}.ts`);
  const job = q.take(root)!;
  assert.equal(job.full, false);
  assert.equal(job.full ? 0 : job.paths.length, MAX_BATCH_PATHS);
  for (let i = 0; i <= MAX_BATCH_PATHS; i++) q.addPath(root, `f${i}.ts`);
  assert.deepEqual(q.take(root), { full: true });
});
