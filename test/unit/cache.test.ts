import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { open } from 'lmdb';
import { SoftPromptCache, cacheKey, decodeEntry, encodeEntry, type SoftPromptEntry } from '../../src/core/runtime/cache';

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

    cache = SoftPromptCache.open(dir);
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
