// Runs the mocha suites of test/integration/suite inside code-server's real extension host: builds the
// extension and the suites, starts code-server on a scratch copy of the fixture workspace, opens the
// workbench in chromium with the `extensionDevelopmentPath` / `extensionTestsPath` payload, and waits
// for VS Code to call `window.codeAutomationExit`. Prints the suite's report and `N passed, N failed`.
//   npm run test:integration            (E2CODE_TEST_GREP=pattern to run some tests)
import { build } from 'esbuild';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { launchBrowser, prepare, ROOT, scratchWorkspace, startCodeServer, workbenchUrl } from './harness/codeServer';

const OUT = path.join(ROOT, '.vscode-test', 'out', 'integration');
const TIMEOUT_MS = Number(process.env.E2CODE_TEST_TIMEOUT_MS) || 15 * 60_000;

async function bundleSuites(): Promise<void> {
  rmSync(OUT, { recursive: true, force: true });
  const dir = path.join(ROOT, 'test', 'integration', 'suite');
  const entries = readdirSync(dir).filter((f) => f === 'index.ts' || f.endsWith('.test.ts')).map((f) => path.join(dir, f));
  await build({
    entryPoints: entries,
    outdir: OUT,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // mocha resolves from the repo's node_modules (OUT is inside the repo); the extension is not
    // bundled into the tests: they reach it through its exported API.
    external: ['vscode', 'mocha', 'onnxruntime-node', 'lmdb', 'web-tree-sitter', '@vscode/tree-sitter-wasm'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
}

async function main(): Promise<number> {
  const t0 = Date.now();
  prepare();
  await bundleSuites();
  const report = path.join(OUT, 'report.txt');
  const workspace = scratchWorkspace('it');
  const cs = await startCodeServer({
    settings: { 'e2code.maxTokens': 48, 'e2code.index.refreshDelayMs': 300 },
    env: { E2CODE_TEST_REPORT: report, ...(process.env.E2CODE_TEST_GREP ? { E2CODE_TEST_GREP: process.env.E2CODE_TEST_GREP } : {}) },
    log: process.env.E2CODE_TEST_VERBOSE ? (l) => console.log(l) : undefined,
  });
  const browser = await launchBrowser();
  try {
    const page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    const exited = new Promise<number>((resolve) => {
      void page.exposeFunction('codeAutomationExit', (code: number) => resolve(code));
    });
    await page.exposeFunction('codeAutomationLog', (type: string, args: unknown[]) => {
      if (process.env.E2CODE_TEST_VERBOSE) console.log(`[workbench ${type}]`, ...(Array.isArray(args) ? args : [args]));
    });
    const remote = (p: string) => `vscode-remote://127.0.0.1:${cs.port}${p}`;
    const url = workbenchUrl(cs, workspace, [
      ['extensionDevelopmentPath', remote(ROOT)],
      ['extensionTestsPath', remote(path.join(OUT, 'index.js'))],
    ]);
    console.log(`integration: code-server ${cs.url}, workspace ${workspace}`);
    await page.goto(url);
    const timeout = new Promise<number>((resolve) => setTimeout(() => resolve(-1), TIMEOUT_MS).unref());
    const code = await Promise.race([exited, timeout]);
    const text = existsSync(report) ? readFileSync(report, 'utf8') : '';
    process.stdout.write(text.replace(/\nRESULT .*\n?$/, '\n'));
    const m = /RESULT (.*)/.exec(text);
    const stats = m ? (JSON.parse(m[1]) as { passes: number; failures: number }) : { passes: 0, failures: 1 };
    if (code === -1) console.log(`integration: timed out after ${TIMEOUT_MS / 1000} s`);
    console.log(`integration: ${((Date.now() - t0) / 1000).toFixed(1)} s in all, exit code ${code}`);
    console.log(`${stats.passes} passed, ${stats.failures} failed`);
    return code === 0 && stats.failures === 0 && stats.passes > 0 ? 0 : 1;
  } finally {
    await browser.close();
    await cs.stop();
    rmSync(path.dirname(workspace), { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    console.log('0 passed, 1 failed');
    process.exit(1);
  },
);
