// Faults, injected into the real sidecar (src/sidecar/main.ts behind the real SidecarClient, the bundled
// model, lmdb cache, persistent workspace index): SIGKILL during encoding and during generation, corrupt
// cache and index files, disk full while writing (a real small tmpfs; without mount rights, an
// RLIMIT_FSIZE-limited sidecar), and broken model bundles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync,
  existsSync,
  openSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  utimesSync,
  writeFileSync,
  writeSync,
  closeSync,
} from 'node:fs';
import path from 'node:path';
import { SoftPromptCache } from '../../src/core/runtime/cache/cache';
import { WorkspaceIndex } from '../../src/core/index/index';
import { readSizing } from '../../src/core/runtime/workspace/sizing';
import { SidecarExitError } from '../../src/sidecar/client';
import {
  BUNDLE,
  REPO,
  REPO_SMALL,
  copyWorkspace,
  mountTmpfs,
  rmrf,
  startSidecar,
  syntheticWorkspace,
  tempDir,
  unmount,
  waitFor,
  type SidecarHandle,
} from './lib';
import { SidecarClient } from '../../src/sidecar/client';
import { SIDECAR_TS } from './lib';

function storeDirOf(xdg: string, root: string): string {
  return path.join(xdg, 'e2code', 'workspaces', createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 16));
}

const BUNDLE_ID = (JSON.parse(readFileSync(path.join(BUNDLE, 'manifest.json'), 'utf8')) as { id: string }).id;

/**
 * The bundled model with a manifest that claims every capability, in a fresh temp dir (model files
 * linked). The bundled manifest claims only 'locate', so its asks are answered from the index with a
 * few decoded tokens at most; with this one an ask decodes up to maxTokens.
 */
