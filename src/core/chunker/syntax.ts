// tree-sitter side of the chunker: loads grammars lazily (once each), parses a file, and walks the tree
// with one TreeCursor (iterative: 10,000 nesting levels cost no stack), descending only into nodes too
// big for the budget. Definitions (./rules) are recognised on the nodes the walk visits and by a shallow
// scan inside pieces that may hold them (a small class, an export wrapper), so the cost stays close to
// the parse itself.
//
// Offsets: the file is parsed from its decoded string, so tree-sitter reports UTF-16 code-unit indices;
// the engine converts chunk boundaries to byte offsets (./text).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Language, Parser, type Tree, type TreeCursor } from 'web-tree-sitter';
import { type Def, type Pieces, depthScore, sortDefs } from './engine';
import { GRAMMARS } from './languages';
import { type DefRule, type LanguageRules, RULES } from './rules';

export interface LoadedGrammar {
  language: string;
  parser: Parser;
  rules: LanguageRules;
  /** Node type names by id. */
  names: string[];
  /** Definition rule by node type id (named types only). */
  defRule: (DefRule | undefined)[];
  /** Text pre-test by node type id (see LanguageRules.pre). */
  pre: (RegExp | undefined)[];
  /** By type id: 0 = do not scan inside, 1 = scan, 2 = scan when the parent type is in `scanParents`. */
  scan: Uint8Array;
  scanParents: (Set<number> | undefined)[];
  /** By type id: 1 when a node of that type belongs with the node after it (comments, attributes). */
  glue: Uint8Array;
  comment: Uint8Array;
  containers: Set<string>;
  /** Type id of ERROR nodes. */
  errorId: number;
}

let initOnce: Promise<void> | null = null;
/** tree-sitter's type id of ERROR nodes (ts_builtin_sym_error, (TSSymbol)-1). */
const ERROR_ID = 65535;

/** Absolute path of a grammar's .wasm; works from source (tsx) and from the bundle in dist/. */
export function grammarPath(language: string): string {
  const spec = GRAMMARS[language];
  if (!spec) throw new Error(`no grammar for ${language}`);
  const pkgJson = require.resolve(`${spec.pkg}/package.json`);
  return path.join(path.dirname(pkgJson), spec.file);
}

// Grammars are loaded once per process, whatever the number of chunkers: the parse itself is
// synchronous, so chunkers can share a language's parser.
const loaded = new Map<string, Promise<LoadedGrammar | null>>();
/** Why a grammar failed to load, by language (the language then falls back to line windows). */
export const grammarFailures = new Map<string, string>();

export class SyntaxEngine {
  readonly failures = grammarFailures;

  load(language: string): Promise<LoadedGrammar | null> {
    let p = loaded.get(language);
    if (!p) {
      p = loadGrammar(language).catch((err: unknown) => {
        grammarFailures.set(language, err instanceof Error ? err.message : String(err));
        return null;
      });
      loaded.set(language, p);
    }
    return p;
  }

  /**
   * Cuts the file into pieces along its syntax tree and returns its defs. Synchronous, so a grammar's
   * parser is never shared by two files at once. If parsing yields no tree, cuts nothing (the caller
   * falls back to line windows).
   */
  pieces(g: LoadedGrammar, p: Pieces): Def[] {
    const tree = g.parser.parse(p.src.text);
    if (!tree) return [];
    try {
      return new Walk(g, tree, p).run();
    } finally {
      tree.delete();
    }
  }
}

