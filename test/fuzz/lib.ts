// Shared pieces of the chunker/walker fuzzer: the invariants every chunking must satisfy, the inputs
// (random bytes, mutated real files, token soup per grammar, worst cases) and the corpus of cases that
// once failed. Used by test/hardening/fuzz.test.ts (small fixed budget + corpus replay) and by
// test/fuzz/run.ts (longer runs that add new failures to the corpus).
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import type { Chunk } from '../../src/core/types';
import { decodeSource } from '../../src/core/chunker/text';
import { GRAMMARS, type Chunker } from '../../src/core/chunker/index';
import { escapePath } from '../../src/core/pathText';

export const REPO = path.resolve(__dirname, '..', '..');
export const CORPUS_DIR = path.join(REPO, 'test', 'fuzz', 'corpus');

/** One file extension per grammar, plus Markdown and two grammar-less languages (line windows). */
export const EXT_BY_LANGUAGE: Record<string, string> = {
  typescript: 'ts',
  tsx: 'tsx',
  javascript: 'js',
  python: 'py',
  go: 'go',
  rust: 'rs',
  java: 'java',
  cpp: 'cpp',
  csharp: 'cs',
  ruby: 'rb',
  php: 'php',
  bash: 'sh',
  css: 'css',
  c: 'c',
  json: 'json',
  yaml: 'yaml',
  markdown: 'md',
  text: 'txt',
  toml: 'toml',
};
export const GRAMMAR_LANGUAGES = Object.keys(GRAMMARS);
export const ALL_EXTS = Object.values(EXT_BY_LANGUAGE);

/**
 * The chunking invariants. Throws an Error that says which one broke:
 * - chunks tile [0, bytes.length) exactly, in order, none empty;
 * - line numbers are 1-based, ordered, and match the byte offsets;
 * - each chunk's text is a header line (the path, control characters escaped) followed by exactly its
 *   bytes decoded, and hash = sha256(text);
 * - path and language are the file's.
 */
