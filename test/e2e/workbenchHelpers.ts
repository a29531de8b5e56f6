// Driving the e2code UI in the workbench (code-server) with Playwright.
import type { FrameLocator, Locator, Page } from 'playwright-core';

export function chatFrame(page: Page): FrameLocator {
  // A webview view is an iframe (the host) holding the content iframe.
  return page.frameLocator('iframe.webview.ready').first().frameLocator('iframe#active-frame');
}

export async function statusItem(page: Page) {
  return page.locator('.statusbar-item', { hasText: 'e2code:' }).first();
}

export async function waitForReady(page: Page): Promise<void> {
  await page.locator('.statusbar-item', { hasText: 'e2code: ready' }).first().waitFor({ timeout: 120_000 });
}

export async function openChat(page: Page): Promise<FrameLocator> {
  // The activity-bar icon toggles: a click on it while the view shows would close the side bar.
  const open = await chatFrame(page)
    .locator('#question')
    .isVisible()
    .catch(() => false);
  if (!open) await page.locator('.activitybar .action-item a[aria-label^="e2code"]').first().click();
  const frame = chatFrame(page);
  await frame.locator('#question').waitFor({ timeout: 60_000 });
  return frame;
}

/** Asks in the chat view and waits for the finished answer; returns the answer's turn element. */
export async function ask(frame: FrameLocator, question: string) {
  const before = await frame.locator('.turn.assistant').count();
  await frame.locator('#question').click();
  await frame.locator('#question').pressSequentially(question);
  await frame.locator('#question').press('Enter');
  const answer = frame.locator('.turn.assistant').nth(before);
  await answer.waitFor();
  // The footer (.meta) is added when the answer is done.
  await answer.locator('.meta').waitFor({ timeout: 120_000 });
  return answer;
}

/** Runs a command from the command palette by its title (e.g. "e2code: Open Chat"). */
/**
 * Opens the quick input with `keys` and returns its box. A key pressed while a webview holds the focus
 * reaches the workbench only by the webview forwarding it, which a loaded machine has been seen to drop:
 * press again, up to three times, before failing.
 */
async function showQuickInput(page: Page, keys: string): Promise<Locator> {
  const input = page.locator('.quick-input-widget input');
  for (let attempt = 1; ; attempt++) {
    await page.keyboard.press(keys);
    try {
      await input.waitFor({ timeout: attempt < 3 ? 5_000 : 30_000 });
      return input;
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

export async function runCommand(page: Page, title: string): Promise<void> {
  const input = await showQuickInput(page, 'Control+Shift+P');
  await input.fill(`>${title}`);
  await page
    .locator('.quick-input-list .monaco-list-row', { hasText: title.replace(/^e2code: /, '') })
    .first()
    .waitFor();
  await input.press('Enter');
}

/** The titles the command palette lists for a filter. */
export async function paletteTitles(page: Page, filter: string): Promise<string[]> {
  const input = await showQuickInput(page, 'Control+Shift+P');
  await input.fill(`>${filter}`);
  await page.waitForTimeout(500);
  const rows = await page.locator('.quick-input-list .monaco-list-row .label-name').allInnerTexts();
  await page.keyboard.press('Escape');
  return rows.map((r) => r.trim());
}

/** The editor's cursor position as the status bar shows it ("Ln 4, Col 1"). */
export async function cursorLine(page: Page): Promise<string> {
  return (await page.locator('#status\\.editor\\.selection').first().textContent())?.trim() ?? '';
}

/** Opens a file with Quick Open. */
export async function quickOpen(page: Page, name: string): Promise<void> {
  const input = await showQuickInput(page, 'Control+P');
  // Filled through its element: typed keys would follow the focus, which a webview may still hold.
  await input.fill(name);
  await page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().waitFor();
  await input.press('Enter');
  await page.locator('.tab.active', { hasText: name }).waitFor();
  // The editor takes the focus after its tab shows, later still on a loaded machine: wait for it, or it
  // would take the focus from whatever the test does next.
  await page.waitForFunction(() => !!document.activeElement?.closest('.editor-instance .monaco-editor'), undefined, { timeout: 30_000 });
}

/** Whether the chat view's question box has the keyboard focus (in the page and in the webview). */
export async function questionFocused(frame: FrameLocator): Promise<boolean> {
  return frame.locator('#question').evaluate((e) => e.ownerDocument.hasFocus() && e.ownerDocument.activeElement === e);
}
