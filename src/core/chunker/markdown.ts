// Markdown: no grammar; split at headings. Every line is a piece; the cut before a heading scores by the
// heading's level (so chunks end before `#` sooner than before `###`), then blank lines, then the rest.
// Headings (ATX and setext, outside fenced code) are the defs: each section runs to the next heading of
// the same or a higher level, so a chunk's symbol path is its heading trail.
import { type Def, type Pieces, sortDefs } from './engine';

interface Heading {
  line: number;
  level: number;
  title: string;
}

const ATX = /^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$/;
const SETEXT = /^ {0,3}(=+|-+)[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

export function markdownPieces(p: Pieces): Def[] {
  const text = p.src.text;
  const n = text.length;
  const starts: number[] = [];
  const ends: number[] = [];
  for (let s = 0; s < n;) {
    const nl = text.indexOf('\n', s);
    const e = nl === -1 ? n : nl + 1;
    starts.push(s);
    ends.push(e);
    s = e;
  }
  const lineText = (i: number): string => text.slice(starts[i], ends[i]).replace(/\r?\n$/, '');
  const headings: Heading[] = [];
  const inFence: boolean[] = new Array<boolean>(starts.length).fill(false);
  let fence: string | null = null;
  for (let i = 0; i < starts.length; i++) {
    // Only short lines can be structure; long ones are paragraph text or code.
    const len = ends[i] - starts[i];
    const line = len <= 400 ? lineText(i) : '';
    if (fence !== null) {
      inFence[i] = true;
      const m = FENCE.exec(line);
      if (m && m[1][0] === fence[0] && m[1].length >= fence.length && line.trim() === m[1]) fence = null;
      continue;
    }
    const f = FENCE.exec(line);
    if (f) {
      fence = f[1];
      inFence[i] = true;
      continue;
    }
    const atx = ATX.exec(line);
    if (atx) {
      headings.push({ line: i, level: atx[1].length, title: (atx[2] ?? '').trim() });
      continue;
    }
    const st = SETEXT.exec(line);
    if (st && i > 0 && !inFence[i - 1]) {
      const prev = lineText(i - 1).trim();
      const prevIsHeading = headings.length > 0 && headings[headings.length - 1].line === i - 1;
      if (prev !== '' && !prevIsHeading && prev.length <= 400) {
        headings.push({ line: i - 1, level: st[1][0] === '=' ? 1 : 2, title: prev });
      }
    }
  }
  const levelAt = new Map<number, number>();
  for (const h of headings) levelAt.set(h.line, h.level);
  for (let i = 0; i < starts.length; i++) {
    const next = levelAt.get(i + 1);
    let score: number;
    if (next !== undefined) score = (next - 1) * 2;
    else if (inFence[i]) score = 20;
    else if (ends[i] - starts[i] <= 400 && lineText(i).trim() === '') score = 14;
    else score = 16;
    p.line(ends[i], score);
  }
  const defs: Def[] = [];
  const open: Def[] = []; // sections not yet closed, with their levels
  const levels: number[] = [];
  for (const h of headings) {
    const start = starts[h.line];
    while (levels.length > 0 && levels[levels.length - 1] >= h.level) {
      open.pop()!.end = start;
      levels.pop();
    }
    const title = h.title || '(untitled)';
    const d: Def = { start, end: n, nameStart: start, name: title, kind: 'section', label: title, defines: true, parent: -1 };
    defs.push(d);
    open.push(d);
    levels.push(h.level);
  }
  return sortDefs(defs);
}
