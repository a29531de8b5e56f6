// The parts of an assistant turn around its text: who wrote it (the model, or quoted from the code),
// the runtime's notice, the "no answer" case, source cards and the collapsible context details.
// Everything here is built with textContent: source signatures and docs are quoted from files, never
// parsed as markup. Model text goes through renderMarkdown (main.ts), not through here.
import type { ContextUsed, Source, Turn } from './protocol';

/** Source cards shown before "more sources" folds the rest away. */
const SOURCES_SHOWN = 5;

type El = <K extends keyof HTMLElementTagNameMap>(tag: K, attrs?: Record<string, string>, text?: string) => HTMLElementTagNameMap[K];

export function makeEl(doc: Document): El {
  return (tag, attrs = {}, text) => {
    const e = doc.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    return e;
  };
}

/** The heading over a finished answer: what the model wrote versus what is quoted from the code. */
export function originLabel(el: El, turn: Turn): HTMLElement | undefined {
  if (turn.pending || turn.error || !turn.origin) return undefined;
  if (turn.origin === 'index') return el('div', { class: 'origin origin-index' }, 'From the code');
  return el('div', { class: 'origin origin-model' }, "Model's answer");
}

export function noticeElement(el: El, turn: Turn): HTMLElement | undefined {
  // A notice the answer already says in full is not repeated.
  if (!turn.notice || turn.content.toLowerCase().includes(turn.notice.toLowerCase().replace(/[.\s]+$/, ''))) return undefined;
  return el('div', { class: 'notice', role: 'status' }, turn.notice);
}

/** True when a finished answer has nothing to show: no text and no sources. */
export function isEmptyAnswer(turn: Turn): boolean {
  return (
    turn.role === 'assistant' &&
    !turn.pending &&
    !turn.error &&
    turn.stopReason !== 'cancelled' &&
    turn.content.trim() === '' &&
    !(turn.sources?.length ?? 0)
  );
}

export function emptyElement(el: El, turn: Turn): HTMLElement | undefined {
  if (isEmptyAnswer(turn)) {
    return el(
      'div',
      { class: 'empty-answer', role: 'status' },
      'No answer: nothing came back for this question. Try naming a file, function or type.',
    );
  }
  if (!turn.pending && !turn.error && turn.stopReason !== 'cancelled' && turn.content.trim() === '' && turn.origin === 'model') {
    return el('div', { class: 'empty-answer', role: 'status' }, 'The model wrote no answer; these are the places in the code that match.');
  }
  return undefined;
}

/**
 * An answer assembled from the index quotes each source as a block (a bold `path:line` header, the
 * signature in a code fence, the doc as a quote); the source cards show exactly that, clickable, so
 * those blocks are left out of the text above them. Anything else (the lead sentence, a summary's map)
 * stays. Text whose blocks name no source comes back unchanged.
 */
