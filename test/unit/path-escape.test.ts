// A real file whose name holds a newline (or carriage return, or another control character) through the
// real walker, chunker (persistent index) and prompt builder with the bundled tokenizer: every header that
// names the file stays one line, with the control characters written as JSON-style escapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { walkFiles } from '../../src/core/walker';
import { WorkspaceIndex } from '../../src/core/index/index';
import { createChunker } from '../../src/core/chunker';
import { Bundle } from '../../src/core/runtime/model/bundle';
import { PromptBuilder } from '../../src/core/runtime/decode/prompt';
import { escapePath } from '../../src/core/pathText';

const BUNDLE = path.resolve(__dirname, '..', '..', 'models', 'default');

test('escapePath: control characters as JSON-style escapes, everything else unchanged', () => {
  assert.equal(escapePath('src/a.ts'), 'src/a.ts');
  assert.equal(escapePath('ünïcödé 名前/x y.go'), 'ünïcödé 名前/x y.go');
  assert.equal(escapePath('new\nline.ts'), 'new\\nline.ts');
  assert.equal(escapePath('cr\rlf\r\n.py'), 'cr\\rlf\\r\\n.py');
  assert.equal(escapePath('tab\t\u0001\u007f\u0085\u2028.md'), 'tab\\t\\u0001\\u007f\\u0085\\u2028.md');
  assert.equal(escapePath('a\nb'), JSON.stringify('a\nb').slice(1, -1));
});

test('a file named with a newline: walker, chunk headers and prompt headers keep one line per header', async () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'e2code-nl-'));
  const store = mkdtempSync(path.join(os.tmpdir(), 'e2code-nl-store-'));
  const names = ['new\nline.ts', 'carriage\rreturn.py', 'both\r\nand\u0001.md'];
  const contents = [
    'export function add(a: number, b: number): number {\n  return a + b;\n}\n',
    'def sub(a, b):\n    return a - b\n',
    '# Title\n\nSome text.\n',
  ];
  names.forEach((n, i) => writeFileSync(path.join(root, n), contents[i]));
  const bundle = await Bundle.load(BUNDLE, { device: 'cpu', threads: 1 });
  try {
    const walked: string[] = [];
    for await (const item of walkFiles(root)) if ('file' in item) walked.push(item.file.path);
    assert.deepEqual(walked.sort(), [...names].sort(), 'the walker lists the real names');

    const countTokens = (t: string) => bundle.encoderTokenizer.encodeUntrusted(t).length;
    const index = await WorkspaceIndex.open({
      root,
      storeDir: store,
      chunker: await createChunker({ maxTokens: 128, countTokens }),
      chunkTokens: 128,
      tokenizerId: bundle.id,
    });
    await index.refresh();
    assert.deepEqual([...index.files()].sort(), [...names].sort());
    const textChunks: { path: string; line: number; code: string }[] = [];
    for (const [i, name] of names.entries()) {
      const chunks = await index.readChunks(name);
      assert.ok(chunks.length > 0, JSON.stringify(name));
      let body = '';
      for (const c of chunks) {
        assert.equal(c.path, name, 'chunk metadata keeps the real path');
        const header = c.text.split('\n')[0];
        assert.ok(header === escapePath(name) || header.startsWith(`${escapePath(name)} | `), `header ${JSON.stringify(header)}`);
        assert.ok(!/[\r\u0000-\u0009\u000b-\u001f]/.test(header), `control character in header ${JSON.stringify(header)}`);
        body += c.text.slice(header.length + 1);
      }
      assert.equal(body, contents[i], 'header + file bytes, and nothing else');
      textChunks.push({ path: name, line: 1, code: contents[i] });
    }
    await index.close();

    const m = bundle.manifest;
    const builder = new PromptBuilder(m, bundle.decoderTokenizer, bundle.embeddings);
    const soft = new Float32Array(m.adapter.softTokensPerChunk * m.decoder.hiddenSize);
    const pieces = builder.pieces({
      context: { softFiles: names.map((p) => ({ path: p, chunks: [{ hash: p, softTokens: soft }] })), textChunks },
      request: 'What is here?',
    });
    const text = pieces.map((p) => (p.kind === 'text' ? bundle.decoderTokenizer.decode(p.ids) : '[soft]')).join('');
    for (const name of names) {
      assert.ok(
        text.includes(`<|file|>${escapePath(name)}\n[soft]`),
        `file header of ${JSON.stringify(name)} in ${JSON.stringify(text.slice(0, 400))}`,
      );
      assert.ok(text.includes(`<|code|>${escapePath(name)}:1\n`), `code header of ${JSON.stringify(name)}`);
    }
    // Every header line: the special token, the path, then the end of the line: nothing spills over.
    const headers = [...text.matchAll(/<\|(file|code)\|>([^\n]*)\n/g)].map((h) => h[2].replace(/:1$/, ''));
    assert.deepEqual(headers, [...names, ...names].map(escapePath), JSON.stringify(headers));
    assert.equal(text.includes('\r'), false, 'a raw carriage return reached the prompt');
    // The planner's header cost is the escaped header's.
    assert.equal(
      builder.fileHeaderCost(names[0]),
      bundle.decoderTokenizer.encode(`<|file|>`).length +
        bundle.decoderTokenizer.encodeUntrusted(escapePath(names[0])).length +
        bundle.decoderTokenizer.encode('\n').length,
    );
  } finally {
    await bundle.dispose();
    rmSync(root, { recursive: true, force: true });
    rmSync(store, { recursive: true, force: true });
  }
});
