import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { createChunker, type Chunker } from '../../src/core/chunker/index';
import { WorkspaceIndex, StaleFileError, defaultStoreDir, defaultStoreLocation, type IndexChunker } from '../../src/core/index/index';
import type { Chunk } from '../../src/core/types';
import { counting, settle, tempDirs, writeFiles } from './lib/workspaceFiles';

function moduleSource(i: number, variant = 0): string {
  const fns = Array.from(
    { length: 4 },
    (_, k) =>
      `/** Computes value ${k} of module ${i}. */\nexport function fn${i}_${k}(x: number): number {\n` +
      `  const base = ${k} * x + ${i};\n  const scaled = base * ${k === 2 ? variant + 7 : 7};\n` +
      `  if (scaled > 1000) {\n    throw new RangeError('value ${k} of module ${i} is out of range: ' + scaled);\n  }\n` +
      `  const parts = [base, scaled, x].map((v) => v.toString(16));\n  return parts.reduce((a, b) => a + b.length, 0);\n}\n`,
  );
  return `// module ${i}\n\n${fns.join('\n')}\nexport class Box${i} {\n  constructor(readonly v: number) {}\n  get double(): number {\n    return this.v * 2;\n  }\n}\n`;
}

/** Ensures an edit gets a different mtime even on coarse clocks. */
async function bumpMtime(abs: string, deltaMs = 5000): Promise<void> {
  const st = await fsp.stat(abs);
  const t = new Date(st.mtimeMs + deltaMs);
  await fsp.utimes(abs, t, t);
}

const tempDir = tempDirs();

let chunker: Chunker;
before(async () => {
  chunker = await createChunker();
});

async function allChunksFresh(root: string, paths: string[]): Promise<Chunk[]> {
  const out: Chunk[] = [];
  for (const p of paths) out.push(...(await chunker.chunkFile(p, await fsp.readFile(path.join(root, p)))));
  return out;
}

