// Helpers of the hardening suite: temp dirs, a real sidecar behind the real client, /proc inspection.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import {
  closeSync,
  cpSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statfsSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SidecarClient, type SidecarClientOptions } from '../../src/sidecar/client';
import type { InitializeParams } from '../../src/core/protocol';

export const REPO = path.resolve(__dirname, '..', '..');
export const BUNDLE = path.join(REPO, 'models', 'default');
export const SIDECAR_TS = path.join(REPO, 'src', 'sidecar', 'main.ts');
export const REPO_SMALL = path.join(REPO, 'test', 'fixtures', 'repo-small');

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A fresh temp dir; removed by the returned cleanup (also registered on the test context if given). */
export function tempDir(prefix = 'e2code-hard-'): string {
  return mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function rmrf(p: string): void {
  try {
    rmSync(p, { recursive: true, force: true });
  } catch {
    // node's rimraf recurses: a tree deeper than its stack (the PATH_MAX test) needs rm(1)
    execFileSync('rm', ['-rf', '--', p]);
  }
}

/** A synthetic workspace of `files` TypeScript files with `fns` functions each (distinct text: distinct chunks). */
export function syntheticWorkspace(files: number, fns: number): string {
  const root = tempDir('e2code-synth-');
  for (let f = 0; f < files; f++) {
    const dir = path.join(root, `pkg${f % 7}`);
    mkdirSync(dir, { recursive: true });
    const body = Array.from(
      { length: fns },
      (_, i) =>
        `/** Computes value ${f}.${i} of the table. */\nexport function compute_${f}_${i}(x: number): number {\n  const k = ${f * 1000 + i};\n  return x * k + ${i} - Math.floor(x / ${f + 1});\n}\n`,
    ).join('\n');
    writeFileSync(path.join(dir, `mod${f}.ts`), body);
  }
  return root;
}

/** A copy of a fixture workspace in a temp dir (tests may change it). */
export function copyWorkspace(from = REPO_SMALL): string {
  const dir = tempDir('e2code-ws-');
  cpSync(from, dir, { recursive: true });
  return dir;
}

export interface SidecarHandle {
  client: SidecarClient;
  cacheDir: string;
  logs: string[];
  dispose(): Promise<void>;
}

/** Starts the real sidecar (src/sidecar/main.ts through tsx) with the real bundle. */
export async function startSidecar(
  opts: {
    cacheDir?: string;
    bundlePath?: string;
    env?: NodeJS.ProcessEnv;
    client?: Partial<SidecarClientOptions>;
    init?: Partial<InitializeParams>;
  } = {},
): Promise<SidecarHandle> {
  const cacheDir = opts.cacheDir ?? tempDir('e2code-cache-');
  const logs: string[] = [];
  const client = new SidecarClient({
    sidecarPath: SIDECAR_TS,
    env: { E2CODE_CACHE_DIR: cacheDir, ...opts.env },
    log: (l) => logs.push(l),
    restartDelaysMs: [100, 300],
    ...opts.client,
  });
  await client.start({ bundlePath: opts.bundlePath ?? BUNDLE, device: 'cpu', threads: 1, cacheDir, ...opts.init });
  return {
    client,
    cacheDir,
    logs,
    async dispose() {
      await client.dispose();
    },
  };
}

/** Waits until `cond()` holds (polling), or throws after `ms`. */
export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(25);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

/** The process's open file descriptors: fd -> link target (`socket:[inode]`, `pipe:[inode]`, a path). */
export function openFds(pid: number): Map<number, string> {
  const out = new Map<number, string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      out.set(Number(fd), readlinkSync(`/proc/${pid}/fd/${fd}`));
    } catch {
      // closed while listing
    }
  }
  return out;
}

export interface SocketEntry {
  proto: string;
  local: string;
  remote: string;
  /** TCP state code in hex (0A = LISTEN); UDP 07 = unconnected. */
  state: string;
  inode: string;
}

/** Every inet socket of the process's network namespace (/proc/<pid>/net/{tcp,tcp6,udp,udp6}). */
export function inetSockets(pid: number): SocketEntry[] {
  const out: SocketEntry[] = [];
  for (const proto of ['tcp', 'tcp6', 'udp', 'udp6']) {
    let text: string;
    try {
      text = readFileSync(`/proc/${pid}/net/${proto}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 10) continue;
      out.push({ proto, local: f[1], remote: f[2], state: f[3], inode: f[9] });
    }
  }
  return out;
}

/** Unix sockets with their path (if bound) from /proc/<pid>/net/unix, by inode. */
export function unixSockets(pid: number): Map<string, { path: string; listening: boolean }> {
  const out = new Map<string, { path: string; listening: boolean }>();
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/net/unix`, 'utf8');
  } catch {
    return out;
  }
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 7) continue;
    // Num RefCount Protocol Flags Type St Inode [Path]; Flags 00010000 = __SO_ACCEPTCON (listening).
    out.set(f[6], { path: f[7] ?? '', listening: (parseInt(f[3], 16) & 0x10000) !== 0 });
  }
  return out;
}

