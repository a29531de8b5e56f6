// Serves the chat webview exactly as the extension builds it (same HTML shell and CSP, the real
// media/dist/webview.js and media/chat.css) on a stand-in origin, with `acquireVsCodeApi` recording
// what the page posts. The one thing replaced is the VS Code host around the webview.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Page } from 'playwright-core';
import { chatHtml } from '../../src/webview/html';
import type { FromWebview, ToWebview } from '../../src/webview/protocol';
import { ROOT } from '../integration/harness/codeServer';

export const ORIGIN = 'https://webview.test';

/** VS Code's theme variables the panel uses, for the three theme kinds (values from the built-in themes). */
export const THEMES: Record<string, Record<string, string>> = {
  dark: {
    '--vscode-foreground': '#cccccc',
    '--vscode-sideBar-background': '#181818',
    '--vscode-editor-background': '#1f1f1f',
    '--vscode-font-family': 'sans-serif',
    '--vscode-font-size': '13px',
    '--vscode-editor-font-family': 'monospace',
    '--vscode-editor-font-size': '13px',
    '--vscode-editor-foreground': '#cccccc',
    '--vscode-textLink-foreground': '#4daafc',
    '--vscode-textLink-activeForeground': '#4daafc',
    '--vscode-textPreformat-foreground': '#d0d0d0',
    '--vscode-textPreformat-background': '#3c3c3c',
    '--vscode-textCodeBlock-background': '#2b2b2b',
    '--vscode-descriptionForeground': '#9d9d9d',
    '--vscode-panel-border': '#2b2b2b',
    '--vscode-widget-border': '#313131',
    '--vscode-errorForeground': '#f85149',
    '--vscode-focusBorder': '#0078d4',
    '--vscode-button-background': '#0078d4',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-button-secondaryBackground': '#313131',
    '--vscode-button-secondaryForeground': '#cccccc',
    '--vscode-debugTokenExpression-string': '#ce9178',
    '--vscode-debugTokenExpression-name': '#c586c0',
    '--vscode-debugTokenExpression-number': '#b5cea8',
    '--vscode-symbolIcon-functionForeground': '#b180d7',
    '--vscode-symbolIcon-classForeground': '#ee9d28',
    '--vscode-symbolIcon-variableForeground': '#75beff',
  },
  light: {
    '--vscode-foreground': '#3b3b3b',
    '--vscode-sideBar-background': '#f8f8f8',
    '--vscode-editor-background': '#ffffff',
    '--vscode-font-family': 'sans-serif',
    '--vscode-font-size': '13px',
    '--vscode-editor-font-family': 'monospace',
    '--vscode-editor-font-size': '13px',
    '--vscode-editor-foreground': '#3b3b3b',
    '--vscode-textLink-foreground': '#005fb8',
    '--vscode-textLink-activeForeground': '#005fb8',
    '--vscode-textPreformat-foreground': '#3b3b3b',
    '--vscode-textPreformat-background': '#0000001f',
    '--vscode-textCodeBlock-background': '#f2f2f2',
    '--vscode-descriptionForeground': '#3b3b3b',
    '--vscode-panel-border': '#e5e5e5',
    '--vscode-widget-border': '#e5e5e5',
    '--vscode-errorForeground': '#f85149',
    '--vscode-focusBorder': '#005fb8',
    '--vscode-button-background': '#005fb8',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-button-secondaryBackground': '#e5e5e5',
    '--vscode-button-secondaryForeground': '#3b3b3b',
    '--vscode-button-secondaryHoverBackground': '#cccccc',
    '--vscode-debugTokenExpression-string': '#a31515',
    '--vscode-debugTokenExpression-name': '#af00db',
    '--vscode-debugTokenExpression-number': '#098658',
    '--vscode-symbolIcon-functionForeground': '#652d90',
    '--vscode-symbolIcon-classForeground': '#d67e00',
    '--vscode-symbolIcon-variableForeground': '#007acc',
  },
  'high-contrast': {
    '--vscode-foreground': '#ffffff',
    '--vscode-sideBar-background': '#000000',
    '--vscode-editor-background': '#000000',
    '--vscode-font-family': 'sans-serif',
    '--vscode-font-size': '13px',
    '--vscode-editor-font-family': 'monospace',
    '--vscode-editor-font-size': '13px',
    '--vscode-editor-foreground': '#ffffff',
    '--vscode-textLink-foreground': '#21a6ff',
    '--vscode-textLink-activeForeground': '#21a6ff',
    '--vscode-textPreformat-foreground': '#ffffff',
    '--vscode-textCodeBlock-background': '#000000',
    '--vscode-descriptionForeground': '#ffffff',
    '--vscode-panel-border': '#6fc3df',
    '--vscode-widget-border': '#6fc3df',
    '--vscode-errorForeground': '#f48771',
    '--vscode-focusBorder': '#f38518',
    '--vscode-button-background': '#000000',
    '--vscode-button-foreground': '#ffffff',
    '--vscode-button-border': '#6fc3df',
    '--vscode-button-secondaryBackground': '#000000',
    '--vscode-button-secondaryForeground': '#ffffff',
    '--vscode-contrastBorder': '#6fc3df',
    '--vscode-debugTokenExpression-string': '#ce9178',
    '--vscode-debugTokenExpression-name': '#ffffff',
    '--vscode-debugTokenExpression-number': '#b5cea8',
    '--vscode-symbolIcon-functionForeground': '#b180d7',
    '--vscode-symbolIcon-classForeground': '#ee9d28',
    '--vscode-symbolIcon-variableForeground': '#75beff',
  },
};

