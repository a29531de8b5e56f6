import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { SoftPromptCache, cacheKey, decodeEntry, encodeEntry, type SoftPromptEntry } from '../../src/core/runtime/cache/cache';

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
    assert.match(logs.join('\n'), new RegExp(`checked in full because process ${deadPid} did not close it cleanly: 2 entries read, all sound`));
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
    assert.match(logs.join('\n'), /checked in full because data\.mdb changed since it was last closed: 2 entries read, 1 failed their checksum/);
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
    await cache.putMany(bundle, hashes.map((hash, i) => ({ hash, entry: entry(i) })));
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
