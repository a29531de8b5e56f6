import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { listFiles, readWalkFile, walkFiles, countByReason, type Skip } from '../../src/core/walker/index';

async function makeTree(files: Record<string, string | Uint8Array>): Promise<string> {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'e2code-walker-'));
  for (const [rel, content] of Object.entries(files)) {
    const abs = path.join(root, rel);
    await fsp.mkdir(path.dirname(abs), { recursive: true });
    await fsp.writeFile(abs, content);
  }
  return root;
}

async function walkAll(root: string, options = {}): Promise<{ files: string[]; skipped: Skip[] }> {
  const files: string[] = [];
  const skipped: Skip[] = [];
  for await (const item of walkFiles(root, options)) {
    if ('skip' in item) skipped.push(item.skip);
    else files.push(item.file.path);
  }
  return { files: files.sort(), skipped };
}

function reasonOf(skipped: Skip[], p: string): string | undefined {
  return skipped.find((s) => s.path === p)?.reason;
}

const roots: string[] = [];
after(async () => {
  for (const r of roots) await fsp.rm(r, { recursive: true, force: true });
});

describe('walker ignore rules', () => {
  let root: string;
  before(async () => {
    root = await makeTree({
      '.gitignore': '*.log\n/build/\nsecret/\n',
      'src/a.ts': 'export const a = 1;\n',
      'src/debug.log': 'log\n',
      'src/.gitignore': 'local.ts\n!keep.log\n',
      'src/local.ts': 'x\n',
      'src/keep.log': 'kept by a deeper negation\n',
      'src/deep/local.ts': 'nested gitignore applies below its directory\n',
      'other/local.ts': 'not under src: not ignored\n',
      'build/out.ts': 'ignored dir\n',
      'secret/key.ts': 'ignored dir, re-included by .e2codeignore\n',
      'private/p.ts': 'excluded by .git/info/exclude\n',
      '.git/info/exclude': 'private/\n',
      '.git/config': '[core]\n',
      '.git/HEAD': 'ref: refs/heads/main\n',
      '.e2codeignore': '!secret/\ndocs/drafts/\n',
      'docs/drafts/d.md': '# draft\n',
      'docs/readme.md': '# docs\n',
      'node_modules/pkg/index.js': 'module.exports = 1;\n',
      'vendor/lib.ts': 'excluded by a configured glob\n',
      'tests/x.spec.ts': 'excluded by a configured glob\n',
    });
    roots.push(root);
  });

  test('nested .gitignore, info/exclude, .e2codeignore re-include, exclude globs, .git, default excludes', async () => {
    const { files, skipped } = await walkAll(root, { excludeGlobs: ['vendor/', '*.spec.ts'] });
    assert.deepEqual(files, [
      '.e2codeignore',
      '.gitignore',
      'docs/readme.md',
      'other/local.ts',
      'secret/key.ts',
      'src/.gitignore',
      'src/a.ts',
      'src/keep.log',
    ]);
    const by = (p: string) => skipped.find((s) => s.path === p);
    assert.equal(by('.git')?.reason, 'ignored');
    assert.equal(by('build')?.detail, '.gitignore');
    assert.equal(by('src/debug.log')?.detail, '.gitignore');
    assert.equal(by('src/local.ts')?.detail, 'src/.gitignore');
    assert.equal(by('src/deep/local.ts')?.detail, 'src/.gitignore');
    assert.equal(by('private')?.detail, '.git/info/exclude');
    assert.equal(by('docs/drafts')?.detail, '.e2codeignore');
    assert.equal(by('node_modules')?.detail, 'default excludes');
    assert.equal(by('vendor')?.detail, 'exclude');
    assert.equal(by('tests/x.spec.ts')?.detail, 'exclude');
    // Ignored directories are not entered: one skip for the directory, none for what is inside.
    assert.equal(skipped.filter((s) => s.path.startsWith('node_modules')).length, 1);
    assert.ok(skipped.every((s) => s.reason === 'ignored'));
  });

  test('configured globs beat a .e2codeignore re-include; gitignore can be turned off', async () => {
    const { files } = await walkAll(root, { excludeGlobs: ['secret/'], useGitignore: false });
    assert.ok(!files.includes('secret/key.ts'));
    assert.ok(files.includes('build/out.ts'));
    assert.ok(files.includes('src/local.ts'));
    assert.ok(!files.includes('docs/drafts/d.md'), '.e2codeignore applies without gitignore');
  });

  test('default excludes can be re-included by .e2codeignore or disabled', async () => {
    const r2 = await makeTree({ '.e2codeignore': '!node_modules/\n', 'node_modules/p/i.js': 'x\n' });
    roots.push(r2);
    assert.deepEqual((await walkAll(r2)).files, ['.e2codeignore', 'node_modules/p/i.js']);
    assert.ok((await walkAll(root, { defaultExcludes: [] })).files.includes('node_modules/pkg/index.js'));
  });

  test('subdir walks only that directory and still applies ancestor rules', async () => {
    const { files, skipped } = await listFiles(root, { subdir: 'src' });
    assert.deepEqual(
      files.map((f) => f.path),
      ['src/.gitignore', 'src/a.ts', 'src/keep.log'],
    );
    assert.ok(skipped.some((s) => s.path === 'src/debug.log'));
    const ignoredDir = await listFiles(root, { subdir: 'build' });
    assert.deepEqual(ignoredDir, { files: [], skipped: [{ path: 'build', reason: 'ignored', detail: '.gitignore' }] });
  });
});

