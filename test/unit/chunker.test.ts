// Chunker: behaviour on examples (symbols, symbol paths, budgets, offsets, encodings, fallbacks).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { createChunker, languageOf } from '../../src/core/chunker';
import { grammarPath } from '../../src/core/chunker/syntax';
import { GRAMMARS } from '../../src/core/chunker/languages';
import type { Chunk } from '../../src/core/types';
import { checkChunks, estimate, headerOf } from './chunker/check';

const FIXTURES = path.join(__dirname, '..', 'fixtures', 'chunker');
const fixture = (name: string): Buffer => readFileSync(path.join(FIXTURES, name));
const enc = (s: string): Buffer => Buffer.from(s, 'utf8');
const allSymbols = (chunks: Chunk[]): Set<string> => new Set(chunks.flatMap((c) => c.symbols));

test('languageOf maps extensions and file names; unknown is text', async () => {
  const c = await createChunker();
  const cases: Record<string, string> = {
    'a.ts': 'typescript',
    'src/b.mts': 'typescript',
    'c.tsx': 'tsx',
    'd.js': 'javascript',
    'e.cjs': 'javascript',
    'f.py': 'python',
    'g.go': 'go',
    'h.rs': 'rust',
    'i.java': 'java',
    'j.c': 'c',
    'j.h': 'c',
    'k.cpp': 'cpp',
    'k.hpp': 'cpp',
    'l.cs': 'csharp',
    'm.rb': 'ruby',
    Rakefile: 'ruby',
    'n.php': 'php',
    'o.sh': 'bash',
    '.bashrc': 'bash',
    'p.css': 'css',
    'q.json': 'json',
    'r.yml': 'yaml',
    's.yaml': 'yaml',
    'README.md': 'markdown',
    'notes.txt': 'text',
    Makefile: 'makefile',
    'x.unknownext': 'text',
    noext: 'text',
    '.gitignore': 'text',
    'dir.d/file.': 'text',
    'A/B/C.TS': 'typescript',
  };
  for (const [p, lang] of Object.entries(cases)) {
    assert.equal(c.languageOf(p), lang, p);
    assert.equal(languageOf(p), lang, p);
  }
});

test('every grammar resolves to an existing .wasm and loads', async () => {
  const c = await createChunker();
  for (const lang of Object.keys(GRAMMARS)) {
    const p = grammarPath(lang);
    assert.ok(readFileSync(p).length > 1000, p);
  }
  // each language yields syntax chunks (kind other than window) on its fixture
  const ext: Record<string, string> = {
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
  };
  for (const lang of Object.keys(GRAMMARS)) {
    const name = `sample.${ext[lang]}`;
    const chunks = await c.chunkFile(name, fixture(name));
    assert.equal(chunks[0].language, lang);
    assert.ok(
      chunks.every((ch) => ch.kind !== 'window'),
      `${lang}: fell back to windows`,
    );
    assert.ok(allSymbols(chunks).size > 0, `${lang}: no symbols`);
  }
});

test('empty file: no chunks; one-byte file: one chunk', async () => {
  const c = await createChunker();
  assert.deepEqual(await c.chunkFile('a.ts', new Uint8Array(0)), []);
  const one = await c.chunkFile('a.ts', enc('x'));
  checkChunks(one, enc('x'), { path: 'a.ts' });
  assert.equal(one.length, 1);
  assert.equal(one[0].kind, 'module');
});

test('fixtures of every language tile exactly and respect the budget at several budgets', async () => {
  for (const maxTokens of [256, 64, 24, 8]) {
    const c = await createChunker({ maxTokens });
    for (const name of readdirSync(FIXTURES)) {
      const bytes = fixture(name);
      const chunks = await c.chunkFile(name, bytes);
      checkChunks(chunks, bytes, { path: name, language: languageOf(name), maxTokens, countTokens: estimate });
    }
  }
});

