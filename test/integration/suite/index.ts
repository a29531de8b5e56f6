// Mocha entry that VS Code's extension host loads through `extensionTestsPath`. It runs the bundled
// *.test.js next to it and writes a report (spec output + counts) where the runner asked
// (E2CODE_TEST_REPORT), because the remote extension host's stdout is not the runner's.
import { appendFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { format } from 'node:util';
import Mocha from 'mocha';

export async function run(): Promise<void> {
  const report = process.env.E2CODE_TEST_REPORT;
  const write = (s: string) => {
    if (report) appendFileSync(report, s);
    else process.stdout.write(s);
  };
  if (report) writeFileSync(report, '');
  // Mocha's reporters print through Base.consoleLog; send it to the report too.
  const base = Mocha.reporters.Base as unknown as { consoleLog: (...args: unknown[]) => void };
  base.consoleLog = (...args: unknown[]) => write(format(...args) + '\n');

  const mocha = new Mocha({ ui: 'bdd', timeout: 180_000, color: false, reporter: 'spec', grep: process.env.E2CODE_TEST_GREP });
  // The runner opens one window per workspace shape: `<suite>.test.js` runs in the window of that name
  // (multiroot: two folders; grounded: the project the runner writes), the rest in the single folder.
  const suite = process.env.E2CODE_SUITE ?? 'single';
  const special = ['multiroot', 'grounded'];
  const files = readdirSync(__dirname)
    .filter((f) => f.endsWith('.test.js'))
    .filter((f) => (special.includes(suite) ? f.startsWith(`${suite}.`) : !special.some((s) => f.startsWith(`${s}.`))))
    .sort();
  for (const f of files) mocha.addFile(path.join(__dirname, f));
  const t0 = Date.now();
  const stats = await new Promise<{ passes: number; failures: number; pending: number }>((resolve) => {
    const runner = mocha.run(() =>
      resolve({ passes: runner.stats?.passes ?? 0, failures: runner.stats?.failures ?? 0, pending: runner.stats?.pending ?? 0 }),
    );
  });
  write(`\nRESULT ${JSON.stringify({ ...stats, ms: Date.now() - t0 })}\n`);
  if (stats.failures > 0 || (stats.passes === 0 && !process.env.E2CODE_TEST_GREP)) throw new Error(`${stats.failures} tests failed`);
}
