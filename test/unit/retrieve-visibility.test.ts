// Which chunks the index marks internal (their own code says so), on real tree-sitter chunks, and that
// the mark survives the index's store.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { createChunker, type Chunker } from '../../src/core/chunker/index';
import { WorkspaceIndex } from '../../src/core/index/index';
import { internalMarks, isInternal } from '../../src/core/retrieve/visibility';
import { tempDirs, writeFiles } from './lib/workspaceFiles';

const tempDir = tempDirs();
let chunker: Chunker;
before(async () => {
  chunker = await createChunker({ maxTokens: 48 });
});

/** name -> internal, for every chunk that defines `name`. */
async function marks(file: string, source: string): Promise<Map<string, boolean>> {
  const out = new Map<string, boolean>();
  for (const c of await chunker.chunkFile(file, Buffer.from(source))) for (const s of c.symbols) out.set(s, isInternal(c));
  return out;
}

const body = (n: number) => Array.from({ length: n }, (_, i) => `    const v${i} = input.length * ${i + 3};`).join('\n');
/** The same body without `const`, indented by `indent` more (Python, Ruby). */
const bareBody = (n: number, indent = '') => body(n).replace(/const /g, indent);

test('TypeScript: private, protected and #name members and @internal/@ignore docs are internal; public API is not', async () => {
  const m = await marks(
    'store.ts',
    `export class Store {\n` +
      `  /** Adds a document to the store. */\n  add(input: string): number {\n${body(8)}\n    return 1;\n  }\n\n` +
      `  private addTerm(input: string): number {\n${body(8)}\n    return 2;\n  }\n\n` +
      `  protected static rebuild(input: string): number {\n${body(8)}\n    return 3;\n  }\n\n` +
      `  #flush(input: string): number {\n${body(8)}\n    return 4;\n  }\n\n` +
      `  /**\n   * Keeps counts.\n   * @internal\n   */\n  count(input: string): number {\n${body(8)}\n    return 5;\n  }\n` +
      `}\n\n/** @ignore */\nexport function helper(input: string): number {\n${body(8)}\n  return 6;\n}\n\n` +
      `/** Private in name only: the word in a doc does not count. */\nexport function privateKey(input: string): number {\n${body(8)}\n  return 7;\n}\n`,
  );
  assert.equal(m.get('add'), false);
  assert.equal(m.get('addTerm'), true);
  assert.equal(m.get('rebuild'), true);
  assert.equal(m.get('#flush') ?? m.get('flush'), true);
  assert.equal(m.get('count'), true);
  assert.equal(m.get('helper'), true);
  assert.equal(m.get('privateKey'), false);
});

test('Python: names that all start with one underscore are internal; dunder and public names are not', async () => {
  const m = await marks(
    'mod.py',
    `def _helper(input):\n${bareBody(8)}\n    return 1\n\n\n` +
      `def __init_subclass__(cls):\n${bareBody(8)}\n    return 2\n\n\n` +
      `def public(input):\n    """Private helpers aside, this is the API."""\n${bareBody(8)}\n    return 3\n`,
  );
  assert.equal(m.get('_helper'), true);
  assert.equal(m.get('__init_subclass__'), false);
  assert.equal(m.get('public'), false);
});

test('Ruby: `private def` is internal (a `private` line before a section is not seen); Go has no such mark', async () => {
  const rb = await marks(
    'store.rb',
    `class Store\n  # Adds a document.\n  def add(input)\n${bareBody(8)}\n  end\n\n` +
      `  private def add_term(input)\n${bareBody(8)}\n  end\nend\n`,
  );
  assert.equal(rb.get('add'), false);
  assert.equal(rb.get('add_term'), true);
  const go = await marks('store.go', `package store\n\n// add adds.\nfunc add(input string) int {\n\treturn len(input)\n}\n`);
  assert.equal(go.get('add'), false);
});

test("an internal definition's later pieces and what it encloses are internal too; its neighbours are not", async () => {
  const source =
    `export class Store {\n  private rebuild(input: string): number {\n${body(40)}\n    return 1;\n  }\n\n` +
    `  run(input: string): number {\n${body(40)}\n    return 2;\n  }\n}\n`;
  const chunks = await chunker.chunkFile('store.ts', Buffer.from(source));
  const marks = internalMarks(chunks);
  const of = (method: string) => chunks.flatMap((c, i) => (c.symbolPath.endsWith(`method ${method}`) ? [marks[i]] : []));
  assert.ok(of('rebuild').length >= 2, 'the long method is cut into pieces');
  assert.ok(of('rebuild').every((m) => m));
  assert.ok(of('run').length >= 2 && of('run').every((m) => !m));
  const py = `class _Cache:\n    def get(self, key):\n${bareBody(30, '    ')}\n        return key\n`;
  const pyChunks = await chunker.chunkFile('cache.py', Buffer.from(py));
  assert.ok(
    internalMarks(pyChunks).every((m) => m),
    'the methods of a private class',
  );
  // Private methods of a public class, cut into a chunk of their own, are; the class's head is not.
  const methods = (names: string[]) =>
    names.map((n) => `    def ${n}(self, input):\n${bareBody(6, '    ')}\n        return input\n`).join('\n');
  const pub = `class Cache:\n    def get(self, key):\n        return key\n\n${methods(['_load', '_store'])}`;
  const pubChunks = await chunker.chunkFile('pub.py', Buffer.from(pub));
  const pubMarks = internalMarks(pubChunks);
  const mark = (name: string) => pubMarks[pubChunks.findIndex((c) => c.symbols.includes(name))];
  assert.equal(mark('Cache'), false);
  assert.equal(mark('_load'), true);
  assert.equal(mark('_store'), true);
});

test('the index keeps the mark and its store brings it back', async () => {
  const root = await tempDir('e2code-vis-');
  const store = await tempDir('e2code-vis-store-');
  await writeFiles(root, { 'a.ts': `export class A {\n  run(): void {}\n}\n`, 'b.py': `def _b():\n    return 1\n` });
  const index = await WorkspaceIndex.open({ root, storeDir: store, chunker });
  await index.refresh();
  assert.equal(index.definitions('_b')[0]?.internal, true);
  assert.equal(index.definitions('A')[0]?.internal, false);
  await index.close();
  const reopened = await WorkspaceIndex.open({ root, storeDir: store, chunker });
  assert.equal(reopened.loadReport.status, 'loaded');
  assert.equal(reopened.definitions('_b')[0]?.internal, true);
  assert.equal(reopened.definitions('A')[0]?.internal, false);
  await reopened.close();
});
