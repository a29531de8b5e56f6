// The chat webview in a real browser (Debian chromium): model output is untrusted, so hostile markdown
// must render inert under the panel's CSP; and the panel must work from the keyboard in every theme.
import * as assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import type { Source, Turn } from '../../src/webview/protocol';
import { launchBrowser, ROOT } from '../integration/harness/codeServer';
import { openChatWebview, THEMES, type WebviewHarness } from './webviewPage';

const SHOTS = path.join(ROOT, 'test-results', 'e2e');

const HOSTILE = [
  'Here is the answer.',
  '<script>window.__pwned = "script"</script>',
  '<img src=x onerror="window.__pwned = \'img\'">',
  '<iframe src="https://evil.example/"></iframe>',
  '<style>.log { display: none }</style>',
  '<span style="display:none">hidden-by-css</span>',
  '<a href="#" class="empty cursor" onclick="window.__pwned = \'onclick\'">styled</a>',
  '[js link](javascript:window.__pwned="js")',
  '[cmd link](command:workbench.action.quit)',
  '[data link](data:text/html,<script>window.__pwned="data"</script>)',
  '![tracker](https://evil.example/pixel.png)',
  '<svg><script>window.__pwned = "svg"</script></svg>',
  '<form action="https://evil.example"><input name="q"></form>',
  '[safe link](https://example.com/docs)',
  '',
  '```html',
  '<script>window.__pwned = "codeblock"</script>',
  '```',
].join('\n');

function assistant(content: string, extra: Partial<Turn> = {}): Turn {
  return { id: `a-${Math.random()}`, role: 'assistant', content, folder: 'workspace', ...extra };
}

