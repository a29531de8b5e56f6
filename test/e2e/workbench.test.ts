// The extension in the real workbench (code-server + chromium), driven like a user would, on a small
// TypeScript project the test writes (test/integration/harness/project.ts): the status bar and its menu,
// the chat view taking the focus, a lookup whose source card opens the definition line, Explain from the
// editor's context menu, Summarize, Generate with a model that cannot write code, an empty answer,
// commands shown only when they apply, and the bundle path on the User settings tab.
import * as assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { launchBrowser, ROOT, startCodeServer, waitForWorkbench, workbenchUrl, type CodeServer } from '../integration/harness/codeServer';
import { lineOf, PROJECT_DIRECTORIES, writeProject } from '../integration/harness/project';
import {
  ask,
  chatFrame,
  cursorLine,
  openChat,
  paletteTitles,
  questionFocused,
  quickOpen,
  runCommand,
  statusItem,
  waitForReady,
} from './workbenchHelpers';

const SHOTS = path.join(ROOT, 'test-results', 'e2e');

/**
 * Ctrl+G to a line. The quick input is filled through its element (not typed), so that keys never land
 * in the closing file picker or a half-focused editor; on a slow machine the first Ctrl+G can be eaten
 * while the picker closes, so it is retried.
 */
async function goToLine(page: Page, line: number): Promise<void> {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 1; ; attempt++) {
    try {
      await page.keyboard.press('Control+G');
      await page.waitForFunction(
        () => (document.querySelector('.quick-input-widget input') as HTMLInputElement | null)?.value.startsWith(':') ?? false,
        undefined,
        { timeout: 10_000 },
      );
      await input.fill(`:${line}`);
      await input.press('Enter');
      await page.waitForFunction(
        (l) => new RegExp(`Ln ${l}, Col 1`).test(document.querySelector('#status\\.editor\\.selection')?.textContent ?? ''),
        line,
        { timeout: 10_000 },
      );
      return;
    } catch (err) {
      if (attempt === 3) throw err;
      await page.keyboard.press('Escape');
    }
  }
}

async function waitForLine(page: Page, line: number): Promise<void> {
  await page.waitForFunction(
    (l) => new RegExp(`Ln ${l}, Col 1`).test(document.querySelector('#status\\.editor\\.selection')?.textContent ?? ''),
    line,
  );
}