describe('WorkspaceIndex refresh', () => {
  test('first refresh adds everything; a second one reads nothing', async () => {
    const root = await tempDir('e2code-idx-');
    const store = await tempDir('e2code-store-');
    await writeFiles(root, { 'a.ts': moduleSource(1), 'lib/b.ts': moduleSource(2), 'README.md': '# Title\n\nText.\n', 'logo.png': 'x' });
    await settle(root);
    let reads = 0;
    const c = counting(chunker);
    const index = await WorkspaceIndex.open({ root, storeDir: store, chunker: c, beforeRead: () => void reads++ });
    assert.equal(index.loadReport.status, 'fresh');
    const r1 = await index.refresh();
    assert.deepEqual(r1.added, ['README.md', 'a.ts', 'lib/b.ts']);
    assert.deepEqual(r1.skipped, { binary: 1 });
    const expected = await allChunksFresh(root, r1.added);
    assert.equal(r1.chunks, expected.length);
    assert.deepEqual(new Set(r1.newChunkHashes), new Set(expected.map((x) => x.hash)));
    assert.equal(
      r1.bytes,
      (await Promise.all(r1.added.map(async (p) => (await fsp.stat(path.join(root, p))).size))).reduce((a, b) => a + b),
    );

    reads = 0;
    c.calls.length = 0;
    const r2 = await index.refresh();
    assert.deepEqual(r2.unchanged, ['README.md', 'a.ts', 'lib/b.ts']);
    assert.deepEqual([r2.added, r2.updated, r2.removed, r2.newChunkHashes, r2.removedChunkHashes], [[], [], [], [], []]);
    assert.equal(reads, 0, 'stat-unchanged files are not read');
    assert.deepEqual(c.calls, []);
  });

  test('edit, touch, add and delete give the right lists and chunk-hash diffs', async () => {
    const root = await tempDir('e2code-idx-');
    await writeFiles(root, { 'a.ts': moduleSource(1), 'b.ts': moduleSource(2), 'c.ts': moduleSource(3) });
    await settle(root);
    const c = counting(chunker);
    const index = await WorkspaceIndex.open({ root, persist: false, chunker: c });
    await index.refresh();
    const before = new Set([...index.allChunks()].map((x) => x.hash));

    await writeFiles(root, { 'a.ts': moduleSource(1, 5), 'd.ts': moduleSource(4), 'c.ts': null });
    await bumpMtime(path.join(root, 'b.ts')); // touched, same content
    await settle(root);
    c.calls.length = 0;
    const r = await index.refresh();
    assert.deepEqual(r.updated, ['a.ts']);
    assert.deepEqual(r.added, ['d.ts']);
    assert.deepEqual(r.removed, ['c.ts']);
    assert.deepEqual(r.unchanged, ['b.ts']);
    assert.deepEqual(c.calls.sort(), ['a.ts', 'd.ts'], 'only changed files are re-chunked');

    const after = new Set([...index.allChunks()].map((x) => x.hash));
    assert.deepEqual(new Set(r.newChunkHashes), new Set([...after].filter((h) => !before.has(h))));
    assert.deepEqual(new Set(r.removedChunkHashes), new Set([...before].filter((h) => !after.has(h))));
    // The edit changed one function of a.ts: one chunk of it is new, the rest kept their hashes.
    const aNew = index.chunksOf('a.ts').filter((x) => r.newChunkHashes.includes(x.hash));
    assert.ok(aNew.length >= 1 && aNew.length < index.chunksOf('a.ts').length, `a.ts new chunks: ${aNew.length}`);
    assert.ok(aNew.some((x) => x.symbols.includes('fn1_2')));
  });

  test('branch switch: many files touched, only chunks whose text changed are new', async () => {
    const root = await tempDir('e2code-idx-');
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`src/m${i}.ts`] = moduleSource(i);
    await writeFiles(root, files);
    await settle(root);
    const c = counting(chunker);
    const index = await WorkspaceIndex.open({ root, persist: false, chunker: c });
    await index.refresh();
    const before = new Set([...index.allChunks()].map((x) => x.hash));

    // "git checkout other-branch": every file rewritten (new mtime), 5 edited, 2 deleted, 2 added.
    const next: Record<string, string | null> = {};
    for (let i = 0; i < 40; i++) next[`src/m${i}.ts`] = i % 8 === 0 ? moduleSource(i, 3) : moduleSource(i);
    next['src/m39.ts'] = null;
    next['src/m38.ts'] = null;
    next['src/new1.ts'] = moduleSource(100);
    next['src/new2.ts'] = moduleSource(101);
    await writeFiles(root, next);
    for (let i = 0; i < 38; i++) await bumpMtime(path.join(root, `src/m${i}.ts`));
    await settle(root);
    c.calls.length = 0;
    const r = await index.refresh();

    const edited = ['src/m0.ts', 'src/m16.ts', 'src/m24.ts', 'src/m32.ts', 'src/m8.ts'];
    assert.deepEqual(r.updated, edited);
    assert.deepEqual(r.added, ['src/new1.ts', 'src/new2.ts']);
    assert.deepEqual(r.removed, ['src/m38.ts', 'src/m39.ts']);
    assert.equal(r.unchanged.length, 33);
    assert.deepEqual(c.calls.sort(), [...edited, 'src/new1.ts', 'src/new2.ts'].sort());

    const fresh = await allChunksFresh(root, index.files());
    const truth = new Set(fresh.map((x) => x.hash).filter((h) => !before.has(h)));
    assert.deepEqual(new Set(r.newChunkHashes), truth);
    // Each edited file contributes exactly the chunk of the edited function; new files all their chunks.
    const perNewFile = index.chunksOf('src/new1.ts').length;
    assert.equal(r.newChunkHashes.length, edited.length + 2 * perNewFile);
  });

  test('onChunks streams the new chunks with text, matching newChunkHashes', async () => {
    const root = await tempDir('e2code-idx-');
    await writeFiles(root, {
      'a.ts': moduleSource(1),
      'b.py': 'def f(x):\n    return x + 1\n\n\nclass K:\n    def m(self):\n        return 2\n',
    });
    const streamed: Chunk[] = [];
    const index = await WorkspaceIndex.open({ root, persist: false, chunker });
    const r = await index.refresh({ onChunks: (cs) => void streamed.push(...cs) });
    assert.deepEqual(streamed.map((x) => x.hash).sort(), [...r.newChunkHashes].sort());
    for (const ch of streamed) assert.ok(ch.text.length > 0 && ch.text.includes(ch.path));
  });

  test('accessors: files, chunksOf, chunkByHash, definitions, readChunks, chunkTexts, stale detection', async () => {
    const root = await tempDir('e2code-idx-');
    await writeFiles(root, { 'a.ts': moduleSource(1), 'b.ts': moduleSource(2) });
    const index = await WorkspaceIndex.open({ root, persist: false, chunker });
    await index.refresh();
    assert.deepEqual(index.files(), ['a.ts', 'b.ts']);
    const defs = index.definitions('Box2');
    assert.equal(defs.length, 1);
    assert.equal(defs[0].path, 'b.ts');
    assert.deepEqual(index.definitions('nope'), []);
    const first = index.chunksOf('a.ts')[0];
    assert.equal(index.chunkByHash(first.hash), first);
    const withText = await index.readChunks('a.ts');
    assert.deepEqual(
      withText.map((x) => x.hash),
      index.chunksOf('a.ts').map((x) => x.hash),
    );
    const bytes = await fsp.readFile(path.join(root, 'a.ts'));
    assert.equal(Buffer.concat(withText.map((x) => bytes.subarray(x.startByte, x.endByte))).equals(bytes), true);
    const texts = await index.chunkTexts([first.hash, 'unknown']);
    assert.deepEqual([...texts.keys()], [first.hash]);

    await fsp.appendFile(path.join(root, 'a.ts'), '\n// edited after indexing\n');
    await assert.rejects(index.readChunks('a.ts'), StaleFileError);
    const bHash = index.chunksOf('b.ts')[0].hash;
    assert.deepEqual([...(await index.chunkTexts([first.hash, bHash])).keys()], [bHash], 'stale a.ts is left out');
    await fsp.rm(path.join(root, 'b.ts'));
    await assert.rejects(index.readChunks('b.ts'), StaleFileError);
  });

  test('cancellation keeps what was done; the next refresh finishes the rest', async () => {
    const root = await tempDir('e2code-idx-');
    const store = await tempDir('e2code-store-');
    const files: Record<string, string> = {};
    for (let i = 0; i < 12; i++) files[`m${String(i).padStart(2, '0')}.ts`] = moduleSource(i);
    await writeFiles(root, files);
    await settle(root);
    const ac = new AbortController();
    const index = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    await assert.rejects(index.refresh({ signal: ac.signal, onProgress: (p) => p.done === 4 && ac.abort() }), { name: 'AbortError' });
    assert.equal(index.files().length, 4);
    const reopened = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    assert.equal(reopened.files().length, 4, 'cancelled work was persisted');
    const r = await reopened.refresh();
    assert.equal(r.added.length, 8);
    assert.equal(r.unchanged.length, 4);
  });
});

