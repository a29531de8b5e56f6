// Tree-sitter facts: definitions with their line, parameters and doc comment, and a module's doc comment.
// Used by the recipe's data prep (models/recipe/prep) and by `e2code eval` (src/core/eval) to build the
// same questions from the same facts. Uses the same grammars as the product's chunker (src/core/chunker).
import { readFileSync } from 'node:fs';
import { Language, Parser, type Node } from 'web-tree-sitter';
import { grammarPath } from './chunker/syntax';

export interface Def {
  name: string;
  /** 1-based line of the definition (of its first decorator/keyword line). */
  line: number;
  kind: 'function' | 'class' | 'method';
  /** Parameter names, `self`/`cls` left out. */
  params: string[];
  /** First sentence/line of its docstring or doc comment ('' when none). */
  doc: string;
  /** Enclosing class name for methods. */
  parent: string;
}

export interface FileFacts {
  defs: Def[];
  moduleDoc: string;
}

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

/** First meaningful line of a doc text, trimmed to ~160 chars. */
export function firstSentence(raw: string): string {
  const body = raw
    .replace(/^[rbuRBU]*("""|'''|"|')/, '')
    .replace(/("""|'''|"|')$/, '')
    .replace(/^\/\*\*?/, '')
    .replace(/\*\/$/, '')
    .split('\n')
    .map((l) => l.replace(/^\s*\*?\s?/, '').replace(/^\s*\/\/\s?/, '').trim())
    .filter((l) => l && !l.startsWith('@'));
  let text = '';
  for (const l of body) {
    text = text ? `${text} ${l}` : l;
    if (/[.!?]$/.test(l) || text.length > 120) break;
  }
  const dot = text.search(/\.(\s|$)/);
  if (dot > 20) text = text.slice(0, dot + 1);
  return text.length > 160 ? text.slice(0, 157) + '...' : text;
}

function pyDoc(body: Node | null): string {
  const first = body?.namedChildren[0];
  if (first?.type === 'expression_statement' && first.namedChildren[0]?.type === 'string') return firstSentence(first.namedChildren[0].text);
  return '';
}

function jsDoc(node: Node): string {
  let prev = node.previousNamedSibling;
  // `export function f` : the comment sits before the export statement.
  if (!prev && node.parent?.type === 'export_statement') prev = node.parent.previousNamedSibling;
  if (node.parent?.type === 'export_statement') prev = node.parent.previousNamedSibling;
  if (prev?.type === 'comment' && prev.text.startsWith('/**') && prev.endPosition.row >= node.startPosition.row - 1) return firstSentence(prev.text);
  return '';
}

function paramNames(params: Node | null): string[] {
  if (!params) return [];
  const names: string[] = [];
  for (const p of params.namedChildren) {
    if (!p || p.type === 'comment') continue;
    const id = p.type === 'identifier' ? p : (p.childForFieldName('name') ?? p.childForFieldName('pattern') ?? p.childForFieldName('left') ?? p.namedChildren.find((c) => c?.type === 'identifier') ?? null);
    const name = (id ?? p).text.replace(/^\*+/, '').split(/[:=]/)[0].trim();
    if (name && name !== 'self' && name !== 'cls' && /^[\w$.]+$/.test(name)) names.push(name);
  }
  return names;
}

export async function extractFacts(content: string, language: string): Promise<FileFacts> {
  if (language !== 'python' && language !== 'javascript' && language !== 'typescript') return { defs: [], moduleDoc: '' };
  const parser = await parserFor(language);
  const tree = parser.parse(content);
  if (!tree) return { defs: [], moduleDoc: '' };
  const root = tree.rootNode;
  const defs: Def[] = [];
  let moduleDoc = '';
  if (language === 'python') {
    moduleDoc = pyDoc(root);
    for (const n of root.descendantsOfType(['function_definition', 'class_definition'])) {
      if (!n) continue;
      const name = n.childForFieldName('name')?.text ?? '';
      const cls = n.parent?.parent?.type === 'class_definition' ? n.parent.parent : n.parent?.parent?.parent?.type === 'class_definition' ? n.parent.parent.parent : null;
      const start = n.parent?.type === 'decorated_definition' ? n.parent : n;
      defs.push({
        name, line: start.startPosition.row + 1,
        kind: n.type === 'class_definition' ? 'class' : cls ? 'method' : 'function',
        params: paramNames(n.childForFieldName('parameters')), doc: pyDoc(n.childForFieldName('body')),
        parent: cls?.childForFieldName('name')?.text ?? '',
      });
    }
  } else {
    const first = root.namedChildren[0];
    if (first?.type === 'comment') moduleDoc = firstSentence(first.text);
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
      const docNode = n.type === 'variable_declarator' ? (n.parent ?? n) : n;
      defs.push({
        name, line: n.startPosition.row + 1,
        kind: n.type === 'class_declaration' ? 'class' : n.type === 'method_definition' ? 'method' : 'function',
        params: paramNames(target.childForFieldName('parameters')), doc: jsDoc(docNode),
        parent: cls?.childForFieldName('name')?.text ?? '',
      });
    }
  }
  tree.delete();
  return { defs, moduleDoc };
}
