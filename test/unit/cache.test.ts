import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statfsSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { SoftPromptCache, cacheKey, decodeEntry, encodeEntry, type SoftPromptEntry } from '../../src/core/runtime/cache/cache';
import { cacheHome, cacheLocation, defaultCacheDir } from '../../src/core/runtime/cache/location';
import { probeCommand } from '../../src/core/runtime/cache/probe';

function entry(seed: number, soft = 16, vec = 8): SoftPromptEntry {
  return {
    softTokens: Float32Array.from({ length: soft }, (_, i) => Math.sin(seed * 31 + i)),
    vector: Float32Array.from({ length: vec }, (_, i) => Math.cos(seed * 17 + i)),
  };
}

function tempDir(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'e2code-cache-'));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test('entry encoding round-trips and rejects any flipped byte, truncation or foreign bytes', () => {
  const e = entry(1);
  const buf = encodeEntry(e);
  const back = decodeEntry(buf)!;
  assert.deepEqual(back.softTokens, e.softTokens);
  assert.deepEqual(back.vector, e.vector);
  for (const at of [0, 4, 9, 20, buf.length - 1]) {
    const bad = Buffer.from(buf);
    bad[at] ^= 0x40;
    assert.equal(decodeEntry(bad), undefined, `flipped byte ${at} went unnoticed`);
  }
  assert.equal(decodeEntry(buf.subarray(0, buf.length - 4)), undefined);
  assert.equal(decodeEntry(Buffer.from('not a soft prompt')), undefined);
});

