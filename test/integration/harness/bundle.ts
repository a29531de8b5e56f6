// Bundles the mocha suites that run inside the extension host (test/integration/suite) with esbuild.
import { build } from 'esbuild';
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './codeServer';

export const SUITE_OUT = path.join(ROOT, '.vscode-test', 'out', 'integration');

export async function bundleSuites(): Promise<string> {
  rmSync(SUITE_OUT, { recursive: true, force: true });
  const dir = path.join(ROOT, 'test', 'integration', 'suite');
  const entries = readdirSync(dir)
    .filter((f) => f === 'index.ts' || f.endsWith('.test.ts'))
    .map((f) => path.join(dir, f));
  await build({
    entryPoints: entries,
    outdir: SUITE_OUT,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // mocha resolves from the repo's node_modules (SUITE_OUT is inside the repo); the extension is not
    // bundled into the tests: they reach it through its exported API.
    external: ['vscode', 'mocha', 'onnxruntime-node', 'lmdb', 'web-tree-sitter', '@vscode/tree-sitter-wasm'],
    sourcemap: 'inline',
    logLevel: 'warning',
  });
  return path.join(SUITE_OUT, 'index.js');
}