const EXPECTED_SYMBOLS: Record<string, string[]> = {
  'sample.ts': ['CacheOptions', 'Key', 'Eviction', 'DEFAULT_TTL', 'now', 'double', 'Cache', 'get', 'set', 'clear', 'Stats', 'ratio'],
  'sample.tsx': ['ButtonProps', 'Button', 'Counter', 'Panel', 'render'],
  'sample.js': ['EventEmitter', 'createBus', 'Logger', 'log', 'create', 'greet', 'square'],
  'sample.py': [
    'MAX_ITEMS',
    'CURRENCY',
    'Item',
    'total',
    'label',
    'Inventory',
    '__init__',
    'add',
    'remove',
    'value',
    'Report',
    'render',
    'load',
    'refresh',
  ],
  'sample.go': ['ErrNegative', 'Pi', 'Shape', 'Rect', 'Meters', 'Area', 'Perimeter', 'Circle', 'NewRect', 'Total'],
  'sample.rs': [
    'MAX',
    'GREETING',
    'Stack',
    'Error',
    'Sized2',
    'size',
    'new',
    'push',
    'pop',
    'fmt',
    'util',
    'clamp',
    'square',
    'Pair',
    'main',
  ],
  'sample.java': ['Library', 'books', 'LIMIT', 'add', 'find', 'titles', 'Book', 'isClassic', 'Loanable', 'lend', 'Status', 'canLend'],
  'sample.c': ['RING_MAX', 'MIN', 'ring', 'ring_t', 'ring_status', 'instances', 'ring_new', 'ring_free', 'ring_push', 'ring_pop'],
  'sample.cpp': ['linalg', 'Matrix', 'at', 'rows', 'cols', 'Point', 'dot', 'main'],
  'sample.cs': ['Shop.Orders', 'Line', 'IPricing', 'Total', 'State', 'Order', 'Status', 'Pay', 'Summary'],
  'sample.rb': ['Reading', 'VERSION', 'Book', 'initialize', 'read', 'progress', 'from_hash', 'Shelf', 'each', 'summary'],
  'sample.php': ['App\\Billing', 'Payable', 'amount', 'Loggable', 'log', 'Invoice', '__construct', 'add', 'Currency', 'format_cents'],
  'sample.sh': ['BACKUP_DIR', 'KEEP', 'log', 'usage', 'prune', 'backup'],
  'sample.css': [':root', 'body', '.message--user', 'blink'],
  'sample.json': ['name', 'version', 'scripts', 'dependencies', 'config', 'nested'],
  'sample.yaml': ['name', 'on', 'env', 'jobs', 'test', 'deploy'],
  'sample.md': ['Fixture guide', 'Install', 'Usage', 'Basic', 'Advanced', 'Setext heading'],
};

test('symbols: each fixture defines the names it should', async () => {
  for (const maxTokens of [256, 64]) {
    const c = await createChunker({ maxTokens });
    for (const [name, expected] of Object.entries(EXPECTED_SYMBOLS)) {
      const got = allSymbols(await c.chunkFile(name, fixture(name)));
      for (const s of expected) assert.ok(got.has(s), `${name} @${maxTokens}: missing symbol ${s} (got ${[...got].join(', ')})`);
    }
  }
  // names inside strings, comments or function bodies are not definitions
  const c = await createChunker();
  const md = allSymbols(await c.chunkFile('sample.md', fixture('sample.md')));
  assert.ok(![...md].some((s) => s.includes('not a heading')), 'a # line inside a code fence is not a heading');
});

const EXPECTED_PATHS: Record<string, string[]> = {
  'sample.ts': ['class Cache > method get', 'class Cache > method set', 'namespace Stats > function ratio', 'interface CacheOptions'],
  'sample.tsx': ['function Button', 'class Panel > method render'],
  'sample.js': ['class Logger > method log', 'function createBus'],
  'sample.py': ['class Inventory > class Report > method render', 'class Item > method total', 'function load > function parse'],
  'sample.go': ['function NewRect', 'interface Shape'],
  'sample.rs': ['impl Stack<T> > method push', 'impl fmt::Display for Error > method fmt', 'module util'],
  'sample.java': ['class Library > method titles', 'class Library > record Book > method isClassic', 'class Library > enum Status'],
  'sample.c': ['function ring_new', 'function ring_pop'],
  'sample.cpp': ['namespace linalg > class Matrix > method at', 'namespace linalg > function dot'],
  'sample.cs': ['namespace Shop.Orders > class Order > method Total', 'namespace Shop.Orders > class Order > method Pay'],
  'sample.rb': ['module Reading > class Book > method progress', 'function summary'],
  'sample.php': ['class Invoice > method add', 'function format_cents'],
  'sample.sh': ['function backup'],
  'sample.json': ['key config'],
  'sample.yaml': ['key jobs > key test > key steps'],
  'sample.md': ['Fixture guide > Install', 'Fixture guide > Setext heading'],
};

