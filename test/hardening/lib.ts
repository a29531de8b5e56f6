// Helpers of the hardening suite: temp dirs, a real sidecar behind the real client, /proc inspection.
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync } from 'node:fs';
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
  opts: { cacheDir?: string; bundlePath?: string; env?: NodeJS.ProcessEnv; client?: Partial<SidecarClientOptions>; init?: Partial<InitializeParams> } = {},
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
