// Language-independent core of the chunker. A file is first cut into small "pieces" (syntax nodes that
// fit the budget, lines, Markdown lines, windows of over-long lines), each cut scored by how good a
// place to end a chunk it is (declaration boundaries at shallow depth and line starts are best; the
// middle of a line or the line after a comment is worst). Pieces are then merged greedily up to the
// token budget; on overflow the group is closed at its best-scored cut. Pieces always tile the file,
// so chunks do too, whatever the parse looked like.
import * as crypto from 'node:crypto';
import type { Chunk } from '../types';
import { escapePath } from '../pathText';
import { type SourceText, charBoundary, lineOf, nextLineStart } from './text';

/** Cut scores: lower is a better place to end a chunk. Depth (nesting level) is added to the base. */
export const BAD_GLUE = 4e9; // right after a comment or attribute that belongs to what follows
export const BAD_MIDLINE = 2e9; // not at a line start
const MAX_DEPTH_SCORE = 1e9;

/** A named thing a file defines; ranges in code units. Sorted by start, outer before inner. */
export interface Def {
  start: number;
  end: number;
  nameStart: number;
  name: string;
  /** function, class, method, impl, ... */
  kind: string;
  /** How it reads in a symbol path, e.g. `class Foo`. */
  label: string;
  /** False for things that do not introduce a name (e.g. a Rust `impl`). */
  defines: boolean;
  /** Index of the innermost enclosing def, -1 at top level (filled by `nestDefs`). */
  parent: number;
}

export interface Budget {
  /** Tokens allowed for a chunk's whole text (header + code). */
  maxTokens: number;
  /** Tokens allowed for the code of a chunk while merging pieces (maxTokens less a header reserve). */
  code: number;
  /** Token count of a string (for the final check of each chunk's full text). */
  count: (text: string) => number;
  /**
   * Set when token counts are estimated from length alone (the default estimate, and files too large
   * to count exactly): pieces are measured as ceil(length / charsPerToken) without calling `count`.
   */
  charsPerToken?: number;
}

// crypto.hash (Node >= 20.12) is several times faster than createHash for small inputs.
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: 'hex') => string }).hash;
export function sha256(text: string): string {
  return oneShot ? oneShot('sha256', text, 'hex') : crypto.createHash('sha256').update(text).digest('hex');
}

/** The default token estimate: about three characters of code per token. */
export const ESTIMATE_CHARS_PER_TOKEN = 3;
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / ESTIMATE_CHARS_PER_TOKEN);
}

export class Pieces {
  readonly at: number[] = [];
  readonly tok: number[] = [];
  readonly bad: number[] = [];
  last = 0;
  constructor(
    readonly src: SourceText,
    readonly budget: Budget,
  ) {}

  /** Tokens of [s, e); Infinity when clearly over budget (not counted exactly). */
  measure(s: number, e: number): number {
    const len = e - s;
    const cpt = this.budget.charsPerToken;
    if (cpt !== undefined) return Math.ceil(len / cpt);
    if (len > this.budget.code * 8) return Infinity;
    return this.budget.count(this.src.text.slice(s, e));
  }

  fits(s: number, e: number): boolean {
    return this.measure(s, e) <= this.budget.code;
  }

  /** Ends the current piece at `end` (a code-unit offset), scored `bad`. Ignored if not past `last`. */
  cut(end: number, bad: number, tokens?: number): void {
    end = charBoundary(this.src.text, end);
    if (end <= this.last) {
      const n = this.bad.length;
      if (n > 0 && end === this.last && bad < this.bad[n - 1]) this.bad[n - 1] = bad;
      return;
    }
    this.tok.push(Math.min(tokens ?? this.measure(this.last, end), 1e12));
    this.at.push(end);
    this.bad.push(bad);
    this.last = end;
  }

  /** Re-scores the most recent cut (used once the walker knows at which depth the next node sits). */
  rescore(bad: number): void {
    const n = this.bad.length;
    if (n > 0) this.bad[n - 1] = bad;
  }