test('symbol paths: chunks of nested definitions carry their enclosing path', async () => {
  const c = await createChunker({ maxTokens: 64 });
  for (const [name, expected] of Object.entries(EXPECTED_PATHS)) {
    const chunks = await c.chunkFile(name, fixture(name));
    const paths = new Set(chunks.map((ch) => ch.symbolPath));
    for (const p of expected) assert.ok(paths.has(p), `${name}: no chunk with symbol path '${p}' (got ${[...paths].join(' | ')})`);
    for (const ch of chunks) assert.ok(ch.text.startsWith(headerOf(ch)));
  }
});

test('a chunk of one declaration: kind, symbols and line range are its own', async () => {
  const src = [
    'import { x } from "y";',
    '',
    'export function alpha(a: number): number {',
    ...Array.from({ length: 30 }, (_, i) => `  const v${i} = a * ${i} + x(${i}); // line ${i}`),
    '  return a;',
    '}',
    '',
    'export class Beta {',
    '  gamma(): void {',
    ...Array.from({ length: 30 }, (_, i) => `    console.log("gamma step ${i}", ${i} * 2);`),
    '  }',
    '}',
    '',
  ].join('\n');
  const c = await createChunker({ maxTokens: 512 });
  const chunks = await c.chunkFile('src/m.ts', enc(src));
  checkChunks(chunks, enc(src), { path: 'src/m.ts', maxTokens: 512, countTokens: estimate });
  const alpha = chunks.find((ch) => ch.symbols.includes('alpha'))!;
  assert.ok(alpha, 'alpha defined somewhere');
  assert.equal(alpha.symbolPath, 'function alpha');
  assert.equal(alpha.kind, 'function');
  assert.ok(alpha.text.startsWith('src/m.ts | function alpha\n'));
  const gamma = chunks.find((ch) => ch.symbols.includes('gamma'))!;
  assert.ok(gamma.symbolPath.startsWith('class Beta'), gamma.symbolPath);
  // chunks end at line ends: every chunk but the last ends with a newline
  for (const ch of chunks.slice(0, -1)) assert.ok(ch.text.endsWith('\n'), `chunk ${ch.startLine}-${ch.endLine} ends mid-line`);
});

test('small siblings merge; oversized declarations split, down to line windows inside a huge node', async () => {
  const small = Array.from({ length: 40 }, (_, i) => `function f${i}() { return ${i}; }`).join('\n') + '\n';
  const c = await createChunker({ maxTokens: 128 });
  const chunks = await c.chunkFile('s.js', enc(small));
  checkChunks(chunks, enc(small), { path: 's.js', maxTokens: 128, countTokens: estimate });
  assert.ok(chunks.length < 40 / 3, `small functions are merged (${chunks.length} chunks)`);
  assert.ok(chunks.every((ch) => ch.symbols.length >= 2 || ch === chunks[chunks.length - 1]));
  // one function holding a 400-line template literal: split inside the literal by lines
  const huge = `function big() {\n  return \`\n${Array.from({ length: 400 }, (_, i) => `line ${i} of the literal`).join('\n')}\n\`;\n}\n`;
  const hc = await c.chunkFile('h.js', enc(huge));
  checkChunks(hc, enc(huge), { path: 'h.js', maxTokens: 128, countTokens: estimate });
  assert.ok(hc.length > 10);
  assert.ok(
    hc.slice(0, -1).every((ch) => ch.text.endsWith('\n')),
    'windows inside the literal end at line ends',
  );
  assert.ok(
    hc.every((ch) => ch.symbolPath === 'function big'),
    'pieces of big() keep its symbol path',
  );
});

