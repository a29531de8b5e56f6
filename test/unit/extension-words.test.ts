// What the user reads about indexing and errors: plain words, no "chunk 0/0", no library paths.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { plainReason, progressMessage } from '../../src/extension/words';

test('progressMessage says what is happening, with counts only when there are some', () => {
  assert.equal(progressMessage('cobra', { phase: 'walk', done: 0, total: 0 }), 'cobra: finding files');
  assert.equal(progressMessage('cobra', { phase: 'chunk', done: 0, total: 0 }), 'cobra: reading files');
  assert.equal(progressMessage('cobra', { phase: 'chunk', done: 12, total: 37 }), 'cobra: reading files (12 of 37 files)');
  assert.equal(
    progressMessage('cobra', { phase: 'encode', done: 1200, total: 2067 }),
    'cobra: reading the code with the model (1,200 of 2,067 parts)',
  );
  for (const phase of ['walk', 'chunk', 'encode'] as const) {
    const m = progressMessage('x', { phase, done: 0, total: 0 });
    assert.doesNotMatch(m, /\b0\/0\b|chunk|encode/, m);
  }
});

test('plainReason keeps the first line and shortens library and system paths to file names', () => {
  const lib = '/home/u/.vscode-server/extensions/e2code-0.1.0/node_modules/onnxruntime-node/bin/napi-v3/linux/x64/libonnxruntime.so.1';
  assert.equal(
    plainReason(`Failed to load ${lib}: cannot open shared object file\n    at Module._load (node:internal)`),
    'Failed to load libonnxruntime.so.1: cannot open shared object file',
  );
  assert.equal(plainReason('C:\\Users\\u\\AppData\\e2code\\models\\default\\decoder.onnx is missing'), 'decoder.onnx is missing');
  // Paths the user chose (a workspace folder, a bundle they set) stay as they are.
  assert.equal(
    plainReason('bundle /data/my-bundle: manifest.json has no decoder', ['/data/my-bundle']),
    'bundle /data/my-bundle: manifest.json has no decoder',
  );
  assert.equal(plainReason('cannot read /ws/proj/src/a.ts', ['/ws/proj']), 'cannot read /ws/proj/src/a.ts');
  assert.equal(plainReason('no path here'), 'no path here');
});
