// End-to-end UI tests: Playwright (playwright-core + Debian chromium) driving the chat webview and the
// real workbench (code-server) with the extension, and the packaged .vsix installed into code-server.
// Screenshots go to test-results/e2e/. Prints `N passed, N failed`.
//   npm run test:e2e             (E2CODE_TEST_GREP=pattern to run some tests)
import { readdirSync } from 'node:fs';
import path from 'node:path';
import Mocha from 'mocha';
import { prepare } from '../integration/harness/codeServer';
import { report, runMain, type Stats } from '../integration/harness/report';

async function main(): Promise<number> {
  const t0 = Date.now();
  prepare();
  const mocha = new Mocha({ ui: 'bdd', timeout: 300_000, color: false, reporter: 'spec', grep: process.env.E2CODE_TEST_GREP });
  const dir = __dirname;
  for (const f of readdirSync(dir)
    .filter((f) => f.endsWith('.test.ts'))
    .sort())
    mocha.addFile(path.join(dir, f));
  await mocha.loadFilesAsync();
  const stats = await new Promise<Stats>((resolve) => {
    const runner = mocha.run(() => resolve({ passes: runner.stats?.passes ?? 0, failures: runner.stats?.failures ?? 0 }));
  });
  return report('e2e', t0, stats, '; screenshots in test-results/e2e/');
}

runMain(main);
