// `e2code index <dir>` end to end through the real CLI entry (src/cli/main.ts under tsx).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const repo = path.join(__dirname, '..', '..');
const temps: string[] = [];
after(async () => {
  for (const d of temps) await fsp.rm(d, { recursive: true, force: true });
});

function cli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', path.join(repo, 'src/cli/main.ts'), ...args], { cwd: repo, encoding: 'utf8' });
}

test('e2code index: --json summary, progress on stderr, incremental second run, bad options', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'e2code-cli-ws-'));
  const store = await fsp.mkdtemp(path.join(os.tmpdir(), 'e2code-cli-store-'));
  temps.push(root, store);
  await fsp.mkdir(path.join(root, 'src'));
  await fsp.writeFile(path.join(root, 'src/a.ts'), 'export function a(): number {\n  return 1;\n}\n');
  await fsp.writeFile(path.join(root, 'src/b.py'), 'def b():\n    return 2\n');
  await fsp.writeFile(path.join(root, 'yarn.lock'), '# lock\n');
  await fsp.writeFile(path.join(root, 'skip.gen.ts'), 'export const x = 1;\n');

  const first = cli(['index', root, '--json', '--store', store, '--exclude', '*.gen.ts']);
  assert.equal(first.status, 0, first.stderr);
  const r1 = JSON.parse(first.stdout);
  assert.deepEqual(
    { files: r1.files, added: r1.added, removed: r1.removed, updated: r1.updated, unchanged: r1.unchanged, skipped: r1.skipped },
    { files: 2, added: 2, removed: 0, updated: 0, unchanged: 0, skipped: { generated: 1, ignored: 1 } },
  );
  assert.ok(r1.chunks >= 2 && r1.bytes > 0 && typeof r1.seconds === 'number');
  assert.match(first.stderr, /index 2\/2 100%/);

  await fsp.writeFile(path.join(root, 'src/c.ts'), 'export const c = 3;\n');
  const second = cli(['index', root, '--json', '--store', store, '--exclude', '*.gen.ts']);
  const r2 = JSON.parse(second.stdout);
  assert.deepEqual([r2.added, r2.unchanged, r2.files], [1, 2, 3]);

  const human = cli(['index', root, '--store', store, '--exclude', '*.gen.ts', '--list-skipped']);
  assert.match(human.stdout, /3 files, \d+ chunks/);
  assert.match(human.stdout, /generated\tyarn\.lock/);

  const bad = cli(['index', root, '--max-file-bytes', '-5']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--max-file-bytes must be a positive integer/);
  const missing = cli(['index', path.join(root, 'nope'), '--store', store]);
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /not a directory/);
});
