// Model output -> safe DOM. The model's text is untrusted: markdown-it renders it with raw HTML off,
// then DOMPurify keeps only a small set of tags and attributes (no scripts, handlers, frames, forms,
// images, styles, or links other than http(s)/mailto). Citations (`path:line`) become links that the
// extension validates before opening anything.
import DOMPurify from 'dompurify';
import hljs from 'highlight.js/lib/common';
import MarkdownIt from 'markdown-it';

const md: MarkdownIt = new MarkdownIt({
  html: false,
  linkify: false,
  typographer: false,
  highlight(code, lang) {
    try {
      const out =
        lang && hljs.getLanguage(lang) ? hljs.highlight(code, { language: lang, ignoreIllegals: true }) : hljs.highlightAuto(code);
      return `<pre class="hljs"><code class="hljs${lang ? ` language-${escapeClass(lang)}` : ''}">${out.value}</code></pre>`;
    } catch {
      return '';
    }
  },
});

const ALLOWED_TAGS = [
  'p',
  'br',
  'hr',
  'h1',
  'h2',
  'h3',
  'h4',
  'h5',
  'h6',
  'ul',
  'ol',
  'li',
  'blockquote',
  'pre',
  'code',
  'span',
  'em',
  'strong',
  'del',
  's',
  'a',
  'table',
  'thead',
  'tbody',
  'tr',
  'th',
  'td',
  'sup',
  'sub',
];
const ALLOWED_ATTR = ['href', 'title', 'class', 'start'];
/** Only highlight.js's own classes survive: a model cannot borrow our CSS (e.g. to hide text). */
const SAFE_CLASS = /^(hljs(-[\w-]+)?|language-[\w+#-]+)$/;
const SAFE_URL = /^(?:https?:|mailto:)/i;

let hooksInstalled = false;
function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  DOMPurify.addHook('uponSanitizeAttribute', (_node, data) => {
    if (data.attrName === 'class') {
      data.attrValue = data.attrValue
        .split(/\s+/)
        .filter((c) => SAFE_CLASS.test(c))
        .join(' ');
      if (!data.attrValue) data.keepAttr = false;
    }
  });
  DOMPurify.addHook('afterSanitizeAttributes', (node) => {
    if (node.tagName === 'A') {
      const href = node.getAttribute('href') ?? '';
      if (!SAFE_URL.test(href)) node.removeAttribute('href');
      node.setAttribute('rel', 'noopener noreferrer');
    }
  });
}

/** Sanitized HTML of untrusted markdown, as a fragment (no string round-trip after sanitizing). */
export function renderMarkdown(source: string, doc: Document = document): DocumentFragment {
  installHooks();
  const html = md.render(source);
  const frag = DOMPurify.sanitize(html, {
    ALLOWED_TAGS,
    ALLOWED_ATTR,
    ALLOW_DATA_ATTR: false,
    ALLOWED_URI_REGEXP: SAFE_URL,
    RETURN_DOM_FRAGMENT: true,
  }) as DocumentFragment;
  linkCitations(frag, doc);
  return frag;
}

/** `path/to/file.ext:12` or `file.ext:12-20`; the path needs an extension, so times and URLs mostly miss. */
export const CITATION = /(?<![\w./\\:-])((?:[\w.-]+\/)*[\w.-]*[\w-]\.[A-Za-z0-9]{1,10}):(\d{1,7})(?:-(\d{1,7}))?(?![\w/])/g;

export interface CitationRef {
  path: string;
  line: number;
}

/** Every citation in a text, in order. */
export function findCitations(text: string): CitationRef[] {
  return [...text.matchAll(CITATION)].map((m) => ({ path: m[1], line: Number(m[2]) }));
}

function linkCitations(root: DocumentFragment, doc: Document): void {
  const walker = doc.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  const texts: Text[] = [];
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const parent = n.parentElement;
    // Not inside links or code blocks (code blocks are code, not references).
    if (parent?.closest('a, pre')) continue;
    texts.push(n as Text);
  }
  for (const t of texts) {
    const value = t.data;
    CITATION.lastIndex = 0;
    if (!CITATION.test(value)) continue;
    CITATION.lastIndex = 0;
    const out = doc.createDocumentFragment();
    let at = 0;
    for (const m of value.matchAll(CITATION)) {
      const start = m.index ?? 0;
      out.append(value.slice(at, start));
      const a = doc.createElement('a');
      a.className = 'citation';
      a.href = '#';
      a.dataset.path = m[1];
      a.dataset.line = m[2];
      a.title = `Open ${m[1]} at line ${m[2]}`;
      a.textContent = m[0];
      out.append(a);
      at = start + m[0].length;
    }
    out.append(value.slice(at));
    t.replaceWith(out);
  }
}

function escapeClass(lang: string): string {
  return lang.replace(/[^\w+#-]/g, '');
}
