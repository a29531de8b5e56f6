// Whether a chunk's code marks it as not for callers. Computed once when a file is chunked and kept
// in the index; the ranking puts such code after the public API around it.
import type { Chunk } from '../types';
import { symbolPathNames } from '../chunker/engine';

const HIDDEN_TAG = /@(?:ignore|internal|private|hidden)\b/;
const PRIVATE_MEMBER =
  /^(?:(?:public|export|static|readonly|async|override|abstract|final)\s+)*(?:private|protected)\b|^#[A-Za-z_$][\w$]*\s*[(=]/;
const PY_PRIVATE = /^_(?!_)/;
const COMMENT = /^(\/\/|\/\*|\*|#(?![\w[!]))/;

/**
 * A definition its code marks as internal: a `private`/`protected` or `#name` member, a doc comment
 * tagged `@ignore`/`@internal`/`@private`/`@hidden` before it, or, in Python, a definition whose name
 * starts with one underscore. A chunk that defines nothing is not. Not seen: a Ruby `private` line
 * heading a section of methods (it sits in another chunk), and conventions without a mark (Go's
 * lower-case names).
 */
export function isInternal(chunk: Pick<Chunk, 'text' | 'symbols' | 'language' | 'symbolPath'>): boolean {
  if (chunk.symbols.length === 0) return false;
  if (chunk.language === 'python') {
    // The definition the chunk begins (`class _Cache` with its first methods), else all it defines.
    const own = symbolPathNames(chunk.symbolPath).pop() ?? '';
    return chunk.symbols.includes(own) ? PY_PRIVATE.test(own) : chunk.symbols.every((s) => PY_PRIVATE.test(s));
  }
  // The chunk's code (after its one-line header) up to its first line that is not a comment.
  const doc: string[] = [];
  for (const line of chunk.text.split('\n').slice(1)) {
    const t = line.trim();
    if (!t || COMMENT.test(t)) {
      doc.push(t);
      continue;
    }
    return PRIVATE_MEMBER.test(t) || HIDDEN_TAG.test(doc.join('\n'));
  }
  return false;
}

/**
 * `isInternal` for each of a file's chunks (in file order), carried down to the pieces of an internal
 * definition cut into several chunks and to what it encloses (a long private method's later pieces, the
 * methods of a private Python class): those pieces' symbol paths start with the internal head's.
 */
export function internalMarks(chunks: readonly Pick<Chunk, 'text' | 'symbols' | 'language' | 'symbolPath'>[]): boolean[] {
  const heads: string[] = [];
  return chunks.map((c) => {
    const inside = c.symbolPath !== '' && heads.some((h) => c.symbolPath === h || c.symbolPath.startsWith(h + ' > '));
    if (inside) return true;
    if (!isInternal(c)) return false;
    if (c.symbolPath) heads.push(c.symbolPath);
    return true;
  });
}
