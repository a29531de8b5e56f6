// Per-language rules for what a file defines, applied while the chunker walks the syntax tree (a
// tree-sitter query over the whole tree would cost a third of the parse time on big files; these rules
// only look at nodes the walk visits anyway, plus a shallow scan inside small pieces).
//
// `defs[type]` recognises a definition node and finds its name. `scan[type]` says which node types may
// hold definitions inside a piece that fits the budget (class bodies, export wrappers, namespaces...;
// never function bodies), `true` or the parent types it must sit in. `glue` lists node types that
// belong with the node after them (besides comments). Functions inside a `containers` def become methods.
import type { Node } from 'web-tree-sitter';

export interface Found {
  kind: string;
  name: Node | null;
  /** Name text when not simply the name node's text (e.g. `Trait for Type`). */
  display?: string;
  /** False for things that name no new symbol (a Rust impl). */
  defines?: boolean;
}

/** Type of the k-th ancestor of the node being looked at (1 = parent); undefined past the root. */
export type Up = (k: number) => string | undefined;
export type DefRule = (n: Node, up: Up) => Found | null;

export interface LanguageRules {
  defs: Record<string, DefRule>;
  /**
   * Cheap text tests run before a rule (which costs several calls into tree-sitter): the rule is tried
   * only if the node's first 256 characters match. For rules that usually say no.
   */
  pre?: Record<string, RegExp>;
  scan: Record<string, true | string[]>;
  containers?: string[];
  glue?: string[];
}

const named =
  (kind: string, field = 'name'): DefRule =>
  (n) => {
    const name = n.childForFieldName(field);
    return name ? { kind, name } : null;
  };

const FUNCTION_VALUES = new Set(['arrow_function', 'function_expression', 'function', 'generator_function']);
const JS_TOP = new Set(['program', 'export_statement', 'ambient_declaration']);

/** JS/TS `x = value`: a function or class by its value, or a top-level variable. */
const jsDeclarator: DefRule = (n, up) => {
  const name = n.childForFieldName('name');
  if (!name || name.type !== 'identifier') return null;
  const value = n.childForFieldName('value');
  const vt = value?.type;
  if (vt && FUNCTION_VALUES.has(vt)) return { kind: 'function', name };
  if (vt === 'class') return { kind: 'class', name };
  // declarator < lexical/variable_declaration < program | export_statement < program
  const p2 = up(2);
  if (p2 === 'program' || (p2 !== undefined && JS_TOP.has(p2) && up(3) === 'program')) return { kind: 'variable', name };
  return null;
};

/** `a.b = function () {}` */
const jsAssignment: DefRule = (n) => {
  const right = n.childForFieldName('right');
  if (!right || !FUNCTION_VALUES.has(right.type)) return null;
  const left = n.childForFieldName('left');
  if (!left || left.type !== 'member_expression') return null;
  const prop = left.childForFieldName('property');
  return prop ? { kind: 'function', name: prop } : null;
};

/** `{ key: function () {} }` and class fields holding functions. */
const jsFunctionValued =
  (kind: string, keyField: string): DefRule =>
  (n) => {
    const value = n.childForFieldName('value');
    if (!value || !FUNCTION_VALUES.has(value.type)) return null;
    const key = n.childForFieldName(keyField);
    return key ? { kind, name: key } : null;
  };

const JS_DEFS: Record<string, DefRule> = {
  function_declaration: named('function'),
  generator_function_declaration: named('function'),
  class_declaration: named('class'),
  class: named('class'),
  method_definition: named('method'),
  variable_declarator: jsDeclarator,
  assignment_expression: jsAssignment,
  pair: jsFunctionValued('method', 'key'),
  field_definition: jsFunctionValued('method', 'property'),
};

// Declarations and expression statements are looked into only at the top level (not inside function
// bodies, where scanning every local `const` would cost more than it finds).
const JS_TOP_PARENTS = ['program', 'export_statement', 'ambient_declaration'];
const JS_SCAN: Record<string, true | string[]> = {
  program: true,
  export_statement: true,
  lexical_declaration: JS_TOP_PARENTS,
  variable_declaration: JS_TOP_PARENTS,
  variable_declarator: true,
  class_declaration: true,
  class: true,
  class_body: true,
  expression_statement: ['program'],
  assignment_expression: true,
  object: true,
  pair: true,
};