  /**
   * Cuts [last, to) into pieces that fit: whole lines, and windows of lines too long for the budget.
   * Cuts after a blank line score `base`, after other lines `base + 1`, inside a line `BAD_MIDLINE + base + 2`.
   */
  lines(to: number, base: number): void {
    const text = this.src.text;
    while (this.last < to) {
      const from = this.last;
      const end = Math.min(to, nextLineStart(this.src, from));
      const t = this.measure(from, end);
      if (t <= this.budget.code) {
        const blank = isBlank(text, from, end);
        this.cut(end, blank ? base : base + 1, t);
      } else {
        this.longLine(end, base);
      }
    }
  }

  /** One line [last, end) as a piece scored `score`, or windows of it when it is too long. */
  line(end: number, score: number): void {
    const t = this.measure(this.last, end);
    if (t <= this.budget.code) this.cut(end, score, t);
    else this.longLine(end, score - 1);
  }

  /** Splits one over-long line [last, end) into windows that fit, preferring to cut after a space or `;,}`. */
  private longLine(end: number, base: number): void {
    const text = this.src.text;
    const perWindow = Math.max(1, this.budget.code * (this.budget.charsPerToken ?? 2));
    while (this.last < end) {
      const from = this.last;
      let w = Math.min(perWindow, end - from);
      for (;;) {
        let stop = from + w;
        if (stop < end) {
          // Prefer a separator in the last quarter of the window.
          const floor = from + Math.max(1, w - (w >> 2));
          for (let k = stop - 1; k >= floor; k--) {
            const ch = text.charCodeAt(k);
            if (ch === 32 || ch === 9 || ch === 59 || ch === 44 || ch === 125) {
              stop = k + 1;
              break;
            }
          }
          stop = charBoundary(text, stop);
        }
        const t = this.measure(from, stop);
        if (t <= this.budget.code || w <= 1) {
          this.cut(stop, stop === end ? base + 1 : BAD_MIDLINE + base + 2, t);
          break;
        }
        w = w >> 1;
      }
    }
  }
}

function isBlank(text: string, s: number, e: number): boolean {
  for (let i = s; i < e; i++) {
    const c = text.charCodeAt(i);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return false;
  }
  return true;
}

export function depthScore(depth: number, atLineStart: boolean, glue: boolean): number {
  return (glue ? BAD_GLUE : 0) + (atLineStart ? 0 : BAD_MIDLINE) + Math.min(depth, MAX_DEPTH_SCORE);
}

/**
 * Groups pieces into chunks: greedy up to the code budget; when the next piece does not fit, the group
 * ends at its best-scored cut among those that leave it at least a quarter full (any cut if none does).
 * Returns the code-unit end of each group.
 */
export function mergePieces(p: Pieces): number[] {
  const budget = p.budget.code;
  const minFill = Math.max(1, Math.floor(budget / 4));
  const { at, tok, bad } = p;
  const n = at.length;
  const ends: number[] = [];
  let gs = 0; // first piece of the open group
  let sum = 0;
  for (let i = 0; i < n; i++) {
    while (sum + tok[i] > budget && i > gs) {
      // choose the cut after piece j, gs <= j < i
      let best = -1;
      let bestBad = Infinity;
      let bestFilled = false;
      let prefix = 0;
      for (let j = gs; j < i; j++) {
        prefix += tok[j];
        const filled = prefix >= minFill;
        if (filled && !bestFilled) {
          best = j;
          bestBad = bad[j];
          bestFilled = true;
        } else if (filled === bestFilled && bad[j] <= bestBad) {
          best = j;
          bestBad = bad[j];
        }
      }
      ends.push(at[best]);
      for (let j = gs; j <= best; j++) sum -= tok[j];
      gs = best + 1;
    }
    sum += tok[i];
    if (sum > budget && i === gs) {
      // a single piece over budget (a one-character window of an absurd tokenizer): its own chunk
      ends.push(at[i]);
      gs = i + 1;
      sum = 0;
    }
  }
  if (gs < n) ends.push(at[n - 1]);
  return ends;
}

