// The same integration suites in desktop VS Code through @vscode/test-electron, for machines that can
// download VS Code (this project's build machines cannot: there the suites run in code-server, run.ts).
//   npm run test:electron                 (VSCODE_VERSION=1.100.3 by default; xvfb-run on a headless Linux)
import { runTests } from '@vscode/test-electron';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { bundleSuites, SUITE_OUT } from './harness/bundle';
import { ROOT, scratchWorkspace } from './harness/codeServer';
import { runMain } from './harness/report';

async function runWindow(name: string, target: string, testsPath: string): Promise<{ passes: number; failures: number }> {
  const report = path.join(SUITE_OUT, `report-electron-${name}.txt`);
  const userData = path.join(path.dirname(target), 'user-data');
  mkdirSync(path.join(userData, 'User'), { recursive: true });
  writeFileSync(
    path.join(userData, 'User', 'settings.json'),
    JSON.stringify({
      'e2code.maxTokens': 48,
      'e2code.index.refreshDelayMs': 300,
      'workbench.startupEditor': 'none',
      'security.workspace.trust.enabled': false,
    }),
  );
  let code = 1;
  try {
    code = await runTests({
      version: process.env.VSCODE_VERSION ?? '1.100.3',
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: testsPath,
      launchArgs: [target, '--disable-extensions', '--disable-workspace-trust', '--user-data-dir', userData],
      extensionTestsEnv: { E2CODE_TEST_REPORT: report, E2CODE_SUITE: name, E2CODE_TEST_GREP: process.env.E2CODE_TEST_GREP },
    });
  } catch (err) {
    console.error(`electron (${name}):`, err);
  }
  const text = existsSync(report) ? readFileSync(report, 'utf8') : '';
  process.stdout.write(text.replace(/\nRESULT .*\n?$/, '\n'));
  const m = /RESULT (.*)/.exec(text);
  const stats = m ? (JSON.parse(m[1]) as { passes: number; failures: number }) : { passes: 0, failures: 1 };
  if (code !== 0 && stats.failures === 0) stats.failures = 1;
  return stats;
}

async function main(): Promise<number> {
  const testsPath = await bundleSuites();
  const single = scratchWorkspace('electron');
  const first = scratchWorkspace('electron-mr');
  const base = path.dirname(first);
  mkdirSync(path.join(base, 'second', 'tools'), { recursive: true });
  writeFileSync(path.join(base, 'second', 'README.md'), '# second\n\nReport tooling for the multi-root test.\n');
  writeFileSync(
    path.join(base, 'second', 'tools', 'report.py'),
    'def render_report(rows):\n    """Format rows as an aligned text table."""\n    return "\\n".join(" | ".join(map(str, r)) for r in rows)\n',
  );
  const workspaceFile = path.join(base, 'multi.code-workspace');
  writeFileSync(workspaceFile, JSON.stringify({ folders: [{ path: 'workspace' }, { path: 'second' }] }));
  try {
    const a = await runWindow('single', single, testsPath);
    const b = await runWindow('multiroot', workspaceFile, testsPath);
    console.log(`${a.passes + b.passes} passed, ${a.failures + b.failures} failed`);
    return a.failures + b.failures === 0 ? 0 : 1;
  } finally {
    rmSync(path.dirname(single), { recursive: true, force: true });
    rmSync(base, { recursive: true, force: true });
  }
}

runMain(main);