test('byte offsets are UTF-8 byte offsets (multi-byte and astral characters)', async () => {
  const pre = '// héllo wörld — ✓ 😀 日本語 \u{10FFFF}\nconst s = "ééé😀😀";\n';
  const fn = 'function target() {\n  return "ü";\n}\n';
  const src = pre + fn.repeat(1) + '// tail ✓\n';
  for (const maxTokens of [8, 16, 256]) {
    const c = await createChunker({ maxTokens });
    const chunks = await c.chunkFile('u.js', enc(src));
    checkChunks(chunks, enc(src), { path: 'u.js', maxTokens, countTokens: estimate });
  }
  const c = await createChunker({ maxTokens: 16 });
  const chunks = await c.chunkFile('u.js', enc(src));
  const t = chunks.find((ch) => ch.symbols.includes('target'))!;
  assert.equal(t.startByte, Buffer.byteLength(pre), 'starts at the byte length of what precedes it');
  assert.equal(t.startLine, 3);
});

test('invalid UTF-8, BOM, CRLF, NUL bytes: still tiled exactly', async () => {
  const c = await createChunker({ maxTokens: 32 });
  const cases: [string, Buffer][] = [
    [
      'bad.ts',
      Buffer.concat([enc('const a = "'), Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xe2, 0x82]), enc('";\nfunction f() { return 1; }\n')]),
    ],
    ['bad.py', Buffer.concat([enc('x = 1\n'), Buffer.from([0x80, 0x80, 0xf0, 0x9f, 0x98]), enc('\ndef g():\n    return 2\n')])],
    [
      'overlong.c',
      Buffer.concat([
        enc('int a;'),
        Buffer.from([0xc0, 0xaf, 0xe0, 0x80, 0xaf, 0xed, 0xa0, 0x80, 0xf4, 0x90, 0x80, 0x80]),
        enc('\nint b;\n'),
      ]),
    ],
    ['bom.ts', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), enc('export const x = 1;\nexport function y() {}\n')])],
    ['crlf.py', enc('import os\r\n\r\ndef f():\r\n    return 1\r\n\r\nclass C:\r\n    def m(self):\r\n        pass\r\n')],
    ['nul.txt', Buffer.from([0, 0, 10, 0, 65, 0, 10])],
    ['lone.md', Buffer.from([0x23, 0x20, 0xe9, 0x0a, 0x61])],
  ];
  for (const [name, bytes] of cases) {
    const chunks = await c.chunkFile(name, bytes);
    checkChunks(chunks, bytes, { path: name, maxTokens: 32, countTokens: estimate });
  }
  const crlf = await c.chunkFile('crlf.py', cases[4][1]);
  assert.ok(allSymbols(crlf).has('m'));
});

test('syntax errors: the file is still covered and definitions the parser recovered are still found', async () => {
  const js =
    'function ok1() { return 1; }\n\nfunction broken( { return ;;; }}}\n\nclass Fine { method() { return 2; } }\n%%% ^^^ ;\nfunction ok2() {}\n';
  const py =
    'def ok1():\n    return 1\n\ndef broken(:\n    return ((\n\nclass Fine:\n    def method(self):\n        return 2\n\nx = [1, 2,, %%\n\ndef ok2():\n    pass\n';
  for (const maxTokens of [16, 256]) {
    const c = await createChunker({ maxTokens });
    for (const [name, src] of [
      ['e.js', js],
      ['e.py', py],
    ]) {
      const chunks = await c.chunkFile(name, enc(src));
      checkChunks(chunks, enc(src), { path: name, maxTokens, countTokens: estimate });
      const syms = allSymbols(chunks);
      // `Fine` sits inside an ERROR node in the JS tree: ERROR nodes are searched too
      for (const s of ['ok1', 'Fine', 'method']) assert.ok(syms.has(s), `${name}@${maxTokens}: ${s} in ${[...syms].join(',')}`);
    }
  }
});

