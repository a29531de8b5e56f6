// Security: citations and insert paths never resolve outside the workspace (`../`, absolute paths,
// symlinks out); the sidecar opens no network socket (only its stdio pipes); nothing needs the network
// (a CLI ask runs in a network namespace without interfaces).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { resolveCitation, relativeTo, isInside } from '../../src/extension/paths';
import { lineCounter, snapPaths } from '../../src/core/runtime/answer/snap';
import { listFiles } from '../../src/core/walker';
import { REPO, REPO_SMALL, copyWorkspace, inetSockets, openFds, rmrf, startSidecar, tempDir, unixSockets } from './lib';

function hostileWorkspace(): { root: string; outside: string } {
  const root = tempDir('e2code-sec-');
  const outside = tempDir('e2code-secret-');
  writeFileSync(path.join(outside, 'secret.ts'), 'export const key = "hunter2";\n'.repeat(20));
  mkdirSync(path.join(root, 'src'));
  writeFileSync(path.join(root, 'src', 'ok.ts'), 'export const a = 1;\nexport const b = 2;\n');
  symlinkSync(path.join(outside, 'secret.ts'), path.join(root, 'src', 'link.ts'));
  symlinkSync(outside, path.join(root, 'outdir'));
  symlinkSync('ok.ts', path.join(root, 'src', 'inner.ts')); // a link that stays inside: fine
  return { root, outside };
}

const ESCAPES = [
  '../secret.ts',
  'src/../../secret.ts',
  './../secret.ts',
  'src/link.ts',
  'outdir/secret.ts',
  '/etc/passwd',
  '//etc/passwd',
  '\\etc\\passwd',
  'C:/Windows/win.ini',
  'c:\\Windows\\win.ini',
  'src\\..\\..\\secret.ts',
  'src/ok.ts\0.png',
  'src/%2e%2e/%2e%2e/secret.ts',
  '~/.ssh/id_rsa.pub',
  '',
  'x'.repeat(5000) + '.ts',
];

test('citations the extension opens (resolveCitation) never leave the workspace folder', async () => {
  const { root, outside } = hostileWorkspace();
  try {
    for (const p of ESCAPES) {
      const r = await resolveCitation(root, p, 1);
      assert.equal(r.ok, false, `${JSON.stringify(p.slice(0, 60))} resolved to ${r.ok ? r.file : ''}`);
    }
    // What should open does.
    const ok = await resolveCitation(root, 'src/ok.ts', 2);
    assert.equal(ok.ok, true);
    const inner = await resolveCitation(root, 'src/inner.ts', 1);
    assert.equal(inner.ok, true);
    for (const line of [0, -1, 1.5, NaN]) assert.equal((await resolveCitation(root, 'src/ok.ts', line)).ok, false, `line ${line}`);
    // Helpers used for insert targets and relative paths.
    assert.equal(isInside(root, path.join(root, '..', path.basename(outside))), false);
    assert.equal(isInside(root, root), false);
    assert.equal(relativeTo(root, path.join(outside, 'secret.ts')), undefined);
    assert.equal(relativeTo(root, path.join(root, 'src', 'ok.ts')), 'src/ok.ts');
  } finally {
    rmrf(root);
    rmrf(outside);
  }
});

test('paths in model text the runtime returns (snapPaths over the walked files) never name a file outside the workspace', async () => {
  const { root, outside } = hostileWorkspace();
  try {
    const files = (await listFiles(root)).files.map((f) => f.path);
    assert.ok(!files.includes('src/link.ts') && !files.some((f) => f.startsWith('outdir/')), `links out are not walked: ${files}`);
    const answer = [
      'See ../secret.ts:1 and src/../../secret.ts:2, also src/link.ts:3 and outdir/secret.ts:4.',
      'Absolute /etc/passwd:1 and C:/Windows/win.ini:1 and src/ok.ts:2 and src/ok.ts:99 and src/inner.ts:1.',
    ].join('\n');
    const snapped = snapPaths(answer, files, lineCounter(root));
    const named = [...snapped.text.matchAll(/[\w./-]+\.ts(?::\d+)?/g)].map((m) => m[0]);
    assert.deepEqual(named.sort(), ['src/inner.ts:1', 'src/ok.ts', 'src/ok.ts:2'], snapped.text);
    assert.deepEqual(snapped.paths.sort(), ['src/inner.ts', 'src/ok.ts'], 'the paths offered as sources');
    assert.doesNotMatch(snapped.text, /secret|link\.ts|outdir/);
    // Absolute paths are no workspace path: left as the model's words, never rewritten into one or linked.
    assert.match(snapped.text, /Absolute \/etc\/passwd:1 and C:\/Windows\/win\.ini:1 and/);
  } finally {
    rmrf(root);
    rmrf(outside);
  }
});

