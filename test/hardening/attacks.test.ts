// The attacks of issue 22, rerun on the real CLI (src/cli/main.ts) and the real sidecar: a full disk under
// the soft-prompt cache (a real tmpfs), a 30,000-character word as the question, absurd thread counts,
// bundle files that are not regular files, broken framing on the sidecar's input, 10,000 pipelined
// requests, a read-only cache, no home directory, and a command whose work can never finish. Each case
// must end in an answer or a clear message, with an exit code that says which. (Telemetry: telemetry.test.ts.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Methods } from '../../src/core/protocol';
import { WorkspaceIndex } from '../../src/core/index/index';
import { createChunker } from '../../src/core/chunker';
import { readSizing } from '../../src/core/runtime/workspace/sizing';
import { SidecarTimeoutError } from '../../src/sidecar/client';
import {
  BUNDLE,
  REPO,
  REPO_SMALL,
  copyWorkspace,
  fillDisk,
  freeBytes,
  mountTmpfs,
  readOnlyView,
  rmrf,
  runCli,
  spawnRawSidecar,
  startSidecar,
  syntheticWorkspace,
  tempDir,
  unmount,
  waitFor,
  type CliRun,
} from './lib';

const QUESTION = 'What does the LRU cache do?';

function show(r: CliRun): string {
  return `exit ${r.status}${r.signal ? ` (${r.signal})` : ''} after ${r.ms} ms\nstderr: ${r.stderr.replace(/\r/g, '\n').slice(-2000)}\nstdout: ${r.stdout.slice(0, 500)}`;
}

/** An answer was given: exit 0, no signal, text on stdout. */
function assertAnswered(r: CliRun, what: string): void {
  assert.equal(r.signal, null, `${what}: killed by ${r.signal}\n${show(r)}`);
  assert.equal(r.status, 0, `${what}: ${show(r)}`);
  assert.ok(r.stdout.trim().length > 0, `${what}: exit 0 with no answer\n${show(r)}`);
}

/** No answer, and a clear message: exit 1, no signal, an `e2code:` line matching `message`. */
function assertRefused(r: CliRun, message: RegExp, what: string): void {
  assert.equal(r.signal, null, `${what}: killed by ${r.signal}\n${show(r)}`);
  assert.equal(r.status, 1, `${what}: ${show(r)}`);
  assert.match(r.stderr, message, `${what}: ${show(r)}`);
}

/** Lines of stderr (progress lines end in \r, not \n). */
function notes(r: CliRun, pattern: RegExp): string[] {
  return r.stderr.split(/[\r\n]+/).filter((l) => pattern.test(l));
}