export interface WebviewHarness {
  posted(): Promise<FromWebview[]>;
  send(m: ToWebview): Promise<void>;
  cspViolations(): Promise<string[]>;
}

export async function openChatWebview(page: Page, theme: keyof typeof THEMES = 'dark'): Promise<WebviewHarness> {
  const nonce = 'dGVzdC1ub25jZS0xMjM0NTY3';
  const html = chatHtml({
    cspSource: ORIGIN,
    nonce,
    scriptUri: `${ORIGIN}/media/dist/webview.js`,
    styleUris: [`${ORIGIN}/media/chat.css`],
  });
  await page.route(`${ORIGIN}/**`, async (route) => {
    const url = new URL(route.request().url());
    if (url.pathname === '/' || url.pathname === '/index.html') {
      await route.fulfill({ status: 200, contentType: 'text/html', body: html });
      return;
    }
    const file = path.join(ROOT, url.pathname);
    if (!file.startsWith(path.join(ROOT, 'media') + path.sep)) {
      await route.fulfill({ status: 404, body: '' });
      return;
    }
    const type = file.endsWith('.js') ? 'text/javascript' : file.endsWith('.css') ? 'text/css' : 'application/octet-stream';
    await route.fulfill({ status: 200, contentType: type, body: readFileSync(file) });
  });
  const vars = THEMES[theme];
  // A string, not a function: tsx's name-keeping helpers do not exist in the page.
  const kind = theme === 'light' ? 'vscode-light' : theme === 'dark' ? 'vscode-dark' : 'vscode-high-contrast';
  await page.addInitScript(`
    window.__posted = [];
    window.__csp = [];
    document.addEventListener('securitypolicyviolation', (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));
    let state;
    window.acquireVsCodeApi = () => ({
      postMessage: (m) => window.__posted.push(m),
      getState: () => state,
      setState: (s) => { state = s; },
    });
    // VS Code sets the theme variables on <html> through CSSOM (allowed by the CSP), the theme kind on <body>.
    document.addEventListener('DOMContentLoaded', () => {
      for (const [k, v] of Object.entries(${JSON.stringify(vars)})) document.documentElement.style.setProperty(k, v);
      document.body.classList.add(${JSON.stringify(kind)});
    });
  `);
  await page.goto(`${ORIGIN}/index.html`);
  await page.waitForFunction(() => (window as unknown as { __posted: { type: string }[] }).__posted.some((m) => m.type === 'ready'));
  return {
    posted: () => page.evaluate(() => (window as unknown as { __posted: FromWebview[] }).__posted),
    send: (m) => page.evaluate((msg) => window.postMessage(msg, '*'), m),
    cspViolations: () => page.evaluate(() => (window as unknown as { __csp: string[] }).__csp),
  };
}