async function loadGrammar(language: string): Promise<LoadedGrammar | null> {
  if (!GRAMMARS[language]) return null;
  initOnce ??= Parser.init();
  await initOnce;
  const lang = await Language.load(readFileSync(grammarPath(language)));
  const parser = new Parser();
  parser.setLanguage(lang);
  const rules = RULES[language] ?? { defs: {}, scan: {} };
  const count = lang.nodeTypeCount;
  const names: string[] = [];
  const defRule: (DefRule | undefined)[] = [];
  const pre: (RegExp | undefined)[] = [];
  const scan = new Uint8Array(count + 1);
  const scanParents: (Set<number> | undefined)[] = [];
  const glue = new Uint8Array(count + 1);
  const comment = new Uint8Array(count + 1);
  const glueTypes = new Set(rules.glue ?? []);
  const idsByName = new Map<string, number[]>();
  for (let id = 0; id < count; id++) {
    const name = lang.nodeTypeForId(id) ?? '';
    names[id] = name;
    if (!name || !lang.nodeTypeIsNamed(id)) continue;
    const ids = idsByName.get(name);
    if (ids) ids.push(id);
    else idsByName.set(name, [id]);
    if (name.includes('comment')) comment[id] = 1;
    if (comment[id] || glueTypes.has(name)) glue[id] = 1;
    if (Object.hasOwn(rules.defs, name)) defRule[id] = rules.defs[name];
    if (rules.pre && Object.hasOwn(rules.pre, name)) pre[id] = rules.pre[name];
  }
  for (const [type, how] of Object.entries(rules.scan)) {
    for (const id of idsByName.get(type) ?? []) {
      if (how === true) scan[id] = 1;
      else {
        scan[id] = 2;
        scanParents[id] = new Set(how.flatMap((t) => idsByName.get(t) ?? []));
      }
    }
  }
  names[ERROR_ID] = 'ERROR';
  return {
    language,
    parser,
    rules,
    names,
    defRule,
    pre,
    scan,
    scanParents,
    glue,
    comment,
    containers: new Set(rules.containers ?? []),
    errorId: ERROR_ID,
  };
}

/**
 * End of a node extended over the rest of its line and any blank lines after it, when only whitespace
 * follows it on its line: chunks then end at line ends and start at the first line with content.
 */
function snapEnd(text: string, e: number): number {
  const n = text.length;
  let k = e;
  let end = e;
  while (k < n) {
    const c = text.charCodeAt(k);
    if (c === 32 || c === 9 || c === 13) k++;
    else if (c === 10) end = ++k;
    else return end;
  }
  return n;
}

/** Where the next node starts, found without asking tree-sitter: nodes follow their gap of whitespace. */
function firstNonSpace(text: string, k: number): number {
  const n = text.length;
  while (k < n) {
    const c = text.charCodeAt(k);
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return k;
    k++;
  }
  return k;
}

function startsLine(text: string, s: number): boolean {
  let k = s - 1;
  while (k >= 0) {
    const c = text.charCodeAt(k);
    if (c === 10) return true;
    if (c !== 32 && c !== 9 && c !== 13) return false;
    k--;
  }
  return true;
}

class Walk {
  private readonly text: string;
  private readonly cursor: TreeCursor;
  /** Node type id by depth along the cursor's current path. */
  private readonly types: number[] = [];
  private readonly defs: Def[] = [];
  private depth = 0;
  /** Smallest depth on the current path whose node is an ERROR (Infinity: none). */
  private errAt = Infinity;
  private readonly up = (k: number): string | undefined => {
    const d = this.depth - k;
    return d >= 0 ? this.g.names[this.types[d]] : undefined;
  };

  constructor(
    private readonly g: LoadedGrammar,
    tree: Tree,
    private readonly p: Pieces,
  ) {
    this.text = p.src.text;
    this.cursor = tree.walk();
  }

  run(): Def[] {
    try {
      this.walk();
    } finally {
      this.cursor.delete();
    }
    const defs = sortDefs(this.defs);
    for (const d of defs) {
      if (d.kind === 'function' && d.parent >= 0 && this.g.containers.has(defs[d.parent].kind)) d.kind = 'method';
      d.label = `${d.kind} ${d.name}`;
    }
    return defs;
  }