test('full disk under the soft-prompt cache (a real 5 MB tmpfs): no crash; answers without caching, said once; the full check and a damaged cache never fill the disk', async (t) => {
  const disk = mountTmpfs(5);
  const xdg = tempDir('e2code-xdg-');
  const small = copyWorkspace(REPO_SMALL);
  const big = syntheticWorkspace(60, 6);
  try {
    const cacheDir = path.join(disk, 'cache');
    const env = { XDG_CACHE_HOME: xdg, E2CODE_CACHE_DIR: cacheDir };
    // 1. A fresh cache on a full disk (was: SIGBUS as lmdb sized its lock file through its map).
    const filler = fillDisk(disk, 0);
    const full = runCli(['ask', small, QUESTION, '--threads', '1', '--max-tokens', '16'], env);
    assertAnswered(full, 'fresh cache on a full disk');
    assert.equal(notes(full, /soft-prompt cache .* is not used \(its disk is full.*answering without caching/).length, 1, show(full));
    rmSync(filler);

    // 2. Room to create it but not to cache a group of entries (was: exit 0, no answer, a bare "Input/output error").
    const filler2 = fillDisk(disk, 2.5 * 1024 * 1024);
    const tight = runCli(['ask', big, 'What does compute_5_2 return?', '--threads', '1', '--max-tokens', '16'], env);
    assertAnswered(tight, 'cache that fills up while indexing');
    assert.equal(notes(tight, /answering without caching new soft prompts until space returns/).length, 1, `said once: ${show(tight)}`);
    assert.doesNotMatch(tight.stderr, /Input\/output error|damaged/, show(tight));
    assert.ok(freeBytes(disk) >= 1024 * 1024 - 64 * 1024, `the cache ate into the disk's reserve: ${freeBytes(disk)} bytes free`);

    // 3. A full check (no record of a clean close) on that nearly full disk: its group write is skipped,
    //    nothing is moved aside, nothing crashes (was: the check filled the disk, then SIGSEGV).
    rmSync(path.join(cacheDir, 'clean-close.json'), { force: true });
    const freeBefore = freeBytes(disk);
    const checked = runCli(['ask', small, QUESTION, '--threads', '1', '--max-tokens', '16'], env);
    assertAnswered(checked, 'full check on a nearly full disk');
    assert.match(
      checked.stderr,
      /checked in full because no record of a clean close: .*its write test was skipped: only [\d.]+ [KM]B free/,
      show(checked),
    );
    assert.ok(freeBytes(disk) >= Math.min(freeBefore, 1024 * 1024) - 512 * 1024, 'the full check used up the disk');
    assert.deepEqual(
      readdirSync(cacheDir).filter((n) => n.startsWith('corrupt-')),
      [],
      'a sound cache was moved aside',
    );

    // 4. A damaged cache on the nearly full disk, with an older damaged copy beside it: the old copy goes,
    //    and the new one is deleted rather than kept, as a copy and a new cache would not both fit.
    mkdirSync(path.join(cacheDir, 'corrupt-1'));
    writeFileSync(path.join(cacheDir, 'corrupt-1', 'data.mdb'), Buffer.alloc(300 * 1024, 7));
    const data = path.join(cacheDir, 'data.mdb');
    const size = statSync(data).size;
    rmSync(filler2);
    fillDisk(disk, size + 600 * 1024); // room for the reserve's worth of a new cache, not for a copy as well
    writeFileSync(data, Buffer.alloc(size, 0xa5)); // every page garbage, meta pages included
    rmSync(path.join(cacheDir, 'clean-close.json'), { force: true });
    const damaged = runCli(['ask', small, QUESTION, '--threads', '1', '--max-tokens', '16'], env);
    assertAnswered(damaged, 'damaged cache on a nearly full disk');
    assert.match(damaged.stderr, /is damaged \(.*\); deleted it \(only [\d.]+ [KM]?B free on its disk, too little to keep/, show(damaged));
    assert.deepEqual(
      readdirSync(cacheDir).filter((n) => n.startsWith('corrupt-')),
      [],
      'damaged copies were kept on a full disk',
    );
    t.diagnostic(`full: ${notes(full, /not used/)[0]}`);
    t.diagnostic(`tight: ${notes(tight, /until space returns/)[0].replace(/^encoding .*?   /, '')}`);
    t.diagnostic(`damaged: ${notes(damaged, /damaged/)[0]}`);
  } finally {
    unmount(disk);
    rmrf(xdg);
    rmrf(small);
    rmrf(big);
  }
});

/** The workspace index store of `root` under the cache home `xdg`: `$XDG_CACHE_HOME/e2code/workspaces/<id>`. */
function storeDirOf(xdg: string, root: string): string {
  return path.join(xdg, 'e2code', 'workspaces', createHash('sha256').update(path.resolve(root)).digest('hex').slice(0, 16));
}

/** Every file under `dir` (relative path -> sha256 of its bytes); {} when `dir` does not exist. */
function contentsOf(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  if (!existsSync(dir)) return out;
  for (const rel of readdirSync(dir, { recursive: true }) as string[]) {
    const abs = path.join(dir, rel);
    if (statSync(abs).isFile()) out[rel] = createHash('sha256').update(readFileSync(abs)).digest('hex');
  }
  return out;
}

interface IndexJson {
  files: number;
  added: number;
  updated: number;
  removed: number;
  unchanged: number;
  rebuilt?: string[];
}

/** `e2code index <root> --json`, which must succeed. */
function indexJson(root: string, env: NodeJS.ProcessEnv): { run: CliRun; result: IndexJson } {
  const run = runCli(['index', root, '--json'], env, 120_000);
  assert.equal(run.status, 0, `e2code index: ${show(run)}`);
  return { run, result: JSON.parse(run.stdout) as IndexJson };
}

const IN_MEMORY = /the workspace index is kept in memory only: /;

/** A new function at the end of `count` files of a synthetic workspace (distinct text: new chunks). */
function changeFiles(root: string, count: number): void {
  const files = (readdirSync(root, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .slice(0, count);
  assert.equal(files.length, count);
  for (const [i, f] of files.entries())
    appendFileSync(path.join(root, f), `\nexport function added_${i}(y: number): number {\n  return y * ${i + 17} - ${i};\n}\n`);
}

test('full disk under the workspace index store (a real 5 MB tmpfs as XDG_CACHE_HOME): answers work with the index in memory, one note, the store left as it was; stored again once there is room', async () => {
  const disk = mountTmpfs(5);
  const cacheDir = tempDir('e2code-cache-');
  const ws = syntheticWorkspace(40, 4);
  try {
    const env = { XDG_CACHE_HOME: disk, E2CODE_CACHE_DIR: cacheDir };
    const store = storeDirOf(disk, ws);
    const question = 'What does compute_3_2 return?';
    const ask = () => runCli(['ask', ws, question, '--threads', '1', '--max-tokens', '8'], env);

    // 1. No room at all: not even the store's workspace.json fits (was: `ask` failed with ENOSPC).
    const filler = fillDisk(disk, 0);
    const asked = ask();
    assertAnswered(asked, 'index store on a full disk');
    assert.equal(notes(asked, IN_MEMORY).length, 1, `ask says once that the index is kept in memory: ${show(asked)}`);
    const full = runCli(['index', ws], env);
    assert.equal(full.status, 0, show(full));
    const said = notes(full, IN_MEMORY);
    assert.equal(said.length, 1, show(full));
    assert.match(said[0], /its (store \S+ is not writable|store cannot be created in \S+) \(its disk is full: ENOSPC\); answers work/);
    assert.deepEqual(contentsOf(store), {}, 'files were left in the store on a full disk');
    rmSync(filler);

    // 2. Room again: the next run stores the index, and the one after reads it back.
    assertAnswered(ask(), 'index store with room');
    assert.ok(existsSync(path.join(store, 'index.snapshot')), 'the index was not stored once there was room');
    const back = indexJson(ws, env);
    assert.equal(back.result.unchanged, back.result.files, `not read back: ${back.run.stdout}`);

    // 3. Full in the middle of a refresh: 20 changed files make a journal entry of ~16 KB, and the disk has
    //    one 4 KB page, enough to rewrite workspace.json: the append fails part-way through.
    changeFiles(ws, 20);
    const stored = contentsOf(store);
    const filler2 = fillDisk(disk, 4096);
    assertAnswered(ask(), 'index store filling up during a refresh');
    assert.deepEqual(contentsOf(store), stored, 'the store changed (a partial journal, a temp file, a damaged snapshot)');
    // The same in-process, where the note is visible: said once, and the index goes on in memory.
    const heard: string[] = [];
    // Chunked as the CLI chunks (the bundle's encoder), so it reads the same store.
    const sizing = readSizing(BUNDLE);
    const index = await WorkspaceIndex.open({
      root: ws,
      storeDir: store,
      chunkTokens: sizing.chunkTokens,
      tokenizerId: sizing.tokenizerId,
      chunker: await createChunker({ maxTokens: sizing.chunkTokens, countTokens: sizing.countTokens }),
      onNote: (n) => heard.push(n),
    });
    try {
      assert.equal(index.loadReport.status, 'loaded', index.loadReport.notes.join('; '));
      const r = await index.refresh();
      assert.equal(r.updated.length, 20);
      assert.equal(heard.filter((n) => IN_MEMORY.test(n)).length, 1, heard.join(' | '));
      assert.match(
        heard.find((n) => IN_MEMORY.test(n))!,
        new RegExp(`its store ${store} is not writable \\(its disk is full: ENOSPC\\)`),
      );
      assert.deepEqual(index.loadReport.notes, heard);
      await index.refresh();
      assert.equal(heard.length, 1, 'said more than once');
    } finally {
      await index.close();
    }
    assert.deepEqual(contentsOf(store), stored, 'the store changed');
    rmSync(filler2);

    // 4. Room again: the stored index loads clean (no torn journal, nothing rebuilt) and the changes are stored.
    const later = indexJson(ws, env);
    assert.doesNotMatch(later.run.stderr, /torn|damaged|unusable|rebuil/, show(later.run));
    assert.equal(later.result.rebuilt, undefined);
    assert.equal(later.result.updated, 20, later.run.stdout);
    const again = indexJson(ws, env);
    assert.equal(again.result.unchanged, again.result.files, `the changes were not stored: ${again.run.stdout}`);
  } finally {
    unmount(disk);
    rmrf(cacheDir);
    rmrf(ws);
  }
});

test('a read-only XDG_CACHE_HOME under the workspace index store (a read-only bind mount): answers work with the index in memory, one note, nothing written; a store made earlier is read; stored again once writable', () => {
  const xdg = tempDir('e2code-xdg-');
  const emptyXdg = tempDir('e2code-xdg-empty-');
  const cacheDir = tempDir('e2code-cache-');
  const ws = copyWorkspace(REPO_SMALL);
  const views: string[] = [];
  try {
    const env = (home: string) => ({ XDG_CACHE_HOME: home, E2CODE_CACHE_DIR: cacheDir });
    const ask = (home: string) => runCli(['ask', ws, QUESTION, '--threads', '1', '--max-tokens', '8'], env(home));

    // 1. An empty read-only cache home: the store cannot be created (was: `ENOENT: mkdir .../e2code`).
    const emptyView = readOnlyView(emptyXdg);
    views.push(emptyView);
    const asked = ask(emptyView);
    assertAnswered(asked, 'read-only empty cache home');
    assert.equal(notes(asked, IN_MEMORY).length, 1, `ask says once that the index is kept in memory: ${show(asked)}`);
    const none = runCli(['index', ws], env(emptyView));
    assert.equal(none.status, 0, show(none));
    const said = notes(none, IN_MEMORY);
    assert.equal(said.length, 1, show(none));
    assert.match(said[0], new RegExp(`its store cannot be created in ${emptyView} \\(it is on a read-only file system: EROFS\\)`));
    assert.deepEqual(readdirSync(emptyXdg), []);

    // 2. A store made while writable, then a read-only view of it with one file changed since: the stored
    //    index is read (only the changed file is re-read), the change is kept in memory, nothing is written.
    const first = indexJson(ws, env(xdg));
    assert.equal(first.result.added, first.result.files);
    appendFileSync(path.join(ws, 'src', 'lruCache.ts'), '\nexport const LRU_DEFAULT_CAPACITY = 64;\n');
    const stored = contentsOf(xdg);
    const view = readOnlyView(xdg);
    views.push(view);
    assertAnswered(ask(view), 'read-only cache home with a store');
    const ro = indexJson(ws, env(view));
    assert.equal(ro.result.updated, 1, ro.run.stdout);
    assert.equal(ro.result.unchanged, ro.result.files - 1, `the stored index was not read: ${ro.run.stdout}`);
    const roSaid = notes(ro.run, IN_MEMORY);
    assert.equal(roSaid.length, 1, show(ro.run));
    assert.match(roSaid[0], new RegExp(`its store ${storeDirOf(view, ws)} is not writable \\(it is on a read-only file system: EROFS\\)`));
    assert.deepEqual(contentsOf(xdg), stored, 'the read-only store changed');

    // 3. Writable again: the change is stored.
    const rw = indexJson(ws, env(xdg));
    assert.equal(rw.result.updated, 1, rw.run.stdout);
    assert.equal(notes(rw.run, IN_MEMORY).length, 0, show(rw.run));
    const again = indexJson(ws, env(xdg));
    assert.equal(again.result.unchanged, again.result.files, `the change was not stored: ${again.run.stdout}`);
  } finally {
    for (const v of views) unmount(v);
    rmrf(xdg);
    rmrf(emptyXdg);
    rmrf(cacheDir);
    rmrf(ws);
  }
});

test('a single 30,000-character word as the question: a clear error, not a crash (hybrid and --no-hybrid)', (t) => {
  const xdg = tempDir('e2code-xdg-');
  try {
    const word = 'a'.repeat(30_000);
    for (const extra of [[], ['--no-hybrid']]) {
      const r = runCli(['ask', REPO_SMALL, word, '--threads', '1', ...extra], { XDG_CACHE_HOME: xdg, ORT_DISABLE_TELEMETRY: undefined });
      assertRefused(
        r,
        /e2code: the request needs \d+ positions .* more than the decoder's 2048/,
        `30,000-character word ${extra.join(' ')}`,
      );
      t.diagnostic(`${extra.join(' ') || 'hybrid'}: ${notes(r, /^e2code:/)[0]} (${r.ms} ms)`);
    }
  } finally {
    rmrf(xdg);
  }
});

test("thread counts above the machine's cores are refused before the model loads (CLI, sidecar); the setting is brought within them", async () => {
  const cores = os.availableParallelism();
  const xdg = tempDir('e2code-xdg-');
  try {
    for (const n of ['1000', String(cores + 1)]) {
      const r = runCli(['ask', REPO_SMALL, QUESTION, '--threads', n], { XDG_CACHE_HOME: xdg }, 60_000);
      assertRefused(
        r,
        new RegExp(`--threads must be an integer from 0 to ${cores}, the logical cores of this machine \\(got "${n}"\\)`),
        `--threads ${n}`,
      );
      assert.ok(r.ms < 30_000, `--threads ${n} took ${r.ms} ms to refuse`);
    }
    const doctor = runCli(['doctor', '--threads', String(cores), '--json'], { XDG_CACHE_HOME: xdg }, 120_000);
    assert.equal(doctor.status, 0, show(doctor));
    assert.equal((JSON.parse(doctor.stdout) as { threads: number }).threads, cores);
    // The sidecar: a bad initialize is refused with the field named.
    const raw = spawnRawSidecar({ XDG_CACHE_HOME: xdg });
    try {
      raw.send({ jsonrpc: '2.0', id: 1, method: Methods.initialize, params: { bundlePath: BUNDLE, device: 'cpu', threads: 1000 } });
      const res = await raw.response(1, 30_000);
      assert.match(res.error?.message ?? '', new RegExp(`"threads" must be an integer from 0 to ${cores}`));
    } finally {
      raw.kill();
    }
    // The extension's setting (src/extension/config.ts reads it through this).
    const { clampThreads, maxThreads } = await import('../../src/core/runtime/model/threads');
    assert.equal(maxThreads(), cores);
    assert.equal(clampThreads(1000), cores);
    assert.equal(clampThreads(-3), 0);
    assert.equal(clampThreads(Number.NaN), 0);
    assert.equal(clampThreads(1), 1);
  } finally {
    rmrf(xdg);
  }
});

/** A copy of the bundle (big files linked) with `name` replaced by what `make` puts there. */
function bundleWith(name: string, make: (file: string) => void): string {
  const dir = tempDir('e2code-bundle-');
  for (const f of readdirSync(BUNDLE)) {
    if (f === name) continue;
    if (f.endsWith('.json')) writeFileSync(path.join(dir, f), readFileSync(path.join(BUNDLE, f)));
    else symlinkSync(path.join(BUNDLE, f), path.join(dir, f));
  }
  make(path.join(dir, name));
  return dir;
}

test('bundle files that are not regular files, or too large, are refused before reading: a FIFO does not hang, /dev/zero does not exhaust memory', async (t) => {
  const xdg = tempDir('e2code-xdg-');
  const cases: [string, string, (file: string) => void, RegExp][] = [
    ['tokenizer.json as a FIFO', 'tokenizer.json', (f) => execFileSync('mkfifo', [f]), /tokenizer\.json .* is a FIFO, not a regular file/],
    [
      'tokenizer.json linked to /dev/zero',
      'tokenizer.json',
      (f) => symlinkSync('/dev/zero', f),
      /tokenizer\.json .* is a character device, not a regular file/,
    ],
    [
      'tokenizer.json of 65 MB',
      'tokenizer.json',
      (f) => (writeFileSync(f, ''), truncateSync(f, 65 * 1024 * 1024)),
      /tokenizer\.json .* is 68157440 bytes, more than the 67108864/,
    ],
    ['manifest.json as a FIFO', 'manifest.json', (f) => execFileSync('mkfifo', [f]), /manifest\.json cannot be read: .* is a FIFO/],
    [
      'decoder.onnx linked to /dev/zero',
      'decoder.onnx',
      (f) => symlinkSync('/dev/zero', f),
      /decoder\.onnx .* is a character device, not a regular file/,
    ],
    ['embeddings.bin as a FIFO', 'embeddings.bin', (f) => execFileSync('mkfifo', [f]), /embeddings\.bin .* is a FIFO, not a regular file/],
  ];
  try {
    for (const [what, name, make, message] of cases) {
      const dir = bundleWith(name, make);
      try {
        // 60 s: a hang or a read without end is a failure, not a wait.
        const r = runCli(['doctor', '--bundle', dir, '--threads', '1'], { XDG_CACHE_HOME: xdg }, 60_000);
        assertRefused(r, message, what);
        t.diagnostic(`${what}: ${notes(r, /^e2code:/)[0]?.slice(0, 200)} (${r.ms} ms)`);
      } finally {
        rmrf(dir);
      }
    }
    // `e2code index` reads only the manifest and the encoder's tokenizer (to size chunks), through the same checks.
    for (const [what, name, make, message] of [
      [
        'manifest.json as a FIFO',
        'manifest.json',
        (f: string) => execFileSync('mkfifo', [f]),
        /manifest\.json cannot be read: .* is a FIFO, not a regular file/,
      ],
      [
        'tokenizer.json as a FIFO',
        'tokenizer.json',
        (f: string) => execFileSync('mkfifo', [f]),
        /tokenizer\.json .* is a FIFO, not a regular file/,
      ],
      [
        'tokenizer.json linked to /dev/zero',
        'tokenizer.json',
        (f: string) => symlinkSync('/dev/zero', f),
        /tokenizer\.json .* is a character device, not a regular file/,
      ],
    ] as const) {
      const dir = bundleWith(name, make);
      try {
        const r = runCli(['index', REPO_SMALL, '--bundle', dir], { XDG_CACHE_HOME: xdg }, 60_000);
        assertRefused(r, message, `e2code index with ${what}`);
        t.diagnostic(`index, ${what}: ${notes(r, /^e2code:/)[0]?.slice(0, 200)} (${r.ms} ms)`);
      } finally {
        rmrf(dir);
      }
    }
    // The sidecar: initialize is refused with the reason, and the sidecar (serving without a model) still answers.
    for (const [name, make, message] of [
      ['manifest.json', (f: string) => execFileSync('mkfifo', [f]), /manifest\.json cannot be read: .* is a FIFO/],
      ['tokenizer.json', (f: string) => symlinkSync('/dev/zero', f), /tokenizer\.json .* is a character device/],
    ] as const) {
      const dir = bundleWith(name, make);
      const raw = spawnRawSidecar({ XDG_CACHE_HOME: xdg });
      try {
        raw.send({ jsonrpc: '2.0', id: 1, method: Methods.initialize, params: { bundlePath: dir, device: 'cpu', threads: 1 } });
        assert.match((await raw.response(1, 60_000)).error?.message ?? '', message, name);
        raw.send({ jsonrpc: '2.0', id: 2, method: Methods.status, params: {} });
        assert.equal(((await raw.response(2, 5000)).result as { state: string }).state, 'error', name);
      } finally {
        raw.kill();
        rmrf(dir);
      }
    }
  } finally {
    rmrf(xdg);
  }
});

test("broken framing on the sidecar's input (garbage, Content-Length 2147483648, -5, a header with no body): it logs the error and exits; a client restarts it", async (t) => {
  const xdg = tempDir('e2code-xdg-');
  const attacks: [string, string, RegExp][] = [
    ['garbage', 'hello world\r\n\r\n\u0000\u0001garbage{{{\r\n\r\n', /malformed header line "hello world"/],
    ['Content-Length 2147483648', 'Content-Length: 2147483648\r\n\r\n{"jsonrpc":"2.0"', /Content-Length 2147483648 is outside 1\.\.\d+/],
    ['Content-Length -5', 'Content-Length: -5\r\n\r\n', /Content-Length "-5" is not a byte count/],
    ['a header with no body', 'Content-Length: 100\r\n\r\n', /a frame stopped after \d+ of its 100 bytes/],
  ];
  try {
    for (const [what, bytes, logged] of attacks) {
      const raw = spawnRawSidecar({ XDG_CACHE_HOME: xdg });
      try {
        raw.send({ jsonrpc: '2.0', id: 1, method: Methods.status, params: {} });
        await raw.response(1, 30_000);
        const t0 = Date.now();
        raw.write(bytes);
        // A request after the bad bytes: before, it was never answered and the sidecar lived on, deaf.
        raw.send({ jsonrpc: '2.0', id: 2, method: Methods.status, params: {} });
        const gone = await raw.exited(30_000);
        assert.equal(gone.code, 2, `${what}: ${raw.stderr()}`);
        assert.match(raw.stderr(), /e2code sidecar: unreadable input on stdin \(/, what);
        assert.match(raw.stderr(), logged, what);
        t.diagnostic(`${what}: exit 2 after ${Date.now() - t0} ms`);
      } finally {
        raw.kill();
      }
    }
    // Through the client: garbage into a live sidecar's input, then a question: the client restarts it and answers.
    const root = copyWorkspace(REPO_SMALL);
    const h = await startSidecar({ env: { XDG_CACHE_HOME: xdg } });
    try {
      const pid = h.client.pid;
      (h.client as unknown as { proc: { child: { stdin: NodeJS.WritableStream } } }).proc.child.stdin.write('Content-Length: -5\r\n\r\n');
      await waitFor(() => h.client.pid !== pid && h.client.state === 'ready', 60_000, 'the client to restart the sidecar');
      const r = await h.client.generate({ task: 'ask', root, prompt: QUESTION, options: { maxTokens: 4 } });
      assert.ok(r.context.softChunks > 0);
      assert.ok(
        h.logs.some((l) => /unreadable input on stdin/.test(l)),
        h.logs.join(' | '),
      );
    } finally {
      await h.dispose();
      rmrf(root);
    }
  } finally {
    rmrf(xdg);
  }
});

test('a deaf sidecar (alive, answering nothing): the per-request timeout fires, the liveness check kills it, the client restarts it', async (t) => {
  const xdg = tempDir('e2code-xdg-');
  const root = copyWorkspace(REPO_SMALL);
  const h = await startSidecar({
    env: { XDG_CACHE_HOME: xdg },
    client: { liveness: { intervalMs: 500, timeoutMs: 2000 }, requestTimeoutsMs: { status: 1000 } },
  });
  try {
    await h.client.index({ root });
    const pid = h.client.pid!;
    process.kill(pid, 'SIGSTOP'); // alive, and silent
    const t0 = Date.now();
    await assert.rejects(
      h.client.status(),
      (e: Error) => e instanceof SidecarTimeoutError && /did not answer status within 1000 ms/.test(e.message),
    );
    await waitFor(() => h.client.pid !== pid && h.client.state === 'ready', 60_000, 'the client to replace the deaf sidecar');
    const restartedIn = Date.now() - t0;
    assert.ok(
      h.logs.some((l) => new RegExp(`\\[client\\] sidecar ${pid} sent nothing for 2000 ms after a liveness check; restarting it`).test(l)),
      h.logs.join(' | '),
    );
    const r = await h.client.generate({ task: 'ask', root, prompt: QUESTION, options: { maxTokens: 4 } });
    assert.ok(r.context.softChunks > 0);
    t.diagnostic(`deaf sidecar ${pid} replaced by ${h.client.pid} in ${restartedIn} ms`);
  } finally {
    await h.dispose();
    rmrf(root);
    rmrf(xdg);
  }
});

test('10,000 pipelined generate requests: status and cancellation are answered at once, not behind the queue', async (t) => {
  const xdg = tempDir('e2code-xdg-');
  const root = copyWorkspace(REPO_SMALL);
  const raw = spawnRawSidecar({ XDG_CACHE_HOME: xdg, E2CODE_CACHE_DIR: path.join(xdg, 'cache') });
  try {
    raw.send({ jsonrpc: '2.0', id: 'init', method: Methods.initialize, params: { bundlePath: BUNDLE, device: 'cpu', threads: 1 } });
    assert.equal((await raw.response('init', 120_000)).error, undefined);
    raw.send({ jsonrpc: '2.0', id: 'index', method: Methods.index, params: { root } });
    assert.equal((await raw.response('index', 120_000)).error, undefined);
    const n = 10_000;
    const frames: Buffer[] = [];
    for (let i = 0; i < n; i++) {
      const params = {
        task: 'ask',
        root,
        prompt: `question ${i}: what does the LRU cache do?`,
        options: { maxTokens: 64, ignoreEos: true },
      };
      frames.push(Buffer.from(JSON.stringify({ jsonrpc: '2.0', id: i, method: Methods.generate, params })));
    }
    raw.write(Buffer.concat(frames.flatMap((b) => [Buffer.from(`Content-Length: ${b.length}\r\n\r\n`), b])));
    // Once generation is under way: a status request, and the cancellation of a request deep in the queue.
    await waitFor(() => raw.messages.some((m) => m.method === 'e2code/token'), 120_000, 'the first generated token');
    const t0 = Date.now();
    raw.send({ jsonrpc: '2.0', id: 'status', method: Methods.status, params: {} });
    raw.send({ jsonrpc: '2.0', method: '$/cancelRequest', params: { id: n - 1 } });
    const status = await raw.response('status', 5000);
    const statusMs = Date.now() - t0;
    const st = status.result as { state: string; queueLength: number };
    assert.equal(st.state, 'generating');
    const cancelled = await raw.response(n - 1, 5000);
    const cancelMs = Date.now() - t0;
    assert.equal((cancelled.result as { stopReason?: string } | undefined)?.stopReason, 'cancelled', JSON.stringify(cancelled));
    const answered = raw.messages.filter((m) => typeof m.id === 'number' && m.method === undefined).length;
    t.diagnostic(
      `status answered in ${statusMs} ms and request ${n - 1} cancelled in ${cancelMs} ms, with ${answered} of ${n} generate requests answered so far`,
    );
  } finally {
    raw.kill();
    rmrf(root);
    rmrf(xdg);
  }
});

test('a read-only cache is used read-only: answers work, nothing is written, one note (an existing cache and an empty directory)', (t) => {
  const xdg = tempDir('e2code-xdg-');
  const cache = tempDir('e2code-cache-');
  const empty = tempDir('e2code-cache-empty-');
  let view: string | undefined;
  let emptyView: string | undefined;
  try {
    const warm = runCli(['ask', REPO_SMALL, QUESTION, '--threads', '1', '--max-tokens', '8', '--cache-dir', cache], {
      XDG_CACHE_HOME: xdg,
    });
    assertAnswered(warm, 'warming the cache');
    const before = readdirSync(cache).sort();
    const dataBefore = statSync(path.join(cache, 'data.mdb'));
    view = readOnlyView(cache);
    const ro = runCli(['ask', REPO_SMALL, QUESTION, '--threads', '1', '--max-tokens', '8', '--cache-dir', view], { XDG_CACHE_HOME: xdg });
    assertAnswered(ro, 'read-only cache');
    const said = notes(ro, /soft-prompt cache/);
    assert.equal(said.length, 1, show(ro));
    assert.match(
      said[0],
      /is used read-only \(it is on a read-only file system\): answers use the \d+ entries it holds; nothing new is cached/,
    );
    assert.match(ro.stderr, /\(0 encoded, \d+ cached\)/, 'the read-only cache was not used');
    assert.deepEqual(readdirSync(cache).sort(), before);
    assert.equal(statSync(path.join(cache, 'data.mdb')).mtimeMs, dataBefore.mtimeMs);
    emptyView = readOnlyView(empty);
    const none = runCli(['ask', REPO_SMALL, QUESTION, '--threads', '1', '--max-tokens', '8', '--cache-dir', emptyView], {
      XDG_CACHE_HOME: xdg,
    });
    assertAnswered(none, 'read-only empty cache directory');
    assert.equal(
      notes(none, /soft-prompt cache .* is not used \(it is on a read-only file system\); answering without caching/).length,
      1,
      show(none),
    );
    t.diagnostic(said[0]);
  } finally {
    for (const v of [view, emptyView]) if (v) unmount(v);
    rmrf(xdg);
    rmrf(cache);
    rmrf(empty);
  }
});

test('no home directory (HOME unset, no passwd entry): --help needs no cache; a command caches in a temporary directory and says so', () => {
  const uid = 54_321; // no passwd entry
  assert.equal(spawnSync('getent', ['passwd', String(uid)]).status, 2, `uid ${uid} has a passwd entry here`);
  const run = (args: string[]) =>
    spawnSync(
      'setpriv',
      [
        `--reuid=${uid}`,
        `--regid=${uid}`,
        '--clear-groups',
        process.execPath,
        '--import',
        'tsx',
        path.join(REPO, 'src', 'cli', 'main.ts'),
        ...args,
      ],
      {
        cwd: REPO,
        encoding: 'utf8',
        env: { PATH: process.env.PATH, ORT_DISABLE_TELEMETRY: undefined },
        timeout: 300_000,
      },
    );
  const tmpCache = path.join(os.tmpdir(), `e2code-cache-${uid}`);
  rmrf(tmpCache);
  try {
    for (const args of [['--help'], ['ask', '--help'], ['doctor', '--help']]) {
      const r = run(args);
      assert.equal(r.status, 0, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stdout, /Usage: e2code/);
      assert.doesNotMatch(r.stderr, /homedir|ENOENT/);
    }
    const doctor = run(['doctor', '--threads', '1', '--json']);
    assert.equal(doctor.status, 0, doctor.stderr);
    assert.match(doctor.stderr, new RegExp(`e2code: no home directory .* caching in ${tmpCache}, which the system may clear`));
    assert.equal((JSON.parse(doctor.stdout) as { cache: { path: string } }).cache.path, tmpCache);
    assert.ok(existsSync(path.join(tmpCache, 'data.mdb')));
    // The workspace index is stored under the same cache home (was: `ask` failed with "uv_os_homedir returned ENOENT").
    const ask = run(['ask', REPO_SMALL, QUESTION, '--threads', '1', '--max-tokens', '8']);
    assert.equal(ask.status, 0, ask.stderr);
    assert.ok(ask.stdout.trim().length > 0, 'no answer');
    assert.doesNotMatch(ask.stderr, /homedir/);
    const store = path.join(tmpCache, 'workspaces', createHash('sha256').update(REPO_SMALL).digest('hex').slice(0, 16));
    assert.ok(existsSync(path.join(store, 'index.snapshot')), `no index stored in ${store}`);
    const index = run(['index', REPO_SMALL]);
    assert.equal(index.status, 0, index.stderr);
    assert.match(
      index.stderr,
      new RegExp(`e2code: no home directory and no XDG_CACHE_HOME: the workspace index is stored in ${store}, which the system may clear`),
    );
    assert.match(index.stdout, new RegExp(`store: ${store}`));
  } finally {
    rmrf(tmpCache);
  }
});

test('a command whose work can never finish (the event loop runs empty while it waits) exits 1 with a message, not 0 with no answer', () => {
  const dir = tempDir('e2code-hang-');
  try {
    // A fault seam: commander's parseAsync replaced by a promise nothing will ever settle.
    const preload = path.join(dir, 'never-settles.cjs');
    writeFileSync(
      preload,
      `const { Command } = require(require.resolve('commander', { paths: [${JSON.stringify(REPO)}] }));\nCommand.prototype.parseAsync = () => new Promise(() => {});\n`,
    );
    const r = runCli(['doctor'], {}, 60_000, ['--require', preload]);
    assertRefused(r, /e2code: stopped before finishing: an operation it was waiting for can never complete/, 'never-settling command');
  } finally {
    rmrf(dir);
  }
});