describe('WorkspaceIndex refreshPaths (editor events)', () => {
  test('save, create, delete, rename of a directory, ignored paths and ignore-file changes', async () => {
    const root = await tempDir('e2code-idx-');
    await writeFiles(root, { 'a.ts': moduleSource(1), 'dir/x.ts': moduleSource(2), 'dir/y.ts': moduleSource(3), '.gitignore': 'out/\n' });
    await settle(root);
    const c = counting(chunker);
    const index = await WorkspaceIndex.open({ root, persist: false, chunker: c });
    await index.refresh();

    await writeFiles(root, { 'a.ts': moduleSource(1, 9) });
    c.calls.length = 0;
    let r = await index.refreshPaths([path.join(root, 'a.ts')]);
    assert.deepEqual(r.updated, ['a.ts']);
    assert.deepEqual(c.calls, ['a.ts']);
    assert.equal(r.files, 4);

    await writeFiles(root, { 'new.ts': moduleSource(5) });
    r = await index.refreshPaths(['new.ts']);
    assert.deepEqual(r.added, ['new.ts']);

    await fsp.rm(path.join(root, 'new.ts'));
    r = await index.refreshPaths(['new.ts']);
    assert.deepEqual(r.removed, ['new.ts']);
    assert.ok(r.removedChunkHashes.length > 0);

    await fsp.rename(path.join(root, 'dir'), path.join(root, 'moved'));
    r = await index.refreshPaths(['dir', 'moved']);
    assert.deepEqual(r.removed, ['dir/x.ts', 'dir/y.ts']);
    assert.deepEqual(r.added, ['moved/x.ts', 'moved/y.ts']);

    await writeFiles(root, { 'out/gen.ts': moduleSource(6) });
    r = await index.refreshPaths(['out/gen.ts']);
    assert.deepEqual(r.skips, [{ path: 'out/gen.ts', reason: 'ignored', detail: '.gitignore' }]);
    assert.ok(!index.files().includes('out/gen.ts'));

    await writeFiles(root, { '.gitignore': '' });
    r = await index.refreshPaths(['.gitignore']);
    assert.deepEqual(r.added, ['out/gen.ts'], 'a changed .gitignore re-walks the workspace');

    await assert.rejects(index.refreshPaths(['/somewhere/else.ts']), /outside the workspace/);

    spawnSync('mkfifo', [path.join(root, 'pipe.ts')]);
    r = await index.refreshPaths(['pipe.ts']); // must not block opening a FIFO
    assert.deepEqual(r.skips, [{ path: 'pipe.ts', reason: 'ignored', detail: 'not a regular file' }]);
  });
});

