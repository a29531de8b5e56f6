// The extension in the real workbench (code-server + chromium), driven like a user would: status bar,
// chat view, asking, clicking a citation, Explain from the editor's context menu.
import * as assert from 'node:assert/strict';
import { mkdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import {
  launchBrowser,
  ROOT,
  scratchWorkspace,
  startCodeServer,
  waitForWorkbench,
  workbenchUrl,
  type CodeServer,
} from '../integration/harness/codeServer';
import { ask, chatFrame, openChat, statusItem, waitForReady } from './workbenchHelpers';

const SHOTS = path.join(ROOT, 'test-results', 'e2e');

async function cursorLine(page: Page): Promise<string> {
  return (await page.locator('#status\\.editor\\.selection').first().textContent())?.trim() ?? '';
}

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
      await page.waitForFunction(() => (document.querySelector('.quick-input-widget input') as HTMLInputElement | null)?.value.startsWith(':') ?? false, undefined, { timeout: 10_000 });
      await input.fill(`:${line}`);
      await input.press('Enter');
      await page.waitForFunction((l) => new RegExp(`Ln ${l}, Col 1`).test(document.querySelector('#status\\.editor\\.selection')?.textContent ?? ''), line, { timeout: 10_000 });
      return;
    } catch (err) {
      if (attempt === 3) throw err;
      await page.keyboard.press('Escape');
    }
  }
}

describe('workbench (code-server)', function () {
  let cs: CodeServer;
  let browser: Browser;
  let page: Page;
  let workspace: string;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    workspace = scratchWorkspace('e2e');
    cs = await startCodeServer({ settings: { 'e2code.maxTokens': 48 } });
    browser = await launchBrowser();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    await page.goto(workbenchUrl(cs, workspace, [['extensionDevelopmentPath', `vscode-remote://127.0.0.1:${cs.port}${ROOT}`]]));
    await waitForWorkbench(page);
  });

  after(async () => {
    await browser?.close();
    await cs?.stop();
    if (workspace) rmSync(path.dirname(workspace), { recursive: true, force: true });
  });

  it('shows the index state in the status bar and its menu of actions', async () => {
    const item = await statusItem(page);
    await item.waitFor({ timeout: 120_000 });
    await page.screenshot({ path: path.join(SHOTS, 'workbench-start.png') });
    await waitForReady(page);
    await (await statusItem(page)).click();
    const picks = page.locator('.quick-input-widget .quick-input-list .monaco-list-row');
    await picks.first().waitFor();
    const labels = await picks.allInnerTexts();
    assert.ok(labels.some((l) => /Pause indexing/.test(l)), `menu: ${labels}`);
    assert.ok(labels.some((l) => /Re-index workspace/.test(l)));
    assert.ok(labels.some((l) => /Show logs/.test(l)));
    await page.screenshot({ path: path.join(SHOTS, 'workbench-status-menu.png') });
    await page.keyboard.press('Escape');
  });

  it('chat view: ask, see the streamed answer rendered, click a citation and land on the line', async () => {
    const frame = await openChat(page);
    const answer = await ask(frame, 'Where is **parse_config** defined? I think in src/config.py:4');
    const user = frame.locator('.turn.user').last();
    assert.equal(await user.locator('strong').textContent(), 'parse_config', 'markdown rendered');
    const body = answer.locator('.body.markdown');
    assert.ok((await body.locator('p, pre, ul, ol, h1, h2, h3').count()) > 0 || (await body.innerText()).trim() === '', 'answer rendered as markdown blocks');
    const context = await answer.locator('details.context summary').textContent();
    assert.match(context ?? '', /\d+ files? as soft tokens, \d+ as text/);
    assert.equal(await answer.locator('.error-text').count(), 0, 'no error');
    await page.screenshot({ path: path.join(SHOTS, 'workbench-chat-answer.png') });

    await user.locator('a.citation', { hasText: 'src/config.py:4' }).click();
    await page.locator('.tab.active', { hasText: 'config.py' }).waitFor();
    await page.waitForFunction(() => /Ln 4, Col 1/.test(document.querySelector('#status\\.editor\\.selection')?.textContent ?? ''));
    assert.match(await cursorLine(page), /Ln 4, Col 1/);

    // Citations the model itself wrote open the same way.
    const modelCites = answer.locator('.body a.citation');
    if ((await modelCites.count()) > 0) {
      const first = modelCites.first();
      const line = Number(await first.getAttribute('data-line'));
      const file = path.basename((await first.getAttribute('data-path')) ?? '');
      await first.click();
      await page.locator('.tab.active', { hasText: file }).waitFor();
      await page.waitForFunction((l) => new RegExp(`Ln ${l},`).test(document.querySelector('#status\\.editor\\.selection')?.textContent ?? ''), line);
    }
    await page.screenshot({ path: path.join(SHOTS, 'workbench-citation-opened.png') });
  });

  it('Explain Selection from the editor context menu answers in the chat view', async () => {
    await page.keyboard.press('Control+P');
    await page.locator('.quick-input-widget input').waitFor();
    await page.keyboard.type('geometry.ts');
    await page.locator('.quick-input-list .monaco-list-row', { hasText: 'geometry.ts' }).first().waitFor();
    await page.keyboard.press('Enter');
    await page.locator('.tab.active', { hasText: 'geometry.ts' }).waitFor();
    await goToLine(page, 22);
    for (let i = 0; i < 4; i++) await page.keyboard.press('Shift+ArrowDown');
    await page.waitForFunction(() => /Ln 26, Col 1 \(\d+ selected\)/.test(document.querySelector('#status\\.editor\\.selection')?.textContent ?? ''));
    // Right-click on the selection itself (its overlay lies under the text layer, so by coordinates).
    const box = await page.locator('.monaco-editor .view-overlays .selected-text').first().boundingBox();
    assert.ok(box, 'the selection is drawn');
    await page.mouse.click(box.x + 8, box.y + box.height / 2, { button: 'right' });
    const item = page.locator('.monaco-menu .action-item', { hasText: 'Explain Selection' }).first();
    await item.waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'workbench-context-menu.png') });
    await item.click();

    const frame = chatFrame(page);
    const user = frame.locator('.turn.user', { hasText: 'Explain src/geometry.ts:22-25' });
    await user.waitFor({ timeout: 60_000 });
    const answer = frame.locator('.turn.assistant').last();
    await answer.locator('.meta').waitFor({ timeout: 120_000 });
    assert.equal(await answer.locator('.error-text').count(), 0, 'no error');
    assert.match((await answer.locator('details.context summary').textContent()) ?? '', /as soft tokens/);
    await page.screenshot({ path: path.join(SHOTS, 'workbench-explain.png') });
  });
});