describe('workbench (code-server)', function () {
  let cs: CodeServer;
  let browser: Browser;
  let page: Page;
  let base: string;
  let workspace: string;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    base = mkdtempSync(path.join(tmpdir(), 'e2code-e2e-'));
    workspace = writeProject(path.join(base, 'shapes-cli'));
    cs = await startCodeServer({ settings: { 'e2code.maxTokens': 48 } });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(workbenchUrl(cs, workspace, [['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${cs.port}${ROOT}`]]));
    await waitForWorkbench(page);
  });

  afterEach(async function () {
    // What the workbench looked like when a test failed.
    if (this.currentTest?.state === 'failed' && page) {
      await page
        .screenshot({ path: path.join(SHOTS, `failed-${this.currentTest.title.replace(/\W+/g, '-').slice(0, 60)}.png`) })
        .catch(() => undefined);
    }
  });

  after(async () => {
    await browser?.close();
    await cs?.stop();
    if (base) rmSync(base, { recursive: true, force: true });
  });

  it('shows the index state in the status bar; its menu offers what applies now', async () => {
    const item = await statusItem(page);
    await item.waitFor({ timeout: 120_000 });
    await page.screenshot({ path: path.join(SHOTS, 'workbench-start.png') });
    await waitForReady(page);
    await (await statusItem(page)).click();
    const picks = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    await picks.first().waitFor();
    const labels = await picks.allInnerTexts();
    assert.ok(
      labels.some((l) => /Re-index workspace/.test(l)),
      `menu: ${labels}`,
    );
    assert.ok(labels.some((l) => /Show logs/.test(l)));
    assert.ok(!labels.some((l) => /Pause indexing|Resume indexing/.test(l)), `nothing to pause or resume when ready: ${labels}`);
    await page.keyboard.press('Escape');
  });

  it('the question box has the focus when the chat view opens and after "Open Chat"', async () => {
    const frame = await openChat(page);
    await page.waitForFunction(() => document.activeElement?.tagName === 'IFRAME', undefined, { timeout: 10_000 });
    assert.ok(await questionFocused(frame), 'focused when the view opens');
    // Away to an editor, then back with the command.
    await quickOpen(page, 'rectangle.ts');
    assert.equal(await questionFocused(frame), false);
    await runCommand(page, 'e2code: Open Chat');
    await frame.locator('#question').waitFor();
    // The palette hands the focus back to the editor as it closes; the view takes it from there.
    const t0 = Date.now();
    while (!(await questionFocused(frame))) {
      assert.ok(Date.now() - t0 < 5_000, 'the question box gets the focus after Open Chat');
      await page.waitForTimeout(50);
    }
    await page.keyboard.type('typed straight in');
    assert.equal(await frame.locator('#question').evaluate((e) => (e as HTMLTextAreaElement).value), 'typed straight in');
    await frame.locator('#question').evaluate((e) => ((e as HTMLTextAreaElement).value = ''));
  });

  it('a lookup answer lists its sources; the first card opens the definition line', async () => {
    const frame = chatFrame(page);
    const answer = await ask(frame, 'Where is centimetresToMetres defined?');
    assert.equal(await answer.locator('.error-text').count(), 0, 'no error');
    const card = answer.locator('a.source-card').first();
    const line = lineOf('src/geometry/units.ts', 'export function centimetresToMetres');
    assert.match((await card.locator('.source-location').textContent()) ?? '', new RegExp(`^src/geometry/units\\.ts:${line}\\b`));
    assert.equal(await card.locator('.source-symbol').textContent(), 'centimetresToMetres');
    assert.match((await card.locator('.source-signature code').textContent()) ?? '', /centimetresToMetres\(cm: number\): number/);
    assert.match((await card.locator('.source-doc').textContent()) ?? '', /Converts centimetres to metres/);
    const origin = await answer.locator('.origin').textContent();
    assert.ok(origin === 'From the code' || origin === "Model's answer", `origin label: ${origin}`);
    // Plain words outside the collapsed details.
    assert.doesNotMatch(await answer.innerText(), /soft tokens|positions|chunk/i);
    await page.screenshot({ path: path.join(SHOTS, 'workbench-chat-answer.png') });

    await card.click();
    await page.locator('.tab.active', { hasText: 'units.ts' }).waitFor();
    await waitForLine(page, line);
    assert.match(await cursorLine(page), new RegExp(`Ln ${line}, Col 1`));
    await page.screenshot({ path: path.join(SHOTS, 'workbench-source-opened.png') });
  });

  it('Explain Selection from the editor context menu shows the definition of a symbol the selection uses', async () => {
    await quickOpen(page, 'main.ts');
    const from = lineOf('src/cli/main.ts', 'export function runCli');
    await goToLine(page, from);
    for (let i = 0; i < 5; i++) await page.keyboard.press('Shift+ArrowDown');
    await page.waitForFunction(
      (l) =>
        new RegExp(`Ln ${l}, Col 1 \\(\\d+ selected\\)`).test(document.querySelector('#status\\.editor\\.selection')?.textContent ?? ''),
      from + 5,
    );
    // Right-click on the selection itself (its overlay lies under the text layer, so by coordinates).
    // The status bar can report the selection a frame before the editor paints it: wait for the paint.
    const drawn = page.locator('.monaco-editor .view-overlays .selected-text').first();
    await drawn.waitFor({ state: 'visible', timeout: 10_000 });
    const box = await drawn.boundingBox();
    assert.ok(box, 'the selection is drawn');
    await page.mouse.click(box.x + 8, box.y + box.height / 2, { button: 'right' });
    const item = page.locator('.monaco-menu .action-item', { hasText: 'Explain Selection' }).first();
    await item.waitFor();
    const menu = await page.locator('.monaco-menu .action-item').allInnerTexts();
    assert.ok(!menu.some((m) => /Generate Code/.test(m)), `no Generate in the menu of a model that cannot write code: ${menu}`);
    await page.screenshot({ path: path.join(SHOTS, 'workbench-context-menu.png') });
    await item.click();

    const frame = chatFrame(page);
    const user = frame.locator('.turn.user', { hasText: `Explain src/cli/main.ts:${from}-${from + 4}` });
    await user.waitFor({ timeout: 60_000 });
    const answer = frame.locator('.turn.assistant').last();
    await answer.locator('.meta').waitFor({ timeout: 120_000 });
    assert.equal(await answer.locator('.error-text').count(), 0, 'no error');
    const used = answer.locator('a.source-card', { hasText: 'centimetresToMetres' }).first();
    await used.waitFor({ timeout: 5_000 });
    assert.match((await used.locator('.source-location').textContent()) ?? '', /^src\/geometry\/units\.ts:/);
    await page.screenshot({ path: path.join(SHOTS, 'workbench-explain.png') });
  });

  it('Summarize Workspace: pick the whole workspace, one answer listing each directory once, few decoder runs', async () => {
    await runCommand(page, 'e2code: Summarize Workspace');
    const whole = page.locator('.quick-input-list .monaco-list-row', { hasText: 'Whole workspace' }).first();
    await whole.waitFor();
    const rows = await page.locator('.quick-input-list .monaco-list-row .label-name').allInnerTexts();
    for (const dir of PROJECT_DIRECTORIES)
      assert.ok(
        rows.some((r) => r.trim() === `${dir}/`),
        `${dir}/ offered: ${rows}`,
      );
    await whole.click();
    const frame = chatFrame(page);
    await frame.locator('.turn.user', { hasText: 'Summarize the workspace shapes-cli' }).waitFor({ timeout: 60_000 });
    const answer = frame.locator('.turn.assistant').last();
    await answer.locator('.meta').waitFor({ timeout: 300_000 });
    assert.equal(await answer.locator('.error-text').count(), 0, 'no error');
    const headings = await answer.locator('.body h1, .body h2, .body h3, .body h4').allInnerTexts();
    for (const dir of PROJECT_DIRECTORIES) {
      const n = headings.filter((h) => new RegExp(`(^|[\\s/])${dir}/?(\\s|$)`).test(` ${h.trim()} `)).length;
      assert.equal(n, 1, `${dir} listed once: ${JSON.stringify(headings)}`);
    }
    await answer.locator('details.context summary').click();
    const facts = await answer.locator('details.context .context-facts').innerText();
    const runs = Number(/(\d+) decoder runs?/.exec(facts)?.[1]);
    assert.ok(runs <= PROJECT_DIRECTORIES.length + 1, `decoder runs: ${facts}`);
    await page.screenshot({ path: path.join(SHOTS, 'workbench-summarize.png') });
  });

  it('Generate with the bundled model says plainly that it cannot write code and leaves the file unchanged', async () => {
    await quickOpen(page, 'circle.ts');
    const file = path.join(workspace, 'src', 'shapes', 'circle.ts');
    const before = readFileSync(file, 'utf8');
    await runCommand(page, 'e2code: Generate Code at Cursor');
    const toast = page.locator('.notifications-toasts .notification-toast', { hasText: 'cannot write code' });
    await toast.waitFor({ timeout: 60_000 });
    assert.match(await toast.innerText(), /Nothing was changed/);
    assert.equal(await page.locator('.quick-input-widget:visible input').count(), 0, 'no instruction asked for');
    assert.equal(await page.locator('.tab.dirty').count(), 0, 'no unsaved edit');
    assert.equal(readFileSync(file, 'utf8'), before);
    await page.screenshot({ path: path.join(SHOTS, 'workbench-generate-refused.png') });
    await page.keyboard.press('Escape');
  });

  it('a question nothing matches gets an answer that says so', async () => {
    const frame = await openChat(page);
    const answer = await ask(frame, 'Where is zqxwvPlorkbat configured?');
    assert.equal(await answer.locator('.error-text').count(), 0, 'no error');
    const shown = (await answer.innerText()).replace(/\s+/g, ' ');
    assert.match(shown, /No answer|nothing in this workspace matches/i, shown);
    assert.equal(await answer.locator('a.source-card').count(), 0, 'no made-up sources');
  });

  it('commands are offered only when they apply', async () => {
    // Into the open editor, no selection.
    await page.locator('.part.editor .monaco-editor .view-lines').first().click();
    await page.keyboard.press('Control+Home');
    await page.waitForFunction(() =>
      /Ln 1, Col 1$/.test(document.querySelector('#status\\.editor\\.selection')?.textContent?.trim() ?? ''),
    );
    const noSelection = await paletteTitles(page, 'e2code');
    assert.ok(!noSelection.some((t) => /Explain Selection/.test(t)), `Explain without a selection: ${noSelection}`);
    assert.ok(!noSelection.some((t) => /Resume Indexing|Pause Indexing|Stop Answer/.test(t)), `${noSelection}`);
    assert.ok(noSelection.some((t) => /Summarize Workspace/.test(t)));
    await page.keyboard.press('Control+A');
    const withSelection = await paletteTitles(page, 'e2code');
    assert.ok(
      withSelection.some((t) => /Explain Selection/.test(t)),
      `Explain with a selection: ${withSelection}`,
    );
  });

  it('e2code.bundlePath can be set on the User settings tab', async () => {
    await runCommand(page, 'Preferences: Open User Settings');
    await page.locator('.settings-editor').waitFor({ timeout: 30_000 });
    // The search box has the focus when the settings open.
    await page.keyboard.type('e2code.bundlePath');
    const tab = page.locator('.settings-editor .settings-tabs-widget .action-label.checked').first();
    assert.match((await tab.innerText()).trim(), /^User/);
    const setting = page.locator('.settings-editor .setting-item-contents', { hasText: 'Bundle Path' }).first();
    await setting.waitFor({ timeout: 15_000 });
    assert.match(await setting.innerText(), /model that comes with e2code/);
    await page.screenshot({ path: path.join(SHOTS, 'workbench-settings-user.png') });
  });
});