describe('WorkspaceIndex persistence', () => {
  async function indexed(): Promise<{ root: string; store: string; index: WorkspaceIndex }> {
    const root = await tempDir('e2code-idx-');
    const store = await tempDir('e2code-store-');
    const files: Record<string, string> = {};
    for (let i = 0; i < 6; i++) files[`m${i}.ts`] = moduleSource(i);
    await writeFiles(root, files);
    await settle(root);
    const index = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    await index.refresh();
    return { root, store, index };
  }

  test('an index reopened from its store is complete: nothing is re-read or re-chunked', async () => {
    const { root, store, index } = await indexed();
    await writeFiles(root, { 'm1.ts': moduleSource(1, 4) });
    await settle(root);
    await index.refresh(); // goes to the journal
    // close() saves the lexical index, which a small change leaves unsaved (an unclean exit costs
    // re-reading the changed files: see workspaceIndexLexical.test.ts); the chunk journal is as it was.
    await index.close();
    const c = counting(chunker);
    const reopened = await WorkspaceIndex.open({ root, storeDir: store, chunker: c });
    assert.equal(reopened.loadReport.status, 'loaded');
    assert.deepEqual([...reopened.allChunks()], [...index.allChunks()]);
    assert.deepEqual(reopened.definitions('fn1_2'), index.definitions('fn1_2'));
    const r = await reopened.refresh();
    assert.equal(r.unchanged.length, 6);
    assert.deepEqual(c.calls, []);
  });

  test('a crash mid-write (torn journal append, half-written temp snapshot) leaves the previous index loadable', async () => {
    const { root, store, index } = await indexed();
    await writeFiles(root, { 'm2.ts': moduleSource(2, 1) });
    await settle(root);
    await index.refresh();
    const committed = [...index.allChunks()];
    // What a kill during the next commit leaves behind: a partial journal line and a partial temp snapshot.
    const journal = path.join(store, 'index.journal');
    const size = (await fsp.stat(journal)).size;
    await fsp.appendFile(journal, '0123456789abcdef {"files":{"m3.ts":{"size":1,"mtim');
    await fsp.writeFile(path.join(store, 'index.snapshot.999.deadbeef.tmp'), '{"magic":"e2code-index","ver');
    const reopened = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    assert.equal(reopened.loadReport.status, 'loaded');
    assert.match(reopened.loadReport.notes.join('\n'), /torn or damaged tail/);
    assert.deepEqual([...reopened.allChunks()], committed);
    assert.equal((await fsp.stat(journal)).size, size, 'the torn tail was cut off');
  });

  for (const [name, damage] of [
    [
      'a flipped byte',
      async (f: string) => {
        const b = await fsp.readFile(f);
        b[Math.floor(b.length / 2)] ^= 0x20;
        await fsp.writeFile(f, b);
      },
    ],
    ['truncation', async (f: string) => fsp.truncate(f, Math.floor((await fsp.stat(f)).size / 2))],
    ['garbage', async (f: string) => fsp.writeFile(f, 'not an index at all')],
    ['an empty file', async (f: string) => fsp.writeFile(f, '')],
  ] as const) {
    test(`a snapshot damaged by ${name} is detected, reported and rebuilt`, async () => {
      const { root, store, index } = await indexed();
      await index.close();
      await damage(path.join(store, 'index.snapshot'));
      const reopened = await WorkspaceIndex.open({ root, storeDir: store, chunker });
      assert.equal(reopened.loadReport.status, 'rebuilt');
      assert.match(reopened.loadReport.notes[0], /snapshot unusable/);
      const r = await reopened.refresh();
      assert.equal(r.added.length, 6);
      const again = await WorkspaceIndex.open({ root, storeDir: store, chunker });
      assert.equal(again.loadReport.status, 'loaded');
      assert.equal(again.files().length, 6);
    });
  }

  test('non-ASCII paths and symbols survive the store (snapshot and journal)', async () => {
    const root = await tempDir('e2code-idx-');
    const store = await tempDir('e2code-store-');
    await writeFiles(root, { '日本/größe.ts': 'export function größe(): number {\n  return 1;\n}\n' });
    const index = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    await index.refresh();
    await writeFiles(root, { 'émoji/😀.py': 'def café():\n    return "☕"\n' });
    await index.refreshPaths(['émoji/😀.py']); // a journal record
    const reopened = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    assert.equal(reopened.loadReport.status, 'loaded');
    assert.deepEqual(reopened.files(), ['émoji/😀.py', '日本/größe.ts']);
    assert.deepEqual([...reopened.allChunks()], [...index.allChunks()]);
    assert.equal(reopened.definitions('größe')[0]?.path, '日本/größe.ts');
  });

  test('changed chunk settings discard the stored index', async () => {
    const { root, store } = await indexed();
    const other = await WorkspaceIndex.open({ root, storeDir: store, chunker, chunkTokens: 128 });
    assert.equal(other.loadReport.status, 'rebuilt');
    assert.match(other.loadReport.notes[0], /settings changed/);
  });

  test('the default store lives under $XDG_CACHE_HOME, keyed by the root', () => {
    const saved = process.env.XDG_CACHE_HOME;
    process.env.XDG_CACHE_HOME = '/tmp/xdg-test';
    try {
      const a = defaultStoreDir('/work/a');
      assert.match(a, /^\/tmp\/xdg-test\/e2code\/workspaces\/[0-9a-f]{16}$/);
      assert.notEqual(a, defaultStoreDir('/work/b'));
    } finally {
      if (saved === undefined) delete process.env.XDG_CACHE_HOME;
      else process.env.XDG_CACHE_HOME = saved;
    }
  });

  test('the default store: ~/.cache without XDG_CACHE_HOME; with no home either, a temporary folder, said in a note', () => {
    const id = /\/workspaces\/[0-9a-f]{16}$/;
    assert.deepEqual(defaultStoreLocation('/work/a', { XDG_CACHE_HOME: '/tmp/xdg-test', HOME: '/home/u' }), {
      dir: defaultStoreDir('/work/a', { XDG_CACHE_HOME: '/tmp/xdg-test' }),
    });
    const home = defaultStoreLocation('/work/a', { HOME: '/home/u' });
    assert.match(home.dir, /^\/home\/u\/\.cache\/e2code\/workspaces\/[0-9a-f]{16}$/);
    assert.equal(home.note, undefined);
    // An env without HOME (not process.env: the OS is not asked) is a user with no home directory.
    const none = defaultStoreLocation('/work/a', {});
    const tmp = path.join(os.tmpdir(), `e2code-cache-${process.getuid?.() ?? os.userInfo().username}`);
    assert.ok(none.dir.startsWith(`${tmp}/workspaces/`), none.dir);
    assert.match(none.dir, id);
    assert.match(
      none.note ?? '',
      new RegExp(`no home directory and no XDG_CACHE_HOME: the workspace index is stored in ${none.dir}, which the system may clear`),
    );
    assert.equal(none.dir.slice(-16), home.dir.slice(-16), 'the id depends on the root only');
  });
});

