// Driving the e2code UI in the workbench (code-server) with Playwright.
import type { FrameLocator, Page } from 'playwright-core';

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
  await page.locator('.activitybar .action-item a[aria-label^="e2code"]').first().click();
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

