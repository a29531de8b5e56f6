// The file as the chunker sees it: its bytes, a leniently decoded string, and an exact mapping from
// string (UTF-16 code unit) offsets back to byte offsets. Everything downstream (tree-sitter, which
// reports UTF-16 indices for string input, the line windows, Markdown) works in string offsets and
// converts each chunk boundary to bytes at the end, so byte ranges stay exact even for non-ASCII text
// and for invalid UTF-8 (each invalid byte decodes to one U+FFFD: one byte, one code unit).
import { isAscii, isUtf8 } from 'node:buffer';

export interface SourceText {
  readonly bytes: Uint8Array;
  readonly text: string;
  /** True when every byte decoded to exactly one code unit (ASCII, or invalid bytes only). */
  readonly identity: boolean;
  /** Byte offset of a code-unit offset (0..text.length). */
  byteAt(unit: number): number;
  /** Code-unit offsets where lines start (line 1 starts at 0). */
  readonly lineStarts: Uint32Array;
}

const utf8 = new TextDecoder('utf-8', { ignoreBOM: true });

/** Length in bytes of the valid UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function seqLength(b: Uint8Array, i: number, n: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const c1 = i + 1 < n ? b[i + 1] : -1;
  if (c >= 0xc2 && c <= 0xdf) return c1 >= 0x80 && c1 <= 0xbf ? 2 : 0;
  const c2 = i + 2 < n ? b[i + 2] : -1;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return c1 >= lo && c1 <= hi && c2 >= 0x80 && c2 <= 0xbf ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    const c3 = i + 3 < n ? b[i + 3] : -1;
    return c1 >= lo && c1 <= hi && c2 >= 0x80 && c2 <= 0xbf && c3 >= 0x80 && c3 <= 0xbf ? 4 : 0;
  }
  return 0;
}

function computeLineStarts(text: string): Uint32Array {
  let starts = new Uint32Array(Math.max(16, text.length >>> 5));
  let k = 1;
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) {
    if (k === starts.length) {
      const grown = new Uint32Array(starts.length * 2);
      grown.set(starts);
      starts = grown;
    }
    starts[k++] = i + 1;
  }
  return starts.subarray(0, k);
}

export function decodeSource(bytes: Uint8Array): SourceText {
  const n = bytes.length;
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, n);
  if (isAscii(buf)) {
    const text = buf.toString('latin1');
    return { bytes, text, identity: true, byteAt: (u) => u, lineStarts: computeLineStarts(text) };
  }
  // Non-ASCII: record, after every multi-byte character, the unit offset just past it and the running
  // surplus of bytes over units. byteAt(u) = u + surplus of the last character ending at or before u.
  const ends: number[] = [];
  const surplus: number[] = [];
  const valid = isUtf8(buf);
  const parts: string[] = [];
  let runStart = 0;
  let unit = 0;
  let extra = 0;
  let i = 0;
  while (i < n) {
    const c = bytes[i];
    if (c < 0x80) {
      i++;
      unit++;
      continue;
    }
    const len = valid ? (c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : 2) : seqLength(bytes, i, n);
    if (len === 0) {
      // Invalid byte: one U+FFFD, one unit for one byte; no surplus change.
      if (i > runStart) parts.push(utf8.decode(bytes.subarray(runStart, i)));
      parts.push('\uFFFD');
      i++;
      unit++;
      runStart = i;
      continue;
    }
    const units = len === 4 ? 2 : 1;
    i += len;
    unit += units;
    extra += len - units;
    ends.push(unit);
    surplus.push(extra);
  }
  let text: string;
  if (valid) text = utf8.decode(bytes);
  else {
    if (runStart < n) parts.push(utf8.decode(bytes.subarray(runStart, n)));
    text = parts.join('');
  }
  const endsArr = Uint32Array.from(ends);
  const surplusArr = Uint32Array.from(surplus);
  const byteAt = (u: number): number => {
    // last k with endsArr[k] <= u
    let lo = 0;
    let hi = endsArr.length - 1;
    let k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (endsArr[mid] <= u) {
        k = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return k < 0 ? u : u + surplusArr[k];
  };
  return { bytes, text, identity: endsArr.length === 0, byteAt, lineStarts: computeLineStarts(text) };
}

/** 1-based line of a code-unit offset. */
export function lineOf(src: SourceText, unit: number): number {
  const ls = src.lineStarts;
  let lo = 0;
  let hi = ls.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (ls[mid] <= unit) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}

/** Moves a unit offset off the middle of a surrogate pair (forward). */
export function charBoundary(text: string, u: number): number {
  if (u > 0 && u < text.length) {
    const prev = text.charCodeAt(u - 1);
    const cur = text.charCodeAt(u);
    if (prev >= 0xd800 && prev <= 0xdbff && cur >= 0xdc00 && cur <= 0xdfff) return u + 1;
  }
  return u;
}

/** Start of the line after the one holding `unit` (text length on the last line). */
export function nextLineStart(src: SourceText, unit: number): number {
  const line = lineOf(src, unit);
  return line < src.lineStarts.length ? src.lineStarts[line] : src.text.length;
}