/** Nesting of defs (sorted by start, outer first): fills `parent`. */
export function nestDefs(defs: Def[]): void {
  const stack: number[] = [];
  for (let i = 0; i < defs.length; i++) {
    const d = defs[i];
    while (stack.length > 0 && defs[stack[stack.length - 1]].end < d.end) stack.pop();
    while (stack.length > 0 && defs[stack[stack.length - 1]].end <= d.start) stack.pop();
    d.parent = stack.length > 0 ? stack[stack.length - 1] : -1;
    stack.push(i);
  }
}

export function sortDefs(defs: Def[]): Def[] {
  defs.sort((a, b) => a.start - b.start || b.end - a.end || a.nameStart - b.nameStart);
  nestDefs(defs);
  return defs;
}

export interface FileInfo {
  path: string;
  language: string;
  src: SourceText;
  budget: Budget;
  /** Sorted, nested (see `sortDefs`). */
  defs: Def[];
  /** Kind of a chunk that neither defines nor sits inside a def. */
  plainKind: string;
  /** Kind of a chunk that covers the whole file ('module' for code). */
  wholeKind: string;
}

/** One line: control characters in the path (a file name with a newline) and symbol path are escaped. */
export function headerOf(path: string, symbolPath: string): string {
  return symbolPath ? `${escapePath(path)} | ${escapePath(symbolPath)}\n` : `${escapePath(path)}\n`;
}

/** The names along a symbol path, outermost first: `class Circle > method area` -> Circle, area. */
export function symbolPathNames(symbolPath: string): string[] {
  return symbolPath.split(' > ').map((label) => label.trim().split(/\s+/).pop() ?? '');
}

/** Token reserve for the header while merging (path + a typical symbol path). */
export function headerReserve(path: string, count: (t: string) => number): number {
  return count(headerOf(path, 'class Abcdefgh > method abcdefgh')) + 2;
}

/** Turns group ends into chunks, splitting any whose full text still exceeds maxTokens. */
export function assemble(info: FileInfo, ends: number[]): Chunk[] {
  const meta = new MetaIndex(info.defs);
  const out: Chunk[] = [];
  const n = info.src.text.length;
  let start = 0;
  for (const end of ends) {
    emitFitting(info, meta, start, end, start === 0 && end === n, out);
    start = end;
  }
  return out;
}

function emitFitting(info: FileInfo, meta: MetaIndex, s0: number, e0: number, whole: boolean, out: Chunk[]): void {
  const text = info.src.text;
  const stack: [number, number][] = [[s0, e0]];
  while (stack.length > 0) {
    const [s, e] = stack.pop()!;
    const m = meta.describe(text, s, e, info, whole && s === s0 && e === e0);
    const code = text.slice(s, e);
    const header = headerOf(info.path, m.symbolPath);
    const full = header + code;
    const { count, maxTokens } = info.budget;
    // Over budget: split at lines; within one line, only while the code itself is over its share (at
    // least half the budget, however long the header), so that splitting always ends.
    if (
      e - s > 1 &&
      count(full) > maxTokens &&
      (hasInnerNewline(text, s, e) || count(code) > Math.max(maxTokens - count(header), Math.ceil(maxTokens / 2)))
    ) {
      const mid = splitPoint(info.src, s, e);
      if (mid > s && mid < e) {
        stack.push([mid, e], [s, mid]);
        continue;
      }
    }
    const startByte = info.src.byteAt(s);
    const endByte = info.src.byteAt(e);
    out.push({
      path: info.path,
      language: info.language,
      startByte,
      endByte,
      startLine: lineOf(info.src, s),
      endLine: lineOf(info.src, e - 1),
      kind: m.kind,
      symbolPath: m.symbolPath,
      symbols: m.symbols,
      text: full,
      hash: sha256(full),
    });
  }
}

function hasInnerNewline(text: string, s: number, e: number): boolean {
  for (let i = s; i < e - 1; i++) if (text.charCodeAt(i) === 10) return true;
  return false;
}

