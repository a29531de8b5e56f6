// Nothing leaves the machine and nothing is written for anyone else: a live sidecar, through initialize,
// index and one answer, is watched for 60 s by strace (every process it starts included). onnxruntime-node
// has telemetry built in (a device id and queued events under $XDG_CACHE_HOME/Microsoft/, lookups of
// Microsoft's events host): see src/core/runtime/model/telemetryOff.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_SMALL, copyWorkspace, rmrf, sleep, startSidecar, tempDir } from './lib';

const WATCH_MS = 60_000;

/** Every path under `dir` (files and folders). */
function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    out.push(p);
    if (e.isDirectory()) out.push(...walk(p));
  }
  return out;
}

test('no telemetry: a live sidecar (initialize, index, one answer, 60 s) opens no inet socket and writes nothing under a Microsoft/ folder', async (t) => {
  const strace = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  assert.equal(strace.status, 0, `strace is needed (scripts/setup-system.sh installs it): ${strace.error?.message ?? strace.stderr}`);
  const root = copyWorkspace(REPO_SMALL);
  const home = tempDir('e2code-home-');
  const xdg = tempDir('e2code-xdg-');
  const traceDir = tempDir('e2code-strace-');
  const trace = path.join(traceDir, 'trace');
  // The client starts the sidecar through this wrapper: strace follows it and every process it starts.
  const wrapper = path.join(traceDir, 'node-under-strace.sh');
  writeFileSync(
    wrapper,
    `#!/bin/sh\nexec strace -f -qq -s 256 -o ${JSON.stringify(trace)} -e trace=socket,connect,sendto,open,openat,creat,mkdir,mkdirat,rename,renameat,renameat2 ${JSON.stringify(process.execPath)} "$@"\n`,
  );
  chmodSync(wrapper, 0o755);
  // The sidecar's environment as a user's would be, minus the variable the product must set itself.
  const env = { HOME: home, XDG_CACHE_HOME: xdg, ORT_DISABLE_TELEMETRY: undefined };
  const started = Date.now();
  const h = await startSidecar({ env, client: { nodePath: wrapper } });
  try {
    const indexed = await h.client.index({ root });
    assert.ok(indexed.chunks > 0);
    const r = await h.client.generate({ task: 'ask', root, prompt: 'What does the LRU cache do?', options: { maxTokens: 16 } });
    assert.ok(r.answer.length > 0, 'no answer');
    const left = WATCH_MS - (Date.now() - started);
    if (left > 0) await sleep(left);
    const st = await h.client.status();
    assert.equal(st.state, 'idle');
  } finally {
    await h.dispose();
  }
  try {
    assert.ok(existsSync(trace), 'strace wrote no trace: the sidecar did not run under it');
    const lines = readFileSync(trace, 'utf8').split('\n');
    assert.ok(
      lines.some((l) => /openat\(.*\.onnx"/.test(l)),
      'the trace does not show the model being loaded: it did not watch the sidecar',
    );
    const inet = lines.filter((l) => /socket\(AF_INET6?\b/.test(l) || /connect\(.*sa_family=AF_INET6?\b/.test(l));
    assert.deepEqual(inet, [], 'inet sockets were opened');
    const microsoft = lines.filter((l) => /\/Microsoft\//.test(l));
    assert.deepEqual(microsoft, [], 'files under a Microsoft/ folder were touched');
    const written = [...walk(home), ...walk(xdg)].filter((p) => p.includes(`${path.sep}Microsoft`));
    assert.deepEqual(written, [], 'files were left under a Microsoft/ folder');
    t.diagnostic(
      `${lines.length} traced calls over ${((Date.now() - started) / 1000).toFixed(0)} s: no inet socket, nothing under Microsoft/`,
    );
  } finally {
    rmrf(root);
    rmrf(home);
    rmrf(xdg);
    rmrf(traceDir);
  }
});
