// Starts a real VS Code (code-server 4.100.3, installed by scripts/install-code-server.sh into
// .vscode-test/) and Debian's chromium through playwright-core. Shared by the integration suite
// (mocha inside the extension host) and the end-to-end UI tests (Playwright driving the workbench).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';

export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const CODE_SERVER_VERSION = '4.100.3';
export const CODE_SERVER_ENTRY = path.join(
  ROOT,
  '.vscode-test',
  `code-server-${CODE_SERVER_VERSION}`,
  'node_modules',
  'code-server',
  'out',
  'node',
  'entry.js',
);
export const CHROMIUM = process.env.E2CODE_CHROMIUM ?? '/usr/bin/chromium';

/** Installs code-server when missing (idempotent, fast when present) and builds the extension. */
export function prepare(): void {
  run('bash', [path.join(ROOT, 'scripts', 'install-code-server.sh')]);
  if (!existsSync(CHROMIUM)) run('bash', [path.join(ROOT, 'scripts', 'setup-system.sh')]);
  if (!existsSync(CHROMIUM)) throw new Error(`chromium not found at ${CHROMIUM} (apt-get install chromium)`);
  // E2CODE_NO_BUILD=1 reuses dist/ and media/dist/ as they are (iterating on tests only).
  if (!process.env.E2CODE_NO_BUILD) run(process.execPath, [path.join(ROOT, 'scripts', 'build.mjs')]);
}

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { cwd: ROOT, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed with ${r.status ?? r.signal}`);
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** A scratch copy of the fixture workspace, so that tests may edit files freely. */
export function scratchWorkspace(tag: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), `e2code-${tag}-`));
  const ws = path.join(dir, 'workspace');
  cpSync(path.join(ROOT, 'test', 'fixtures', 'workspace'), ws, { recursive: true });
  return ws;
}

export interface CodeServerOptions {
  /** Settings written to the user's settings.json. */
  settings?: Record<string, unknown>;
  /** Extra environment for code-server (and so for its extension host). */
  env?: NodeJS.ProcessEnv;
  /** Pre-installed extensions directory (the .vsix test); default: an empty one. */
  extensionsDir?: string;
  log?: (line: string) => void;
}

export interface CodeServer {
  url: string;
  port: number;
  dataDir: string;
  extensionsDir: string;
  process: ChildProcess;
  stop(): Promise<void>;
}

const QUIET_SETTINGS = {
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'security.workspace.trust.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'git.enabled': false,
  'window.restoreWindows': 'none',
  'chat.commandCenter.enabled': false,
};

export async function startCodeServer(opts: CodeServerOptions = {}): Promise<CodeServer> {
  if (!existsSync(CODE_SERVER_ENTRY)) throw new Error(`code-server is not installed: run scripts/install-code-server.sh`);
  const dataDir = mkdtempSync(path.join(tmpdir(), 'e2code-cs-'));
  const userDir = path.join(dataDir, 'user-data', 'User');
  mkdirSync(userDir, { recursive: true });
  writeFileSync(path.join(userDir, 'settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...opts.settings }, null, 2));
  const extensionsDir = opts.extensionsDir ?? path.join(dataDir, 'extensions');
  mkdirSync(extensionsDir, { recursive: true });
  const config = path.join(dataDir, 'config.yaml');
  writeFileSync(config, 'auth: none\n');
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      CODE_SERVER_ENTRY,
      '--config',
      config,
      '--auth',
      'none',
      '--bind-addr',
      `127.0.0.1:${port}`,
      '--user-data-dir',
      path.join(dataDir, 'user-data'),
      '--extensions-dir',
      extensionsDir,
      '--disable-telemetry',
      '--disable-update-check',
      '--disable-workspace-trust',
      '--disable-getting-started-override',
      '--ignore-last-opened',
    ],
    { env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const log = opts.log ?? (() => undefined);
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (d: Buffer) => {
      const s = d.toString();
      output += s;
      for (const line of s.split('\n')) if (line.trim()) log(`[code-server] ${line}`);
      if (/HTTP server listening/.test(output)) resolve();
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`code-server exited (${code}) before listening:\n${output.slice(-2000)}`)));
    setTimeout(() => reject(new Error(`code-server did not start in 60 s:\n${output.slice(-2000)}`)), 60_000).unref();
  });
  await ready;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    dataDir,
    extensionsDir,
    process: child,
    async stop() {
      if (child.exitCode === null && child.pid) {
        const gone = new Promise<void>((r) => child.once('exit', () => r()));
        // The whole process group: code-server, its extension hosts and their children (the sidecar).
        try {
          process.kill(-child.pid, 'SIGTERM');
        } catch {
          // Already gone.
        }
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
      '--disable-sync',
    ],
  });
}

/** Workbench URL for a folder, optionally in extension-development (and test) mode. */
export function workbenchUrl(cs: CodeServer, folder: string, payload?: [string, string][]): string {
  const u = new URL(cs.url);
  u.searchParams.set('folder', folder);
  if (payload) u.searchParams.set('payload', JSON.stringify(payload));
  return u.toString();
}

/** Waits for the workbench to be usable (the activity bar is rendered). */
export async function waitForWorkbench(page: Page): Promise<void> {
  await page.waitForSelector('.monaco-workbench .part.activitybar', { timeout: 90_000 });
}