/** A line start nearest the middle of [s, e), or the middle itself within a single line. */
function splitPoint(src: SourceText, s: number, e: number): number {
  const text = src.text;
  const mid = (s + e) >>> 1;
  const line = lineOf(src, mid); // 1-based; lineStarts[line - 1] <= mid
  const before = src.lineStarts[line - 1];
  const after = nextLineStart(src, mid);
  const cands: number[] = [];
  if (after < e) cands.push(after);
  if (before > s) cands.push(before);
  if (cands.length > 0) {
    cands.sort((a, b) => Math.abs(a - mid) - Math.abs(b - mid));
    return cands[0];
  }
  return charBoundary(text, mid);
}

/** Symbol paths keep the innermost levels only: deep nesting (10,000 JSON objects) must not bloat headers. */
const MAX_PATH_LEVELS = 8;
const MAX_PATH_CHARS = 200;

interface Meta {
  kind: string;
  symbolPath: string;
  symbols: string[];
}

class MetaIndex {
  /** Def indices sorted by name start. */
  private byName: number[];
  private starts: number[];
  constructor(private defs: Def[]) {
    this.byName = defs.map((_, i) => i).sort((a, b) => defs[a].nameStart - defs[b].nameStart);
    this.starts = defs.map((d) => d.start);
  }

  /** Symbol path of def i: its innermost MAX_PATH_LEVELS enclosing labels, `…` in front when cut. */
  chain(i: number): string {
    const labels: string[] = [];
    let k = i;
    for (; k >= 0 && labels.length < MAX_PATH_LEVELS; k = this.defs[k].parent) labels.push(this.defs[k].label);
    if (k >= 0) labels.push('…');
    let path = labels.reverse().join(' > ');
    if (path.length > MAX_PATH_CHARS) path = `…${path.slice(path.length - MAX_PATH_CHARS + 1)}`;
    return path;
  }

  /** Innermost def containing [s, e). */
  enclosing(s: number, e: number): number {
    // last def with start <= s
    let lo = 0;
    let hi = this.starts.length - 1;
    let k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] <= s) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    while (k >= 0 && !(this.defs[k].start <= s && this.defs[k].end >= e)) k = this.defs[k].parent;
    return k;
  }

  describe(text: string, s: number, e: number, info: FileInfo, whole: boolean): Meta {
    // trimmed range
    let ts = s;
    while (ts < e && isSpace(text.charCodeAt(ts))) ts++;
    let te = e;
    while (te > ts && isSpace(text.charCodeAt(te - 1))) te--;
    if (ts === te) {
      ts = s;
      te = e;
    }
    const defs = this.defs;
    // defs whose name starts inside [s, e)
    let lo = 0;
    let hi = this.byName.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (defs[this.byName[mid]].nameStart < s) lo = mid + 1;
      else hi = mid;
    }
    const defined: number[] = [];
    for (let k = lo; k < this.byName.length && defs[this.byName[k]].nameStart < e; k++) defined.push(this.byName[k]);
    const definedSet = new Set(defined);
    const symbols: string[] = [];
    const seen = new Set<string>();
    const top: number[] = [];
    for (const i of defined) {
      const d = defs[i];
      if (d.defines && !seen.has(d.name)) {
        seen.add(d.name);
        symbols.push(d.name);
      }
      // An enclosing def named in this chunk names it before this one, so only the parent can be.
      if (d.parent < 0 || !definedSet.has(d.parent)) top.push(i);
    }
    const enc = this.enclosing(ts, te);
    let symbolPath: string;
    let kind: string;
    if (top.length === 1) {
      symbolPath = this.chain(top[0]);
      kind = defs[top[0]].kind;
    } else {
      symbolPath = enc >= 0 ? this.chain(enc) : '';
      if (top.length > 1) {
        const k0 = defs[top[0]].kind;
        kind = top.every((i) => defs[i].kind === k0) ? k0 : info.plainKind;
      } else kind = enc >= 0 ? defs[enc].kind : info.plainKind;
    }
    if (whole) kind = info.wholeKind;
    return { kind, symbolPath, symbols };
  }
}

function isSpace(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 12 || c === 11;
}
