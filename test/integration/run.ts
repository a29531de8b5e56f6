// Runs the mocha suites of test/integration/suite inside code-server's real extension host: builds the
// extension and the suites, starts code-server on scratch copies of the fixture workspace, opens the
// workbench in chromium with the `extensionDevelopmentPath` / `extensionTestsPath` payload, and waits
// for VS Code to call `window.codeAutomationExit`. Three windows: a single folder (most suites), a small
// TypeScript project the runner writes (grounded.test.ts: sources, explain, summarize, generate, saves)
// and a two-folder workspace (multiroot.test.ts). Prints each report and `N passed, N failed`.
// E2CODE_SUITES=grounded,single picks windows.
//   npm run test:integration      (E2CODE_TEST_GREP=pattern to run some tests, E2CODE_TEST_VERBOSE=1)
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { bundleSuites, SUITE_OUT } from './harness/bundle';
import { report, runMain, type Stats } from './harness/report';
import { launchBrowser, prepare, ROOT, scratchWorkspace, startCodeServer, workbenchUrl, type CodeServer } from './harness/codeServer';
import { writeProject } from './harness/project';

const TIMEOUT_MS = Number(process.env.E2CODE_TEST_TIMEOUT_MS) || 15 * 60_000;
const verbose = Boolean(process.env.E2CODE_TEST_VERBOSE);

/** Opens one workbench window in test mode and waits for the suite to finish. */
async function runWindow(name: string, target: { folder?: string; workspaceFile?: string }, testsPath: string): Promise<Stats> {
  const report = path.join(SUITE_OUT, `report-${name}.txt`);
  let cs: CodeServer | undefined;
  const browser = await launchBrowser();
  try {
    cs = await startCodeServer({
      settings: { 'e2code.maxTokens': 48, 'e2code.index.refreshDelayMs': 300 },
      env: {
        E2CODE_TEST_REPORT: report,
        E2CODE_SUITE: name,
        ...(process.env.E2CODE_TEST_GREP ? { E2CODE_TEST_GREP: process.env.E2CODE_TEST_GREP } : {}),
      },
      log: verbose ? (l) => console.log(l) : undefined,
    });
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const exited = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
    });
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      if (verbose) console.log(`[workbench ${type}]`, ...(Array.isArray(args) ? args : [args]));
    });
    const remote = (p: string) => `vscode-remote://127.0.0.1:${cs!.port}${p}`;
    const payload: [string, string][] = [
      ['extensionDevelopmentPath', remote(ROOT)],
      ['extensionTestsPath', remote(testsPath)],
    ];
    let url = workbenchUrl(cs, target.folder ?? '', payload);
    if (target.workspaceFile) {
      const u = new URL(url);
      u.searchParams.delete('folder');
      u.searchParams.set('workspace', target.workspaceFile);
      url = u.toString();
    }
    console.log(`integration (${name}): code-server ${cs.url}`);
    await page.goto(url);
    const timeout = new Promise<number>((resolve) => setTimeout(() => resolve(-1), TIMEOUT_MS).unref());
    const code = await Promise.race([exited, timeout]);
    const text = existsSync(report) ? readFileSync(report, 'utf8') : '';
    process.stdout.write(text.replace(/\nRESULT .*\n?$/, '\n'));
    const m = /RESULT (.*)/.exec(text);
    const stats: Stats = m ? (JSON.parse(m[1]) as Stats) : { passes: 0, failures: 1 };
    if (code === -1) console.log(`integration (${name}): timed out after ${TIMEOUT_MS / 1000} s`);
    else if (code !== 0 && stats.failures === 0) stats.failures = 1;
    return stats;
  } finally {
    await browser.close();
    await cs?.stop();
  }
}

async function main(): Promise<number> {
  const t0 = Date.now();
  prepare();
  const testsPath = await bundleSuites();
  const total: Stats = { passes: 0, failures: 0 };
  const add = (s: Stats) => {
    total.passes += s.passes;
    total.failures += s.failures;
  };

  const suites = (process.env.E2CODE_SUITES ?? 'single,grounded,multiroot').split(',');

  if (suites.includes('single')) {
    const single = scratchWorkspace('it');
    try {
      add(await runWindow('single', { folder: single }, testsPath));
    } finally {
      rmSync(path.dirname(single), { recursive: true, force: true });
    }
  }

  if (suites.includes('grounded')) {
    const base = mkdtempSync(path.join(tmpdir(), 'e2code-grounded-'));
    try {
      add(await runWindow('grounded', { folder: writeProject(path.join(base, 'shapes-cli')) }, testsPath));
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  }

  if (!suites.includes('multiroot')) return report('integration', t0, total);

  // Two folders: the fixture and a second project next to it.
  const first = scratchWorkspace('mr');
  const base = path.dirname(first);
  const second = path.join(base, 'second');
  mkdirSync(path.join(second, 'tools'), { recursive: true });
  writeFileSync(path.join(second, 'README.md'), '# second\n\nReport tooling for the multi-root test.\n');
  writeFileSync(
    path.join(second, 'tools', 'report.py'),
    'def render_report(rows):\n    """Format rows as an aligned text table."""\n    return "\\n".join(" | ".join(map(str, r)) for r in rows)\n',
  );
  const workspaceFile = path.join(base, 'multi.code-workspace');
  writeFileSync(workspaceFile, JSON.stringify({ folders: [{ path: 'workspace' }, { path: 'second' }] }, null, 2));
  try {
    add(await runWindow('multiroot', { workspaceFile }, testsPath));
  } finally {
    rmSync(base, { recursive: true, force: true });
  }

  return report('integration', t0, total);
}

runMain(main);