describe('WorkspaceIndex bad input', () => {
  test('binary, invalid UTF-8, empty, 50 MB, minified, 10,000-level nesting, symlink loops, a chunker failure: reported, never fatal', async () => {
    const root = await tempDir('e2code-idx-');
    const deep = 'function f(a: boolean) {\n' + 'if (a) {\n'.repeat(10_000) + '}\n'.repeat(10_000) + '}\n';
    await writeFiles(root, {
      'ok.ts': moduleSource(1),
      'empty.ts': '',
      'deep.ts': deep,
      'bin.dat2': '\u0000\u0001\u0002binary',
      'min.js': 'var a=1;'.repeat(3000),
      'boom.ts': moduleSource(2),
    });
    await fsp.writeFile(path.join(root, 'latin1.c'), Buffer.from([0x2f, 0x2a, 0xe9, 0x2a, 0x2f, 0x0a])); // "/*é*/" in Latin-1
    const fh = await fsp.open(path.join(root, 'huge.ts'), 'w');
    await fh.truncate(50 * 1024 * 1024);
    await fh.close();
    await fsp.symlink('.', path.join(root, 'loop'));
    await fsp.symlink('missing.ts', path.join(root, 'dangling.ts'));
    // A chunker bug cannot be produced on demand: inject one for a single file around the real chunker.
    const faulty: IndexChunker = {
      languageOf: (p) => chunker.languageOf(p),
      chunkFile: (p, b) => (p === 'boom.ts' ? Promise.reject(new Error('synthetic chunker bug')) : chunker.chunkFile(p, b)),
    };
    const index = await WorkspaceIndex.open({ root, persist: false, chunker: faulty });
    const t0 = performance.now();
    const r = await index.refresh();
    assert.ok(performance.now() - t0 < 60_000);
    assert.deepEqual(r.added, ['deep.ts', 'empty.ts', 'ok.ts']);
    assert.deepEqual(index.chunksOf('empty.ts'), []);
    assert.ok(index.chunksOf('deep.ts').length > 1);
    const reasons = Object.fromEntries(r.skips.map((s) => [s.path, s.reason]));
    assert.deepEqual(reasons, {
      'bin.dat2': 'binary',
      'boom.ts': 'chunk-error',
      'dangling.ts': 'unreadable',
      'huge.ts': 'too-large',
      'latin1.c': 'invalid-utf8',
      loop: 'symlink-loop',
      'min.js': 'minified',
    });
    assert.match(r.skips.find((s) => s.path === 'boom.ts')!.detail!, /synthetic chunker bug/);
    // Remembered by stat: the next refresh reports the same skips without re-reading those files.
    const again = await index.refresh();
    assert.deepEqual(again.skipped, r.skipped);
    assert.deepEqual(again.unchanged, ['deep.ts', 'empty.ts', 'ok.ts']);
  });
});