describe('chat webview (browser)', function () {
  let browser: Browser;
  let page: Page;
  let wv: WebviewHarness;

  before(async () => {
    mkdirSync(SHOTS, { recursive: true });
    browser = await launchBrowser();
  });
  after(async () => browser?.close());
  beforeEach(async () => {
    page = await browser.newPage({ viewport: { width: 420, height: 720 } });
    wv = await openChatWebview(page);
  });
  afterEach(async () => page?.close());

  it('renders hostile model output inert: no script, handler, frame, style, image or unsafe link', async () => {
    await wv.send({ type: 'restore', busy: false, turns: [{ id: 'u1', role: 'user', content: 'Tell me things' }, assistant(HOSTILE)] });
    await page.waitForSelector('.turn.assistant .body');
    await page.waitForTimeout(300);
    const report = await page.evaluate(() => {
      const log = document.querySelector('.log')!;
      const all = Array.from(log.querySelectorAll('*'));
      return {
        pwned: (window as unknown as { __pwned?: string }).__pwned ?? null,
        tags: Array.from(new Set(all.map((e) => e.tagName.toLowerCase()))).sort(),
        handlers: all.filter((e) => Array.from(e.attributes).some((a) => a.name.startsWith('on'))).length,
        styled: all.filter((e) => e.hasAttribute('style')).length,
        hrefs: Array.from(log.querySelectorAll('a[href]')).map((a) => a.getAttribute('href')),
        classes: Array.from(log.querySelectorAll('.body [class]')).map((e) => e.getAttribute('class')),
        text: (log as HTMLElement).innerText,
        logVisible: getComputedStyle(log).display !== 'none',
      };
    });
    assert.equal(report.pwned, null, 'no injected code ran');
    for (const bad of ['script', 'iframe', 'img', 'style', 'form', 'input', 'svg'])
      assert.ok(!report.tags.includes(bad), `no <${bad}> (tags: ${report.tags})`);
    assert.equal(report.handlers, 0, 'no on* attributes');
    assert.equal(report.styled, 0, 'no style attributes');
    assert.deepEqual(
      report.hrefs.filter((h) => h !== '#'),
      ['https://example.com/docs'],
      'only the https link keeps an href',
    );
    for (const c of report.classes) {
      assert.ok(
        c!.split(' ').every((k) => /^(hljs|language-|markdown|body|citation|code-|copy|insert)/.test(k)),
        `model class survived: ${c}`,
      );
    }
    assert.ok(report.logVisible, 'the conversation is not hidden by injected CSS');
    assert.match(report.text, /hidden-by-css/, 'text the model tried to hide is shown');
    assert.match(report.text, /<script>window.__pwned = "codeblock"<\/script>/, 'code is shown as text');
    assert.deepEqual(await wv.cspViolations(), [], 'nothing even tried to load');

    // Clicking every link: only the https one asks the extension to open anything.
    const links = page.locator('.log a');
    assert.deepEqual(await links.allTextContents(), ['cmd link', 'safe link']);
    for (let i = 0; i < (await links.count()); i++) await links.nth(i).click();
    const opened = (await wv.posted()).filter((m) => m.type === 'openExternal' || m.type === 'openCitation');
    assert.deepEqual(opened, [{ type: 'openExternal', url: 'https://example.com/docs' }]);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned ?? null), null);
    await page.screenshot({ path: path.join(SHOTS, 'webview-hostile.png'), fullPage: true });
  });

  it('enforces the CSP: an inline script added at run time does not run', async () => {
    const csp = await page.getAttribute('meta[http-equiv="Content-Security-Policy"]', 'content');
    assert.match(csp!, /default-src 'none'/);
    assert.match(csp!, /script-src 'nonce-[^']+'/);
    assert.doesNotMatch(csp!, /unsafe-inline|unsafe-eval/);
    await page.evaluate(() => {
      const s = document.createElement('script');
      s.textContent = 'window.__pwned = "inline"';
      document.body.append(s);
    });
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: string }).__pwned ?? null), null);
    const violations = await wv.cspViolations();
    assert.ok(
      violations.some((v) => v.startsWith('script-src')),
      `violations: ${violations}`,
    );
  });

  it('streams tokens into a markdown answer with highlighted code, citations, copy and insert', async () => {
    const a = assistant('', { pending: true, id: 'a1' });
    await wv.send({ type: 'restore', busy: true, turns: [{ id: 'u1', role: 'user', content: 'Where is parse_config?' }, a] });
    const answer =
      'It is defined in src/config.py:4 and used by `load_config` (see docs/guide.md:3).\n\n```python\ndef parse_config(text):\n    return {}\n```\n';
    for (const piece of answer.match(/[\s\S]{1,7}/g)!) await wv.send({ type: 'token', id: 'a1', text: piece });
    await page.waitForFunction(() => document.querySelector('[data-turn="a1"] pre') !== null);
    assert.equal(await page.isVisible('#stop'), true, 'stop button while streaming');
    assert.equal(await page.locator('[data-turn="a1"] .cursor').count(), 1, 'streaming cursor');
    await wv.send({
      type: 'done',
      turn: {
        ...a,
        pending: false,
        content: answer,
        stopReason: 'eos',
        context: { folder: 'workspace', softFiles: ['src/config.py', 'lib/strings.js'], textFiles: ['src/config.py'], positions: 321 },
      },
    });
    await wv.send({ type: 'busy', busy: false });
    await page.waitForSelector('[data-turn="a1"] details.context');
    assert.equal(await page.isVisible('#stop'), false);
    assert.equal(await page.locator('[data-turn="a1"] pre code.hljs .hljs-keyword').first().textContent(), 'def');
    assert.equal(await page.locator('[data-turn="a1"] p code').first().textContent(), 'load_config');
    assert.equal(
      (await page.locator('[data-turn="a1"] details.context summary').textContent())!,
      'Context: 2 files read, 1 quoted in full',
    );
    await page.locator('[data-turn="a1"] details.context summary').click();
    assert.match(
      (await page.locator('[data-turn="a1"] details.context .context-facts').innerText())!,
      /2 files as soft tokens \(compressed by the encoder\), 1 as text\n321 decoder positions/,
    );
    await page.screenshot({ path: path.join(SHOTS, 'webview-answer-dark.png'), fullPage: true });

    const cites = page.locator('[data-turn="a1"] .body a.citation');
    assert.deepEqual(await cites.allTextContents(), ['src/config.py:4', 'docs/guide.md:3']);
    await cites.first().click();
    await page.locator('[data-turn="a1"] .code-block vscode-button.copy').click();
    await page.locator('[data-turn="a1"] .code-block vscode-button.insert').click();
    const posted = (await wv.posted()).filter((m) => m.type !== 'ready');
    assert.deepEqual(posted, [
      { type: 'openCitation', folder: 'workspace', path: 'src/config.py', line: 4 },
      { type: 'copy', text: 'def parse_config(text):\n    return {}\n' },
      { type: 'insert', text: 'def parse_config(text):\n    return {}\n' },
    ]);
  });

  it('is usable from the keyboard: type, Enter sends, Escape stops, Tab reaches citations', async () => {
    await wv.send({ type: 'restore', busy: false, turns: [assistant('See lib/strings.js:4 for slugify.', { id: 'a2' })] });
    await page.locator('#question').click();
    await page.keyboard.type('What does slugify do?');
    await page.keyboard.press('Shift+Enter');
    await page.keyboard.type('And truncate?');
    await page.keyboard.press('Enter');
    let posted = await wv.posted();
    assert.deepEqual(posted.at(-1), { type: 'ask', text: 'What does slugify do?\nAnd truncate?' });
    assert.equal(await page.locator('#question').evaluate((e) => (e as HTMLTextAreaElement).value), '', 'input cleared');
    await wv.send({ type: 'busy', busy: true });
    await page.keyboard.press('Escape');
    posted = await wv.posted();
    assert.deepEqual(posted.at(-1), { type: 'stop' });
    await wv.send({ type: 'busy', busy: false });
    // Focus walks from the page start to the citation link; Enter opens it.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    let reached = false;
    for (let i = 0; i < 10 && !reached; i++) {
      await page.keyboard.press('Tab');
      reached = await page.evaluate(() => document.activeElement?.classList.contains('citation') ?? false);
    }
    assert.ok(reached, 'a citation is reachable with Tab');
    await page.keyboard.press('Enter');
    posted = await wv.posted();
    assert.deepEqual(posted.at(-1), { type: 'openCitation', folder: 'workspace', path: 'lib/strings.js', line: 4 });
  });

  it('answers from the code: "From the code", source cards that open the definition line, no model label', async () => {
    const sources: Source[] = [
      {
        path: 'src/config.ts',
        line: 12,
        endLine: 30,
        symbol: 'parseConfig',
        signature: 'export function parseConfig(text: string): Config',
        doc: 'Parses the config text into a Config.\nUnknown keys are an error. <img src=x onerror="window.__pwned = 1"> **not bold**',
        from: 'definition',
      },
      {
        path: 'src/cli.ts',
        line: 4,
        endLine: 4,
        symbol: 'main',
        signature: 'function main() { return "<script>window.__pwned = 2</script>```"; }',
        from: 'search',
      },
      { path: 'README.md', line: 1, endLine: 3, signature: 'A tool that prints areas. <b>bold?</b>', from: 'search' },
      ...[1, 2, 3, 4].map((i): Source => ({ path: `lib/more${i}.ts`, line: i, endLine: i + 2, from: 'search' })),
    ];
    await wv.send({
      type: 'restore',
      busy: false,
      turns: [
        { id: 'u', role: 'user', content: 'Where is parseConfig defined?' },
        assistant('`parseConfig` is defined in src/config.ts:12.', {
          id: 'a',
          origin: 'index',
          stopReason: 'eos',
          sources,
          context: { folder: 'workspace', softFiles: [], textFiles: [], positions: 0, decoderRuns: 0 },
        }),
      ],
    });
    const turn = page.locator('[data-turn="a"]');
    await turn.locator('.sources').waitFor();
    assert.equal(await turn.locator('.origin').textContent(), 'From the code');
    assert.doesNotMatch(await turn.innerText(), /Model's answer/);
    assert.equal(await turn.locator('.sources-title').textContent(), 'Sources (7)');
    assert.equal(await turn.locator('.sources > a.source-card').count(), 5, 'five cards shown');
    assert.equal(await turn.locator('details.more-sources a.source-card').count(), 2, 'the rest folded away');
    assert.equal(await turn.locator('details.more-sources summary').textContent(), '2 more sources');
    const card = turn.locator('a.source-card').first();
    assert.equal(await card.locator('.source-location').textContent(), 'src/config.ts:12–30');
    assert.equal(await card.locator('.source-symbol').textContent(), 'parseConfig');
    assert.equal(await card.locator('.source-from').textContent(), 'definition');
    assert.equal((await card.locator('.source-signature code').textContent())?.trim(), 'export function parseConfig(text: string): Config');
    assert.ok((await card.locator('.source-signature code .hljs-keyword').count()) > 0, 'the signature is highlighted');
    // The doc is quoted as text: markup in it is shown, not run or rendered.
    assert.match((await card.locator('blockquote.source-doc').textContent())!, /<img src=x onerror="window.__pwned = 1"> \*\*not bold\*\*/);
    assert.equal(await turn.locator('.sources img, .sources strong, .sources script, .sources b').count(), 0);
    assert.match(
      (await turn.locator('a.source-card').nth(1).locator('.source-signature').textContent())!,
      /<script>window.__pwned = 2<\/script>```/,
      'code shown as text, the fence not broken',
    );
    assert.equal(
      await turn.locator('a.source-card').nth(2).locator('.source-excerpt').textContent(),
      'A tool that prints areas. <b>bold?</b>',
      'a README line is text, not code',
    );
    // Plain words outside the collapsed details: no "soft tokens", no "positions".
    const visible = await turn.innerText();
    assert.doesNotMatch(visible, /soft tokens|positions|chunk/i, visible);
    assert.equal(await turn.locator('details.context summary').textContent(), 'Looked up in the index; the model did not run');
    await page.screenshot({ path: path.join(SHOTS, 'webview-sources-dark.png'), fullPage: true });

    await card.click();
    await turn.locator('a.source-card').nth(1).focus();
    await page.keyboard.press('Enter');
    const opened = (await wv.posted()).filter((m) => m.type === 'openCitation');
    assert.deepEqual(opened, [
      { type: 'openCitation', folder: 'workspace', path: 'src/config.ts', line: 12 },
      { type: 'openCitation', folder: 'workspace', path: 'src/cli.ts', line: 4 },
    ]);
    assert.equal(await page.evaluate(() => (window as unknown as { __pwned?: unknown }).__pwned ?? null), null);
  });

  it("a model's answer is labelled as such, its sources follow, and the runtime's notice reads in plain words", async () => {
    await wv.send({
      type: 'restore',
      busy: false,
      turns: [
        { id: 'u', role: 'user', content: 'How do I add a subcommand?' },
        assistant('Call `AddCommand` on the parent command.', {
          id: 'a',
          origin: 'model',
          notice: 'The model is small: check its answer against the sources below.',
          stopReason: 'eos',
          sources: [
            {
              path: 'command.go',
              line: 210,
              endLine: 226,
              symbol: 'AddCommand',
              signature: 'func (c *Command) AddCommand(cmds ...*Command)',
              from: 'answer',
            },
          ],
          context: { folder: 'workspace', softFiles: ['command.go', 'args.go'], textFiles: ['command.go'], positions: 900, decoderRuns: 1 },
        }),
      ],
    });
    const turn = page.locator('[data-turn="a"]');
    await turn.locator('.sources').waitFor();
    assert.equal(await turn.locator('.origin').textContent(), "Model's answer");
    assert.equal(await turn.locator('.notice').textContent(), 'The model is small: check its answer against the sources below.');
    assert.equal(await turn.locator('.sources-title').textContent(), 'Source');
    assert.equal(await turn.locator('a.source-card .source-from').textContent(), "model's pick");
    // Order on screen: label, notice, the model's text, then the sources.
    const order = await turn.evaluate((t) => Array.from(t.children).map((c) => c.className.split(' ')[0]));
    assert.deepEqual(order, ['who', 'origin', 'notice', 'body', 'sources', 'meta']);
    assert.equal(await turn.locator('details.context summary').textContent(), 'Context: 2 files read, 1 quoted in full');
  });

  it('a summary shows its map; its sources are folded away under one line', async () => {
    const map = '### src/cli/\nFiles (1): `main.ts`\n- `runCli` (src/cli/main.ts:5) — Parses arguments.';
    await wv.send({
      type: 'restore',
      busy: false,
      turns: [
        assistant(map, {
          id: 's',
          task: 'summarize',
          origin: 'index',
          stopReason: 'eos',
          sources: [{ path: 'src/cli/main.ts', line: 5, endLine: 9, symbol: 'runCli', from: 'search' }],
        }),
      ],
    });
    const turn = page.locator('[data-turn="s"]');
    await turn.locator('h3').waitFor();
    assert.equal(await turn.locator('h3').textContent(), 'src/cli/');
    assert.deepEqual(await turn.locator('.body a.citation').allTextContents(), ['src/cli/main.ts:5']);
    assert.equal(await turn.locator('.sources-title').count(), 0);
    assert.equal(await turn.locator('details.more-sources summary').textContent(), 'Sources (1)');
    assert.equal(await turn.locator('a.source-card').isVisible(), false, 'folded');
  });

  it('an empty answer says so instead of showing nothing', async () => {
    await wv.send({
      type: 'restore',
      busy: false,
      turns: [
        { id: 'u', role: 'user', content: 'zqxj frobnicate?' },
        assistant('', {
          id: 'a',
          origin: 'index',
          stopReason: 'eos',
          sources: [],
          notice: 'Nothing in this workspace matches "zqxj frobnicate".',
        }),
        { id: 'u2', role: 'user', content: 'And now?' },
        assistant('', { id: 'b', origin: 'model', stopReason: 'eos', sources: [] }),
      ],
    });
    await page.locator('[data-turn="b"] .empty-answer').waitFor();
    assert.equal(await page.locator('[data-turn="a"] .notice').textContent(), 'Nothing in this workspace matches "zqxj frobnicate".');
    assert.match((await page.locator('[data-turn="a"] .empty-answer').textContent())!, /^No answer/);
    assert.match((await page.locator('[data-turn="b"] .empty-answer').textContent())!, /^No answer/);
    // A stopped answer is not "empty": it says Stopped.
    await wv.send({ type: 'turn', turn: assistant('', { id: 'c', stopReason: 'cancelled' }) });
    await page.locator('[data-turn="c"] .note').waitFor();
    assert.equal(await page.locator('[data-turn="c"] .empty-answer').count(), 0);
  });

  it('a question asked while indexing shows the wait with the index progress, then the answer', async () => {
    await wv.send({
      type: 'restore',
      busy: true,
      turns: [{ id: 'u', role: 'user', content: 'Where is main?' }, assistant('', { id: 'a', pending: true })],
    });
    await wv.send({ type: 'waiting', id: 'a', text: 'Waiting for the index (42%)…' });
    await page.locator('[data-turn="a"] .waiting', { hasText: 'Waiting for the index (42%)…' }).waitFor();
    await page.screenshot({ path: path.join(SHOTS, 'webview-waiting-index.png'), fullPage: true });
    await wv.send({ type: 'waiting', id: 'a', text: 'Waiting for the index (87%)…' });
    await page.locator('[data-turn="a"] .waiting', { hasText: '(87%)' }).waitFor();
    await wv.send({ type: 'waiting', id: 'a', text: '' });
    await wv.send({ type: 'token', id: 'a', text: 'In main.go:3' });
    await page.locator('[data-turn="a"] a.citation').waitFor();
    assert.equal(await page.locator('[data-turn="a"] .waiting').count(), 0, 'the wait is gone once the answer streams');
  });

  it('the question box has the focus when the panel opens and when the extension asks for it', async () => {
    const focused = () => page.evaluate(() => document.activeElement?.id ?? null);
    assert.equal(await focused(), 'question', 'focused on open');
    await page.keyboard.type('typed at once');
    assert.equal(await page.locator('#question').evaluate((e) => (e as HTMLTextAreaElement).value), 'typed at once');
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    assert.notEqual(await focused(), 'question');
    await wv.send({ type: 'focusInput' });
    await page.waitForFunction(() => document.activeElement?.id === 'question');
    // Keys typed while nothing in the panel has the focus go to the question box, the first one too.
    await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
    await page.keyboard.type('abc');
    assert.equal(await page.locator('#question').evaluate((e) => (e as HTMLTextAreaElement).value), 'typed at onceabc');
  });

  for (const theme of Object.keys(THEMES)) {
    it(`follows the ${theme} theme through VS Code's variables`, async () => {
      const themed = await browser.newPage({ viewport: { width: 420, height: 640 } });
      try {
        const h = await openChatWebview(themed, theme);
        await h.send({
          type: 'restore',
          busy: false,
          turns: [
            { id: 'u', role: 'user', content: 'Explain `src/geometry.ts:22-25`' },
            assistant(
              '`area` returns **width × height** of the rectangle (src/geometry.ts:22).\n\n```ts\narea(): number {\n  return this.width * this.height;\n}\n```',
              {
                id: 'a',
                stopReason: 'eos',
                context: { folder: 'workspace', softFiles: ['src/geometry.ts'], textFiles: ['src/geometry.ts'], positions: 120 },
              },
            ),
          ],
        });
        await themed.waitForSelector('[data-turn="a"] pre');
        const colors = await themed.evaluate(() => ({
          bg: getComputedStyle(document.body).backgroundColor,
          fg: getComputedStyle(document.body).color,
          link: getComputedStyle(document.querySelector('a.citation')!).color,
        }));
        const hex = (v: string) => {
          const m = /^#(..)(..)(..)$/.exec(v)!;
          return `rgb(${parseInt(m[1], 16)}, ${parseInt(m[2], 16)}, ${parseInt(m[3], 16)})`;
        };
        assert.equal(colors.bg, hex(THEMES[theme]['--vscode-sideBar-background']));
        assert.equal(colors.fg, hex(THEMES[theme]['--vscode-foreground']));
        assert.equal(colors.link, hex(THEMES[theme]['--vscode-textLink-foreground']));
        await themed.screenshot({ path: path.join(SHOTS, `webview-theme-${theme}.png`), fullPage: true });
      } finally {
        await themed.close();
      }
    });
  }
});
