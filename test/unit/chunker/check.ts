// Shared checks for the chunker tests: the invariants every file's chunks must satisfy.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import type { Chunk } from '../../../src/core/types';
import { escapePath } from '../../../src/core/pathText';

const strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** The header the chunker puts before the code (path, then symbol path; control characters escaped: one line). */
export function headerOf(c: Chunk): string {
  return c.symbolPath ? `${escapePath(c.path)} | ${escapePath(c.symbolPath)}\n` : `${escapePath(c.path)}\n`;
}

function countNewlines(bytes: Uint8Array, end: number): number {
  let n = 0;
  for (let i = 0; i < end; i++) if (bytes[i] === 10) n++;
  return n;
}

export interface CheckOptions {
  path: string;
  language?: string;
  maxTokens?: number;
  countTokens?: (text: string) => number;
}

/**
 * Asserts: ranges tile [0, length) in order with no gap or overlap; each chunk is non-empty; lines
 * match the bytes; text = header + code, where code is the exact bytes when they are valid UTF-8;
 * hash = sha256(text); the token budget holds except for a chunk whose code is a single line.
 */
export function checkChunks(chunks: Chunk[], bytes: Uint8Array, o: CheckOptions): void {
  const where = (i: number) => `${o.path} chunk ${i}/${chunks.length}`;
  if (bytes.length === 0) {
    assert.equal(chunks.length, 0, `${o.path}: empty file has no chunks`);
    return;
  }
  assert.ok(chunks.length > 0, `${o.path}: no chunks`);
  let fileValid = true;
  try {
    strict.decode(bytes);
  } catch {
    fileValid = false;
  }
  let pos = 0;
  // newline counts up to each boundary, computed incrementally
  let lineAt = 1;
  let counted = 0;
  const lineOfByte = (b: number): number => {
    lineAt += countNewlines(bytes.subarray(counted), b - counted);
    counted = b;
    return lineAt;
  };
  chunks.forEach((c, i) => {
    assert.equal(c.startByte, pos, `${where(i)}: starts at ${c.startByte}, expected ${pos} (gap or overlap)`);
    assert.ok(c.endByte > c.startByte, `${where(i)}: empty range`);
    assert.equal(c.path, o.path);
    if (o.language) assert.equal(c.language, o.language, where(i));
    assert.equal(typeof c.kind, 'string');
    assert.ok(c.kind.length > 0, `${where(i)}: kind`);
    assert.ok(Array.isArray(c.symbols) && c.symbols.every((s) => typeof s === 'string' && s.length > 0), `${where(i)}: symbols`);
    assert.equal(c.startLine, lineOfByte(c.startByte), `${where(i)}: startLine`);
    assert.equal(c.endLine, lineOfByte(c.endByte - 1), `${where(i)}: endLine`);
    const header = headerOf(c);
    assert.ok(c.text.startsWith(header), `${where(i)}: header`);
    const slice = bytes.subarray(c.startByte, c.endByte);
    let code: string | null = null;
    try {
      code = strict.decode(slice);
    } catch {
      // invalid UTF-8 in this slice: decoded leniently, not compared byte for byte
      assert.ok(!fileValid, `${where(i)}: boundary splits a UTF-8 character`);
      code = null;
    }
    if (code !== null) assert.equal(c.text.slice(header.length), code, `${where(i)}: text is not header + code`);
    assert.equal(c.hash, createHash('sha256').update(c.text).digest('hex'), `${where(i)}: hash`);
    if (o.maxTokens !== undefined && o.countTokens) {
      const body = c.text.slice(header.length);
      const singleLine = body.replace(/\r?\n$/, '').indexOf('\n') === -1;
      if (!singleLine) {
        const t = o.countTokens(c.text);
        assert.ok(t <= o.maxTokens, `${where(i)}: ${t} tokens > ${o.maxTokens} (lines ${c.startLine}-${c.endLine})`);
      }
    }
    pos = c.endByte;
  });
  assert.equal(pos, bytes.length, `${o.path}: chunks end at ${pos}, file has ${bytes.length} bytes`);
}

/** The chunker's default estimate, for budget checks. */
export const estimate = (t: string): number => Math.ceil(t.length / 3);
