// The packaged extension: `vsce package` (scripts/package-vsix.mjs) builds a lean .vsix that
// `code-server --install-extension` installs, and that works there without the repository around it.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import {
  CODE_SERVER_ENTRY,
  launchBrowser,
  ROOT,
  scratchWorkspace,
  startCodeServer,
  waitForWorkbench,
  workbenchUrl,
  type CodeServer,
} from '../integration/harness/codeServer';
import { ask, openChat, waitForReady } from './workbenchHelpers';

const SHOTS = path.join(ROOT, 'test-results', 'e2e');
const VSIX = path.join(ROOT, '.vscode-test', 'e2code-linux-x64.vsix');
const INPUTS = [
  'package.json',
  'media/README.md',
  'dist/extension.js',
  'dist/sidecar.js',
  'media/dist/webview.js',
  'media/chat.css',
  'models/default/manifest.json',
];

/** Packages again only when what goes into the .vsix changed (packaging takes minutes on 2 cores). */
function packageVsix(): void {
  const hash = createHash('sha256');
  for (const f of INPUTS) hash.update(readFileSync(path.join(ROOT, f)));
  hash.update(readFileSync(path.join(ROOT, 'scripts', 'package-vsix.mjs')));
  const digest = hash.digest('hex');
  const stamp = `${VSIX}.sha256`;
  if (existsSync(VSIX) && existsSync(stamp) && readFileSync(stamp, 'utf8') === digest) return;
  execFileSync(process.execPath, [path.join(ROOT, 'scripts', 'package-vsix.mjs'), '--target', 'linux-x64', '--out', VSIX], {
    cwd: ROOT,
    stdio: 'inherit',
  });
  writeFileSync(stamp, digest);
}

function listFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath, e.name)).split(path.sep).join('/'));
}

describe('packaged .vsix in code-server', function () {
  let cs: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;
  let extensionsDir: string;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    packageVsix();
    extensionsDir = mkdtempSync(path.join(tmpdir(), 'e2code-exts-'));
    execFileSync(process.execPath, [CODE_SERVER_ENTRY, '--extensions-dir', extensionsDir, '--install-extension', VSIX], {
      stdio: 'inherit',
    });
  });

  after(async () => {
    await browser?.close();
    await cs?.stop();
    if (workspace) rmSync(path.dirname(workspace), { recursive: true, force: true });
    if (extensionsDir) rmSync(extensionsDir, { recursive: true, force: true });
  });

  it('is lean: runtime files for linux-x64 only, no sources, tests or training data', () => {
    const sizeMb = statSync(VSIX).size / 1e6;
    assert.ok(sizeMb < 120, `vsix is ${sizeMb.toFixed(1)} MB`);
    const installed = readdirSync(extensionsDir).find((d) => d.startsWith('e2code.e2code-'));
    assert.ok(installed, `installed: ${readdirSync(extensionsDir)}`);
    const files = listFiles(path.join(extensionsDir, installed));
    for (const f of [
      'dist/extension.js',
      'dist/sidecar.js',
      'media/dist/webview.js',
      'models/default/manifest.json',
      'models/default/decoder.onnx',
    ]) {
      assert.ok(files.includes(f), `${f} packaged`);
    }
    assert.ok(
      files.some((f) => /onnxruntime-node\/bin\/napi-v\d+\/linux\/x64\/onnxruntime_binding\.node$/.test(f)),
      'onnxruntime linux-x64 binary',
    );
    assert.ok(
      files.some((f) => /@lmdb\/lmdb-linux-x64\/.*\.node$/.test(f)),
      'lmdb linux-x64 binary',
    );
    const unwanted = files.filter(
      (f) =>
        /^(src|test|bench|scripts|models\/recipe|\.vscode-test)\//.test(f) ||
        /\.(ts|map)$/.test(f) ||
        /(darwin|win32|arm64)/.test(f) ||
        f === 'dist/cli.js',
    );
    assert.deepEqual(unwanted, []);
  });

  it('activates from the installed .vsix, indexes and answers in the chat view', async () => {
    workspace = scratchWorkspace('vsix');
    cs = await startCodeServer({ extensionsDir, settings: { 'e2code.maxTokens': 32 } });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    await page.goto(workbenchUrl(cs, workspace));
    await waitForWorkbench(page);
    await waitForReady(page);
    const frame = await openChat(page);
    const answer = await ask(frame, 'What does slugify do?');
    assert.equal(await answer.locator('.error-text').count(), 0, 'no error');
    assert.ok((await answer.locator('a.source-card').count()) > 0, 'the answer lists its sources');
    assert.match((await answer.locator('a.source-card').first().locator('.source-location').textContent()) ?? '', /^lib\/strings\.js:\d+/);
    await page.screenshot({ path: path.join(SHOTS, 'vsix-installed-chat.png') });
  });
});