test('the sidecar speaks only stdio: no listening or connected network socket, before and after work', async (t) => {
  const root = copyWorkspace(REPO_SMALL);
  const xdg = tempDir('e2code-xdg-');
  const h = await startSidecar({ env: { XDG_CACHE_HOME: xdg } });
  try {
    const pid = h.client.pid!;
    const check = (when: string) => {
      const fds = openFds(pid);
      const sockets = [...fds.values()].filter((l) => l.startsWith('socket:')).map((l) => l.slice('socket:['.length, -1));
      const inet = new Map(inetSockets(pid).map((s) => [s.inode, s]));
      const unix = unixSockets(pid);
      for (const inode of sockets) {
        assert.equal(inet.has(inode), false, `${when}: the sidecar holds an inet socket ${JSON.stringify(inet.get(inode))}`);
        const u = unix.get(inode);
        assert.ok(!u?.listening, `${when}: the sidecar listens on a unix socket ${u?.path}`);
        assert.ok(!u?.path, `${when}: the sidecar has a named unix socket ${u?.path}`);
      }
      // stdin/stdout/stderr are the client's pipes (node's stdio 'pipe' is an anonymous unix socketpair).
      for (const fd of [0, 1, 2]) {
        const link = fds.get(fd) ?? '';
        assert.match(link, /^(pipe|socket):/, `${when}: fd ${fd} is ${link}`);
        if (link.startsWith('socket:')) assert.ok(unix.has(link.slice('socket:['.length, -1)), `${when}: fd ${fd} is not a unix socket`);
      }
      return sockets.length;
    };
    const before = check('after start');
    await h.client.index({ root });
    await h.client.generate({ task: 'ask', root, prompt: 'Where is LruCache defined?', options: { maxTokens: 4 } });
    const after = check('after indexing and generating');
    // No listening TCP/UDP socket in its network namespace belongs to it either.
    const mine = new Set([...openFds(pid).values()]);
    for (const s of inetSockets(pid)) assert.ok(!mine.has(`socket:[${s.inode}]`) || s.state !== '0A');
    t.diagnostic(
      `sidecar ${pid}: ${before} / ${after} anonymous unix sockets (its stdio socketpairs), no inet sockets, none listening or named`,
    );
  } finally {
    await h.dispose();
    rmrf(root);
    rmrf(xdg);
  }
});

test('nothing is sent off the machine: a CLI ask works in a network namespace with no interfaces', (t) => {
  const probe = spawnSync('unshare', ['-n', 'true']);
  assert.equal(probe.status, 0, `unshare -n is not available here (${probe.stderr}): this test needs it (root or user namespaces)`);
  const xdg = tempDir('e2code-xdg-');
  const cache = tempDir('e2code-cache-');
  try {
    const r = spawnSync(
      'unshare',
      [
        '-n',
        process.execPath,
        '--import',
        'tsx',
        path.join(REPO, 'src', 'cli', 'main.ts'),
        'ask',
        REPO_SMALL,
        'Where is LruCache defined?',
        '--max-tokens',
        '8',
        '--json',
        '--cache-dir',
        cache,
      ],
      { cwd: REPO, encoding: 'utf8', env: { ...process.env, XDG_CACHE_HOME: xdg }, timeout: 300_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { answer: string; context: { softChunks: number } };
    assert.ok(out.context.softChunks > 0);
    // The namespace really had no network: the same node cannot reach even an address that needs a route.
    const net = spawnSync(
      'unshare',
      [
        '-n',
        process.execPath,
        '-e',
        "require('net').connect(80, '192.0.2.1').on('error', (e) => { console.log(e.code); process.exit(0); })",
      ],
      {
        encoding: 'utf8',
        timeout: 30_000,
      },
    );
    assert.match(net.stdout, /ENETUNREACH|EHOSTUNREACH|EADDRNOTAVAIL/);
    t.diagnostic(`CLI ask without any network: ok (${net.stdout.trim()} for an outside address)`);
  } finally {
    rmrf(xdg);
    rmrf(cache);
  }
});