describe('walker skip reasons', () => {
  let root: string;
  before(async () => {
    const minified = 'var a=1;'.repeat(2000); // one 16 KB line
    const manyLongLines = Array.from({ length: 20 }, () => 'x'.repeat(400)).join('\n');
    root = await makeTree({
      'ok.ts': 'export function f() {\n  return 1;\n}\n',
      'empty.ts': '',
      'image.png': 'not even a png, but the extension says binary',
      'blob.dat2': new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2, 3]),
      'latin1.c': new Uint8Array([...Buffer.from('/* caf'), 0xe9, ...Buffer.from(' */\nint x;\n')]),
      'min/app.js': minified,
      'min/long-avg.ts': manyLongLines,
      'docs/prose.md': manyLongLines, // prose: long unwrapped paragraphs are fine
      'package-lock.json': '{}\n',
      'sub/yarn.lock': '# yarn\n',
      'vendor/jquery.min.js': 'x\n',
      'app.js.map': '{"version":3}\n',
      'dist/bundle.js': '(() => {\nvar __defProp = Object.defineProperty;\n})();\n',
      'dist/handwritten.js': 'module.exports = 1;\n',
      'build/script.js': 'console.log("a build script, not a bundle");\n',
      'gen/types.go': '// Code generated by protoc-gen-go. DO NOT EDIT.\npackage gen\n',
    });
    roots.push(root);
  });

  test('each file gets the right outcome and skips are counted by reason', async () => {
    const { files, skipped } = await walkAll(root);
    assert.deepEqual(files, ['build/script.js', 'dist/handwritten.js', 'docs/prose.md', 'empty.ts', 'ok.ts']);
    assert.equal(reasonOf(skipped, 'image.png'), 'binary');
    assert.equal(reasonOf(skipped, 'blob.dat2'), 'binary');
    assert.equal(reasonOf(skipped, 'latin1.c'), 'invalid-utf8');
    assert.equal(reasonOf(skipped, 'min/app.js'), 'minified');
    assert.equal(reasonOf(skipped, 'min/long-avg.ts'), 'minified');
    assert.equal(reasonOf(skipped, 'package-lock.json'), 'generated');
    assert.equal(reasonOf(skipped, 'sub/yarn.lock'), 'generated');
    assert.equal(reasonOf(skipped, 'vendor/jquery.min.js'), 'generated');
    assert.equal(reasonOf(skipped, 'app.js.map'), 'generated');
    assert.equal(reasonOf(skipped, 'dist/bundle.js'), 'generated');
    assert.equal(reasonOf(skipped, 'gen/types.go'), 'generated');
    assert.deepEqual(countByReason(skipped), { binary: 2, 'invalid-utf8': 1, minified: 2, generated: 6 });
  });

  test('a 50 MB file is skipped as too-large from its stat, without being read', async () => {
    const big = path.join(root, 'huge.ts');
    const fh = await fsp.open(big, 'w');
    await fh.truncate(50 * 1024 * 1024);
    await fh.close();
    try {
      const t0 = performance.now();
      const { files, skipped } = await listFiles(root, { maxFileBytes: 1024 * 1024 });
      assert.ok(!files.some((f) => f.path === 'huge.ts'));
      assert.equal(reasonOf(skipped, 'huge.ts'), 'too-large');
      // Reading 50 MB would show in wall time only loosely; what must hold is that the file was never opened.
      assert.ok(performance.now() - t0 < 5000);
      const custom = await listFiles(root, { maxFileBytes: 100 * 1024 * 1024 });
      assert.ok(custom.files.some((f) => f.path === 'huge.ts'));
    } finally {
      await fsp.rm(big);
    }
  });

  test('a file that grows past the cap after listing is too-large when read', async () => {
    const p = path.join(root, 'grows.ts');
    await fsp.writeFile(p, 'x\n');
    try {
      const { files } = await listFiles(root, { maxFileBytes: 1000 });
      const f = files.find((x) => x.path === 'grows.ts')!;
      await fsp.writeFile(p, 'y'.repeat(5000));
      const r = await readWalkFile(f, { maxFileBytes: 1000 });
      assert.equal(r.ok, false);
      assert.equal(!r.ok && r.skip.reason, 'too-large');
    } finally {
      await fsp.rm(p);
    }
  });

  test('a file deleted between listing and reading is vanished, and the walk goes on', async () => {
    const r = await makeTree({ 'a.ts': 'a\n', 'b.ts': 'b\n', 'c.ts': 'c\n' });
    roots.push(r);
    const { files, skipped } = await walkAll(r, {
      beforeRead: async (f: { path: string; absPath: string }) => {
        if (f.path === 'b.ts') await fsp.rm(f.absPath);
      },
    });
    assert.deepEqual(files, ['a.ts', 'c.ts']);
    assert.deepEqual(skipped, [{ path: 'b.ts', reason: 'vanished', detail: 'ENOENT' }]);
  });

  test('a file replaced by a directory after listing is vanished', async () => {
    const r = await makeTree({ 'a.ts': 'a\n' });
    roots.push(r);
    const { files } = await listFiles(r);
    await fsp.rm(path.join(r, 'a.ts'));
    await fsp.mkdir(path.join(r, 'a.ts'));
    const res = await readWalkFile(files[0]);
    assert.equal(!res.ok && res.skip.reason, 'vanished');
  });

  test('unreadable file and directory (permission denied, as a non-root process) are reported, not fatal', async () => {
    const r = await makeTree({ 'ok.ts': 'ok\n', 'locked.ts': 'secret\n', 'lockdir/inner.ts': 'x\n' });
    roots.push(r);
    await fsp.chmod(r, 0o755);
    await fsp.chmod(path.join(r, 'ok.ts'), 0o644);
    await fsp.chmod(path.join(r, 'locked.ts'), 0o000);
    await fsp.chmod(path.join(r, 'lockdir'), 0o000);
    const child = path.join(__dirname, '..', 'fixtures', 'walker', 'walk-child.ts');
    const asNobody = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};
    const res = spawnSync(process.execPath, ['--import', 'tsx', child, r], {
      ...asNobody,
      cwd: path.join(__dirname, '..', '..'),
      encoding: 'utf8',
      env: { ...process.env, HOME: os.tmpdir() },
    });
    assert.equal(res.status, 0, res.stderr);
    const out = JSON.parse(res.stdout) as Skip[];
    assert.deepEqual(
      out.find((s) => s.path === 'locked.ts'),
      { path: 'locked.ts', reason: 'unreadable', detail: 'EACCES' },
    );
    assert.deepEqual(
      out.find((s) => s.path === 'lockdir'),
      { path: 'lockdir', reason: 'unreadable', detail: 'EACCES' },
    );
    assert.deepEqual(
      out.find((s) => s.path === 'ok.ts'),
      { path: 'ok.ts' },
    );
  });
});