/** Resident set size of a process in bytes (/proc/<pid>/status VmRSS). */
export function rssBytes(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Child pids of a process (/proc/<pid>/task/<pid>/children). */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

export const CLI_TS = path.join(REPO, 'src', 'cli', 'main.ts');

export interface CliRun {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the real CLI (src/cli/main.ts through tsx) to its end or `timeoutMs`; env entries set to undefined are removed. */
export function runCli(args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000, nodeArgs: string[] = []): CliRun {
  const t0 = Date.now();
  const merged: NodeJS.ProcessEnv = { ...process.env, ...env };
  for (const [k, v] of Object.entries(env)) if (v === undefined) delete merged[k];
  const r = spawnSync(process.execPath, [...nodeArgs, '--import', 'tsx', CLI_TS, ...args], {
    cwd: REPO,
    encoding: 'utf8',
    env: merged,
    timeout: timeoutMs,
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '', ms: Date.now() - t0 };
}

/** Mounts a real tmpfs of `mb` MB in a fresh temp dir (needs root, as the disk-full tests do). */
export function mountTmpfs(mb: number): string {
  const dir = tempDir('e2code-tmpfs-');
  const r = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mb}m`, 'tmpfs', dir], { encoding: 'utf8' });
  if (r.status !== 0) {
    rmrf(dir);
    throw new Error(
      `cannot mount a ${mb} MB tmpfs at ${dir} (${(r.stderr || r.error?.message || '').trim()}): this test needs mount rights (run as root)`,
    );
  }
  return dir;
}

/** Unmounts and removes what mountTmpfs made. */
export function unmount(dir: string): void {
  spawnSync('umount', [dir]);
  rmrf(dir);
}

/** Fills the file system of `dir` until `leaveBytes` are free (for an unprivileged writer); returns the filler file. */
export function fillDisk(dir: string, leaveBytes: number): string {
  const filler = path.join(dir, `filler-${Date.now()}`);
  const st = statfsSync(dir);
  const fill = Math.max(0, st.bavail * st.bsize - leaveBytes);
  writeFileSync(filler, Buffer.alloc(0));
  const block = Buffer.alloc(1024 * 1024, 1);
  let left = fill;
  const fd = openSync(filler, 'a');
  try {
    while (left > 0) {
      const n = Math.min(left, block.length);
      try {
        writeSync(fd, block, 0, n);
      } catch {
        break; // full before the count: full is what was wanted
      }
      left -= n;
    }
  } finally {
    closeSync(fd);
  }
  return filler;
}

/** Free bytes on the file system of `dir`. */
export function freeBytes(dir: string): number {
  const st = statfsSync(dir);
  return st.bavail * st.bsize;
}

/** Bind-mounts `dir` read-only at a fresh temp dir (a read-only file system: root cannot write it either). */
export function readOnlyView(dir: string): string {
  const view = tempDir('e2code-ro-');
  const bind = spawnSync('mount', ['--bind', dir, view], { encoding: 'utf8' });
  const ro = bind.status === 0 ? spawnSync('mount', ['-o', 'remount,bind,ro', view], { encoding: 'utf8' }) : bind;
  if (bind.status !== 0 || ro.status !== 0) {
    spawnSync('umount', [view]);
    rmrf(view);
    throw new Error(
      `cannot bind-mount ${dir} read-only (${(ro.stderr || bind.stderr || '').trim()}): this test needs mount rights (run as root)`,
    );
  }
  return view;
}

/** One JSON-RPC frame as the sidecar reads it. */
export function frame(message: unknown): Buffer {
  const body = Buffer.from(JSON.stringify(message), 'utf8');
  return Buffer.concat([Buffer.from(`Content-Length: ${body.length}\r\n\r\n`, 'ascii'), body]);
}

export interface RawSidecar {
  child: ChildProcess;
  /** Every response and notification received, in order. */
  messages: { id?: number | string; method?: string; result?: unknown; error?: { message: string }; params?: unknown }[];
  stderr(): string;
  send(message: unknown): void;
  write(bytes: Buffer | string): void;
  /** Waits for the response to `id`; throws after `ms`. */
  response(id: number | string, ms: number): Promise<{ result?: unknown; error?: { message: string } }>;
  /** Resolves with the exit code (or signal) once the process is gone; throws after `ms`. */
  exited(ms: number): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): void;
}

/** The real sidecar spoken to byte by byte (no client): for attacks on its framing and queue. */
export function spawnRawSidecar(env: NodeJS.ProcessEnv = {}): RawSidecar {
  const child = spawn(process.execPath, ['--import', 'tsx', SIDECAR_TS], {
    cwd: REPO,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const messages: RawSidecar['messages'] = [];
  let err = '';
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (err += d));
  child.stdin!.on('error', () => undefined);
  let buf = Buffer.alloc(0);
  child.stdout!.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const n = Number(/Content-Length: (\d+)/i.exec(buf.subarray(0, end).toString('ascii'))?.[1]);
      if (buf.length < end + 4 + n) return;
      messages.push(JSON.parse(buf.subarray(end + 4, end + 4 + n).toString('utf8')));
      buf = buf.subarray(end + 4 + n);
    }
  });
  const gone = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return {
    child,
    messages,
    stderr: () => err,
    send: (message) => child.stdin!.write(frame(message)),
    write: (bytes) => child.stdin!.write(bytes),
    async response(id, ms) {
      await waitFor(() => messages.some((m) => m.id === id && m.method === undefined), ms, `the response to request ${id}`);
      return messages.find((m) => m.id === id && m.method === undefined)!;
    },
    async exited(ms) {
      let timer: NodeJS.Timeout | undefined;
      try {
        return await Promise.race([
          gone,
          new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`the sidecar still runs after ${ms} ms`)), ms))),
        ]);
      } finally {
        clearTimeout(timer);
      }
    },
    kill: () => child.kill('SIGKILL'),
  };
}
