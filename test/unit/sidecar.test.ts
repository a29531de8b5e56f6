// The sidecar over real stdio: a child process running src/sidecar/main.ts with the bundled model,
// driven by the SidecarClient the extension and CLI use.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SidecarClient, type SidecarState } from '../../src/sidecar/client';
import type { InitializeParams, ProgressNotification } from '../../src/core/protocol';

const ROOT = path.resolve(__dirname, '../..');
const SIDECAR = path.join(ROOT, 'src/sidecar/main.ts');
const FIXTURE = path.join(ROOT, 'test/fixtures/repo-small');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2code-sidecar-'));
const env = { XDG_CACHE_HOME: path.join(tmp, 'xdg') };
const init: InitializeParams = {
  bundlePath: path.join(ROOT, 'models/default'),
  device: 'auto',
  threads: 1,
  cacheDir: path.join(tmp, 'cache'),
};
const logs: string[] = [];
let client: SidecarClient;

/**
 * The bundled model with a manifest that claims every capability. The bundled manifest claims only
 * 'locate', so an ask is answered from the index and decodes a few tokens at most; tests that need a
 * long decode (to cancel it, queue behind it, or kill the sidecar in the middle of it) use this copy,
 * whose asks decode up to maxTokens. Model files are linked, the manifest is rewritten.
 */
function writerBundle(): string {
  const dir = path.join(tmp, 'bundle-writer');
  mkdirSync(dir);
  const from = path.join(ROOT, 'models/default');
  for (const f of readdirSync(from)) if (f !== 'manifest.json') symlinkSync(path.join(from, f), path.join(dir, f));
  const manifest = JSON.parse(readFileSync(path.join(from, 'manifest.json'), 'utf8')) as { capabilities?: string[] };
  manifest.capabilities = ['locate', 'explain', 'summarize', 'generate'];
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}
const writerInit: InitializeParams = { ...init, bundlePath: writerBundle(), cacheDir: path.join(tmp, 'cache-writer') };
/** A sidecar serving writerBundle(), started by the first test that needs it. */
let writer: SidecarClient | undefined;
async function writerClient(): Promise<SidecarClient> {
  if (!writer) {
    writer = new SidecarClient({ sidecarPath: SIDECAR, env, log: (l) => logs.push(l), restartDelaysMs: [100] });
    await writer.start(writerInit);
    await writer.index({ root: FIXTURE });
  }
  return writer;
}

before(async () => {
  client = new SidecarClient({ sidecarPath: SIDECAR, env, log: (l) => logs.push(l), restartDelaysMs: [100] });
});
after(async () => {
  await client.dispose();
  await writer?.dispose();
  rmSync(tmp, { recursive: true, force: true });
});

