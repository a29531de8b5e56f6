#!/usr/bin/env node
// Builds a lean, platform-specific .vsix: the bundles (extension, sidecar, webview), the bundled model,
// and only the run-time files of the external packages (native onnxruntime-node and lmdb binaries of
// the target platform, the tree-sitter grammars' .wasm). No sources, tests, training data or CLI.
//   node scripts/package-vsix.mjs [--target linux-x64] [--out e2code-linux-x64.vsix]
// The allow-list is written to a temporary ignore file for `vsce package --ignoreFile`.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const arg = (name, fallback) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? process.argv[i + 1] : fallback;
};
const target = arg('--target', `${process.platform}-${process.arch}`);
const [platform, arch] = target.split('-');
const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
const out = path.resolve(arg('--out', `e2code-${target}-${version}.vsix`));

// onnxruntime-node names platforms like Node (linux/darwin/win32) and ships per-arch folders.
const allow = [
  'package.json',
  'media/README.md',
  'LICENSE',
  'dist/extension.js',
  'dist/sidecar.js',
  'dist/cacheProbe.js',
  'media/chat.css',
  'media/icon.svg',
  'media/icon.png',
  'media/dist/webview.js',
  'models/default/manifest.json',
  'models/default/*.onnx',
  'models/default/*.json',
  'models/default/*.bin',
  'node_modules/onnxruntime-node/package.json',
  'node_modules/onnxruntime-node/dist/**/*.@(js|cjs)',
  `node_modules/onnxruntime-node/bin/napi-v6/${platform}/${arch}/**`,
  'node_modules/onnxruntime-common/package.json',
  'node_modules/onnxruntime-common/dist/cjs/**/*.@(js|cjs)',
  // Marks the CommonJS build as such (the package itself is an ES module).
  'node_modules/onnxruntime-common/dist/cjs/package.json',
  'node_modules/lmdb/package.json',
  'node_modules/lmdb/dist/**/*.@(js|cjs)',
  'node_modules/lmdb/dict/**',
  `node_modules/@lmdb/lmdb-${target}/**`,
  'node_modules/msgpackr/package.json',
  'node_modules/msgpackr/dist/**/*.@(js|cjs)',
  'node_modules/msgpackr-extract/package.json',
  'node_modules/msgpackr-extract/index.js',
  `node_modules/@msgpackr-extract/msgpackr-extract-${target}/**`,
  'node_modules/ordered-binary/package.json',
  'node_modules/ordered-binary/dist/**/*.@(js|cjs)',
  'node_modules/weak-lru-cache/package.json',
  'node_modules/weak-lru-cache/dist/**/*.@(js|cjs)',
  'node_modules/@harperfast/extended-iterable/package.json',
  'node_modules/@harperfast/extended-iterable/dist/**/*.@(js|cjs)',
  'node_modules/node-gyp-build-optional-packages/package.json',
  'node_modules/node-gyp-build-optional-packages/*.js',
  'node_modules/detect-libc/package.json',
  'node_modules/detect-libc/lib/**/*.@(js|cjs)',
  'node_modules/web-tree-sitter/package.json',
  'node_modules/web-tree-sitter/web-tree-sitter.cjs',
  'node_modules/web-tree-sitter/web-tree-sitter.js',
  'node_modules/web-tree-sitter/web-tree-sitter.wasm',
  'node_modules/@vscode/tree-sitter-wasm/package.json',
  'node_modules/@vscode/tree-sitter-wasm/wasm/*.wasm',
  'node_modules/tree-sitter-c/package.json',
  'node_modules/tree-sitter-c/tree-sitter-c.wasm',
  'node_modules/tree-sitter-json/package.json',
  'node_modules/tree-sitter-json/tree-sitter-json.wasm',
  'node_modules/@tree-sitter-grammars/tree-sitter-yaml/package.json',
  'node_modules/@tree-sitter-grammars/tree-sitter-yaml/tree-sitter-yaml.wasm',
];
const dir = mkdtempSync(path.join(tmpdir(), 'e2code-vsix-'));
const ignoreFile = path.join(dir, 'vscodeignore');
// vsce lets a `!` pattern win over any other, so the allow-list itself names only run-time files.
writeFileSync(ignoreFile, ['**', ...allow.map((p) => `!${p}`), ''].join('\n'));
try {
  execFileSync(process.execPath, [path.join(root, 'scripts', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  const vsce = path.join(root, 'node_modules', '@vscode', 'vsce', 'vsce');
  execFileSync(
    process.execPath,
    [
      vsce,
      'package',
      '--target',
      target,
      '--ignoreFile',
      ignoreFile,
      '--out',
      out,
      '--skip-license',
      '--allow-missing-repository',
      '--allow-star-activation',
      '--readme-path',
      'media/README.md',
    ],
    { cwd: root, stdio: 'inherit' },
  );
  console.log(`packaged ${out}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