export function withoutQuotedSources(markdown: string, sources: Source[] | undefined): string {
  if (!sources?.length) return markdown;
  const names = sources.map((s) => `${s.path}:${s.line}`);
  const namesSource = (header: string) => names.some((n) => new RegExp(`(^|[^\\w./-])${escapeRegExp(n)}(?!\\d)`).test(header));
  const out: string[] = [];
  let skipping = false;
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const fenceMark = /^\s*(```|~~~)/.exec(line)?.[1];
    if (fence) {
      if (fenceMark === fence) fence = undefined;
      if (!skipping) out.push(line);
      continue;
    }
    if (fenceMark) {
      fence = fenceMark;
      if (!skipping) out.push(line);
      continue;
    }
    const header = /^\*\*(.+)\*\*\s*$/.exec(line);
    if (header && namesSource(header[1])) {
      skipping = true;
      continue;
    }
    if (skipping && (line.trim() === '' || line.startsWith('>'))) continue;
    skipping = false;
    out.push(line);
  }
  return out
    .join('\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `src/a.ts:12` or `src/a.ts:12–30`. */
export function sourceLocation(s: Source): string {
  return s.endLine > s.line ? `${s.path}:${s.line}–${s.endLine}` : `${s.path}:${s.line}`;
}

const FROM_LABEL: Record<Source['from'], string> = {
  answer: "model's pick",
  definition: 'definition',
  search: 'related',
};

/** Renders a signature as highlighted code (main.ts passes the sanitizing markdown renderer). */
export type CodeRenderer = (code: string, lang: string) => Node;

/** Files whose "signature" is a line of prose (a README's first line), shown as text, not code. */
const PROSE = /\.(md|markdown|txt|rst|adoc)$/i;

/** One clickable card: location and symbol, the signature as code, the doc comment quoted. */
export function sourceCard(el: El, s: Source, code?: CodeRenderer): HTMLAnchorElement {
  const card = el('a', { class: 'source-card', href: '#', title: `Open ${s.path} at line ${s.line}` });
  card.dataset.path = s.path;
  card.dataset.line = String(s.line);
  const head = el('div', { class: 'source-head' });
  head.append(el('span', { class: 'source-location' }, sourceLocation(s)));
  if (s.symbol) head.append(el('span', { class: 'source-symbol' }, s.symbol));
  head.append(el('span', { class: 'source-from' }, FROM_LABEL[s.from] ?? s.from));
  card.append(head);
  if (s.signature && PROSE.test(s.path)) {
    card.append(el('div', { class: 'source-excerpt' }, s.signature));
  } else if (s.signature) {
    const sig = el('div', { class: 'source-signature' });
    sig.append(code ? code(s.signature, s.path.split('.').pop() ?? '') : el('code', {}, s.signature));
    card.append(sig);
  }
  if (s.doc) card.append(el('blockquote', { class: 'source-doc' }, s.doc));
  return card;
}

/** `shown`: cards shown before the rest fold away (a summary shows none: its map links the places already). */
export function sourcesElement(el: El, sources: Source[] | undefined, code?: CodeRenderer, shown = SOURCES_SHOWN): HTMLElement | undefined {
  if (!sources?.length) return undefined;
  const box = el('section', { class: 'sources', 'aria-label': 'Sources' });
  if (shown > 0) box.append(el('div', { class: 'sources-title' }, sources.length === 1 ? 'Source' : `Sources (${sources.length})`));
  for (const s of sources.slice(0, shown)) box.append(sourceCard(el, s, code));
  const rest = sources.slice(shown);
  if (rest.length) {
    const more = el('details', { class: 'more-sources' });
    const label = shown > 0 ? `${rest.length} more source${rest.length === 1 ? '' : 's'}` : `Sources (${rest.length})`;
    more.append(el('summary', {}, label));
    for (const s of rest) more.append(sourceCard(el, s, code));
    box.append(more);
  }
  return box;
}

/** The collapsible "how this answer was made": technical words live only in here. */
export function contextDetails(
  el: El,
  c: ContextUsed,
  tokensPerSecond: number | undefined,
  link: (path: string) => HTMLElement,
): HTMLDetailsElement {
  const details = el('details', { class: 'context' });
  const files = c.softFiles.length;
  const quoted = c.textFiles.length;
  const summary =
    c.decoderRuns === 0
      ? 'Looked up in the index; the model did not run'
      : `Context: ${files} file${files === 1 ? '' : 's'} read` + (quoted ? `, ${quoted} quoted in full` : '');
  details.append(el('summary', {}, summary));
  const facts = el('ul', { class: 'context-facts' });
  const fact = (text: string) => facts.append(el('li', {}, text));
  fact(`${files} file${files === 1 ? '' : 's'} as soft tokens (compressed by the encoder), ${quoted} as text`);
  fact(`${c.positions} decoder positions`);
  if (c.decoderRuns !== undefined) fact(`${c.decoderRuns} decoder run${c.decoderRuns === 1 ? '' : 's'}`);
  if (tokensPerSecond) fact(`${tokensPerSecond.toFixed(1)} tokens/s`);
  details.append(facts);
  const list = (title: string, paths: string[]) => {
    if (!paths.length) return;
    details.append(el('div', { class: 'context-title' }, title));
    const ul = el('ul');
    for (const p of paths) {
      const li = el('li');
      li.append(link(p));
      ul.append(li);
    }
    details.append(ul);
  };
  list('As text', c.textFiles);
  list('As soft tokens', c.softFiles);
  return details;
}