export function checkChunks(relPath: string, bytes: Uint8Array, chunks: Chunk[], language?: string): void {
  const fail = (msg: string): never => {
    throw new Error(`${relPath} (${bytes.length} bytes, ${chunks.length} chunks): ${msg}`);
  };
  if (bytes.length === 0) {
    if (chunks.length !== 0) fail('an empty file has chunks');
    return;
  }
  if (chunks.length === 0) fail('a non-empty file has no chunks');
  // Line starts in bytes (a newline byte 0x0a is never part of a multi-byte sequence).
  const lineStarts = [0];
  for (let i = 0; i < bytes.length; i++) if (bytes[i] === 0x0a) lineStarts.push(i + 1);
  const lineOfByte = (b: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >>> 1;
      if (lineStarts[mid] <= b) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
  let at = 0;
  let prevLine = 1;
  for (let i = 0; i < chunks.length; i++) {
    const c = chunks[i];
    const where = `chunk ${i} [${c.startByte}, ${c.endByte})`;
    if (c.startByte !== at) fail(`${where} starts at ${c.startByte}, expected ${at} (gap or overlap)`);
    if (!(c.endByte > c.startByte)) fail(`${where} is empty or reversed`);
    if (c.endByte > bytes.length) fail(`${where} ends past the file`);
    if (c.path !== relPath) fail(`${where} has path ${c.path}`);
    if (language && c.language !== language) fail(`${where} has language ${c.language}, expected ${language}`);
    if (c.startLine !== lineOfByte(c.startByte)) fail(`${where} startLine ${c.startLine}, expected ${lineOfByte(c.startByte)}`);
    if (c.endLine !== lineOfByte(c.endByte - 1)) fail(`${where} endLine ${c.endLine}, expected ${lineOfByte(c.endByte - 1)}`);
    if (c.startLine < prevLine || c.endLine < c.startLine) fail(`${where} lines ${c.startLine}-${c.endLine} out of order`);
    prevLine = c.startLine;
    const code = decodeSource(bytes.subarray(c.startByte, c.endByte)).text;
    if (!c.text.endsWith(code)) fail(`${where} text does not end with its own bytes`);
    const header = c.text.slice(0, c.text.length - code.length);
    const shown = escapePath(relPath);
    const rest = header.slice(shown.length);
    if (
      !header.startsWith(shown) ||
      !(rest === '\n' || (rest.startsWith(' | ') && rest.endsWith('\n') && !rest.slice(0, -1).includes('\n')))
    ) {
      fail(`${where} header ${JSON.stringify(header.slice(0, 80))} is not "<path>[ | <symbol path>]\\n"`);
    }
    if (createHash('sha256').update(c.text).digest('hex') !== c.hash) fail(`${where} hash is not sha256(text)`);
    if (!Array.isArray(c.symbols) || c.symbols.some((s) => typeof s !== 'string')) fail(`${where} symbols malformed`);
    at = c.endByte;
  }
  if (at !== bytes.length) fail(`chunks end at ${at}, not at the file's end`);
}

/** Milliseconds one chunkFile call may take before it counts as hanging: generous (shared 2-core CI). */
export function timeLimitMs(bytes: number): number {
  return 20_000 + bytes / 1000; // 20 s plus 1 s per MB
}

/** Chunks one file, checks the invariants and the time bound; returns the chunks and the time taken. */
export async function chunkChecked(chunker: Chunker, relPath: string, bytes: Uint8Array): Promise<{ chunks: Chunk[]; ms: number }> {
  const t0 = performance.now();
  const chunks = await chunker.chunkFile(relPath, bytes);
  const ms = performance.now() - t0;
  checkChunks(relPath, bytes, chunks, chunker.languageOf(relPath));
  if (ms > timeLimitMs(bytes.length)) throw new Error(`${relPath}: chunking ${bytes.length} bytes took ${Math.round(ms)} ms`);
  return { chunks, ms };
}

// ---- inputs ----

/** The real sample files of every language (test/fixtures/chunker), by extension. */
export function seedFiles(): { ext: string; bytes: Uint8Array }[] {
  const dir = path.join(REPO, 'test', 'fixtures', 'chunker');
  return readdirSync(dir)
    .sort()
    .map((name) => ({ ext: name.slice(name.lastIndexOf('.') + 1), bytes: new Uint8Array(readFileSync(path.join(dir, name))) }));
}

/** Byte sequences that stress decoding: invalid UTF-8, truncated sequences, surrogates, BOMs, NUL, CR. */
export const NASTY_BYTES: number[][] = [
  [0xff],
  [0xfe, 0xff],
  [0xef, 0xbb, 0xbf], // UTF-8 BOM
  [0xff, 0xfe, 0x41, 0x00], // UTF-16 LE BOM + "A"
  [0xc3], // truncated 2-byte
  [0xe2, 0x82], // truncated 3-byte
  [0xf0, 0x9f, 0x98], // truncated 4-byte
  [0xf0, 0x9f, 0x98, 0x80], // emoji (surrogate pair in UTF-16)
  [0xed, 0xa0, 0x80], // encoded surrogate (invalid)
  [0xc0, 0xaf], // overlong '/'
  [0xf4, 0x90, 0x80, 0x80], // past U+10FFFF
  [0x80, 0x80, 0x80],
  [0xe9], // Latin-1 é
  [0x00],
  [0x0d],
  [0x0d, 0x0a],
  [0x0a],
  [0xe2, 0x80, 0xa8], // U+2028
  [0xc2, 0x85], // NEL
];

/** Syntax-ish fragments: opening/closing constructs, strings, comments, keywords of many languages. */
const FRAGMENTS = [
  '{',
  '}',
  '(',
  ')',
  '[',
  ']',
  '<',
  '>',
  ';',
  ',',
  ':',
  '=',
  '"',
  "'",
  '`',
  '\\',
  '/*',
  '*/',
  '//',
  '#',
  '--',
  '<!--',
  '-->',
  '<?php',
  '?>',
  '${',
  '$(',
  '<<EOF\n',
  '\nEOF\n',
  '"""',
  "'''",
  'r#"',
  '"#',
  '@',
  '|',
  '&',
  '*',
  '...',
  '=>',
  '->',
  '::',
  'function f',
  'def f',
  'class C',
  'struct S',
  'impl T',
  'fn f',
  'func f',
  'interface I',
  'enum E',
  'namespace N',
  'module M',
  'public static void m',
  'template<typename T>',
  '#define X',
  '#include <x>',
  'end',
  'begin',
  'do',
  'then',
  'fi',
  'esac',
  'if',
  'else',
  'while',
  'for',
  'return',
  'async',
  'await',
  'yield',
  'lambda',
  '@media',
  ':root',
  '- ',
  '? ',
  '---\n',
  '...\n',
  '&anchor',
  '*alias',
  '!!tag',
  '## ',
  '# ',
  '```\n',
  '~~~\n',
  '===\n',
  '\n',
  '\n\n',
  '\t',
  '    ',
  ' ',
  '\r\n',
  'x',
  'foo_bar',
  '0x1F',
  '1e9',
  'true',
  'null',
];

const bytesArb = (max: number) => fc.uint8Array({ maxLength: max });
const nasty = fc.constantFrom(...NASTY_BYTES.map((b) => Uint8Array.from(b)));
const fragment = fc.constantFrom(...FRAGMENTS.map((f) => new Uint8Array(Buffer.from(f))));

function concat(parts: Uint8Array[]): Uint8Array {
  return new Uint8Array(Buffer.concat(parts));
}

/** A mutation applied to a byte array. */
type Mutation =
  | { op: 'truncate'; at: number }
  | { op: 'flip'; at: number; mask: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; len: number }
  | { op: 'duplicate'; at: number; len: number; times: number }
  | { op: 'splice'; at: number; bytes: Uint8Array };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ op: fc.constant('insert' as const), at: fc.nat(), bytes: fc.oneof(nasty, fragment, bytesArb(16)) }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), len: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    op: fc.constant('duplicate' as const),
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 200 }),
    times: fc.integer({ min: 2, max: 30 }),
  }),
  fc.record({ op: fc.constant('splice' as const), at: fc.nat(), bytes: bytesArb(64) }),
);

