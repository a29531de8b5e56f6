// The chunker: files -> syntax-aware chunks that tile each file exactly (see ./engine for the method).
// Languages with a tree-sitter grammar are cut at declaration boundaries (./syntax), Markdown at
// headings (./markdown), anything else into line windows. Every chunk's text is a short header (path,
// symbol path) followed by its code; its hash is the sha256 of that text.
import type { Chunk } from '../types';
import {
  type Budget,
  type Def,
  type FileInfo,
  ESTIMATE_CHARS_PER_TOKEN,
  Pieces,
  assemble,
  estimateTokens,
  headerReserve,
  mergePieces,
} from './engine';
import { GRAMMARS, languageOf } from './languages';
import { markdownPieces } from './markdown';
import { SyntaxEngine } from './syntax';
import { decodeSource } from './text';

export { languageOf, GRAMMARS } from './languages';
export { estimateTokens } from './engine';

export interface ChunkerOptions {
  /** Token budget of a chunk's whole text (header + code). Default 256. */
  maxTokens?: number;
  /** Token counter (e.g. the model bundle's encoder tokenizer). Default: a cheap length-based estimate. */
  countTokens?: (text: string) => number;
  /**
   * Files larger than this (bytes) are not parsed: they are cut into line/byte windows measured by the
   * length estimate (never calling countTokens), so a 50 MB minified file stays fast. Default 16 MiB.
   */
  maxParseBytes?: number;
  /**
   * Files with a line longer than this (characters) are not parsed either (minified bundles, one-line
   * data): they are cut into windows like files over maxParseBytes. Default 65536.
   */
  maxParseLineLength?: number;
}

export interface Chunker {
  /** Language id for a path (by extension / file name), 'text' when unknown. */
  languageOf(path: string): string;
  /** Chunks of one file. `path` is workspace-relative (forward slashes); `content` the file's bytes as read. */
  chunkFile(path: string, content: Uint8Array): Promise<Chunk[]>;
}

export const DEFAULT_MAX_TOKENS = 256;
export const DEFAULT_MAX_PARSE_BYTES = 16 * 1024 * 1024;
export const DEFAULT_MAX_PARSE_LINE_LENGTH = 65536;
/** Chars per token assumed for files over maxParseBytes when a real counter was given (conservative). */
const BIG_FILE_CHARS_PER_TOKEN = 2;

export async function createChunker(options: ChunkerOptions = {}): Promise<Chunker> {
  const maxTokens = Math.max(8, Math.floor(options.maxTokens ?? DEFAULT_MAX_TOKENS));
  const custom = options.countTokens;
  const maxParseBytes = options.maxParseBytes ?? DEFAULT_MAX_PARSE_BYTES;
  const maxLine = options.maxParseLineLength ?? DEFAULT_MAX_PARSE_LINE_LENGTH;
  const syntax = new SyntaxEngine();

  function budgetFor(path: string, big: boolean): Budget {
    let count: (t: string) => number;
    let charsPerToken: number | undefined;
    if (!custom) {
      count = estimateTokens;
      charsPerToken = ESTIMATE_CHARS_PER_TOKEN;
    } else if (big) {
      count = (t) => Math.ceil(t.length / BIG_FILE_CHARS_PER_TOKEN);
      charsPerToken = BIG_FILE_CHARS_PER_TOKEN;
    } else {
      count = custom;
    }
    const reserve = headerReserve(path, count);
    const code = Math.max(Math.ceil(maxTokens / 2), maxTokens - reserve);
    return { maxTokens, code, count, charsPerToken };
  }

  return {
    languageOf,
    async chunkFile(path: string, content: Uint8Array): Promise<Chunk[]> {
      if (content.length === 0) return [];
      const language = languageOf(path);
      const tooBig = content.length > maxParseBytes;
      const grammar = !tooBig && GRAMMARS[language] !== undefined ? await syntax.load(language) : null;
      // Everything below is synchronous: a shared parser is never used by two files at once.
      const src = decodeSource(content);
      const big = tooBig || longestLine(src.lineStarts, src.text.length) > maxLine;
      const budget = budgetFor(path, tooBig);
      const p = new Pieces(src, budget);
      let defs: Def[] = [];
      let plainKind = 'window';
      let wholeKind = 'window';
      if (grammar && !big) {
        defs = syntax.pieces(grammar, p);
        plainKind = 'statements';
        wholeKind = 'module';
      } else if (language === 'markdown' && !big) {
        defs = markdownPieces(p);
        plainKind = 'section';
        wholeKind = 'section';
      } else {
        p.lines(src.text.length, 0);
      }
      if (p.last < src.text.length) p.lines(src.text.length, 0);
      const info: FileInfo = { path, language, src, budget, defs, plainKind, wholeKind };
      return assemble(info, mergePieces(p));
    },
  };
}

function longestLine(starts: Uint32Array, n: number): number {
  let max = 0;
  for (let i = 0; i < starts.length; i++) {
    const len = (i + 1 < starts.length ? starts[i + 1] : n) - starts[i];
    if (len > max) max = len;
  }
  return max;
}