test('cache stores, survives reopening, and keys entries by bundle id and hash', async () => {
  const dir = tempDir();
  try {
    let cache = SoftPromptCache.open(dir);
    await cache.putMany('bundle-a', [
      { hash: 'h1', entry: entry(1) },
      { hash: 'h2', entry: entry(2) },
    ]);
    assert.equal(cache.has('bundle-a', 'h1'), true);
    assert.equal(cache.has('bundle-b', 'h1'), false, 'another bundle must not see these soft tokens');
    await cache.close();

    cache = SoftPromptCache.open(dir);
    const got = cache.get('bundle-a', 'h2')!;
    assert.deepEqual(got.softTokens, entry(2).softTokens);
    assert.deepEqual(got.vector, entry(2).vector);
    assert.equal(cache.get('bundle-b', 'h2'), undefined);
    assert.equal(cache.stats().entries, 2);
    assert.ok(cache.stats().bytes > 0);
    await cache.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a cache directory whose name has a dot (mktemp -d gives /tmp/tmp.5OzGI9QLTE) is a directory, not a database file', async () => {
  const parent = tempDir();
  const dir = path.join(parent, 'tmp.5OzGI9QLTE');
  try {
    let cache = SoftPromptCache.open(dir);
    await cache.putMany('bundle-a', [{ hash: 'h1', entry: entry(1) }]);
    await cache.close();
    cache = SoftPromptCache.open(dir);
    assert.deepEqual(cache.get('bundle-a', 'h1')?.softTokens, entry(1).softTokens);
    assert.equal(cache.openCheck.corrupt ?? 0, 0);
    await cache.close();
    assert.deepEqual(readdirSync(parent), ['tmp.5OzGI9QLTE'], 'nothing moved aside as corrupt');
    assert.ok(statSync(dir).isDirectory());
  } finally {
    rmSync(parent, { recursive: true, force: true });
  }
});

test('a corrupt entry is detected, dropped and reported as missing (so it is re-encoded)', async () => {
  const dir = tempDir();
  try {
    let cache = SoftPromptCache.open(dir);
    await cache.put('b', 'good', entry(1));
    await cache.put('b', 'bad', entry(2));
    await cache.close();

    // Damage one value behind the cache's back, as a torn write or bit rot would.
    const raw = open({ path: dir, maxDbs: 4 });
    const values = raw.openDB({ name: 'soft-prompts', encoding: 'binary' });
    const bytes = Buffer.from(values.getBinary(cacheKey('b', 'bad'))!);
    bytes[bytes.length - 3] ^= 0xff;
    await values.put(cacheKey('b', 'bad'), bytes);
    await raw.close();
    // Bit rot leaves no trace in the file's size or mtime: the open is a quick one (the record matches)
    // and it is the entry's checksum, on read, that catches it.
    const st = statSync(path.join(dir, 'data.mdb'));
    writeFileSync(path.join(dir, 'clean-close.json'), JSON.stringify({ size: st.size, mtimeMs: st.mtimeMs }));

    cache = SoftPromptCache.open(dir);
    assert.equal(cache.openCheck.deep, false);
    assert.equal(cache.get('b', 'bad'), undefined);
    assert.equal(cache.stats().corrupt, 1);
    assert.equal(cache.has('b', 'bad'), false, 'the corrupt entry must be removed');
    assert.deepEqual(cache.get('b', 'good')!.vector, entry(1).vector, 'other entries are untouched');
    await cache.put('b', 'bad', entry(2));
    assert.deepEqual(cache.get('b', 'bad')!.softTokens, entry(2).softTokens, 're-encoded entry is stored again');
    await cache.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('over its size cap the cache evicts least recently used entries first', async () => {
  const dir = tempDir();
  try {
    const one = encodeEntry(entry(0)).byteLength;
    // Room for 4 entries; eviction goes down to 90% of the cap, i.e. 3 entries.
    const cache = SoftPromptCache.open(dir, { maxBytes: one * 4, touchIntervalMs: 0 });
    for (const h of ['a', 'b', 'c', 'd']) {
      await cache.put('x', h, entry(h.charCodeAt(0)));
      await sleep(5);
    }
    assert.equal(cache.stats().entries, 4);
    // Using `a` makes `b` the least recently used one.
    assert.ok(cache.get('x', 'a'));
    await sleep(5);
    await cache.put('x', 'e', entry(5));
    const kept = ['a', 'b', 'c', 'd', 'e'].filter((h) => cache.has('x', h));
    assert.equal(cache.has('x', 'b'), false, 'least recently used entry should be evicted');
    assert.equal(cache.has('x', 'a'), true, 'recently read entry should survive');
    assert.equal(cache.has('x', 'e'), true, 'the new entry should survive');
    assert.ok(cache.stats().bytes <= cache.maxBytes);
    assert.ok(cache.stats().evicted >= 1);
    await cache.close();

    const reopened = SoftPromptCache.open(dir, { maxBytes: one * 4 });
    assert.equal(reopened.has('x', 'b'), false, 'eviction is persistent');
    assert.equal(reopened.stats().entries, kept.length);
    await reopened.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('open marker and clean-close record: a clean reopen is quick; an unclean end or a change behind its back gets a full check, reported', async () => {
  const dir = tempDir();
  try {
    let cache = SoftPromptCache.open(dir);
    await cache.put('b', 'one', entry(1));
    await cache.put('b', 'two', entry(2));
    assert.ok(existsSync(path.join(dir, `open-${process.pid}`)), 'no marker while open');
    await cache.close();
    assert.equal(existsSync(path.join(dir, `open-${process.pid}`)), false, 'marker left after a clean close');
    assert.ok(existsSync(path.join(dir, 'clean-close.json')));

    let logs: string[] = [];
    cache = SoftPromptCache.open(dir, { log: (l) => logs.push(l) });
    assert.deepEqual(cache.openCheck.reasons, []);
    assert.equal(cache.openCheck.deep, false, 'a clean reopen must stay quick');
    assert.deepEqual(logs, []);
    await cache.close();

    // A process that had it open and died without closing (its marker stays).
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    const deadPid = Number(dead.stdout);
    writeFileSync(path.join(dir, `open-${deadPid}`), `${deadPid}\n`);
    logs = [];
    cache = SoftPromptCache.open(dir, { log: (l) => logs.push(l) });
    assert.equal(cache.openCheck.deep, true);
    assert.match(
      logs.join('\n'),
      new RegExp(`checked in full because process ${deadPid} did not close it cleanly: 2 entries read, all sound`),
    );
    assert.equal(existsSync(path.join(dir, `open-${deadPid}`)), false, 'the stale marker is removed after the check');
    assert.deepEqual(cache.get('b', 'two')!.vector, entry(2).vector);
    await cache.close();

    // A marker whose pid now belongs to another process (started later): the writer is gone.
    writeFileSync(path.join(dir, `open-${process.ppid}`), `${process.ppid} 1\n`);
    logs = [];
    cache = SoftPromptCache.open(dir, { log: (l) => logs.push(l) });
    assert.equal(cache.openCheck.deep, true, 'a reused pid must not pass for the process that wrote the marker');
    assert.match(logs.join('\n'), new RegExp(`process ${process.ppid} did not close it cleanly`));
    await cache.close();

    // A live process's marker is left alone and is no reason for a full check.
    writeFileSync(path.join(dir, `open-${process.ppid}`), `${process.ppid}\n`);
    cache = SoftPromptCache.open(dir);
    assert.equal(cache.openCheck.deep, false);
    await cache.close();
    assert.ok(existsSync(path.join(dir, `open-${process.ppid}`)));
    rmSync(path.join(dir, `open-${process.ppid}`));

    // The file changed while nobody had it open: a value damaged behind its back is found at open.
    const raw = open({ path: dir, maxDbs: 4 });
    const values = raw.openDB({ name: 'soft-prompts', encoding: 'binary' });
    const bytes = Buffer.from(values.getBinary(cacheKey('b', 'one'))!);
    bytes[bytes.length - 1] ^= 0x55;
    await values.put(cacheKey('b', 'one'), bytes);
    await raw.close();
    logs = [];
    cache = SoftPromptCache.open(dir, { log: (l) => logs.push(l) });
    assert.match(
      logs.join('\n'),
      /checked in full because data\.mdb changed since it was last closed: 2 entries read, 1 failed their checksum/,
    );
    assert.equal(cache.openCheck.corrupt, 1);
    assert.equal(cache.get('b', 'one'), undefined, 'the damaged entry is gone (re-encoded by the caller)');
    assert.deepEqual(cache.get('b', 'two')!.softTokens, entry(2).softTokens);
    await cache.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('entries read back at open are the same entries as those used since (real hash keys, some starting with a digit)', async () => {
  const dir = tempDir();
  const bundle = 'default-024536884fc3fc47';
  // Chunk hashes are hex: lmdb's key encoding reads "bundle\0<digit>..." back as a two-part key.
  const hashes = ['0336d4f8b2c4b38c0dcccb8e26c96bee7b4f5d29d56cd685b9820f8b2e381c28', '9f0e', 'a1b2', 'fed0'];
  try {
    let cache = SoftPromptCache.open(dir, { touchIntervalMs: 0 });
    await cache.putMany(
      bundle,
      hashes.map((hash, i) => ({ hash, entry: entry(i) })),
    );
    await cache.close();
    cache = SoftPromptCache.open(dir, { touchIntervalMs: 0 });
    const bytes = cache.stats().bytes;
    for (const hash of hashes) {
      assert.equal(cache.has(bundle, hash), true, `has ${hash} after reopening`);
      assert.ok(cache.get(bundle, hash), `get ${hash}`);
    }
    assert.equal(cache.stats().entries, hashes.length, 'each entry counted once');
    assert.equal(cache.stats().bytes, bytes, 'reading entries does not grow the byte count');
    await cache.close();
    // The full check (after an unclean end) looks each scanned key up again: such keys must pass it.
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
    writeFileSync(path.join(dir, `open-${dead.stdout}`), `${dead.stdout}\n`);
    const logs: string[] = [];
    cache = SoftPromptCache.open(dir, { log: (l) => logs.push(l) });
    assert.match(logs.join('\n'), /4 entries read, all sound/);
    assert.equal(cache.openCheck.movedAside, undefined);
    await cache.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Runs `cmd` and fails the test with its output when it does not succeed (mounts need root, as in CI). */
function must(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  assert.equal(r.status, 0, `${cmd} ${args.join(' ')}: ${r.stderr || r.error?.message} (these tests need mount rights: run as root)`);
}

/** Fills the file system of `dir` until `leave` bytes are free; returns the filler. */
function fill(dir: string, leave: number): string {
  const st = statfsSync(dir);
  const filler = path.join(dir, `filler-${Date.now()}`);
  writeFileSync(filler, Buffer.alloc(Math.max(0, st.bavail * st.bsize - leave), 1));
  return filler;
}

test('the probe is a real program next to the cache module (run through tsx from the sources)', () => {
  const cmd = probeCommand();
  assert.ok('args' in cmd, JSON.stringify(cmd));
  const script = cmd.args[cmd.args.length - 1];
  assert.equal(path.basename(script), 'probeChild.ts');
  assert.ok(existsSync(script));
});

test('default location: E2CODE_CACHE_DIR, XDG_CACHE_HOME, HOME, else a temporary directory with a note; never throws', () => {
  assert.deepEqual(cacheLocation({ E2CODE_CACHE_DIR: '/c/x', XDG_CACHE_HOME: '/x', HOME: '/h' }), { dir: '/c/x' });
  assert.deepEqual(cacheLocation({ XDG_CACHE_HOME: '/x', HOME: '/h' }), { dir: '/x/e2code' });
  assert.deepEqual(cacheLocation({ HOME: '/h' }), { dir: '/h/.cache/e2code' });
  assert.deepEqual(cacheHome({ E2CODE_CACHE_DIR: '/c/x', HOME: '/h' }), { dir: '/h/.cache/e2code' });
  const none = cacheLocation({});
  assert.equal(path.dirname(none.dir), os.tmpdir());
  assert.match(none.note ?? '', /no home directory .* caching in .*e2code-cache-/);
  assert.equal(typeof defaultCacheDir(), 'string');
});

test('a read-only cache (a read-only mount) is used read-only: entries are read, writes are skipped, the file is untouched, one note', async () => {
  const dir = tempDir();
  const view = tempDir();
  try {
    const writer = SoftPromptCache.open(dir);
    await writer.putMany('b', [
      { hash: 'h1', entry: entry(1) },
      { hash: 'h2', entry: entry(2) },
    ]);
    await writer.close();
    const before = statSync(path.join(dir, 'data.mdb'));
    must('mount', ['--bind', dir, view]);
    must('mount', ['-o', 'remount,bind,ro', view]);
    const logs: string[] = [];
    const cache = SoftPromptCache.open(view, { log: (l) => logs.push(l) });
    assert.equal(cache.mode, 'read');
    assert.deepEqual(cache.get('b', 'h1')?.softTokens, entry(1).softTokens);
    await cache.putMany('b', [{ hash: 'h3', entry: entry(3) }]); // no throw
    assert.equal(cache.get('b', 'h3'), undefined);
    assert.equal(cache.stats().writing, false);
    await cache.close();
    assert.equal(logs.length, 1, logs.join(' | '));
    assert.match(
      logs[0],
      /is used read-only \(it is on a read-only file system\): answers use the 2 entries it holds; nothing new is cached/,
    );
    assert.equal(statSync(path.join(dir, 'data.mdb')).mtimeMs, before.mtimeMs);
    assert.deepEqual(
      readdirSync(dir).filter((n) => n.startsWith('corrupt-')),
      [],
    );
  } finally {
    // Lazily: lmdb keeps a read-only file system's map after close (no lock file there), so the mount stays busy while this process lives.
    spawnSync('umount', ['-l', view]);
    rmSync(view, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a disk without room pauses caching (no throw, said once) and resumes when space returns; nothing is half-written', async () => {
  const disk = tempDir();
  try {
    must('mount', ['-t', 'tmpfs', '-o', 'size=6m', 'tmpfs', disk]);
    const logs: string[] = [];
    const cache = SoftPromptCache.open(path.join(disk, 'cache'), { log: (l) => logs.push(l) });
    assert.equal(cache.mode, 'write');
    await cache.putMany('b', [{ hash: 'small', entry: entry(0) }]);
    const filler = fill(disk, 1536 * 1024); // 1.5 MB free of which the cache keeps 1 MB
    const big = (k: number) => Array.from({ length: 40 }, (_, i) => ({ hash: `big-${k}-${i}`, entry: entry(i, 4096, 768) }));
    await cache.putMany('b', big(1)); // 0.6 MB of values: more than the bound on the file's growth allows
    await cache.putMany('b', big(2));
    assert.equal(cache.stats().writing, false);
    assert.equal(cache.get('b', 'big-1-0'), undefined);
    assert.ok(cache.get('b', 'small'), 'what was cached before is still read');
    assert.equal(logs.filter((l) => /until space returns/.test(l)).length, 1, logs.join(' | '));
    rmSync(filler);
    await cache.putMany('b', big(3));
    assert.ok(cache.get('b', 'big-3-0'));
    assert.equal(cache.stats().writing, true);
    assert.ok(
      logs.some((l) => /space is back .* caching again/.test(l)),
      logs.join(' | '),
    );
    await cache.close();
    const reopened = SoftPromptCache.open(path.join(disk, 'cache'));
    assert.equal(reopened.stats().entries, 41);
    await reopened.close();
  } finally {
    spawnSync('umount', [disk]);
    rmSync(disk, { recursive: true, force: true });
  }
});

test('a fresh cache on a full disk is not created (lmdb would die of SIGBUS); it is created once there is room', async () => {
  const disk = tempDir();
  try {
    must('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', disk]);
    const dir = path.join(disk, 'cache');
    mkdirSync(dir);
    const filler = fill(disk, 0);
    const logs: string[] = [];
    const cache = SoftPromptCache.open(dir, { log: (l) => logs.push(l) });
    assert.equal(cache.mode, 'off');
    assert.equal(existsSync(path.join(dir, 'lock.mdb')), false);
    assert.equal(cache.get('b', 'x'), undefined);
    await cache.putMany('b', [{ hash: 'x', entry: entry(1) }]);
    assert.equal(logs.length, 1, logs.join(' | '));
    assert.match(logs[0], /is not used \(its disk is full \(ENOSPC\)\); answering without caching/);
    rmSync(filler);
    await cache.putMany('b', [{ hash: 'x', entry: entry(1) }]);
    assert.equal(cache.mode, 'write');
    assert.ok(cache.get('b', 'x'));
    await cache.close();
  } finally {
    spawnSync('umount', [disk]);
    rmSync(disk, { recursive: true, force: true });
  }
});

test('a damaged cache is moved aside keeping only the newest damaged copy', async () => {
  const dir = tempDir();
  try {
    const c = SoftPromptCache.open(dir);
    await c.putMany('b', [{ hash: 'h', entry: entry(1) }]);
    await c.close();
    mkdirSync(path.join(dir, 'corrupt-1'));
    writeFileSync(path.join(dir, 'corrupt-1', 'data.mdb'), 'old damage');
    writeFileSync(path.join(dir, 'data.mdb'), Buffer.alloc(statSync(path.join(dir, 'data.mdb')).size, 0xa5));
    const logs: string[] = [];
    const cache = SoftPromptCache.open(dir, { log: (l) => logs.push(l) });
    const aside = readdirSync(dir).filter((n) => n.startsWith('corrupt-'));
    assert.equal(aside.length, 1);
    assert.notEqual(aside[0], 'corrupt-1');
    assert.equal(cache.openCheck.movedAside, path.join(dir, aside[0]));
    assert.match(logs.join('\n'), /is damaged .* moved it to/);
    await cache.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