describe('walker symlinks', () => {
  test('links inside the root are followed; out of the root, loops, self-links and dangling links are skipped', async () => {
    const outside = await makeTree({ 'outside.ts': 'x\n' });
    const root = await makeTree({ 'src/a.ts': 'a\n', 'src/deep/b.ts': 'b\n' });
    roots.push(outside, root);
    await fsp.symlink(path.join(outside, 'outside.ts'), path.join(root, 'out-file.ts'));
    await fsp.symlink(outside, path.join(root, 'out-dir'));
    await fsp.symlink('..', path.join(root, 'src/deep/up')); // loop: back to src
    await fsp.symlink('.', path.join(root, 'self-dir')); // loop: the root itself
    await fsp.symlink('me', path.join(root, 'me')); // resolves to itself
    await fsp.symlink('nowhere.ts', path.join(root, 'dangling.ts'));
    await fsp.symlink('src/a.ts', path.join(root, 'alias.ts')); // inside: followed
    await fsp.symlink('src/deep', path.join(root, 'deep-alias')); // inside, not a loop: followed
    const { files, skipped } = await walkAll(root);
    assert.deepEqual(files, ['alias.ts', 'deep-alias/b.ts', 'src/a.ts', 'src/deep/b.ts']);
    assert.equal(reasonOf(skipped, 'out-file.ts'), 'symlink-outside');
    assert.equal(reasonOf(skipped, 'out-dir'), 'symlink-outside');
    assert.equal(reasonOf(skipped, 'src/deep/up'), 'symlink-loop');
    assert.equal(reasonOf(skipped, 'self-dir'), 'symlink-loop');
    assert.equal(reasonOf(skipped, 'me'), 'symlink-loop');
    assert.equal(reasonOf(skipped, 'dangling.ts'), 'unreadable');
    assert.equal(reasonOf(skipped, 'deep-alias/up'), 'symlink-loop');
  });

  test('a workspace root reached through a symlink works', async () => {
    const root = await makeTree({ 'a.ts': 'a\n' });
    const linkParent = await fsp.mkdtemp(path.join(os.tmpdir(), 'e2code-link-'));
    roots.push(root, linkParent);
    await fsp.symlink(root, path.join(linkParent, 'ws'));
    const { files } = await walkAll(path.join(linkParent, 'ws'));
    assert.deepEqual(files, ['a.ts']);
  });
});

