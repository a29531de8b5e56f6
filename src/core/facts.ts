// Tree-sitter facts: definitions with their lines, signature, parameters and doc comment, and a module's doc
// comment. Used by the recipe's data prep (models/recipe/prep) and by `e2code eval` (src/core/eval) to build
// the same questions from the same facts. Uses the same grammars as the product's chunker (src/core/chunker).
// Python and JavaScript/TypeScript keep the definitions the recipe's corpus was built with; the other
// languages are read through one table of node types per language (LANGS below).
import { readFileSync } from 'node:fs';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { grammarPath } from './chunker/syntax';

export type DefKind =
  'function' | 'class' | 'method' | 'type' | 'interface' | 'struct' | 'enum' | 'trait' | 'module' | 'constant' | 'macro';

export interface Def {
  name: string;
  /** 1-based line of the definition (of its first decorator/attribute/keyword line). */
  line: number;
  /** 1-based last line of the definition. */
  endLine: number;
  kind: DefKind;
  /** Parameter names, `self`/`cls`/receivers left out. */
  params: string[];
  /** First sentence/line of its docstring or doc comment ('' when none). */
  doc: string;
  /** The whole doc comment, comment markers removed, at most ~600 characters ('' when none). */
  fullDoc: string;
  /** The header as written, up to the body (decorators/annotations left out), whitespace collapsed, at most ~200 characters. */
  signature: string;
  /** Enclosing class (type, impl, trait, module) name for methods and nested types. */
  parent: string;
}

export interface FileFacts {
  defs: Def[];
  /** First sentence of the file's doc comment (module docstring, Go package comment, Rust `//!`, ...). */
  moduleDoc: string;
  /** The whole file doc comment, cleaned like `Def.fullDoc` (extractFacts always sets it; optional so that
   * callers can write an empty FileFacts as `{ defs: [], moduleDoc: '' }`). */
  moduleFullDoc?: string;
}

/** Languages (the chunker's names, src/core/chunker/languages.ts) facts are extracted for. */
export const FACT_LANGUAGES: readonly string[] = [
  'python',
  'javascript',
  'typescript',
  'tsx',
  'go',
  'ruby',
  'rust',
  'java',
  'c',
  'cpp',
  'csharp',
  'php',
  'bash',
];

const FULL_DOC_CHARS = 600;
const SIGNATURE_CHARS = 200;

const parsers = new Map<string, Parser>();
let ready: Promise<void> | null = null;

async function parserFor(language: string): Promise<Parser> {
  ready ??= Parser.init();
  await ready;
  let p = parsers.get(language);
  if (!p) {
    p = new Parser();
    p.setLanguage(await Language.load(readFileSync(grammarPath(language))));
    parsers.set(language, p);
  }
  return p;
}

// ---------------------------------------------------------------------------------------------------------
// Doc text