function writerBundle(): string {
  const dir = tempDir('e2code-bundle-writer-');
  for (const f of readdirSync(BUNDLE)) if (f !== 'manifest.json') symlinkSync(path.join(BUNDLE, f), path.join(dir, f));
  const manifest = JSON.parse(readFileSync(path.join(BUNDLE, 'manifest.json'), 'utf8')) as { capabilities?: string[] };
  manifest.capabilities = ['locate', 'explain', 'summarize', 'generate'];
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

/** After the sidecar is gone: the cache opens clean and holds a sound entry for every chunk of the index. */
async function assertConsistent(cacheDir: string, storeDir: string, root: string): Promise<{ entries: number; chunks: number }> {
  const index = await WorkspaceIndex.open({ root, storeDir, chunkTokens: 128, tokenizerId: BUNDLE_ID });
  assert.equal(index.loadReport.status, 'loaded', `index store: ${index.loadReport.notes.join('; ')}`);
  const hashes = new Set([...index.allChunks()].map((c) => c.hash));
  const logs: string[] = [];
  const cache = SoftPromptCache.open(cacheDir, { log: (l) => logs.push(l) });
  try {
    assert.deepEqual(logs, [], 'cache reported damage');
    let found = 0;
    for (const h of hashes) if (cache.get(BUNDLE_ID, h)) found++;
    assert.equal(cache.stats().corrupt, 0, 'corrupt cache entries');
    return { entries: found, chunks: hashes.size };
  } finally {
    await cache.close();
    await index.close();
  }
}

test('SIGKILL during encoding: the client restarts the sidecar; what was encoded before the kill is still cached; index and cache stay consistent', async (t) => {
  const root = syntheticWorkspace(110, 6);
  const xdg = tempDir('e2code-xdg-');
  let h: SidecarHandle | undefined;
  try {
    h = await startSidecar({ env: { XDG_CACHE_HOME: xdg } });
    const client = h.client;
    const firstPid = client.pid!;
    let killedAt = -1;
    let total = 0;
    const states: string[] = [];
    client.onStateChange((s) => states.push(s));
    const run = client.index({ root }, (p) => {
      if (p.phase !== 'encode') return;
      total = p.total;
      // Past the first group of 256 (committed to the cache), in the middle of the next one.
      if (killedAt < 0 && p.done > 300 && p.done < p.total) {
        killedAt = p.done;
        process.kill(firstPid, 'SIGKILL');
      }
    });
    const err = await run.then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(killedAt > 0, `the kill never happened (total ${total} to encode)`);
    assert.ok(err instanceof SidecarExitError, `index should fail with SidecarExitError, got ${String(err)}`);
    assert.match((err as Error).message, /SIGKILL.*index|index.*SIGKILL|signal SIGKILL during index/);
    await waitFor(() => client.state === 'ready' && client.pid !== firstPid, 60_000, 'the restarted sidecar');
    assert.ok(states.includes('restarting'), `states: ${states.join(' -> ')}`);

    const again = await client.index({ root });
    const committed = Math.floor(killedAt / 256) * 256;
    assert.ok(again.cached >= committed, `only ${again.cached} cached after the kill at ${killedAt} (>= ${committed} were committed)`);
    assert.equal(again.cached + again.encoded, total, 'every chunk is cached or encoded now');
    const third = await client.index({ root });
    assert.equal(third.encoded, 0, 'nothing left to encode');
    const cacheDir = h.cacheDir;
    await h.dispose();
    h = undefined;
    const c = await assertConsistent(cacheDir, storeDirOf(xdg, root), root);
    assert.equal(c.entries, c.chunks, 'every indexed chunk has a sound cache entry');
    t.diagnostic(
      `killed at ${killedAt}/${total} encoded; after restart ${again.cached} cached, ${again.encoded} encoded; ${c.entries} entries sound`,
    );
  } finally {
    await h?.dispose();
    rmrf(root);
    rmrf(xdg);
  }
});

test('SIGKILL during generation: the request fails clearly, the sidecar restarts, the cache is intact and the next answer works', async (t) => {
  const root = copyWorkspace(REPO_SMALL);
  const xdg = tempDir('e2code-xdg-');
  // A long decode to kill in the middle of (the bundled manifest's asks decode a few tokens at most).
  const bundle = writerBundle();
  let h: SidecarHandle | undefined;
  try {
    h = await startSidecar({ env: { XDG_CACHE_HOME: xdg }, bundlePath: bundle });
    const client = h.client;
    const first = await client.index({ root });
    const pid = client.pid!;
    let tokens = 0;
    const err = await client
      .generate({ task: 'ask', root, prompt: 'What does the LRU cache do?', options: { maxTokens: 400, ignoreEos: true } }, () => {
        if (++tokens === 3) process.kill(pid, 'SIGKILL');
      })
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    assert.ok(tokens >= 3, 'no tokens streamed before the kill');
    assert.ok(err instanceof SidecarExitError, `generate should fail with SidecarExitError, got ${String(err)}`);
    assert.match((err as Error).message, /SIGKILL during generate/);
    await waitFor(() => client.state === 'ready' && client.pid !== pid, 60_000, 'the restarted sidecar');
    const again = await client.index({ root });
    assert.equal(again.encoded, 0, 'the restart had to re-encode chunks that were cached');
    assert.equal(again.cached, first.cached + first.encoded);
    const answer = await client.generate({ task: 'ask', root, prompt: 'Where is LruCache defined?', options: { maxTokens: 8 } });
    assert.ok(['eos', 'maxTokens', 'stop', 'repetition'].includes(answer.stopReason));
    const cacheDir = h.cacheDir;
    await h.dispose();
    h = undefined;
    const c = await assertConsistent(cacheDir, storeDirOf(xdg, root), root);
    assert.equal(c.entries, c.chunks);
    t.diagnostic(`killed after ${tokens} tokens; restarted; ${again.cached} chunks still cached`);
  } finally {
    await h?.dispose();
    rmrf(root);
    rmrf(xdg);
    rmrf(bundle);
  }
});

/** Flips `count` bytes at pseudo-random offsets of a file (deterministic per seed). */
function flipBytes(file: string, count: number, seed: number, from = 0): void {
  const size = statSync(file).size;
  const fd = openSync(file, 'r+');
  try {
    let x = seed >>> 0 || 1;
    for (let i = 0; i < count; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const at = from + (x % Math.max(1, size - from));
      writeSync(fd, Buffer.from([((x >>> 8) & 0xff) ^ 0x5a]), 0, 1, at);
    }
  } finally {
    closeSync(fd);
  }
}

test('corrupt cache and index files (truncate, flip bytes, garbage): detected, reported, rebuilt, no crash', async (t) => {
  const root = copyWorkspace(REPO_SMALL);
  const xdg = tempDir('e2code-xdg-');
  const cacheDir = tempDir('e2code-cache-');
  const storeDir = storeDirOf(xdg, root);
  const faults: string[] = [];
  try {
    // A populated cache and index to damage.
    let h = await startSidecar({ cacheDir, env: { XDG_CACHE_HOME: xdg } });
    const clean = await h.client.index({ root });
    const all = clean.encoded + clean.cached;
    await h.dispose();
    const data = path.join(cacheDir, 'data.mdb');
    const snapshot = path.join(storeDir, 'index.snapshot');
    assert.ok(existsSync(data) && existsSync(snapshot));

    const damage: [string, () => void][] = [
      ['cache truncated to half', () => truncateSync(data, Math.floor(statSync(data).size / 2))],
      [
        'cache meta pages overwritten',
        () => {
          const fd = openSync(data, 'r+');
          for (const page of [0, 1]) writeSync(fd, Buffer.alloc(64, 0xab), 0, 64, page * 4096 + 16);
          closeSync(fd);
        },
      ],
      ['cache file emptied', () => truncateSync(data, 0)],
      ['index snapshot truncated', () => truncateSync(snapshot, Math.floor(statSync(snapshot).size / 2))],
      ['index snapshot bytes flipped', () => flipBytes(snapshot, 20, 3, 200)],
      ['index snapshot replaced by garbage', () => writeFileSync(snapshot, Buffer.alloc(5000, 0xff))],
      [
        'index journal garbage',
        () => writeFileSync(path.join(storeDir, 'index.journal'), '{"magic":"e2code-index-journal"}\n\u0000\u0000garbage\n'),
      ],
    ];
    for (const [what, hurt] of damage) {
      // Make sure the thing to damage exists again (the previous round rebuilt it).
      if (!existsSync(snapshot) || !existsSync(data) || statSync(data).size === 0) {
        const r = await startSidecar({ cacheDir, env: { XDG_CACHE_HOME: xdg } });
        await r.client.index({ root });
        await r.dispose();
      }
      hurt();
      h = await startSidecar({ cacheDir, env: { XDG_CACHE_HOME: xdg } });
      try {
        const r = await h.client.index({ root });
        assert.equal(r.files, clean.files, `${what}: files`);
        assert.equal(r.chunks, clean.chunks, `${what}: chunks`);
        assert.equal(r.encoded + r.cached, all, `${what}: every chunk cached or re-encoded`);
        if (what === 'cache truncated to half' || what === 'cache meta pages overwritten') {
          assert.ok(
            h.logs.some((l) => /soft-prompt cache .* is damaged/.test(l)),
            `${what}: not reported; logs: ${h.logs.join(' | ')}`,
          );
          assert.ok(r.encoded > 0, `${what}: nothing re-encoded`);
        }
        const a = await h.client.generate({ task: 'ask', root, prompt: 'What is in src?', options: { maxTokens: 4 } });
        assert.ok(a.context.softChunks > 0, `${what}: no soft context after the rebuild`);
        const st = await h.client.status();
        assert.notEqual(st.state, 'error');
      } finally {
        await h.dispose();
      }
      if (what.startsWith('index')) {
        // What the store reports for such damage, and that it is sound again after the rebuild.
        const idx = await WorkspaceIndex.open({ root, storeDir, chunkTokens: 128, tokenizerId: BUNDLE_ID });
        assert.equal(idx.loadReport.status, 'loaded', `${what}: not rebuilt cleanly (${idx.loadReport.notes.join('; ')})`);
        await idx.close();
      }
      const c = await assertConsistent(cacheDir, storeDir, root);
      assert.equal(c.entries, c.chunks, `${what}: cache incomplete after the rebuild`);
      faults.push(what);
    }
    // The reports of the damaged index store itself (what the CLI prints): damage it once more and open it.
    writeFileSync(snapshot, Buffer.alloc(100, 0x41));
    const idx = await WorkspaceIndex.open({ root, storeDir, chunkTokens: 128, tokenizerId: BUNDLE_ID });
    assert.equal(idx.loadReport.status, 'rebuilt');
    assert.match(idx.loadReport.notes.join(' '), /snapshot unusable/);
    await idx.close();
    t.diagnostic(`${faults.length} corruptions survived: ${faults.join('; ')}`);
  } finally {
    rmrf(root);
    rmrf(xdg);
    rmrf(cacheDir);
  }
});

/** `p`, or a clear failure after `ms` (a write that never settles must fail the test, not hang it). */
function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms (hung)`)), ms)),
  );
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

test('random byte flips across the cache B-tree and value pages (many seeds): a real sidecar never crashes, reports it, rebuilds, and the cache works', async (t) => {
  const seeds = Math.max(1, Number(process.env.E2CODE_CACHE_FLIP_SEEDS) || 16);
  const root = syntheticWorkspace(24, 6);
  const xdg = tempDir('e2code-xdg-');
  const pristine = tempDir('e2code-cache-');
  const tally = { movedAside: 0, checkedSound: 0, checkedWithBadEntries: 0 };
  try {
    let h = await startSidecar({ cacheDir: pristine, env: { XDG_CACHE_HOME: xdg } });
    const clean = await h.client.index({ root });
    const all = clean.encoded + clean.cached;
    await h.dispose();
    const data = readFileSync(path.join(pristine, 'data.mdb'));
    const pages = Math.floor(data.length / 4096);
    assert.ok(pages > 20, `only ${pages} pages in the populated cache`);
    assert.ok(existsSync(path.join(pristine, 'clean-close.json')), 'a clean close leaves its record');
    for (let seed = 1; seed <= seeds; seed++) {
      const cacheDir = tempDir('e2code-cache-');
      const file = path.join(cacheDir, 'data.mdb');
      writeFileSync(file, data);
      // As a clean close would have left it (an hour ago), then damaged behind its back.
      const past = new Date(Date.now() - 3_600_000);
      utimesSync(file, past, past);
      writeFileSync(
        path.join(cacheDir, 'clean-close.json'),
        JSON.stringify({ size: statSync(file).size, mtimeMs: statSync(file).mtimeMs }),
      );
      const flips = 50 + ((seed * 37) % 351); // 50..400 bytes, anywhere past the two meta pages
      flipBytes(file, flips, seed * 7919, 2 * 4096);
      h = await startSidecar({ cacheDir, env: { XDG_CACHE_HOME: xdg } });
      try {
        const pid = h.client.pid;
        const states: string[] = [];
        h.client.onStateChange((s) => states.push(s));
        const r = await within(120_000, h.client.index({ root }), `seed ${seed}: index`);
        assert.equal(r.encoded + r.cached, all, `seed ${seed}: every chunk cached or re-encoded`);
        const a = await h.client.generate({ task: 'ask', root, prompt: 'What does compute_3_2 return?', options: { maxTokens: 2 } });
        assert.ok(a.context.softChunks > 0, `seed ${seed}: no soft context`);
        assert.notEqual((await h.client.status()).state, 'error');
        assert.equal(
          h.client.pid,
          pid,
          `seed ${seed}: the sidecar crashed (states ${states.join(' -> ')}); logs: ${h.logs.slice(-5).join(' | ')}`,
        );
        assert.deepEqual(states, [], `seed ${seed}: the sidecar restarted`);
        const report = h.logs.find((l) =>
          /soft-prompt cache at .* (is damaged|checked in full because data\.mdb changed since it was last closed)/.test(l),
        );
        assert.ok(report, `seed ${seed}: no report; logs: ${h.logs.join(' | ')}`);
        if (/is damaged/.test(report)) {
          tally.movedAside++;
          assert.ok(r.encoded > 0, `seed ${seed}: moved aside but nothing re-encoded`);
        } else if (/all sound/.test(report)) tally.checkedSound++;
        else tally.checkedWithBadEntries++;
        // Whatever was lost with a damaged file is encoded again by the next index.
        const again = await within(120_000, h.client.index({ root }), `seed ${seed}: second index`);
        assert.equal(again.encoded + again.cached, all);
        const third = await within(120_000, h.client.index({ root }), `seed ${seed}: third index`);
        assert.equal(third.encoded, 0, `seed ${seed}: still encoding on the third index`);
      } finally {
        await h.dispose();
      }
      // Closed cleanly now: the next open is a quick one, with nothing to report, and every chunk is there.
      const c = await assertConsistent(cacheDir, storeDirOf(xdg, root), root);
      assert.equal(c.entries, c.chunks, `seed ${seed}: cache incomplete after the rebuild`);
      rmrf(cacheDir);
    }
    t.diagnostic(
      `${seeds} seeds (50-400 flipped bytes in ${pages - 2} pages past the meta pages): no crash; moved aside and rebuilt ${tally.movedAside}, full check passed ${tally.checkedSound}, full check passed with entries failing their checksum (re-encoded) ${tally.checkedWithBadEntries}`,
    );
  } finally {
    rmrf(root);
    rmrf(xdg);
    rmrf(pristine);
  }
});

test('disk full while writing the cache (4 MB free on a real 12 MB tmpfs): caching pauses with one note, answers work, the sidecar lives, no corrupt state, caching resumes once space returns', async (t) => {
  const root = syntheticWorkspace(110, 6);
  const xdg = tempDir('e2code-xdg-');
  const fs = mountTmpfs(12);
  let h: SidecarHandle | undefined;
  try {
    const cacheDir = path.join(fs, 'cache');
    const filler = path.join(fs, 'filler');
    writeFileSync(filler, Buffer.alloc(8 * 1024 * 1024, 1));
    h = await startSidecar({ cacheDir, env: { XDG_CACHE_HOME: xdg } });
    const pid = h.client.pid;
    // 4.7 MB of soft prompts into 4 MB of free space: indexing completes, without caching what does not fit.
    const first = await h.client.index({ root });
    assert.ok(first.encoded > 0);
    const firstLogs = h.logs;
    const paused = () => firstLogs.filter((l) => /answering without caching new soft prompts until space returns/.test(l));
    assert.equal(paused().length, 1, `one note that caching paused: ${h.logs.join(' | ')}`);
    assert.equal(h.client.pid, pid, 'the sidecar died on a full disk');
    const r = await h.client.generate({ task: 'ask', root, prompt: 'What does compute_3_2 return?', options: { maxTokens: 8 } });
    assert.ok(r.context.softChunks > 0, 'no answer on a full disk');
    const st = await h.client.status();
    assert.notEqual(st.state, 'error');
    assert.equal(paused().length, 1, 'the pause was said more than once');
    rmSync(filler); // space returns: the next soft prompts this sidecar encodes are cached again
    await h.client.generate({ task: 'ask', root, prompt: 'What does compute_7_1 return?', options: { maxTokens: 4 } });
    assert.ok(
      h.logs.some((l) => /space is back .* caching again/.test(l)),
      `no note that caching resumed: ${h.logs.join(' | ')}`,
    );
    await h.dispose();
    // A new sidecar encodes what the full disk kept out of the cache, and caches it all.
    h = await startSidecar({ cacheDir, env: { XDG_CACHE_HOME: xdg } });
    const second = await h.client.index({ root });
    assert.ok(second.cached > 0, 'nothing was cached after space returned');
    assert.ok(second.encoded > 0, 'nothing was left to cache after the disk filled up');
    assert.ok(!h.logs.some((l) => /damaged|without caching/.test(l)), h.logs.join(' | '));
    await h.dispose();
    h = undefined;
    const c = await assertConsistent(cacheDir, storeDirOf(xdg, root), root);
    assert.equal(c.entries, c.chunks);
    t.diagnostic(
      `disk full: ${first.encoded} encoded, note "${paused()[0]}"; after space returned: ${second.cached} cached, ${second.encoded} encoded and cached; ${c.entries} entries sound`,
    );
  } finally {
    await h?.dispose();
    unmount(fs);
    rmrf(root);
    rmrf(xdg);
  }
});

/** A copy of the bundled model with one thing broken (big files symlinked unless they are the broken one). */
function brokenBundle(breakIt: (dir: string) => void, copy: string[] = []): string {
  const dir = tempDir('e2code-bundle-');
  for (const name of readdirSync(BUNDLE)) {
    const from = path.join(BUNDLE, name);
    if (name.endsWith('.json') || copy.includes(name)) cpSync(from, path.join(dir, name));
    else execFileSync('ln', ['-s', from, path.join(dir, name)]);
  }
  breakIt(dir);
  return dir;
}

function editManifest(dir: string, edit: (m: Record<string, Record<string, unknown>>) => void): void {
  const file = path.join(dir, 'manifest.json');
  const m = JSON.parse(readFileSync(file, 'utf8'));
  edit(m);
  writeFileSync(file, JSON.stringify(m));
}

test('missing, truncated or mismatched model bundle: a clear error naming the file or field; the sidecar stays up without a model; the CLI indexes without one', async (t) => {
  const cases: [string, () => string, RegExp][] = [
    ['no bundle directory', () => path.join(tempDir(), 'nope'), /not found|does not exist/],
    ['manifest.json missing', () => brokenBundle((d) => rmSync(path.join(d, 'manifest.json'))), /manifest\.json/],
    [
      'manifest.json not JSON',
      () => brokenBundle((d) => writeFileSync(path.join(d, 'manifest.json'), '{"formatVersion": 1, "name": ')),
      /manifest\.json/,
    ],
    [
      'decoder.hiddenSize wrong type',
      () => brokenBundle((d) => editManifest(d, (m) => (m.decoder.hiddenSize = 'big'))),
      /decoder\.hiddenSize/,
    ],
    [
      'encoder.hiddenSize mismatched',
      () => brokenBundle((d) => editManifest(d, (m) => (m.encoder.hiddenSize = 193))),
      /encoder\.hiddenSize|encoder\.onnx/,
    ],
    [
      'decoder.numLayers mismatched',
      () => brokenBundle((d) => editManifest(d, (m) => (m.decoder.numLayers = 9))),
      /decoder\.numLayers|decoder\.onnx: missing inputs "past_key_values/,
    ],
    ['decoder.onnx missing', () => brokenBundle((d) => rmSync(path.join(d, 'decoder.onnx'))), /decoder\.onnx/],
    [
      'encoder.onnx truncated',
      () => brokenBundle((d) => truncateSync(path.join(d, 'encoder.onnx'), 100_000), ['encoder.onnx']),
      /encoder\.onnx/,
    ],
    [
      'adapter.onnx garbage',
      () =>
        brokenBundle((d) => {
          rmSync(path.join(d, 'adapter.onnx'));
          writeFileSync(path.join(d, 'adapter.onnx'), 'not a model');
        }),
      /adapter\.onnx/,
    ],
    [
      'embeddings.bin truncated',
      () => brokenBundle((d) => truncateSync(path.join(d, 'embeddings.bin'), 4096), ['embeddings.bin']),
      /embeddings\.bin|embeddings/,
    ],
    ['tokenizer.json truncated', () => brokenBundle((d) => truncateSync(path.join(d, 'tokenizer.json'), 1000)), /tokenizer\.json/],
  ];
  const cacheDir = tempDir('e2code-cache-');
  const seen: string[] = [];
  try {
    for (const [what, make, expected] of cases) {
      const bundle = make();
      const client = new SidecarClient({ sidecarPath: SIDECAR_TS, env: { E2CODE_CACHE_DIR: cacheDir }, restartDelaysMs: [100] });
      const t0 = Date.now();
      try {
        const err = await client.start({ bundlePath: bundle, device: 'cpu', threads: 1, cacheDir }).then(
          () => undefined,
          (e: unknown) => e as Error,
        );
        assert.ok(err, `${what}: the sidecar started with a broken bundle`);
        assert.match(err.message, expected, `${what}: unclear error "${err.message}"`);
        // The process stays up without a model: status says why; answering is refused with the reason.
        assert.equal(client.state, 'noModel', `${what}: state ${client.state}`);
        const st = await client.status();
        assert.equal(st.state, 'error', `${what}: status ${JSON.stringify(st)}`);
        assert.match(st.message ?? '', expected, `${what}: status message "${st.message}"`);
        await assert.rejects(client.generate({ task: 'ask', root: REPO_SMALL, prompt: 'x', options: { maxTokens: 2 } }), (e: Error) => {
          assert.match(e.message, /no model is loaded/, `${what}: generate "${e.message}"`);
          assert.match(e.message, expected, `${what}: generate does not say why: "${e.message}"`);
          return true;
        });
        seen.push(`${what} (${Date.now() - t0} ms): ${err.message.slice(0, 140)}`);
      } finally {
        await client.dispose();
        rmrf(path.basename(bundle) === 'nope' ? path.dirname(bundle) : bundle);
      }
    }
    // No model needed: the CLI indexes a workspace (and lists its chunks) with the broken bundle configured.
    const bundle = brokenBundle((d) => rmSync(path.join(d, 'decoder.onnx')));
    const store = tempDir('e2code-store-');
    const out = spawnSync(
      process.execPath,
      ['--import', 'tsx', path.join(REPO, 'src', 'cli', 'main.ts'), 'index', REPO_SMALL, '--json', '--store', store],
      {
        encoding: 'utf8',
        env: { ...process.env, E2CODE_BUNDLE: bundle },
        cwd: REPO,
        timeout: 120_000,
      },
    );
    assert.equal(out.status, 0, out.stderr);
    const summary = JSON.parse(out.stdout) as { files: number; chunks: number };
    assert.ok(summary.files >= 4 && summary.chunks >= summary.files, out.stdout);
    // Opened as `index` made it: chunked by the bundle's encoder (a store made for other sizes is rebuilt).
    const sizing = readSizing(bundle);
    const idx = await WorkspaceIndex.open({
      root: REPO_SMALL,
      storeDir: store,
      chunkTokens: sizing.chunkTokens,
      tokenizerId: sizing.tokenizerId,
    });
    const some = idx.files()[0];
    const chunks = await idx.readChunks(some);
    assert.ok(chunks.length > 0 && chunks[0].text.includes(some));
    await idx.close();
    rmrf(store);
    rmrf(bundle);
    t.diagnostic(`${seen.length} broken bundles refused:\n${seen.join('\n')}`);
  } finally {
    rmrf(cacheDir);
  }
});

test("no model: the real sidecar with a missing bundle serves index status and lists a file's chunks; answers are refused with the reason", async (t) => {
  const root = copyWorkspace(REPO_SMALL);
  const xdg = tempDir('e2code-xdg-');
  const cacheDir = tempDir('e2code-cache-');
  const missing = path.join(tempDir('e2code-nobundle-'), 'missing-bundle');
  const logs: string[] = [];
  const client = new SidecarClient({
    sidecarPath: SIDECAR_TS,
    env: { E2CODE_CACHE_DIR: cacheDir, XDG_CACHE_HOME: xdg },
    log: (l) => logs.push(l),
    restartDelaysMs: [100],
  });
  try {
    const err = await client.start({ bundlePath: missing, device: 'cpu', threads: 1, cacheDir }).then(
      () => undefined,
      (e: unknown) => e as Error,
    );
    assert.ok(err, 'the sidecar started with no bundle');
    assert.match(err.message, /model bundle not found: .*missing-bundle does not exist/);
    assert.equal(client.state, 'noModel');
    const pid = client.pid;
    const before = await client.status();
    assert.equal(before.state, 'error');
    assert.match(before.message ?? '', /missing-bundle does not exist/);

    const progress: string[] = [];
    const r = await client.index({ root }, (p) => progress.push(p.phase));
    assert.ok(r.files >= 4 && r.chunks >= r.files, JSON.stringify(r));
    assert.equal(r.encoded, 0);
    assert.match(r.modelError ?? '', /missing-bundle does not exist/);
    assert.ok(progress.length > 0, 'no progress while indexing without a model');

    // A file's chunks, with text, tiling the file.
    const file = 'src/lruCache.ts';
    assert.ok(existsSync(path.join(root, file)), `${file} is not in the fixture`);
    const { chunks } = await client.chunks({ root, path: file });
    assert.ok(chunks.length > 0, 'no chunks listed without a model');
    const bytes = readFileSync(path.join(root, file));
    assert.equal(chunks[0].startByte, 0);
    assert.equal(chunks[chunks.length - 1].endByte, bytes.length);
    for (let i = 1; i < chunks.length; i++) assert.equal(chunks[i].startByte, chunks[i - 1].endByte);
    for (const c of chunks) {
      assert.equal(c.path, file);
      assert.ok(c.text.startsWith(file) && c.text.endsWith(bytes.subarray(c.startByte, c.endByte).toString('utf8')));
    }
    assert.deepEqual((await client.chunks({ root, path: 'no/such/file.ts' })).chunks, []);

    // A fresh sidecar (nothing indexed in this process yet) lists chunks straight away.
    const second = new SidecarClient({
      sidecarPath: SIDECAR_TS,
      env: { E2CODE_CACHE_DIR: cacheDir, XDG_CACHE_HOME: xdg },
      restartDelaysMs: [100],
    });
    try {
      await second.start({ bundlePath: missing, device: 'cpu', threads: 1, cacheDir }).catch(() => undefined);
      assert.equal(second.state, 'noModel');
      assert.deepEqual(
        (await second.chunks({ root, path: file })).chunks.map((c) => c.hash),
        chunks.map((c) => c.hash),
      );
    } finally {
      await second.dispose();
    }

    await assert.rejects(
      client.generate({ task: 'ask', root, prompt: 'What does the LRU cache do?', options: { maxTokens: 2 } }),
      /no model is loaded \(model bundle not found/,
    );
    const after = await client.status();
    assert.equal(after.state, 'error');
    assert.equal(client.pid, pid, 'the sidecar process changed');
    assert.ok(
      logs.some((l) => /no model .*serving index status and chunks without it/.test(l)),
      logs.join('\n'),
    );
    t.diagnostic(`no model: indexed ${r.files} files / ${r.chunks} chunks; ${file}: ${chunks.length} chunks listed; generate refused`);
  } finally {
    await client.dispose();
    rmrf(root);
    rmrf(xdg);
    rmrf(cacheDir);
    rmrf(path.dirname(missing));
  }
});