describe('walker robustness', () => {
  test('a missing root is a clear error', async () => {
    await assert.rejects(listFiles('/nonexistent/e2code-root'), /no such directory/);
  });

  test('deeply nested directories (as deep as PATH_MAX allows) are walked without recursion', async () => {
    const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'e2code-deep-'));
    roots.push(root);
    // 1,500 levels of 'd/' is ~3,000 characters: close to Linux's 4,096-byte PATH_MAX.
    const rel = Array.from({ length: 1500 }, () => 'd').join('/');
    await fsp.mkdir(path.join(root, rel), { recursive: true });
    await fsp.writeFile(path.join(root, rel, 'leaf.ts'), 'x\n');
    const { files } = await listFiles(root);
    assert.deepEqual(
      files.map((f) => f.path),
      [`${rel}/leaf.ts`],
    );
  });

  test('an aborted walk rejects with AbortError', async () => {
    const root = await makeTree({ 'a/b.ts': 'x\n' });
    roots.push(root);
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(listFiles(root, { signal: ac.signal }), { name: 'AbortError' });
  });
});

describe('walker special files', () => {
  test('a FIFO is never opened: not listed, and one that replaces a listed file is reported, not waited on', async () => {
    const root = await makeTree({ 'a.ts': 'a\n' });
    roots.push(root);
    spawnSync('mkfifo', [path.join(root, 'pipe.ts')]);
    const { files } = await listFiles(root);
    assert.deepEqual(
      files.map((f) => f.path),
      ['a.ts'],
    );
    await fsp.rm(path.join(root, 'a.ts'));
    spawnSync('mkfifo', [path.join(root, 'a.ts')]);
    const r = await readWalkFile(files[0]);
    assert.deepEqual(!r.ok && r.skip, { path: 'a.ts', reason: 'vanished', detail: 'no longer a regular file' });
  });
});