export function applyMutations(input: Uint8Array, muts: Mutation[]): Uint8Array {
  let b = Buffer.from(input);
  for (const m of muts) {
    const at = b.length === 0 ? 0 : m.at % (b.length + 1);
    switch (m.op) {
      case 'truncate':
        b = b.subarray(0, at);
        break;
      case 'flip':
        if (b.length > 0) {
          const i = Math.min(at, b.length - 1);
          b = Buffer.from(b);
          b[i] ^= m.mask;
        }
        break;
      case 'insert':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.len)]);
        break;
      case 'duplicate': {
        const piece = b.subarray(at, at + m.len);
        b = Buffer.concat([b.subarray(0, at), ...Array<Buffer>(m.times).fill(piece), b.subarray(at)]);
        break;
      }
      case 'splice':
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at + m.bytes.length)]);
        break;
    }
  }
  return new Uint8Array(b);
}

export interface FuzzCase {
  /** How the case was made, for the report. */
  kind: 'random' | 'mutated' | 'soup';
  ext: string;
  bytes: Uint8Array;
}

/** All fuzz inputs: random bytes, mutated real files of every language, and token soup with nasty bytes. */
export function fuzzCaseArb(): fc.Arbitrary<FuzzCase> {
  const seeds = seedFiles();
  const ext = fc.constantFrom(...ALL_EXTS);
  const random = fc.record({ kind: fc.constant('random' as const), ext, bytes: bytesArb(2048) });
  const mutated = fc
    .record({
      seed: fc.constantFrom(...seeds),
      muts: fc.array(mutationArb, { minLength: 1, maxLength: 6 }),
      keepExt: fc.boolean(),
      other: ext,
    })
    .map(({ seed, muts, keepExt, other }) => ({
      kind: 'mutated' as const,
      ext: keepExt ? seed.ext : other,
      bytes: applyMutations(seed.bytes, muts),
    }));
  const soup = fc
    .record({ ext, parts: fc.array(fc.oneof({ weight: 6, arbitrary: fragment }, { weight: 1, arbitrary: nasty }), { maxLength: 300 }) })
    .map(({ ext: e, parts }) => ({ kind: 'soup' as const, ext: e, bytes: concat(parts) }));
  return fc.oneof({ weight: 2, arbitrary: random }, { weight: 5, arbitrary: mutated }, { weight: 3, arbitrary: soup });
}

