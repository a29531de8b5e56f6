// The chat panel's script (runs in the webview, bundled to media/dist/webview.js). It renders the
// conversation the extension sends, streams tokens into the pending answer, and posts user actions
// back. Model text reaches the DOM only through renderMarkdown (sanitized); everything else is
// built with textContent.
import '@vscode-elements/elements/dist/vscode-button/index.js';
import '@vscode-elements/elements/dist/vscode-textarea/index.js';
import type { VscodeTextarea } from '@vscode-elements/elements/dist/vscode-textarea/vscode-textarea.js';
import type { FromWebview, ToWebview, Turn } from './protocol';
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

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

// --- layout -------------------------------------------------------------------------------------
const app = document.getElementById('app')!;
const toolbar = el('div', { class: 'toolbar', role: 'toolbar', 'aria-label': 'Chat actions' });
const newChatButton = el('vscode-button', { secondary: '', id: 'new-chat', title: 'Start a new conversation' }, 'New chat');
toolbar.append(newChatButton);
const log = el('div', { id: 'log', class: 'log', role: 'log', 'aria-live': 'polite', 'aria-label': 'Conversation' });
const empty = el('div', { class: 'empty' });
empty.append(
  el('p', {}, 'Ask about this workspace. e2code reads the whole repository as compressed context.'),
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
app.append(toolbar, log, empty, form);

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
  const body = el('div', { class: 'body' });
  if (turn.role === 'user') {
    // The user's own text: shown as markdown too (it may hold code), through the same sanitizer.
    body.append(renderMarkdown(turn.content));
  } else {
    body.classList.add('markdown');
    body.append(renderMarkdown(turn.content));
    decorateCodeBlocks(body);
    if (turn.pending) body.append(el('span', { class: 'cursor', 'aria-hidden': 'true' }, '▍'));
  }
  box.append(body);
  if (turn.role === 'assistant' && !turn.pending) box.append(footer(turn));
  box.classList.toggle('pending', Boolean(turn.pending));
  box.classList.toggle('error', Boolean(turn.error));
  empty.hidden = order.length > 0;
}

function footer(turn: Turn): HTMLElement {
  const f = el('div', { class: 'meta' });
  if (turn.error) f.append(el('div', { class: 'error-text', role: 'alert' }, `Error: ${turn.error}`));
  if (turn.stopReason === 'cancelled') f.append(el('div', { class: 'note' }, 'Stopped.'));
  else if (turn.stopReason === 'maxTokens') f.append(el('div', { class: 'note' }, 'Reached the token limit (setting e2code.maxTokens).'));
  const c = turn.context;
  if (c) {
    const details = el('details', { class: 'context' });
    const summary = el(
      'summary',
      {},
      `Context: ${c.softFiles.length} file${c.softFiles.length === 1 ? '' : 's'} as soft tokens, ` +
        `${c.textFiles.length} as text · ${c.positions} positions` +
        (turn.tokensPerSecond ? ` · ${turn.tokensPerSecond.toFixed(1)} tok/s` : ''),
    );
    details.append(summary);
    const list = (title: string, files: string[]) => {
      if (!files.length) return;
      details.append(el('div', { class: 'context-title' }, title));
      const ul = el('ul');
      for (const p of files) {
        const li = el('li');
        li.append(citationLink(p, 1, p));
        ul.append(li);
      }
      details.append(ul);
    };
    list('As text', c.textFiles);
    list('As soft tokens', c.softFiles);
    f.append(details);
  }
  return f;
}

function citationLink(path: string, line: number, label: string): HTMLAnchorElement {
  const a = el('a', { class: 'citation', href: '#', title: `Open ${path}` }, label);
  a.dataset.path = path;
  a.dataset.line = String(line);
  return a;
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
newChatButton.addEventListener('click', () => vscode.postMessage({ type: 'newChat' }));
input.addEventListener('keydown', (e: KeyboardEvent) => {
  if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    send();
  }
});
document.addEventListener('keydown', (e) => {
  if (e.key === 'Escape' && busy) vscode.postMessage({ type: 'stop' });
});

log.addEventListener('click', (e) => {
  const target = e.target as HTMLElement;
  const a = target.closest('a');
  if (a) {
    e.preventDefault();
    if (a.classList.contains('citation')) {
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
    case 'focusInput':
      input.focus();
      break;
  }
});

vscode.postMessage({ type: 'ready' });