  /** Records the definition at the cursor, if its type has a rule and the rule accepts it. */
  private detect(rule: DefRule, type: number, end: number): void {
    const pre = this.g.pre[type];
    if (pre) {
      const s = this.cursor.startIndex;
      if (!pre.test(this.text.slice(s, Math.min(end, s + 256)))) return;
    }
    const node = this.cursor.currentNode;
    const found = rule(node, this.up);
    if (!found || !found.name) return;
    const nameStart = found.name.startIndex;
    let name = found.display ?? this.text.slice(nameStart, found.name.endIndex);
    if (/\s/.test(name)) name = name.replace(/\s+/g, ' ').trim();
    if (!name) return;
    if (name.length > 100) name = `${name.slice(0, 99)}…`;
    this.defs.push({
      start: node.startIndex,
      end,
      nameStart,
      name,
      kind: found.kind,
      label: '',
      defines: found.defines ?? true,
      parent: -1,
    });
  }

  /** Records the type of the node at the current depth (and whether the path is inside an ERROR). */
  private setType(type: number): void {
    this.types[this.depth] = type;
    if (this.errAt >= this.depth) this.errAt = type === this.g.errorId ? this.depth : Infinity;
  }

  /** Whether to look inside a piece for definitions: by the language's scan rules, or anything in an ERROR. */
  private scannable(type: number): boolean {
    const s = this.g.scan[type];
    return s === 1 || this.errAt <= this.depth || (s === 2 && this.depth > 0 && this.g.scanParents[type]!.has(this.types[this.depth - 1]));
  }

  /** Finds definitions below the cursor's node (a piece), descending only through scannable types. */
  private scanInside(): void {
    const c = this.cursor;
    const d0 = this.depth;
    if (!c.gotoFirstChild()) return;
    this.depth++;
    for (;;) {
      const type = c.nodeTypeId;
      this.setType(type);
      const rule = this.g.defRule[type];
      if (rule) this.detect(rule, type, c.endIndex);
      if (this.scannable(type) && c.gotoFirstChild()) {
        this.depth++;
        continue;
      }
      while (!c.gotoNextSibling()) {
        c.gotoParent();
        this.depth--;
        if (this.depth === d0) return;
      }
    }
  }

  private walk(): void {
    const { g, p, text, cursor: c } = this;
    const n = text.length;
    this.setType(c.nodeTypeId);
    if (p.fits(0, n)) {
      p.cut(n, 0);
      if (this.scannable(this.types[0])) this.scanInside();
      return;
    }
    if (!c.gotoFirstChild()) return;
    this.depth = 1;
    const budget = p.budget.code;
    for (;;) {
      const from = p.last;
      const type = c.nodeTypeId;
      this.setType(type);
      const rule = g.defRule[type];
      const rawEnd = c.endIndex;
      const end = snapEnd(text, rawEnd);
      let cutHere = false;
      let glue = false;
      if (end > from) {
        const t = p.measure(from, end);
        if (rule) this.detect(rule, type, rawEnd);
        // Open nodes over budget; also those over half of it that start mid-line (a function body
        // after its signature), so that the merge finds line-start cuts inside them.
        if ((t > budget || (t > budget >> 1 && !startsLine(text, firstNonSpace(text, from)))) && c.gotoFirstChild()) {
          this.depth++;
          continue;
        }
        if (t <= budget) {
          p.cut(end, 0, t);
          cutHere = true;
          glue = g.glue[type] === 1 && (g.comment[type] === 0 || startsLine(text, c.startIndex));
          if (this.scannable(type)) this.scanInside();
        } else {
          p.lines(end, this.depth + 1);
          cutHere = true;
        }
      } else if (rule) this.detect(rule, type, rawEnd);
      let more = true;
      while (!c.gotoNextSibling()) {
        if (this.depth <= 1 || !c.gotoParent()) {
          more = false;
          break;
        }
        this.depth--;
      }
      if (cutHere) {
        const at = p.last;
        p.rescore(depthScore(this.depth, at === 0 || text.charCodeAt(at - 1) === 10, glue && more));
      }
      if (!more) break;
    }
  }
}
