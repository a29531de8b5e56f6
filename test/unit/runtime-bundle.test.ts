// Bundle loading against the real bundled model: it loads, and each way of breaking a copy of it is
// reported as a BundleError naming the file and the field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, symlinkSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Bundle, BundleError } from '../../src/core/runtime/model/bundle';
import type { BundleManifest, ChatTemplate } from '../../src/core/bundle/manifest';
import { cudaProviderLibrary } from '../../src/core/runtime/model/providers';
import { FILE_CAPS, checkRegularFile, readRegularFile } from '../../src/core/runtime/model/bundleFiles';

const BUNDLE = path.resolve(__dirname, '../../models/default');

/** A copy of the bundle (weights linked, manifest copied) with `edit` applied to its manifest. */
function brokenCopy(edit: (m: BundleManifest) => void, removeFile?: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'e2code-bundle-'));
  for (const f of readdirSync(BUNDLE)) {
    if (f !== 'manifest.json') symlinkSync(path.join(BUNDLE, f), path.join(dir, f));
  }
  const manifest = JSON.parse(readFileSync(path.join(BUNDLE, 'manifest.json'), 'utf8')) as BundleManifest;
  edit(manifest);
  writeFileSync(path.join(dir, 'manifest.json'), JSON.stringify(manifest));
  if (removeFile) unlinkSync(path.join(dir, removeFile));
  return dir;
}