test('countTokens callback drives the budget (the runtime passes its tokenizer)', async () => {
  let calls = 0;
  const words = (t: string): number => {
    calls++;
    return t.split(/[^A-Za-z0-9_]+/).filter(Boolean).length + 1;
  };
  const c = await createChunker({ maxTokens: 40, countTokens: words });
  for (const name of ['sample.ts', 'sample.py', 'sample.md', 'notes.txt']) {
    const bytes = fixture(name);
    const chunks = await c.chunkFile(name, bytes);
    checkChunks(chunks, bytes, { path: name, maxTokens: 40, countTokens: words });
  }
  assert.ok(calls > 0, 'countTokens was used');
  // a coarser counter yields fewer, larger chunks
  const coarse = await createChunker({ maxTokens: 40, countTokens: (t) => Math.ceil(t.length / 20) });
  const fine = await createChunker({ maxTokens: 40, countTokens: (t) => Math.ceil(t.length / 2) });
  const n1 = (await coarse.chunkFile('sample.ts', fixture('sample.ts'))).length;
  const n2 = (await fine.chunkFile('sample.ts', fixture('sample.ts'))).length;
  assert.ok(n1 < n2, `${n1} < ${n2}`);
});

test('markdown splits at headings, preferring higher levels; fenced # lines are not headings', async () => {
  const sections = Array.from({ length: 6 }, (_, i) =>
    [`## Part ${i}`, '', ...Array.from({ length: 12 }, (_, k) => `Sentence ${k} of part ${i} with some words in it.`), ''].join('\n'),
  ).join('\n');
  const src = `# Title\n\nIntro.\n\n${sections}\n\`\`\`\n# comment in code\n\`\`\`\n`;
  const c = await createChunker({ maxTokens: 320 });
  const chunks = await c.chunkFile('doc.md', enc(src));
  checkChunks(chunks, enc(src), { path: 'doc.md', maxTokens: 320, countTokens: estimate });
  assert.ok(chunks.length >= 3);
  for (const ch of chunks.slice(1)) {
    const firstLine = ch.text.slice(headerOf(ch).length).split('\n')[0];
    assert.match(firstLine, /^## Part \d$/, 'chunks start at a heading');
    assert.match(ch.symbolPath, /^Title > Part \d/);
    assert.equal(ch.kind, 'section');
  }
  assert.ok(!allSymbols(chunks).has('comment in code'));
});

test('text and unknown languages: line windows that end at line ends', async () => {
  const src = Array.from({ length: 300 }, (_, i) => (i % 10 === 9 ? '' : `plain line number ${i} of notes`)).join('\n');
  const c = await createChunker({ maxTokens: 64 });
  for (const name of ['notes.txt', 'data.unknownext', 'Dockerfile', 'conf.toml']) {
    const chunks = await c.chunkFile(name, enc(src));
    checkChunks(chunks, enc(src), { path: name, maxTokens: 64, countTokens: estimate });
    assert.ok(chunks.every((ch) => ch.kind === 'window'));
    assert.ok(chunks.slice(0, -1).every((ch) => ch.text.endsWith('\n')));
    assert.ok(chunks.length > 5);
  }
});

test('equal text => equal hash; the header makes the path part of the content address', async () => {
  const c = await createChunker();
  const a = await c.chunkFile('a/x.py', fixture('sample.py'));
  const b = await c.chunkFile('a/x.py', fixture('sample.py'));
  const moved = await c.chunkFile('b/x.py', fixture('sample.py'));
  assert.deepEqual(
    a.map((ch) => ch.hash),
    b.map((ch) => ch.hash),
  );
  assert.notDeepEqual(
    a.map((ch) => ch.hash),
    moved.map((ch) => ch.hash),
  );
  // an edit at the end leaves the hashes of untouched earlier chunks alone
  const edited = Buffer.concat([fixture('sample.py'), enc('\n\ndef extra():\n    return 42\n')]);
  const e = await c.chunkFile('a/x.py', edited);
  assert.equal(e[0].hash, a[0].hash);
});

test('concurrent chunkFile calls give the same result as sequential ones', async () => {
  const c = await createChunker({ maxTokens: 64 });
  const names = readdirSync(FIXTURES);
  const seq: Chunk[][] = [];
  for (const n of names) seq.push(await c.chunkFile(n, fixture(n)));
  const fresh = await createChunker({ maxTokens: 64 });
  const par = await Promise.all(names.map((n) => fresh.chunkFile(n, fixture(n))));
  assert.deepEqual(par, seq);
});