/** `n` levels of nesting in a form the language's grammar really nests (not just an error node). */
export function deepNesting(language: string, n: number): string {
  const rep = (s: string, k = n) => s.repeat(k);
  switch (language) {
    case 'typescript':
    case 'tsx':
    case 'javascript':
      return `function f(x) {\n${rep('if (x) {')}${rep('}')}\n}\nconst a = ${rep('[')}${rep(']')};\n`;
    case 'python':
      return `def f(x):\n    return ${rep('(')}x${rep(')')}\n\na = ${rep('[')}${rep(']')}\n`;
    case 'go':
      return `package p\n\nfunc f(x bool) {\n${rep('if x {')}${rep('}')}\n}\n`;
    case 'rust':
      return `fn f(x: bool) {\n${rep('if x {')}${rep('}')}\n}\n`;
    case 'java':
      return `class C {\n  void f(boolean x) {\n${rep('if (x) {')}${rep('}')}\n  }\n}\n`;
    case 'csharp':
      return `class C {\n  void F(bool x) {\n${rep('if (x) {')}${rep('}')}\n  }\n}\n`;
    case 'c':
    case 'cpp':
      return `int f(int x) {\n${rep('if (x) {')}${rep('}')}\n  return 0;\n}\n`;
    case 'ruby':
      return `def f(x)\n  ${rep('[')}${rep(']')}\nend\n`;
    case 'php':
      return `<?php\nfunction f($x) {\n${rep('if ($x) {')}${rep('}')}\n}\n`;
    case 'bash':
      return `f() {\n${rep('( ')}true${rep(' )')}\n}\n`;
    case 'css':
      return `a {\n${rep('b {')}${rep('}')}\n}\n`;
    case 'json':
      return `${rep('[')}${rep(']')}\n`;
    case 'yaml':
      return `a: ${rep('[')}${rep(']')}\n`;
    case 'markdown':
      return rep('> ') + 'quote\n' + rep('- item\n  ', 200);
    default:
      return rep('(') + rep(')') + '\n';
  }
}

// ---- corpus ----

/**
 * Corpus file name: `<sha256 prefix>.<ext>.case` (the `.case` suffix keeps linters and the compiler off
 * it); `<ext>` picks the language when replaying. `<name>.why` says where the case came from.
 */
export function saveCorpusCase(ext: string, bytes: Uint8Array, note: string): string {
  const dir = path.join(CORPUS_DIR, 'chunker');
  mkdirSync(dir, { recursive: true });
  const name = `${createHash('sha256').update(bytes).digest('hex').slice(0, 16)}.${ext}.case`;
  writeFileSync(path.join(dir, name), bytes);
  writeFileSync(path.join(dir, `${name}.why`), `${note}\n`);
  return path.join(dir, name);
}

export function corpusCases(): { name: string; ext: string; bytes: Uint8Array }[] {
  const dir = path.join(CORPUS_DIR, 'chunker');
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => n.endsWith('.case'))
    .sort()
    .map((name) => {
      const base = name.slice(0, -'.case'.length);
      return { name: base, ext: base.slice(base.lastIndexOf('.') + 1), bytes: new Uint8Array(readFileSync(path.join(dir, name))) };
    });
}

export interface FuzzStats {
  cases: number;
  bytes: number;
  byKind: Record<string, number>;
  slowestMs: number;
  failure?: { ext: string; bytes: Uint8Array; error: string; seed: number; path: string };
}

/**
 * Runs the chunker fuzz property for about `seconds` (fast-check, interrupted at the time limit).
 * On a failure the shrunk case is returned (and the caller decides whether to save it).
 */
export async function fuzzChunker(chunker: Chunker, seconds: number, seed: number): Promise<FuzzStats> {
  const stats: FuzzStats = { cases: 0, bytes: 0, byKind: {}, slowestMs: 0 };
  const result = await fc.check(
    fc.asyncProperty(fuzzCaseArb(), async (c) => {
      const rel = `dir/case.${c.ext}`;
      const { ms } = await chunkChecked(chunker, rel, c.bytes);
      stats.cases++;
      stats.bytes += c.bytes.length;
      stats.byKind[c.kind] = (stats.byKind[c.kind] ?? 0) + 1;
      stats.slowestMs = Math.max(stats.slowestMs, ms);
    }),
    { seed, numRuns: 1_000_000, interruptAfterTimeLimit: seconds * 1000, markInterruptAsFailure: false, endOnFailure: false },
  );
  if (result.failed && result.counterexample) {
    const [c] = result.counterexample;
    stats.failure = {
      ext: c.ext,
      bytes: c.bytes,
      error: result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance),
      seed,
      path: result.counterexamplePath ?? '',
    };
  }
  return stats;
}