/** Function-valued pairs, assignments and fields: only worth a look when `function`, `=>` or `class` shows. */
const FUNCTION_TEXT = /function|=>|class/;
const JS_PRE: Record<string, RegExp> = {
  pair: FUNCTION_TEXT,
  assignment_expression: FUNCTION_TEXT,
  field_definition: FUNCTION_TEXT,
  public_field_definition: FUNCTION_TEXT,
};

const TS_DEFS: Record<string, DefRule> = {
  ...JS_DEFS,
  function_signature: named('function'),
  abstract_class_declaration: named('class'),
  method_signature: named('method'),
  abstract_method_signature: named('method'),
  interface_declaration: named('interface'),
  type_alias_declaration: named('type'),
  enum_declaration: named('enum'),
  internal_module: named('namespace'),
  module: named('module'),
  public_field_definition: jsFunctionValued('method', 'name'),
};
delete TS_DEFS.field_definition;

const TS_SCAN: Record<string, true | string[]> = {
  ...JS_SCAN,
  abstract_class_declaration: true,
  interface_declaration: true,
  interface_body: true,
  object_type: ['interface_declaration'],
  internal_module: true,
  module: true,
  ambient_declaration: true,
  statement_block: ['internal_module', 'module'],
};

/** C/C++: the name inside nested declarators (`*f(...)`, `&g(...)`). */
function declaratorName(n: Node | null): Node | null {
  for (let k = 0; n && k < 8; k++) {
    if (n.type === 'function_declarator') return n.childForFieldName('declarator');
    // reference_declarator holds its declarator without a field name
    const next = n.childForFieldName('declarator') ?? n.namedChildren.find((c) => c?.type.endsWith('declarator')) ?? null;
    if (!next) return null;
    n = next;
  }
  return null;
}

const cFunction: DefRule = (n) => {
  const name = declaratorName(n.childForFieldName('declarator'));
  return name ? { kind: 'function', name } : null;
};

const withBody =
  (kind: string): DefRule =>
  (n) => {
    const name = n.childForFieldName('name');
    return name && n.childForFieldName('body') ? { kind, name } : null;
  };

const cTypedef: DefRule = (n) => {
  let d = n.childForFieldName('declarator');
  for (let k = 0; d && d.type !== 'type_identifier' && k < 4; k++) d = d.childForFieldName('declarator');
  return d && d.type === 'type_identifier' ? { kind: 'type', name: d } : null;
};

/** Top-level `int x = 1;` (not prototypes). */
const cTopDeclaration: DefRule = (n, up) => {
  if (up(1) !== 'translation_unit') return null;
  let d = n.childForFieldName('declarator');
  for (let k = 0; d && d.type !== 'identifier' && k < 4; k++) {
    if (d.type === 'function_declarator') return null;
    d = d.childForFieldName('declarator');
  }
  return d && d.type === 'identifier' ? { kind: 'variable', name: d } : null;
};

const C_DEFS: Record<string, DefRule> = {
  function_definition: cFunction,
  struct_specifier: withBody('struct'),
  union_specifier: withBody('struct'),
  enum_specifier: withBody('enum'),
  type_definition: cTypedef,
  preproc_def: named('macro'),
  preproc_function_def: named('macro'),
  declaration: cTopDeclaration,
};

const C_SCAN: Record<string, true | string[]> = {
  translation_unit: true,
  type_definition: true,
  declaration: ['translation_unit'],
  preproc_if: true,
  preproc_ifdef: true,
  preproc_else: true,
  preproc_elif: true,
  linkage_specification: true,
  declaration_list: true,
};

const CPP_DEFS: Record<string, DefRule> = {
  ...C_DEFS,
  class_specifier: withBody('class'),
  namespace_definition: named('namespace'),
  alias_declaration: named('type'),
  concept_definition: named('type'),
};

const CPP_SCAN: Record<string, true | string[]> = {
  ...C_SCAN,
  namespace_definition: true,
  template_declaration: true,
  class_specifier: true,
  struct_specifier: true,
  field_declaration_list: true,
};

