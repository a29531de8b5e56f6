// Which language a path is, and where its tree-sitter grammar lives (if it has one).

/** Grammar packages: `pkg` is resolved with require.resolve(`${pkg}/package.json`), `file` is relative to it. */
export interface GrammarSpec {
  pkg: string;
  file: string;
}

const VSCODE = '@vscode/tree-sitter-wasm';

export const GRAMMARS: Record<string, GrammarSpec> = {
  typescript: { pkg: VSCODE, file: 'wasm/tree-sitter-typescript.wasm' },
  tsx: { pkg: VSCODE, file: 'wasm/tree-sitter-tsx.wasm' },
  javascript: { pkg: VSCODE, file: 'wasm/tree-sitter-javascript.wasm' },
  python: { pkg: VSCODE, file: 'wasm/tree-sitter-python.wasm' },
  go: { pkg: VSCODE, file: 'wasm/tree-sitter-go.wasm' },
  rust: { pkg: VSCODE, file: 'wasm/tree-sitter-rust.wasm' },
  java: { pkg: VSCODE, file: 'wasm/tree-sitter-java.wasm' },
  cpp: { pkg: VSCODE, file: 'wasm/tree-sitter-cpp.wasm' },
  csharp: { pkg: VSCODE, file: 'wasm/tree-sitter-c-sharp.wasm' },
  ruby: { pkg: VSCODE, file: 'wasm/tree-sitter-ruby.wasm' },
  php: { pkg: VSCODE, file: 'wasm/tree-sitter-php.wasm' },
  bash: { pkg: VSCODE, file: 'wasm/tree-sitter-bash.wasm' },
  css: { pkg: VSCODE, file: 'wasm/tree-sitter-css.wasm' },
  c: { pkg: 'tree-sitter-c', file: 'tree-sitter-c.wasm' },
  json: { pkg: 'tree-sitter-json', file: 'tree-sitter-json.wasm' },
  yaml: { pkg: '@tree-sitter-grammars/tree-sitter-yaml', file: 'tree-sitter-yaml.wasm' },
};

/** Languages with a tree-sitter grammar, plus Markdown (split by headings). */
export const SYNTAX_LANGUAGES = Object.keys(GRAMMARS);

const BY_EXT: Record<string, string> = {
  ts: 'typescript',
  mts: 'typescript',
  cts: 'typescript',
  tsx: 'tsx',
  js: 'javascript',
  mjs: 'javascript',
  cjs: 'javascript',
  jsx: 'javascript',
  py: 'python',
  pyi: 'python',
  pyw: 'python',
  go: 'go',
  rs: 'rust',
  java: 'java',
  c: 'c',
  h: 'c',
  cc: 'cpp',
  cpp: 'cpp',
  cxx: 'cpp',
  'c++': 'cpp',
  hh: 'cpp',
  hpp: 'cpp',
  hxx: 'cpp',
  'h++': 'cpp',
  ipp: 'cpp',
  tpp: 'cpp',
  ino: 'cpp',
  cs: 'csharp',
  rb: 'ruby',
  rake: 'ruby',
  gemspec: 'ruby',
  ru: 'ruby',
  php: 'php',
  phtml: 'php',
  sh: 'bash',
  bash: 'bash',
  zsh: 'bash',
  ksh: 'bash',
  bats: 'bash',
  css: 'css',
  json: 'json',
  jsonc: 'json',
  json5: 'json',
  geojson: 'json',
  webmanifest: 'json',
  yaml: 'yaml',
  yml: 'yaml',
  md: 'markdown',
  markdown: 'markdown',
  mdx: 'markdown',
  mkd: 'markdown',
  // Known languages without a grammar here: named, chunked by line windows.
  html: 'html',
  htm: 'html',
  xml: 'xml',
  svg: 'xml',
  toml: 'toml',
  ini: 'ini',
  cfg: 'ini',
  sql: 'sql',
  kt: 'kotlin',
  kts: 'kotlin',
  swift: 'swift',
  scala: 'scala',
  lua: 'lua',
  r: 'r',
  pl: 'perl',
  pm: 'perl',
  ps1: 'powershell',
  psm1: 'powershell',
  scss: 'scss',
  sass: 'sass',
  less: 'less',
  vue: 'vue',
  svelte: 'svelte',
  dart: 'dart',
  ex: 'elixir',
  exs: 'elixir',
  erl: 'erlang',
  hs: 'haskell',
  ml: 'ocaml',
  clj: 'clojure',
  zig: 'zig',
  nim: 'nim',
  proto: 'protobuf',
  graphql: 'graphql',
  gql: 'graphql',
  tf: 'terraform',
  txt: 'text',
  rst: 'restructuredtext',
};

const BY_NAME: Record<string, string> = {
  makefile: 'makefile',
  gnumakefile: 'makefile',
  dockerfile: 'dockerfile',
  rakefile: 'ruby',
  gemfile: 'ruby',
  podfile: 'ruby',
  vagrantfile: 'ruby',
  brewfile: 'ruby',
  '.bashrc': 'bash',
  '.bash_profile': 'bash',
  '.bash_aliases': 'bash',
  '.profile': 'bash',
  '.zshrc': 'bash',
  '.zprofile': 'bash',
  'cmakelists.txt': 'cmake',
  '.babelrc': 'json',
  '.eslintrc': 'json',
  '.prettierrc': 'json',
  'tsconfig.json': 'json',
};

export function languageOf(path: string): string {
  const slash = path.lastIndexOf('/');
  const base = path.slice(slash + 1).toLowerCase();
  const byName = BY_NAME[base];
  if (byName) return byName;
  if (base.startsWith('dockerfile.') || base.endsWith('.dockerfile')) return 'dockerfile';
  const dot = base.lastIndexOf('.');
  if (dot < 0 || dot === base.length - 1) return 'text';
  const ext = base.slice(dot + 1);
  return BY_EXT[ext] ?? 'text';
}
