// `e2code chunks <file-or-dir> --json`: the documented shape, exact coverage of every file it lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Chunk } from '../../src/core/types';
import { checkChunks } from './chunker/check';

const root = path.join(__dirname, '..', '..');
const cli = (args: string[], cwd = root): string =>
  execFileSync(process.execPath, ['--import', 'tsx', path.join(root, 'src/cli/main.ts'), 'chunks', ...args], {
    cwd,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });

test('e2code chunks <file> --json prints the chunks with their metadata', () => {
  const rel = 'test/fixtures/chunker/sample.py';
  const out = JSON.parse(cli([rel, '--json', '--max-tokens', '64'])) as { chunks: Chunk[] };
  assert.ok(Array.isArray(out.chunks) && out.chunks.length > 1);
  for (const c of out.chunks) {
    for (const k of ['path', 'language', 'startByte', 'endByte', 'startLine', 'endLine', 'kind', 'symbols', 'text']) {
      assert.ok(k in c, `missing ${k}`);
    }
  }
  assert.equal(out.chunks[0].path, rel);
  checkChunks(out.chunks, readFileSync(path.join(root, rel)), { path: rel, language: 'python' });
});

test('e2code chunks <dir> walks it (ignore rules apply) and covers every file it lists', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'e2code-chunks-'));
  try {
    mkdirSync(path.join(dir, 'src'));
    mkdirSync(path.join(dir, 'build'));
    writeFileSync(path.join(dir, 'src', 'a.ts'), 'export function a(): number {\n  return 1;\n}\n');
    writeFileSync(path.join(dir, 'src', 'b.go'), 'package b\n\nfunc B() int { return 2 }\n');
    writeFileSync(path.join(dir, 'README.md'), '# Title\n\nText — ünïcödé.\n');
    writeFileSync(path.join(dir, 'build', 'out.js'), 'ignored();\n');
    writeFileSync(path.join(dir, '.gitignore'), 'build/\n');
    writeFileSync(path.join(dir, 'blob.bin'), Buffer.from([0, 1, 2, 3, 0, 0, 255]));
    const out = JSON.parse(cli([dir, '--json'])) as { chunks: Chunk[]; skipped: { path: string; reason: string }[] };
    const byFile = new Map<string, Chunk[]>();
    for (const c of out.chunks) byFile.set(c.path, [...(byFile.get(c.path) ?? []), c]);
    assert.deepEqual([...byFile.keys()].sort(), ['.gitignore', 'README.md', 'src/a.ts', 'src/b.go']);
    for (const [p, chunks] of byFile) checkChunks(chunks, readFileSync(path.join(dir, p)), { path: p });
    assert.ok(out.chunks.some((c) => c.symbols.includes('a')));
    assert.ok(
      out.skipped.some((s) => s.path === 'blob.bin'),
      JSON.stringify(out.skipped),
    );
    // the readable listing ends with a summary line
    const text = cli([dir]);
    assert.match(text, /4 files, \d+ chunks/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