const javaField: DefRule = (n) => {
  const d = n.childForFieldName('declarator');
  const name = d?.childForFieldName('name') ?? null;
  return name ? { kind: 'field', name } : null;
};

const csharpField: DefRule = (n) => {
  const decl = n.namedChildren.find((c) => c?.type === 'variable_declaration');
  const first = decl?.namedChildren.find((c) => c?.type === 'variable_declarator');
  const name = first?.childForFieldName('name') ?? null;
  return name ? { kind: 'field', name } : null;
};

const rustImpl: DefRule = (n) => {
  const type = n.childForFieldName('type');
  if (!type) return null;
  const trait = n.childForFieldName('trait');
  const typeText = type.text;
  return { kind: 'impl', name: type, display: trait ? `${trait.text} for ${typeText}` : typeText, defines: false };
};

const pythonAssignment: DefRule = (n, up) => {
  if (up(1) !== 'expression_statement' || up(2) !== 'module') return null;
  const left = n.childForFieldName('left');
  return left && left.type === 'identifier' ? { kind: 'variable', name: left } : null;
};

const goTypeSpec: DefRule = (n) => {
  const name = n.childForFieldName('name');
  if (!name) return null;
  const t = n.childForFieldName('type')?.type;
  return { kind: t === 'struct_type' ? 'struct' : t === 'interface_type' ? 'interface' : 'type', name };
};

const goTopSpec =
  (kind: string, decl: string): DefRule =>
  (n, up) =>
    up(1) === decl && up(2) === 'source_file' ? named(kind)(n, up) : null;

const rubyConstant: DefRule = (n, up) => {
  const p1 = up(1);
  if (p1 !== 'program' && !(p1 === 'body_statement' && (up(2) === 'class' || up(2) === 'module'))) return null;
  const left = n.childForFieldName('left');
  return left && left.type === 'constant' ? { kind: 'constant', name: left } : null;
};

const childOfType =
  (kind: string, type: string): DefRule =>
  (n) => {
    const name = n.namedChildren.find((c) => c?.type === type) ?? null;
    return name ? { kind, name } : null;
  };

const cssRule: DefRule = (n, up) => {
  const p1 = up(1);
  if (p1 !== 'stylesheet' && !(p1 === 'block' && (up(2) === 'media_statement' || up(2) === 'supports_statement'))) return null;
  return childOfType('rule', 'selectors')(n, up);
};

const jsonPair: DefRule = (n, up) => {
  const key = n.childForFieldName('key');
  const content = key?.namedChildren.find((c) => c?.type === 'string_content') ?? null;
  if (!content) return null;
  const vt = n.childForFieldName('value')?.type;
  if (vt === 'object' || vt === 'array' || up(2) === 'document') return { kind: 'key', name: content };
  return null;
};

const yamlPair: DefRule = (n, up) => {
  const key = n.childForFieldName('key');
  if (!key) return null;
  const vt = n.childForFieldName('value')?.type;
  if (vt === 'block_node' || (up(2) === 'block_node' && up(3) === 'document')) return { kind: 'key', name: key };
  return null;
};