function nextState(c: SidecarClient, wanted: SidecarState, timeoutMs = 60_000): Promise<SidecarState[]> {
  const seen: SidecarState[] = [];
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no state ${wanted} within ${timeoutMs} ms; saw ${seen.join(', ')}`)), timeoutMs);
    const sub = c.onStateChange((s) => {
      seen.push(s);
      if (s === wanted) {
        clearTimeout(timer);
        sub.dispose();
        resolve(seen);
      }
    });
  });
}

test('initialize reports the bundle and the provider in use', async () => {
  const info = await client.start(init);
  assert.equal(client.state, 'ready');
  assert.ok(info.bundleId.length > 0);
  assert.ok(info.provider === 'cpu' || info.provider === 'cuda');
  if (info.provider === 'cpu') assert.match(info.providerNote ?? '', /CUDA unavailable/);
});

test('index streams progress and encodes every chunk once; a second run is served by the cache', async () => {
  const progress: ProgressNotification[] = [];
  const first = await client.index({ root: FIXTURE }, (p) => progress.push(p));
  assert.ok(first.files >= 5);
  assert.ok(first.chunks > 0);
  assert.ok(first.encoded > 0, 'a fresh cache must encode');
  const encode = progress.filter((p) => p.phase === 'encode');
  assert.ok(encode.length > 0, 'no encode progress');
  const last = encode[encode.length - 1];
  assert.equal(last.done, last.total);
  assert.equal(last.total, first.encoded);
  const second = await client.index({ root: FIXTURE });
  assert.equal(second.encoded, 0);
  assert.equal(second.cached, first.encoded + first.cached);
});

test('generate streams tokens whose concatenation is the answer', async () => {
  const tokens: string[] = [];
  const r = await client.generate(
    { task: 'ask', root: FIXTURE, prompt: 'Where is polygonArea defined?', options: { maxTokens: 16 } },
    (t) => tokens.push(t),
  );
  assert.equal(tokens.join('').trim(), r.answer);
  assert.ok(r.context.softChunks > 0);
  assert.ok(r.context.positions > 0);
  assert.ok(['eos', 'maxTokens', 'stop', 'repetition'].includes(r.stopReason));
  assert.ok(Array.isArray(r.citations));
});

test('status reports state, bundle, queue and memory', async () => {
  const s = await client.status();
  assert.equal(s.state, 'idle');
  assert.equal(s.bundleId, client.info?.bundleId);
  assert.equal(s.queueLength, 0);
  assert.ok(s.rssBytes > 10_000_000);
});

test('cancelling a generation returns promptly with what was decoded so far', async () => {
  const model = await writerClient();
  const controller = new AbortController();
  let n = 0;
  const started = Date.now();
  const r = await model.generate(
    { task: 'ask', root: FIXTURE, prompt: 'Explain the LruCache class.', options: { maxTokens: 1500, ignoreEos: true } },
    () => {
      if (++n === 2) controller.abort();
    },
    controller.signal,
  );
  assert.equal(r.stopReason, 'cancelled');
  assert.equal(r.origin, 'model');
  assert.ok(n >= 2, `${n} tokens streamed`);
  assert.ok(Date.now() - started < 20_000);
});

test('pause and resume are accepted and reflected in status while indexing', async () => {
  await client.pauseIndex();
  const fresh = mkdtempSync(path.join(tmp, 'ws-'));
  // An indexing run on a new workspace waits at the gate while paused.
  const { writeFileSync } = await import('node:fs');
  for (let i = 0; i < 3; i++) writeFileSync(path.join(fresh, `f${i}.ts`), `export function unique${i}_${Date.now()}() { return ${i}; }\n`);
  const running = client.index({ root: fresh });
  let s = await client.status();
  for (let i = 0; i < 50 && s.state !== 'paused'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    s = await client.status();
  }
  assert.equal(s.state, 'paused');
  await client.resumeIndex();
  const r = await running;
  assert.ok(r.encoded > 0);
});

test('cancelling an index run stops it with a clear error', async () => {
  await client.pauseIndex();
  const fresh = mkdtempSync(path.join(tmp, 'ws-'));
  const { writeFileSync } = await import('node:fs');
  writeFileSync(path.join(fresh, 'a.ts'), `export const stamp = ${Date.now()};\n`);
  const controller = new AbortController();
  const running = client.index({ root: fresh }, undefined, controller.signal);
  let s = await client.status();
  for (let i = 0; i < 50 && s.state !== 'paused'; i++) {
    await new Promise((r) => setTimeout(r, 100));
    s = await client.status();
  }
  assert.equal(s.state, 'paused');
  controller.abort();
  await assert.rejects(running, /index cancelled/);
  await client.resumeIndex();
  assert.equal((await client.status()).state, 'idle');
});

test('killing the sidecar mid-generation fails the request with the cause, then it restarts', async () => {
  const model = await writerClient();
  const oldPid = model.pid;
  const restarted = nextState(model, 'ready');
  let killed = false;
  const err = await model
    .generate({ task: 'ask', root: FIXTURE, prompt: 'Summarize vector.ts', options: { maxTokens: 1500, ignoreEos: true } }, () => {
      if (!killed && oldPid) process.kill(oldPid, 'SIGKILL');
      killed = true;
    })
    .then(
      () => undefined,
      (e: Error) => e,
    );
  assert.ok(err, 'generate should fail when the sidecar dies');
  assert.match(err.message, /sidecar exited with signal SIGKILL during generate/);
  const states = await restarted;
  assert.ok(states.includes('restarting'), `states: ${states.join(', ')}`);
  assert.notEqual(model.pid, oldPid);
  const s = await model.status();
  assert.equal(s.bundleId, model.info?.bundleId, 'the restarted sidecar is initialized again');
});

test('overload is refused with a clear error instead of queueing without bound', async () => {
  const small = new SidecarClient({ sidecarPath: SIDECAR, env: { ...env, E2CODE_SIDECAR_MAX_QUEUE: '1' } });
  try {
    await small.start(writerInit);
    await small.index({ root: FIXTURE });
    const controller = new AbortController();
    let firstToken: () => void = () => undefined;
    const tokenSeen = new Promise<void>((r) => (firstToken = r));
    const running = small.generate(
      { task: 'ask', root: FIXTURE, prompt: 'long answer', options: { maxTokens: 1500, ignoreEos: true } },
      () => firstToken(),
      controller.signal,
    );
    await tokenSeen;
    await assert.rejects(
      small.generate({ task: 'ask', root: FIXTURE, prompt: 'second' }),
      /sidecar busy: 1 generate requests already running or queued \(limit 1\)/,
    );
    controller.abort();
    assert.equal((await running).stopReason, 'cancelled');
  } finally {
    await small.dispose();
  }
});

test('a bad bundle fails start with the reason and leaves the client without a model (status says why, generate is refused)', async () => {
  const bad = new SidecarClient({ sidecarPath: SIDECAR, env });
  try {
    await assert.rejects(bad.start({ ...init, bundlePath: path.join(tmp, 'no-bundle') }), /does not exist/);
    assert.equal(bad.state, 'noModel');
    const st = await bad.status();
    assert.equal(st.state, 'error');
    assert.match(st.message ?? '', /does not exist/);
    await assert.rejects(bad.generate({ task: 'ask', root: FIXTURE, prompt: 'x' }), /no model is loaded \(.*does not exist/);
  } finally {
    await bad.dispose();
  }
});

test('the sidecar exits when its client goes away (stdin closes)', async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', SIDECAR], {
    cwd: ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise((r) => child.stderr.once('data', r));
  child.stdin.end();
  const timeout = new Promise<string>((r) => setTimeout(() => r('timeout'), 15_000));
  assert.equal(await Promise.race([exited, timeout]), 0);
});
