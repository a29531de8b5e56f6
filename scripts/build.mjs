// Bundles each process with esbuild: CLI, sidecar and extension (Node, CommonJS) and the webview (browser).
// Native or wasm-loading packages stay external: they locate their binaries relative to their own files.
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { readFileSync } from 'node:fs';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const external = ['vscode', 'onnxruntime-node', 'lmdb', 'web-tree-sitter', '@vscode/tree-sitter-wasm'];
const version = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')).version;
const watch = process.argv.includes('--watch');

const targets = [
  { entry: 'src/cli/main.ts', out: 'dist/cli.js', platform: 'node' },
  { entry: 'src/sidecar/main.ts', out: 'dist/sidecar.js', platform: 'node' },
  { entry: 'src/core/runtime/cache/probeChild.ts', out: 'dist/cacheProbe.js', platform: 'node' },
  { entry: 'src/extension/extension.ts', out: 'dist/extension.js', platform: 'node' },
  { entry: 'src/webview/main.ts', out: 'media/dist/webview.js', platform: 'browser' },
];

for (const t of targets) {
  if (!existsSync(path.join(root, t.entry))) continue;
  await build({
    absWorkingDir: root,
    entryPoints: [t.entry],
    outfile: t.out,
    bundle: true,
    platform: t.platform,
    format: t.platform === 'node' ? 'cjs' : 'iife',
    target: t.platform === 'node' ? 'node20' : 'chrome120',
    external: t.platform === 'node' ? external : [],
    define: { __VERSION__: JSON.stringify(version) },
    // The webview loads its script on every open of the panel: ship it small.
    minify: t.platform === 'browser',
    sourcemap: true,
    logLevel: watch ? 'info' : 'warning',
  });
}