export const RULES: Record<string, LanguageRules> = {
  javascript: { defs: JS_DEFS, pre: JS_PRE, scan: JS_SCAN, containers: ['class'] },
  typescript: { defs: TS_DEFS, pre: JS_PRE, scan: TS_SCAN, containers: ['class', 'interface'], glue: ['decorator'] },
  tsx: { defs: TS_DEFS, pre: JS_PRE, scan: TS_SCAN, containers: ['class', 'interface'], glue: ['decorator'] },
  python: {
    defs: { function_definition: named('function'), class_definition: named('class'), assignment: pythonAssignment },
    scan: {
      module: true,
      decorated_definition: true,
      class_definition: true,
      block: ['class_definition'],
      expression_statement: ['module'],
    },
    containers: ['class'],
    glue: ['decorator'],
  },
  go: {
    defs: {
      function_declaration: named('function'),
      method_declaration: named('method'),
      type_spec: goTypeSpec,
      type_alias: named('type'),
      const_spec: goTopSpec('constant', 'const_declaration'),
      var_spec: goTopSpec('variable', 'var_declaration'),
    },
    scan: { source_file: true, type_declaration: true, const_declaration: true, var_declaration: true },
  },
  rust: {
    defs: {
      function_item: named('function'),
      function_signature_item: named('function'),
      struct_item: named('struct'),
      union_item: named('struct'),
      enum_item: named('enum'),
      trait_item: named('trait'),
      impl_item: rustImpl,
      mod_item: named('module'),
      type_item: named('type'),
      const_item: named('constant'),
      static_item: named('variable'),
      macro_definition: named('macro'),
    },
    scan: { source_file: true, impl_item: true, trait_item: true, mod_item: true, declaration_list: true },
    containers: ['impl', 'trait'],
    glue: ['attribute_item'],
  },
  java: {
    defs: {
      class_declaration: named('class'),
      interface_declaration: named('interface'),
      annotation_type_declaration: named('interface'),
      enum_declaration: named('enum'),
      record_declaration: named('record'),
      method_declaration: named('method'),
      constructor_declaration: named('constructor'),
      compact_constructor_declaration: named('constructor'),
      field_declaration: javaField,
    },
    scan: {
      program: true,
      class_declaration: true,
      class_body: true,
      interface_declaration: true,
      interface_body: true,
      enum_declaration: true,
      enum_body: true,
      enum_body_declarations: true,
      record_declaration: true,
      annotation_type_declaration: true,
      annotation_type_body: true,
    },
  },
  c: { defs: C_DEFS, scan: C_SCAN },
  cpp: { defs: CPP_DEFS, scan: CPP_SCAN, containers: ['class', 'struct'] },
  csharp: {
    defs: {
      class_declaration: named('class'),
      struct_declaration: named('struct'),
      interface_declaration: named('interface'),
      enum_declaration: named('enum'),
      record_declaration: named('record'),
      delegate_declaration: named('type'),
      method_declaration: named('method'),
      constructor_declaration: named('constructor'),
      destructor_declaration: named('method'),
      property_declaration: named('property'),
      event_declaration: named('property'),
      local_function_statement: named('function'),
      namespace_declaration: named('namespace'),
      file_scoped_namespace_declaration: named('namespace'),
      field_declaration: csharpField,
    },
    scan: {
      compilation_unit: true,
      namespace_declaration: true,
      file_scoped_namespace_declaration: true,
      declaration_list: true,
      class_declaration: true,
      struct_declaration: true,
      interface_declaration: true,
      record_declaration: true,
    },
  },
  ruby: {
    defs: {
      method: named('function'),
      singleton_method: named('method'),
      class: named('class'),
      module: named('module'),
      assignment: rubyConstant,
    },
    scan: { program: true, class: true, module: true, body_statement: ['class', 'module'] },
    containers: ['class', 'module'],
  },
  php: {
    defs: {
      function_definition: named('function'),
      class_declaration: named('class'),
      interface_declaration: named('interface'),
      trait_declaration: named('trait'),
      enum_declaration: named('enum'),
      method_declaration: named('method'),
      namespace_definition: named('namespace'),
      const_element: (n) => {
        const name = n.namedChildren.find((c) => c?.type === 'name') ?? null;
        return name ? { kind: 'constant', name } : null;
      },
    },
    scan: {
      program: true,
      class_declaration: true,
      interface_declaration: true,
      trait_declaration: true,
      enum_declaration: true,
      declaration_list: true,
      enum_declaration_list: true,
      namespace_definition: true,
      compound_statement: ['namespace_definition'],
      const_declaration: true,
    },
    glue: ['attribute_list'],
  },
  bash: {
    defs: {
      function_definition: named('function'),
      variable_assignment: (n, up) =>
        up(1) === 'program' || (up(1) === 'declaration_command' && up(2) === 'program') ? named('variable')(n, up) : null,
    },
    scan: { program: true, declaration_command: ['program'] },
  },
  css: {
    defs: { rule_set: cssRule, keyframes_statement: childOfType('keyframes', 'keyframes_name') },
    scan: { stylesheet: true, media_statement: true, supports_statement: true, block: ['media_statement', 'supports_statement'] },
  },
  json: {
    defs: { pair: jsonPair },
    scan: { document: true, object: true, pair: true },
  },
  yaml: {
    defs: { block_mapping_pair: yamlPair },
    scan: { stream: true, document: true, block_node: true, block_mapping: true, block_mapping_pair: true },
  },
};