async function loadError(dir: string): Promise<BundleError> {
  try {
    const b = await Bundle.load(dir, { device: 'cpu', threads: 1 });
    await b.dispose();
  } catch (err) {
    assert.ok(err instanceof BundleError, `expected a BundleError, got ${(err as Error).stack}`);
    return err;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  assert.fail('the broken bundle loaded');
}

test('the bundled model loads and matches its manifest', async () => {
  const b = await Bundle.load(BUNDLE, { device: 'cpu', threads: 1 });
  try {
    assert.equal(b.provider, 'cpu');
    assert.ok(b.id.length > 0);
    assert.ok(b.decoderTokenizer.idLimit <= b.manifest.decoder.vocabSize);
    assert.equal(b.embeddings.hiddenSize, b.manifest.decoder.hiddenSize);
  } finally {
    await b.dispose();
  }
});

test('a missing model file names the file and the manifest field', async () => {
  const err = await loadError(brokenCopy(() => undefined, 'decoder.onnx'));
  assert.equal(err.file, 'decoder.onnx');
  assert.equal(err.field, 'decoder.file');
  assert.match(err.message, /decoder\.onnx.*missing/);
});

test('a missing manifest and a manifest that is not JSON are reported', async () => {
  await assert.rejects(Bundle.load(path.join(os.tmpdir(), 'no-such-bundle-e2code')), /does not exist/);
  const dir = brokenCopy(() => undefined);
  writeFileSync(path.join(dir, 'manifest.json'), '{ not json');
  const err = await loadError(dir);
  assert.match(err.message, /not valid JSON/);
});

test('a bad manifest field is named', async () => {
  let err = await loadError(brokenCopy((m) => (m.decoder.maxPositions = -5)));
  assert.equal(err.field, 'decoder.maxPositions');
  assert.match(err.message, /positive integer/);
  err = await loadError(brokenCopy((m) => (m.formatVersion = 99)));
  assert.equal(err.field, 'formatVersion');
  err = await loadError(brokenCopy((m) => ((m.chatTemplate as Partial<ChatTemplate>).user = undefined)));
  assert.equal(err.field, 'chatTemplate.user');
  err = await loadError(brokenCopy((m) => (m.decoder.embeddings.dtype = 'int8' as 'float32')));
  assert.equal(err.field, 'decoder.embeddings.dtype');
  err = await loadError(brokenCopy((m) => (m.decoder.contextOrder = 'alphabetical' as 'relevance')));
  assert.equal(err.field, 'decoder.contextOrder');
  assert.match(err.message, /"repository" or "relevance"/);
  for (const bad of [-1, 1.5, 17, '2']) {
    err = await loadError(brokenCopy((m) => (m.decoder.recapChunks = bad as number)));
    assert.equal(err.field, 'decoder.recapChunks');
    assert.match(err.message, /integer from 0 to 16/);
  }
  err = await loadError(brokenCopy((m) => (m.encoder.retrieval = 'max' as 'last')));
  assert.equal(err.field, 'encoder.retrieval');
  assert.match(err.message, /"mean" or "last"/);
});

test('a wrong decoder hidden size is caught against the embedding table', async () => {
  const err = await loadError(brokenCopy((m) => (m.decoder.hiddenSize = m.decoder.hiddenSize / 2)));
  assert.equal(err.file, 'embeddings.bin');
  assert.match(err.message, /hiddenSize/);
});

test('a wrong encoder hidden size or kv-head count is caught against the ONNX model', async () => {
  let err = await loadError(brokenCopy((m) => (m.encoder.hiddenSize = m.encoder.hiddenSize + 1)));
  assert.equal(err.file, 'encoder.onnx');
  assert.equal(err.field, 'encoder.hiddenSize');
  err = await loadError(brokenCopy((m) => (m.decoder.numKeyValueHeads = m.decoder.numKeyValueHeads + 1)));
  assert.equal(err.file, 'decoder.onnx');
  assert.equal(err.field, 'decoder.numKeyValueHeads');
  err = await loadError(brokenCopy((m) => (m.decoder.numLayers = m.decoder.numLayers + 1)));
  assert.equal(err.field, `past_key_values.${JSON.parse(readFileSync(path.join(BUNDLE, 'manifest.json'), 'utf8')).decoder.numLayers}.key`);
});

test('a tokenizer larger than the embedding table is refused', async () => {
  const err = await loadError(brokenCopy((m) => (m.decoder.vocabSize = 100)));
  assert.equal(err.field, 'decoder.vocabSize');
  assert.match(err.message, /tokenizer/);
});

test('a model with the wrong input names is refused, naming the missing input', async () => {
  const err = await loadError(brokenCopy((m) => (m.encoder.file = 'adapter.onnx')));
  assert.equal(err.file, 'adapter.onnx');
  assert.equal(err.field, 'input_ids');
  assert.match(err.message, /missing inputs? "input_ids"/);
});

test('device "cuda" without CUDA libraries fails with the install step; "auto" falls back to CPU', async () => {
  if (cudaProviderLibrary().missing) {
    await assert.rejects(Bundle.load(BUNDLE, { device: 'cuda' }), /onnxruntime-node-install=cuda12/);
    const b = await Bundle.load(BUNDLE, { device: 'auto', threads: 1 });
    assert.equal(b.provider, 'cpu');
    assert.match(b.providerNote ?? '', /CUDA unavailable/);
    await b.dispose();
  } else {
    // CUDA libraries installed: auto must pick a provider and say which.
    const b = await Bundle.load(BUNDLE, { device: 'auto', threads: 1 });
    assert.ok(b.provider === 'cuda' || /CUDA unavailable/.test(b.providerNote ?? ''));
    await b.dispose();
  }
});

test("a thread count above the machine's cores is refused before the model is read", async () => {
  const cores = os.availableParallelism();
  const t0 = Date.now();
  await assert.rejects(Bundle.load(BUNDLE, { device: 'cpu', threads: cores + 1 }), (e: Error) => {
    assert.ok(e instanceof RangeError);
    assert.match(
      e.message,
      new RegExp(
        `threads must be an integer from 0 \\(onnxruntime's default\\) to ${cores}, the logical cores of this machine \\(got ${cores + 1}\\)`,
      ),
    );
    return true;
  });
  await assert.rejects(Bundle.load(BUNDLE, { device: 'cpu', threads: -1 }), RangeError);
  assert.ok(Date.now() - t0 < 1000, 'the refusal waited for the model');
});

test('bundle files are read only when they are regular files within their cap, checked before reading (a FIFO, /dev/zero, a directory, an oversized file)', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'e2code-files-'));
  try {
    const fifo = path.join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]); // no writer: a blocking read would never return
    const zero = path.join(dir, 'zero');
    symlinkSync('/dev/zero', zero);
    const big = path.join(dir, 'big');
    writeFileSync(big, '');
    truncateSync(big, 2048);
    const small = path.join(dir, 'small');
    writeFileSync(small, 'abc');
    for (const [file, message] of [
      [fifo, /fifo is a FIFO, not a regular file/],
      [zero, /zero is a character device, not a regular file/],
      [dir, /is a directory, not a regular file/],
      [big, /big is 2048 bytes, more than the 1024 a file of its kind may have/],
    ] as const) {
      assert.throws(() => readRegularFile(file, 1024), message);
      assert.throws(() => checkRegularFile(file, 1024), message);
    }
    assert.equal(readRegularFile(small, 1024).toString(), 'abc');
    assert.equal(checkRegularFile(small, 3), 3);
    assert.ok(FILE_CAPS.tokenizer >= 64 * 1024 ** 2 && FILE_CAPS.onnx === 2 * 1024 ** 3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