/** First meaningful line of a doc text, trimmed to ~160 chars. */
export function firstSentence(raw: string): string {
  return sentence(
    raw
      .replace(/^[rbuRBU]*("""|'''|"|')/, '')
      .replace(/("""|'''|"|')$/, '')
      .replace(/^\/\*\*?/, '')
      .replace(/\*\/$/, '')
      .split('\n')
      .map((l) =>
        l
          .replace(/^\s*\*?\s?/, '')
          .replace(/^\s*\/\/\s?/, '')
          .trim(),
      ),
  );
}

/** The first sentence of doc lines (markers already removed): tag lines (`@param`) left out. */
function sentence(lines: string[]): string {
  const body = lines.filter((l) => l && !l.startsWith('@'));
  let text = '';
  for (const l of body) {
    text = text ? `${text} ${l}` : l;
    if (/[.!?]$/.test(l) || text.length > 120) break;
  }
  const dot = text.search(/\.(\s|$)/);
  if (dot > 20) text = text.slice(0, dot + 1);
  return text.length > 160 ? text.slice(0, 157) + '...' : text;
}

function cap(text: string, max: number): string {
  return text.length > max ? text.slice(0, max - 3).trimEnd() + '...' : text;
}

/** Lines without common indentation and without blank lines at either end. */
function dedent(lines: string[]): string[] {
  const trimmed = lines.map((l) => l.trimEnd());
  while (trimmed.length && !trimmed[0]) trimmed.shift();
  while (trimmed.length && !trimmed[trimmed.length - 1]) trimmed.pop();
  const indents = trimmed.filter((l) => l).map((l) => /^\s*/.exec(l)![0].length);
  const min = indents.length ? Math.min(...indents) : 0;
  return trimmed.map((l) => l.slice(min));
}

/** A comment's text without its markers (`//`, `///`, `//!`, `#`, `/** ... *\/`, leading ` * `) and box drawing
 * (rule lines of `*`/`=`/`-`, a box's right edge). */
function commentLines(text: string): string[] {
  const t = text.replace(/\r/g, '').trimEnd();
  const lines = t.startsWith('/*')
    ? t
        .replace(/^\/\*[*!]?/, '')
        .replace(/\*+\/$/, '')
        .split('\n')
        .map((l) => l.replace(/^\s*\*(?!\/)\s?/, ''))
    : t.split('\n').map((l) => l.replace(/^\s*(\/\/[/!]?|#+)\s?/, ''));
  return lines.map((l) => (/^[\s*=\-_~#+\\/]*$/.test(l) ? '' : l.replace(/\s{2,}\*\s*$/, '')));
}

/** C#'s XML doc (`<summary>`, `<see cref="X"/>`, `<param name="x">`) as plain text, the summary first. */
function xmlDocText(text: string): string {
  const summary = /<summary>([\s\S]*?)<\/summary>/.exec(text);
  const rest = summary ? text.replace(summary[0], '').trim() : '';
  const ordered = summary ? (rest ? `${summary[1].trim()}\n\n${rest}` : summary[1].trim()) : text;
  const out: string[] = [];
  for (const line of ordered.split('\n')) {
    const plain = line
      .replace(/<(?:see|seealso|paramref|typeparamref)\s+(?:cref|name|langword)="([^"]*)"\s*\/>/g, '$1')
      .replace(/<param\s+name="([^"]*)">/g, '@param $1 ')
      .replace(/<returns>/g, '@returns ')
      .replace(/<\/?[a-zA-Z][^>]*>/g, '');
    if (plain.trim() || !line.trim()) out.push(plain); // a line that held only tags goes
  }
  return out.join('\n');
}

/** Inline tags of Javadoc/JSDoc/PHPDoc (`{@link X}`, `{@code x}`), HTML tags, Doxygen's `@brief`/`\file`. */
function docMarkup(text: string): string {
  return text
    .replace(/\{@\w+\s+([^}]*)\}/g, '$1')
    .replace(/<\/?(?:p|code|b|i|em|strong|tt|br|ul|ol|li|pre)\s*\/?>/gi, '')
    .replace(/^[@\\](?:file|defgroup|addtogroup|ingroup|package)\b.*$/gm, '')
    .replace(/^[@\\](?:brief|short|summary)\s+/gm, '');
}

/** A doc comment (one or more comment nodes) as its first sentence and its whole cleaned text. */
function docOf(texts: string[], language: string): { doc: string; fullDoc: string } {
  if (texts.length === 0) return { doc: '', fullDoc: '' };
  let text = dedent(texts.flatMap(commentLines)).join('\n');
  if (language === 'csharp') text = xmlDocText(text);
  if (language !== 'ruby' && language !== 'bash') text = docMarkup(text);
  const lines = dedent(text.split('\n').filter((l) => !isDecoration(l))).filter((l, i, all) => l.trim() || (i > 0 && all[i - 1].trim()));
  // The description: its first paragraph, up to the tags (`@param`, `@deprecated`, `\return`).
  const start = lines.findIndex((l) => l.trim());
  const end = lines.findIndex((l, i) => i > start && (!l.trim() || /^\s*[@\\]\w/.test(l)));
  const first = start < 0 || /^\s*[@\\]\w/.test(lines[start]) ? [] : lines.slice(start, end < 0 ? undefined : end);
  return { doc: sentence(first.map((l) => l.trim())), fullDoc: cap(lines.join('\n'), FULL_DOC_CHARS) };
}

/** README decoration at the top of crate docs: a line of badges (`[![crates-io]](https://...)&ensp;`), a
 * Markdown link definition (`[docs-rs]: https://...`), a `<br>`. */
function isDecoration(line: string): boolean {
  if (/^\s*\[[^\]]+\]:\s*\S+\s*$/.test(line)) return true;
  const rest = line
    .replace(/\[?!\[[^\]]*\](?:\([^)]*\)|\[[^\]]*\])?\]?(?:\([^)]*\))?/g, '')
    .replace(/&\w+;|<br\s*\/?>/g, '')
    .trim();
  return rest === '' && line.trim() !== '';
}

/** A Python docstring's text (prefix and quotes removed, dedented as inspect.cleandoc does). */
function docstringText(raw: string): string {
  const body = raw.replace(/^[rbuRBUfF]*("""|'''|"|')/, '').replace(/("""|'''|"|')$/, '');
  const [head, ...tail] = body.replace(/\r/g, '').split('\n');
  const indents = tail.filter((l) => l.trim()).map((l) => /^\s*/.exec(l)![0].length);
  const min = indents.length ? Math.min(...indents) : 0;
  return cap(dedent([head.trim(), ...tail.map((l) => l.slice(min))]).join('\n'), FULL_DOC_CHARS);
}

// ---------------------------------------------------------------------------------------------------------
// Signatures

/** Source text from..to as one line: whitespace collapsed, none inside brackets' edges, capped. */
function oneLine(content: string, from: number, to: number): string {
  const s = content
    .slice(from, to)
    .replace(/\s+/g, ' ')
    .replace(/([([]) /g, '$1')
    .replace(/ ([)\]])/g, '$1')
    .trim();
  return cap(s, SIGNATURE_CHARS);
}

/** The end of a header without a body node: the first `{` or `;` or line end outside brackets. */
function headerEnd(content: string, from: number, to: number): number {
  let depth = 0;
  for (let i = from; i < to; i++) {
    const c = content[i];
    if (c === '(' || c === '[') depth++;
    else if (c === ')' || c === ']') depth = Math.max(0, depth - 1);
    else if (depth === 0 && (c === '{' || c === ';' || c === '\n')) return i;
  }
  return to;
}

const ANNOTATIONS = new Set([
  'decorator',
  'annotation',
  'marker_annotation',
  'attribute_list',
  'attribute_item',
  'attribute',
  'comment',
  'line_comment',
  'block_comment',
]);

/** Where the header starts: past leading annotations/attributes (also inside Java's `modifiers`). */
function headerStart(n: Node): number {
  for (const c of n.children) {
    if (!c || ANNOTATIONS.has(c.type)) continue;
    if (c.type === 'modifiers') {
      const kept = c.children.find((m) => m && !ANNOTATIONS.has(m.type));
      if (kept) return kept.startIndex;
      continue;
    }
    return c.startIndex;
  }
  return n.startIndex;
}

function signatureOf(content: string, from: number, n: Node, body: Node | null): string {
  const to = body && body.startIndex >= from ? body.startIndex : headerEnd(content, from, n.endIndex);
  return oneLine(content, from, to).replace(/\s*\{$/, '');
}

/** Last line of a node, 1-based (a node ending at column 0 ends on the line before). */
function lastLine(n: Node): number {
  const end = n.endPosition;
  return end.column === 0 && end.row > n.startPosition.row ? end.row : end.row + 1;
}

// ---------------------------------------------------------------------------------------------------------
// Python and JavaScript/TypeScript: the definitions the recipe's corpus was built with.

function pyDocNode(body: Node | null): Node | null {
  const first = body?.namedChildren[0];
  return first?.type === 'expression_statement' && first.namedChildren[0]?.type === 'string' ? first.namedChildren[0] : null;
}

function jsDocNode(node: Node): Node | null {
  let prev = node.previousNamedSibling;
  // `export function f` : the comment sits before the export statement.
  if (node.parent?.type === 'export_statement') prev = node.parent.previousNamedSibling;
  if (prev?.type === 'comment' && prev.text.startsWith('/**') && prev.endPosition.row >= node.startPosition.row - 1) return prev;
  return null;
}

function paramNames(params: Node | null): string[] {
  if (!params) return [];
  const names: string[] = [];
  for (const p of params.namedChildren) {
    if (!p || p.type === 'comment') continue;
    const id =
      p.type === 'identifier'
        ? p
        : (p.childForFieldName('name') ??
          p.childForFieldName('pattern') ??
          p.childForFieldName('left') ??
          p.namedChildren.find((c) => c?.type === 'identifier') ??
          null);
    const name = (id ?? p).text.replace(/^\*+/, '').split(/[:=]/)[0].trim();
    if (name && name !== 'self' && name !== 'cls' && /^[\w$.]+$/.test(name)) names.push(name);
  }
  return names;
}

function pythonFacts(root: Node, content: string): FileFacts {
  const defs: Def[] = [];
  const moduleNode = pyDocNode(root);
  for (const n of root.descendantsOfType(['function_definition', 'class_definition'])) {
    if (!n) continue;
    const name = n.childForFieldName('name')?.text ?? '';
    const cls =
      n.parent?.parent?.type === 'class_definition'
        ? n.parent.parent
        : n.parent?.parent?.parent?.type === 'class_definition'
          ? n.parent.parent.parent
          : null;
    const start = n.parent?.type === 'decorated_definition' ? n.parent : n;
    const body = n.childForFieldName('body');
    const docNode = pyDocNode(body);
    defs.push({
      name,
      line: start.startPosition.row + 1,
      endLine: lastLine(n),
      kind: n.type === 'class_definition' ? 'class' : cls ? 'method' : 'function',
      params: paramNames(n.childForFieldName('parameters')),
      doc: docNode ? firstSentence(docNode.text) : '',
      fullDoc: docNode ? docstringText(docNode.text) : '',
      signature: signatureOf(content, n.startIndex, n, body).replace(/\s*:$/, ''),
      parent: cls?.childForFieldName('name')?.text ?? '',
    });
  }
  return {
    defs,
    moduleDoc: moduleNode ? firstSentence(moduleNode.text) : '',
    moduleFullDoc: moduleNode ? docstringText(moduleNode.text) : '',
  };
}

function jsFacts(root: Node, content: string, language: string): FileFacts {
  const defs: Def[] = [];
  const first = root.namedChildren[0];
  const moduleNode = first?.type === 'comment' ? first : null;
  for (const n of root.descendantsOfType(['function_declaration', 'class_declaration', 'method_definition', 'variable_declarator'])) {
    if (!n) continue;
    let target: Node = n;
    if (n.type === 'variable_declarator') {
      const value = n.childForFieldName('value');
      if (!value || !['arrow_function', 'function_expression', 'function'].includes(value.type)) continue;
      if (n.parent?.parent !== root && n.parent?.parent?.type !== 'export_statement') continue; // top level only
      target = value;
    }
    const name = n.childForFieldName('name')?.text ?? '';
    if (!/^[\w$]+$/.test(name) || name === 'constructor') continue;
    const cls = n.type === 'method_definition' ? n.parent?.parent : null;
    const docNode = jsDocNode(n.type === 'variable_declarator' ? (n.parent ?? n) : n);
    const declaration = n.type === 'variable_declarator' ? (n.parent ?? n) : n;
    const sigStart = declaration.parent?.type === 'export_statement' ? declaration.parent : declaration;
    defs.push({
      name,
      line: n.startPosition.row + 1,
      endLine: lastLine(n),
      kind: n.type === 'class_declaration' ? 'class' : n.type === 'method_definition' ? 'method' : 'function',
      params: paramNames(target.childForFieldName('parameters')),
      doc: docNode ? firstSentence(docNode.text) : '',
      fullDoc: docNode ? docOf([docNode.text], language).fullDoc : '',
      signature: signatureOf(content, headerStart(sigStart), target, target.childForFieldName('body')),
      parent: cls?.childForFieldName('name')?.text ?? '',
    });
  }
  return {
    defs,
    moduleDoc: moduleNode ? firstSentence(moduleNode.text) : '',
    moduleFullDoc: moduleNode ? docOf([moduleNode.text], language).fullDoc : '',
  };
}

// ---------------------------------------------------------------------------------------------------------
// The other languages: a table of definition node types per language.

interface DefRule {
  /** The kind, or null to skip this node (e.g. a struct specifier without a body is a use, not a definition). */
  kind: DefKind | ((n: Node) => DefKind | null);
  /** The name node(s); default: the `name` field. */
  names?: (n: Node) => (Node | null)[];
  /** The body (the header ends where it starts); default: the `body` field. */
  body?: (n: Node) => Node | null;
  /** The parameter list; default: the `parameters` field. */
  params?: (n: Node) => Node | null;
  /** The enclosing type for methods defined outside it (Go receivers, C++ `A::f`). */
  owner?: (n: Node) => string;
  /** Only outside functions (Go's package-level constants, not a function's). */
  topLevel?: boolean;
}

interface LangSpec {
  rules: Record<string, DefRule>;
  /** Node types that make the functions inside them methods, with the name they give (default: the `name` field). */
  containers: Record<string, ((n: Node) => string) | null>;
  /** Nodes a definition sits in whose doc comment and first line are the definition's (`template <...>`, Go's `type X ...`). */
  wrappers?: string[];
  /** Node types written on the lines right above a definition and belonging to it (Rust's `#[derive]`). */
  attributes?: string[];
  /** Whether a comment directly above a definition is part of its doc comment. */
  isDoc: (text: string) => boolean;
  /** The file's doc comment: the comment nodes it is made of. */
  moduleDoc: (root: Node, scan: Scan) => Node[];
  /** Whether a name is kept (identifiers only: no operators, destructors, constructors). */
  nameOk?: RegExp;
}

/** What the module-doc finders get: the comments by last line, and the definitions' first lines. */
interface Scan {
  content: string;
  commentsEndingAt: Map<number, Node>;
  defRows: Set<number>;
}

const IDENT = /^[\p{L}_$][\p{L}\p{N}_$]*$/u;
/** A license header (not a doc comment that merely mentions a license). */
const isLicense = (text: string) =>
  /copyright\s*(\(c\)|©|\d)|spdx-license-identifier|all rights reserved|permission is hereby granted|licensed under|under the terms of/i.test(
    text,
  );

const field = (name: string) => (n: Node) => n.childForFieldName(name);
const nameText = (n: Node | null): string => n?.childForFieldName('name')?.text ?? '';

/** The identifier a C/C++ declarator declares (through pointers, references, function declarators, parentheses). */
function declaredName(n: Node | null): Node | null {
  for (let depth = 0; n && depth < 8; depth++) {
    if (
      [
        'identifier',
        'field_identifier',
        'type_identifier',
        'qualified_identifier',
        'destructor_name',
        'operator_name',
        'template_function',
      ].includes(n.type)
    )
      return n;
    n =
      n.childForFieldName('declarator') ??
      n.namedChildren.find((c) => c && c.type !== 'parameter_list' && c.type !== 'type_qualifier') ??
      null;
  }
  return null;
}

/** `A::b` → its last part; a template's name without arguments. */
function lastPart(n: Node | null): Node | null {
  while (
    n &&
    (n.type === 'qualified_identifier' || n.type === 'template_function' || n.type === 'scoped_identifier' || n.type === 'scope_resolution')
  )
    n = n.childForFieldName('name');
  return n;
}

/** The type a Go receiver names: `(c *Command)` → Command, `(l List[T])` → List. */
function goReceiver(n: Node): string {
  const recv = n.childForFieldName('receiver')?.namedChildren.find((c) => c?.type === 'parameter_declaration');
  const t = recv?.childForFieldName('type')?.text ?? '';
  return t.replace(/^\*/, '').replace(/\[.*$/, '');
}

/** A Rust `impl` block's type: `impl<T> fmt::Display for Wrapper<T>` → Wrapper. */
function rustImplType(n: Node): string {
  const t = n.childForFieldName('type');
  const base = t?.type === 'generic_type' ? t.childForFieldName('type') : t;
  return (base?.type === 'scoped_type_identifier' ? base.childForFieldName('name') : base)?.text ?? '';
}

/** Comments directly above the first code of the file, after a `<?php`/shebang/magic comments, as blocks. */
function topBlocks(root: Node, skip: (text: string) => boolean): Node[][] {
  const blocks: Node[][] = [];
  let block: Node[] = [];
  let lastRow = -2;
  for (const c of root.namedChildren) {
    if (!c) continue;
    if (c.type === 'php_tag' || c.type === 'text') continue;
    if (!COMMENT_TYPES.has(c.type)) break;
    if (skip(c.text)) continue;
    if (c.startPosition.row > lastRow + 1 && block.length) {
      blocks.push(block);
      block = [];
    }
    block.push(c);
    lastRow = lastLine(c) - 1;
  }
  if (block.length) blocks.push(block);
  return blocks;
}

/** The first file-top comment block that is not a license; `attached`: also one directly above a definition. */
function fileComment(root: Node, scan: Scan, o: { attached: boolean; skip?: (text: string) => boolean }): Node[] {
  for (const block of topBlocks(root, o.skip ?? (() => false))) {
    const text = block.map((c) => c.text).join('\n');
    if (isLicense(text)) continue;
    const next = lastLine(block[block.length - 1]); // 0-based row after the block
    if (!o.attached && scan.defRows.has(next) && !/[@\\]file\b/.test(text)) continue;
    return block;
  }
  return [];
}

/** A file-top doc comment, else the doc comment of the file's first documented type (Java/C#/Ruby: a file is its class). */
function firstTypeDoc(types: string[], isDoc: (text: string) => boolean, top: (root: Node, scan: Scan) => Node[]) {
  return (root: Node, scan: Scan): Node[] => {
    const own = top(root, scan);
    if (own.length) return own;
    for (const t of root.descendantsOfType(types)) {
      const docs = t ? commentsAbove(t.startPosition.row, scan, isDoc) : [];
      if (docs.length) return docs;
    }
    return [];
  };
}

/** The comments right above a 0-based row, one per line or block, none separated by a blank line. */
function commentsAbove(row: number, scan: Scan, isDoc: (text: string) => boolean): Node[] {
  const out: Node[] = [];
  for (let r = row - 1; r >= 0;) {
    const c = scan.commentsEndingAt.get(r);
    if (!c || !startsLine(scan.content, c)) break;
    if (isDoc(c.text)) out.unshift(c);
    else if (!isDirective(c.text)) break;
    r = c.startPosition.row - 1;
  }
  return out;
}

/** Tool directives (`//go:generate`, `// nolint`, `# rubocop:disable`) sit among doc comments without being part of them. */
function isDirective(text: string): boolean {
  return /^(\/\/(go:|line |nolint|\s*\+build)|#\s*(rubocop:|frozen_string_literal|typed:|encoding:|-\*-))/.test(text);
}

/** Whether only whitespace precedes a comment on its line (not a trailing comment of the code before it). */
function startsLine(content: string, c: Node): boolean {
  const lineStart = content.lastIndexOf('\n', c.startIndex - 1) + 1;
  return content.slice(lineStart, c.startIndex).trim() === '';
}

const COMMENT_TYPES = new Set(['comment', 'line_comment', 'block_comment']);

/** A file-top `/** ... *\/` comment not attached to a definition (Java's package-info, a C# file header). */
function javadocTop(root: Node, scan: Scan): Node[] {
  const top = fileComment(root, scan, { attached: false });
  return top.length && top[0].text.startsWith('/**') ? top : [];
}

const anyDoc = (text: string) => !isDirective(text) && !isLicense(text);
const hashDoc = (text: string) => text.startsWith('#') && !text.startsWith('#!') && !isDirective(text) && !isLicense(text);

const cFunction: DefRule = {
  kind: 'function',
  names: (n) => [lastPart(declaredName(n.childForFieldName('declarator')))],
  params: (n) => {
    let d = n.childForFieldName('declarator');
    while (d && d.type !== 'function_declarator') d = d.childForFieldName('declarator');
    return d?.childForFieldName('parameters') ?? null;
  },
  owner: (n) => {
    const d = declaredName(n.childForFieldName('declarator'));
    const scope = d?.type === 'qualified_identifier' ? d.childForFieldName('scope') : null;
    return scope ? (lastPart(scope)?.text ?? scope.text).replace(/<.*$/, '') : '';
  },
};
const withBody = (kind: DefKind) => (n: Node) => (n.childForFieldName('body') && n.childForFieldName('name') ? kind : null);
const cRules: Record<string, DefRule> = {
  function_definition: cFunction,
  struct_specifier: { kind: withBody('struct') },
  union_specifier: { kind: withBody('struct') },
  enum_specifier: { kind: withBody('enum') },
  type_definition: { kind: 'type', names: (n) => [declaredName(n.childForFieldName('declarator'))], body: () => null },
  preproc_function_def: { kind: 'macro', body: field('value') },
  preproc_def: { kind: (n) => (n.childForFieldName('value') ? 'constant' : null), body: () => null },
};

const LANGS: Record<string, LangSpec> = {
  go: {
    rules: {
      function_declaration: { kind: 'function' },
      method_declaration: { kind: 'method', owner: goReceiver },
      // The header ends at the type's `{` (headerEnd): `type Command struct`, `type Runner interface`.
      type_spec: {
        kind: (n) =>
          (({ struct_type: 'struct', interface_type: 'interface' }) as Record<string, DefKind>)[n.childForFieldName('type')?.type ?? ''] ??
          'type',
        body: () => null,
      },
      type_alias: { kind: 'type', body: () => null },
      method_elem: { kind: 'function', body: () => null },
      const_spec: { kind: 'constant', topLevel: true, names: (n) => n.childrenForFieldName('name'), body: () => null },
    },
    containers: { type_spec: (n) => nameText(n) },
    wrappers: ['type_declaration', 'const_declaration'],
    isDoc: anyDoc,
    moduleDoc: (root, scan) => {
      const pkg = root.namedChildren.find((c) => c?.type === 'package_clause');
      return pkg ? commentsAbove(pkg.startPosition.row, scan, anyDoc) : [];
    },
  },
  ruby: {
    rules: {
      // Headers end at their line's end (headerEnd): a class's doc comments may sit before its body node.
      class: { kind: 'class', names: (n) => [lastPart(n.childForFieldName('name'))], body: () => null },
      module: { kind: 'module', names: (n) => [lastPart(n.childForFieldName('name'))], body: () => null },
      method: { kind: 'function', body: () => null },
      singleton_method: { kind: 'method', body: () => null },
    },
    containers: { class: (n) => n.childForFieldName('name')?.text ?? '', module: (n) => n.childForFieldName('name')?.text ?? '' },
    isDoc: hashDoc,
    nameOk: /^(?!initialize$)[\p{L}_][\p{L}\p{N}_]*[?!]?$/u, // `initialize` is the constructor: the class answers "where is X"
    moduleDoc: firstTypeDoc(['class', 'module'], hashDoc, (root, scan) =>
      fileComment(root, scan, { attached: true, skip: (t) => t.startsWith('#!') || isDirective(t) }),
    ),
  },
  rust: {
    rules: {
      function_item: { kind: 'function' },
      function_signature_item: { kind: 'function' },
      struct_item: { kind: 'struct' },
      union_item: { kind: 'struct' },
      enum_item: { kind: 'enum' },
      trait_item: { kind: 'trait' },
      type_item: { kind: 'type', body: () => null },
      const_item: { kind: 'constant', body: () => null },
      static_item: { kind: 'constant', body: () => null },
      mod_item: { kind: withBody('module') },
      macro_definition: { kind: 'macro', body: () => null },
    },
    containers: { impl_item: rustImplType, trait_item: (n) => nameText(n) },
    attributes: ['attribute_item'],
    isDoc: (t) => (t.startsWith('///') && !t.startsWith('////')) || (t.startsWith('/**') && !t.startsWith('/***') && t !== '/**/'),
    moduleDoc: (root) => {
      const out: Node[] = [];
      for (const c of root.namedChildren) {
        if (!c || !COMMENT_TYPES.has(c.type)) break;
        if (c.text.startsWith('//!') || c.text.startsWith('/*!')) out.push(c);
      }
      return out;
    },
  },
  java: {
    rules: {
      class_declaration: { kind: 'class' },
      record_declaration: { kind: 'class' },
      interface_declaration: { kind: 'interface' },
      annotation_type_declaration: { kind: 'interface' },
      enum_declaration: { kind: 'enum' },
      method_declaration: { kind: 'method' },
    },
    containers: {
      class_declaration: null,
      record_declaration: null,
      interface_declaration: null,
      enum_declaration: null,
      annotation_type_declaration: null,
    },
    isDoc: anyDoc,
    moduleDoc: firstTypeDoc(['class_declaration', 'interface_declaration', 'enum_declaration', 'record_declaration'], anyDoc, javadocTop),
  },
  csharp: {
    rules: {
      class_declaration: { kind: 'class' },
      record_declaration: { kind: 'class' },
      struct_declaration: { kind: 'struct' },
      interface_declaration: { kind: 'interface' },
      enum_declaration: { kind: 'enum' },
      delegate_declaration: { kind: 'type', body: () => null },
      method_declaration: { kind: 'method' },
    },
    containers: { class_declaration: null, record_declaration: null, struct_declaration: null, interface_declaration: null },
    isDoc: anyDoc,
    moduleDoc: firstTypeDoc(
      ['class_declaration', 'interface_declaration', 'struct_declaration', 'enum_declaration', 'record_declaration'],
      anyDoc,
      javadocTop,
    ),
  },
  c: {
    rules: cRules,
    containers: {},
    isDoc: anyDoc,
    moduleDoc: (root, scan) => fileComment(root, scan, { attached: false }),
  },
  cpp: {
    rules: {
      ...cRules,
      class_specifier: { kind: withBody('class') },
      alias_declaration: { kind: 'type', body: () => null },
    },
    containers: { class_specifier: (n) => nameText(n), struct_specifier: (n) => nameText(n), union_specifier: (n) => nameText(n) },
    wrappers: ['template_declaration'],
    isDoc: anyDoc,
    moduleDoc: (root, scan) => fileComment(root, scan, { attached: false }),
  },
  php: {
    rules: {
      class_declaration: { kind: 'class' },
      interface_declaration: { kind: 'interface' },
      trait_declaration: { kind: 'trait' },
      enum_declaration: { kind: 'enum' },
      function_definition: { kind: 'function' },
      method_declaration: { kind: 'method' },
    },
    containers: { class_declaration: null, interface_declaration: null, trait_declaration: null, enum_declaration: null },
    isDoc: anyDoc,
    nameOk: /^(?!__)[\p{L}_][\p{L}\p{N}_]*$/u, // magic methods (__construct, __get) are the language's, not the code's
    moduleDoc: (root, scan) => fileComment(root, scan, { attached: false }),
  },
  bash: {
    rules: { function_definition: { kind: 'function', body: () => null } },
    containers: {},
    isDoc: hashDoc,
    nameOk: /^[A-Za-z_][\w:.-]*$/,
    moduleDoc: (root, scan) => fileComment(root, scan, { attached: false, skip: (t) => t.startsWith('#!') }),
  },
};

/** The parameter names of a parameter list (any of the table's languages): receivers and `self` left out. */
function tableParams(list: Node | null): string[] {
  if (!list) return [];
  const names: string[] = [];
  for (const p of list.namedChildren) {
    if (!p || COMMENT_TYPES.has(p.type) || p.type === 'self_parameter' || p.type === 'attribute_item') continue;
    let ids: (Node | null)[];
    if (/identifier$/.test(p.type)) ids = [p];
    else if (p.childrenForFieldName('name').length) ids = p.childrenForFieldName('name');
    else
      ids = [
        p.childForFieldName('pattern') ??
          declaredName(p.childForFieldName('declarator')) ??
          p.descendantsOfType(['identifier', 'variable_name'])[0] ??
          null,
      ];
    for (const id of ids) {
      const name = (id?.type === 'variable_name' ? id.text.slice(1) : (id?.text ?? '')).replace(/^[*&]+/, '');
      if (name && name !== 'self' && IDENT.test(name)) names.push(name);
    }
  }
  return names;
}

/** A definition, container or wrapper node open around the ones after it in document order. */
interface Open {
  node: Node;
  /** Containers: the name their methods get. */
  container?: string;
  wrapper?: boolean;
  /** A function or method (what a `topLevel` rule must not be inside). */
  callable?: boolean;
}

function tableFacts(root: Node, content: string, language: string, spec: LangSpec): FileFacts {
  const commentsEndingAt = new Map<number, Node>();
  for (const c of root.descendantsOfType([...COMMENT_TYPES])) if (c) commentsEndingAt.set(lastLine(c) - 1, c);
  const attributesEndingAt = new Map<number, Node>();
  if (spec.attributes) for (const a of root.descendantsOfType(spec.attributes)) if (a) attributesEndingAt.set(lastLine(a) - 1, a);
  const scan: Scan = { content, commentsEndingAt, defRows: new Set() };
  const defs: Def[] = [];
  const nameOk = spec.nameOk ?? IDENT;
  const wrappers = new Set(spec.wrappers ?? []);
  // One pass over the definitions, containers and wrappers in document order, with the ones still open
  // around the current node on a stack: enclosing names come from the stack, not from Node.parent
  // (which tree-sitter finds by walking down from the root, quadratic over a file's definitions).
  const types = [...new Set([...Object.keys(spec.rules), ...Object.keys(spec.containers), ...wrappers])];
  const open: Open[] = [];
  for (const n of root.descendantsOfType(types)) {
    if (!n || n.endIndex <= n.startIndex) continue;
    while (open.length && open[open.length - 1].node.endIndex <= n.startIndex) open.pop();
    const entry: Open = { node: n };
    if (n.type in spec.containers) entry.container = (spec.containers[n.type] ?? nameText)(n);
    if (wrappers.has(n.type)) entry.wrapper = true;
    const rule = spec.rules[n.type];
    const kind0 = rule ? (typeof rule.kind === 'function' ? rule.kind(n) : rule.kind) : null;
    if (kind0 === 'function' || kind0 === 'method') entry.callable = true;
    const enclosing = [...open];
    open.push(entry);
    if (!rule || !kind0 || (rule.topLevel && enclosing.some((o) => o.callable))) continue;
    // The node the doc comment and the first line belong to: a wrapper holding this definition alone
    // (not a group: Go's `const (` ... `)` has a doc comment per spec), then attributes right above it.
    let outer = n;
    for (let i = enclosing.length - 1; i >= 0 && enclosing[i].wrapper; i--) {
      const w = enclosing[i].node;
      const direct = w.namedChildren.filter((c) => c?.type === outer.type);
      if (direct.length !== 1 || direct[0]!.startIndex !== outer.startIndex || w.children.some((c) => c?.type === '(')) break;
      outer = w;
    }
    let firstRow = outer.startPosition.row;
    for (let a = attributesEndingAt.get(firstRow - 1); a && startsLine(content, a); a = attributesEndingAt.get(firstRow - 1))
      firstRow = a.startPosition.row;
    scan.defRows.add(firstRow);
    const parent = rule.owner?.(n) || ([...enclosing].reverse().find((o) => o.container !== undefined)?.container ?? '');
    const kind: DefKind = kind0 === 'function' && parent ? 'method' : kind0;
    const docs = commentsAbove(firstRow, scan, spec.isDoc).map((c) => c.text);
    const { doc, fullDoc } = docOf(docs, language);
    const body = rule.body ? rule.body(n) : n.childForFieldName('body');
    const signature = signatureOf(content, outer === n ? headerStart(n) : outer.startIndex, n, body);
    const params = tableParams(rule.params ? rule.params(n) : n.childForFieldName('parameters'));
    for (const id of rule.names ? rule.names(n) : [n.childForFieldName('name')]) {
      const name = id?.text ?? '';
      // Constructors are their class's name: one definition, the class, answers "where is X".
      if (!nameOk.test(name) || (name === parent && (kind === 'method' || kind === 'function'))) continue;
      defs.push({ name, line: firstRow + 1, endLine: lastLine(n), kind, params, doc, fullDoc, signature, parent });
    }
  }
  const moduleComments = spec.moduleDoc(root, scan).map((c) => c.text);
  const m = docOf(moduleComments, language);
  return { defs, moduleDoc: m.doc, moduleFullDoc: m.fullDoc };
}

export async function extractFacts(content: string, language: string): Promise<FileFacts> {
  if (!FACT_LANGUAGES.includes(language)) return { defs: [], moduleDoc: '', moduleFullDoc: '' };
  const parser = await parserFor(language);
  const tree = parser.parse(content);
  if (!tree) return { defs: [], moduleDoc: '', moduleFullDoc: '' };
  try {
    const root = tree.rootNode;
    if (language === 'python') return pythonFacts(root, content);
    if (language === 'javascript' || language === 'typescript' || language === 'tsx') return jsFacts(root, content, language);
    return tableFacts(root, content, language, LANGS[language]);
  } finally {
    tree.delete();
  }
}
