// The chat panel's script (runs in the webview, bundled to media/dist/webview.js). It renders the
// conversation the extension sends, streams tokens into the pending answer, and posts user actions
// back. Model text reaches the DOM only through renderMarkdown (sanitized); everything else is
// built with textContent.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import type { VscodeTextarea } from '@vscode-elements/elements/dist/vscode-textarea/vscode-textarea.js';
import type { FromWebview, ToWebview, Turn } from './protocol';
import { contextDetails, emptyElement, makeEl, noticeElement, originLabel, sourcesElement, withoutQuotedSources } from './answer';
import { renderMarkdown } from './render';

interface VsCodeApi {
  postMessage(message: FromWebview): void;
  getState(): unknown;
  setState(state: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const turns = new Map<string, Turn>();
const order: string[] = [];
let busy = false;
let renderQueued = new Set<string>();
let frame = 0;

const el = makeEl(document);

// --- layout -------------------------------------------------------------------------------------
const app = document.getElementById('app')!;
const log = el('div', { id: 'log', class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
const empty = el('div', { class: 'empty' });
empty.append(
  el('p', {}, 'Ask about the code in this workspace: where something is defined, what a function does, how the parts fit together.'),
  el('p', {}, 'Answers list the places in the code they come from; click one to open it.'),
  el('p', {}, 'Enter sends, Shift+Enter adds a line, Escape stops an answer.'),
);
const form = el('div', { class: 'composer' });
const input = el('vscode-textarea', {
  id: 'question',
  rows: '3',
  resize: 'vertical',
  placeholder: 'Ask about the code… (Enter to send)',
  'aria-label': 'Question',
}) as VscodeTextarea;
const sendButton = el('vscode-button', { id: 'send', title: 'Send (Enter)' }, 'Send');
const stopButton = el('vscode-button', { id: 'stop', secondary: '', title: 'Stop the answer (Escape)', hidden: '' }, 'Stop');
const buttons = el('div', { class: 'composer-buttons' });
buttons.append(sendButton, stopButton);
form.append(input, buttons);
app.append(log, empty, form);

// --- rendering ----------------------------------------------------------------------------------
function turnElement(id: string): HTMLElement | null {
  return log.querySelector(`[data-turn="${CSS.escape(id)}"]`);
}

function renderTurn(turn: Turn): void {
  let box = turnElement(turn.id);
  if (!box) {
    box = el('article', { class: `turn ${turn.role}`, 'data-turn': turn.id });
    box.setAttribute('aria-label', turn.role === 'user' ? 'You' : 'e2code');
    log.append(box);
  }
  box.replaceChildren();
  box.append(el('div', { class: 'who' }, turn.role === 'user' ? 'You' : 'e2code'));
  if (turn.role === 'assistant') {
    const label = originLabel(el, turn);
    if (label) box.append(label);
    const notice = noticeElement(el, turn);
    if (notice) box.append(notice);
  }
  const body = el('div', { class: 'body' });
  if (turn.role === 'user') {
    // The user's own text: shown as markdown too (it may hold code), through the same sanitizer.
    body.append(renderMarkdown(turn.content));
  } else {
    body.classList.add('markdown');
    // From the index: the source cards below show the quoted definitions; the text keeps the rest.
    const text = turn.origin === 'index' && !turn.pending ? withoutQuotedSources(turn.content, turn.sources) : turn.content;
    body.append(renderMarkdown(text));
    decorateCodeBlocks(body);
    if (turn.pending && turn.waiting && !turn.content) body.append(el('div', { class: 'waiting', role: 'status' }, turn.waiting));
    else if (turn.pending) body.append(el('span', { class: 'cursor', 'aria-hidden': 'true' }, '▍'));
  }
  box.append(body);
  if (turn.role === 'assistant' && !turn.pending) {
    const none = emptyElement(el, turn);
    if (none) box.append(none);
    const sources = sourcesElement(el, turn.sources, codeBlock, turn.task === 'summarize' ? 0 : undefined);
    if (sources) box.append(sources);
    box.append(footer(turn));
  }
  box.classList.toggle('pending', Boolean(turn.pending));
  box.classList.toggle('error', Boolean(turn.error));
  empty.hidden = order.length > 0;
}

function footer(turn: Turn): HTMLElement {
  const f = el('div', { class: 'meta' });
  if (turn.error) f.append(el('div', { class: 'error-text', role: 'alert' }, `Error: ${turn.error}`));
  if (turn.stopReason === 'cancelled') f.append(el('div', { class: 'note' }, 'Stopped.'));
  else if (turn.stopReason === 'maxTokens')
    f.append(el('div', { class: 'note' }, 'The answer was cut at its length limit (setting e2code.maxTokens).'));
  if (turn.context) f.append(contextDetails(el, turn.context, turn.tokensPerSecond, (p) => citationLink(p, 1, p)));
  return f;
}

function citationLink(path: string, line: number, label: string): HTMLAnchorElement {
  const a = el('a', { class: 'citation', href: '#', title: `Open ${path}` }, label);
  a.dataset.path = path;
  a.dataset.line = String(line);
  return a;
}

/** A signature quoted from a file, highlighted: through the same markdown renderer and sanitizer as model text. */
function codeBlock(code: string, lang: string): Node {
  const longestTicks = Math.max(0, ...(code.match(/`+/g) ?? []).map((t) => t.length));
  const fence = '`'.repeat(Math.max(3, longestTicks + 1));
  return renderMarkdown(`${fence}${lang.replace(/[^\w+#-]/g, '')}\n${code}\n${fence}\n`);
}

function decorateCodeBlocks(body: HTMLElement): void {
  for (const pre of Array.from(body.querySelectorAll('pre'))) {
    const wrap = el('div', { class: 'code-block' });
    pre.replaceWith(wrap);
    const bar = el('div', { class: 'code-actions' });
    const copy = el('vscode-button', { secondary: '', class: 'copy', title: 'Copy code' }, 'Copy');
    const insert = el('vscode-button', { secondary: '', class: 'insert', title: 'Insert at the cursor in the editor' }, 'Insert');
    bar.append(copy, insert);
    wrap.append(bar, pre);
  }
}

function scheduleRender(id: string): void {
  renderQueued.add(id);
  if (frame) return;
  frame = requestAnimationFrame(() => {
    frame = 0;
    const ids = renderQueued;
    renderQueued = new Set();
    const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    for (const i of ids) {
      const t = turns.get(i);
      if (t) renderTurn(t);
    }
    if (atBottom) log.scrollTop = log.scrollHeight;
  });
}

function setBusy(b: boolean): void {
  busy = b;
  sendButton.toggleAttribute('disabled', b);
  stopButton.hidden = !b;
  app.classList.toggle('busy', b);
}

function restore(list: Turn[]): void {
  turns.clear();
  order.length = 0;
  log.replaceChildren();
  for (const t of list) {
    turns.set(t.id, t);
    order.push(t.id);
    renderTurn(t);
  }
  empty.hidden = order.length > 0;
  log.scrollTop = log.scrollHeight;
}

// --- events -------------------------------------------------------------------------------------
function send(): void {
  const text = input.value.trim();
  if (!text || busy) return;
  vscode.postMessage({ type: 'ask', text });
  input.value = '';
}

sendButton.addEventListener('click', send);
stopButton.addEventListener('click', () => vscode.postMessage({ type: 'stop' }));
input.addEventListener('keydown', (e: KeyboardEvent) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && busy) vscode.postMessage({ type: 'stop' });
  // Typing while the panel has the focus but nothing in it does (just opened, text not yet focused):
  // the keys go to the question box, from the first one.
  const idle = document.activeElement === document.body || document.activeElement === null;
  if (idle && e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) input.focus();
});

log.addEventListener('click', (e) => {
  const target = e.target as HTMLElement;
  const a = target.closest('a');
  if (a) {
    e.preventDefault();
    if (a.classList.contains('citation') || a.classList.contains('source-card')) {
      const turn = turns.get(a.closest<HTMLElement>('[data-turn]')?.dataset.turn ?? '');
      vscode.postMessage({ type: 'openCitation', folder: turn?.folder ?? '', path: a.dataset.path ?? '', line: Number(a.dataset.line) });
    } else if (a.getAttribute('href')) {
      vscode.postMessage({ type: 'openExternal', url: a.getAttribute('href')! });
    }
    return;
  }
  const button = target.closest('vscode-button');
  const code = button?.closest('.code-block')?.querySelector('pre')?.textContent;
  if (button && code !== undefined && code !== null) {
    vscode.postMessage({ type: button.classList.contains('insert') ? 'insert' : 'copy', text: code });
  }
});

window.addEventListener('message', (event: MessageEvent<ToWebview>) => {
  const m = event.data;
  switch (m.type) {
    case 'restore':
      restore(m.turns);
      setBusy(m.busy);
      break;
    case 'turn':
      turns.set(m.turn.id, m.turn);
      order.push(m.turn.id);
      renderTurn(m.turn);
      log.scrollTop = log.scrollHeight;
      break;
    case 'token': {
      const t = turns.get(m.id);
      if (t) {
        t.content += m.text;
        scheduleRender(m.id);
      }
      break;
    }
    case 'done':
      turns.set(m.turn.id, m.turn);
      scheduleRender(m.turn.id);
      break;
    case 'busy':
      setBusy(m.busy);
      break;
    case 'waiting': {
      const t = turns.get(m.id);
      if (t) {
        t.waiting = m.text;
        scheduleRender(m.id);
      }
      break;
    }
    case 'focusInput':
      focusInput();
      break;
  }
});

function focusInput(): void {
  // The textarea lives in the element's shadow root, rendered after the element connects.
  void input.updateComplete.then(() => input.focus());
}

// The view taking focus (opened, revealed, clicked into) puts the cursor in the question box, unless
// something in the panel already has it (a citation reached with Tab, a code block's button).
window.addEventListener('focus', () => {
  if (document.activeElement === document.body || document.activeElement === null) focusInput();
});

focusInput();
vscode.postMessage({ type: 'ready' });
