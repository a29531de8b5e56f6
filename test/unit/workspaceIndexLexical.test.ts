import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createChunker, type Chunker } from '../../src/core/chunker/index';
import { WorkspaceIndex } from '../../src/core/index/index';
import { lexicalPath } from '../../src/core/index/lexicalStore';
import { counting, settle, tempDirs, writeFiles } from './lib/workspaceFiles';

const tempDir = tempDirs();

let chunker: Chunker;
before(async () => {
  chunker = await createChunker();
});

const ZEBRA = `/** Counts the zebras of a herd, stripes included. */
export function computeZebraTotal(herd: string[]): number {
  return herd.filter((animal) => animal === 'zebra').length;
}
`;
const OKAPI = `/** Measures how tall an okapi stands at the shoulder. */
export function measureOkapiHeight(okapi: { shoulder: number }): number {
  return okapi.shoulder * 1.1;
}
`;
const SUBCOMMAND = `package cli

// AddCommand adds one or more commands to this parent command.
func (c *Command) AddCommand(cmds ...*Command) {
	c.commands = append(c.commands, cmds...)
}

// Execute runs the command tree.
func (c *Command) Execute() error {
	return nil
}
`;
const HELP = `# Help text

Every subcommand lists its flags. See \`add_subcommand\` in the Python port.
`;

/** Paths of the chunks a lexical search returns, best first. */
function found(index: WorkspaceIndex, query: string): string[] {
  return index.lexicalSearch(query, 10).map((h) => {
    const c = index.chunkByHash(h.hash);
    assert.ok(c, `hit ${h.hash} is an indexed chunk`);
    return c.path;
  });
}

/** Lexical results as plain data, to compare across opens. */
function results(index: WorkspaceIndex, queries: string[]) {
  return queries.map((q) => index.lexicalSearch(q, 10));
}

const QUERIES = ['zebra total', 'How do I add a subcommand?', 'okapi shoulder', 'command tree', 'stripes'];

async function workspace(): Promise<string> {
  const root = await tempDir('e2code-lex-');
  await writeFiles(root, { 'src/zoo.ts': ZEBRA, 'cli/command.go': SUBCOMMAND, 'docs/help.md': HELP });
  await settle(root);
  return root;
}

describe('WorkspaceIndex lexical search', () => {
  test('refresh indexes chunk text, symbols and comments; question words are dropped', async () => {
    const root = await workspace();
    const index = await WorkspaceIndex.open({ root, persist: false, chunker });
    assert.deepEqual(index.lexicalSearch('zebra', 5), [], 'nothing before the first refresh');
    await index.refresh();
    assert.equal(found(index, 'compute zebra total')[0], 'src/zoo.ts');
    assert.equal(found(index, 'stripes')[0], 'src/zoo.ts', 'doc comment words');
    assert.equal(found(index, 'How do I add a subcommand?')[0], 'cli/command.go');
    const addHit = index.lexicalSearch('How do I add a subcommand?', 1)[0];
    assert.ok(index.chunkByHash(addHit.hash)!.symbols.includes('AddCommand'));
    assert.equal(found(index, 'help text flags')[0], 'docs/help.md');
  });

  test("refreshPaths after an edit: the old chunk's words are gone, the new ones found", async () => {
    const root = await workspace();
    const index = await WorkspaceIndex.open({ root, persist: false, chunker });
    await index.refresh();
    assert.deepEqual(found(index, 'zebra'), ['src/zoo.ts']);

    await writeFiles(root, { 'src/zoo.ts': OKAPI });
    const r = await index.refreshPaths(['src/zoo.ts']);
    assert.deepEqual(r.updated, ['src/zoo.ts']);
    assert.ok(r.removedChunkHashes.length > 0);
    assert.deepEqual(index.lexicalSearch('zebra', 5), [], 'old words are no longer found');
    assert.deepEqual(index.lexicalSearch('computeZebraTotal', 5), []);
    assert.deepEqual(found(index, 'okapi height'), ['src/zoo.ts']);
    for (const h of r.removedChunkHashes) assert.ok(!index.lexicalSearch('herd animal zebra stripes', 10).some((x) => x.hash === h));
    // Untouched files are still found.
    assert.equal(found(index, 'AddCommand')[0], 'cli/command.go');
  });

  test('removing a file or a directory removes its documents', async () => {
    const root = await workspace();
    const index = await WorkspaceIndex.open({ root, persist: false, chunker });
    await index.refresh();
    await writeFiles(root, { 'cli/command.go': null });
    await index.refreshPaths(['cli/command.go']);
    assert.deepEqual(index.lexicalSearch('parent execute', 5), []);
    assert.deepEqual(found(index, 'subcommand'), ['docs/help.md']);

    await writeFiles(root, { docs: null });
    await index.refreshPaths(['docs']);
    assert.deepEqual(index.lexicalSearch('subcommand help flags', 5), []);

    await writeFiles(root, { 'src/zoo.ts': null });
    await index.refresh();
    assert.deepEqual(index.lexicalSearch('zebra', 5), []);
    assert.deepEqual(index.files(), []);
  });

  test('persist: false keeps the lexical index in memory only', async () => {
    const root = await workspace();
    const store = path.join(await tempDir('e2code-lexstore-'), 'store');
    const index = await WorkspaceIndex.open({ root, storeDir: store, persist: false, chunker });
    await index.refresh();
    await index.close();
    assert.equal(found(index, 'zebra')[0], 'src/zoo.ts');
    await assert.rejects(fsp.stat(store), { code: 'ENOENT' });
  });
});

describe('WorkspaceIndex lexical persistence', () => {
  test('round trip: a reopened index searches the same without reading any file', async () => {
    const root = await workspace();
    const store = await tempDir('e2code-lexstore-');
    const first = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    await first.refresh();
    await writeFiles(root, { 'src/zoo.ts': OKAPI });
    await first.refreshPaths(['src/zoo.ts']);
    const expected = results(first, QUERIES);
    await first.close();
    await fsp.stat(lexicalPath(store));

    const c = counting(chunker);
    const second = await WorkspaceIndex.open({ root, storeDir: store, chunker: c });
    assert.equal(second.loadReport.status, 'loaded');
    assert.deepEqual(second.loadReport.notes, []);
    assert.deepEqual(c.calls, [], 'the lexical file was used, no file re-chunked');
    assert.deepEqual(results(second, QUERIES), expected);
    assert.deepEqual(second.lexicalSearch('zebra', 5), []);
    assert.deepEqual(found(second, 'okapi height'), ['src/zoo.ts']);
  });

  test('a corrupt lexical file is rebuilt from the files, with a note, and saved again', async () => {
    const root = await workspace();
    const store = await tempDir('e2code-lexstore-');
    const first = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    await first.refresh();
    const expected = results(first, QUERIES);
    await first.close();

    const file = lexicalPath(store);
    const bytes = await fsp.readFile(file);
    bytes[bytes.length - 20] ^= 0x55;
    await fsp.writeFile(file, bytes);

    const c = counting(chunker);
    const second = await WorkspaceIndex.open({ root, storeDir: store, chunker: c });
    assert.equal(second.loadReport.status, 'loaded');
    assert.equal(second.loadReport.notes.length, 1);
    assert.match(second.loadReport.notes[0], /^word index unusable \(checksum mismatch\); rebuilt from the text of 3 indexed files$/);
    assert.deepEqual(c.calls.sort(), ['cli/command.go', 'docs/help.md', 'src/zoo.ts']);
    assert.deepEqual(results(second, QUERIES), expected);

    // Saved repaired: the next open reads nothing.
    c.calls.length = 0;
    const third = await WorkspaceIndex.open({ root, storeDir: store, chunker: c });
    assert.deepEqual(third.loadReport.notes, []);
    assert.deepEqual(c.calls, []);
    assert.deepEqual(results(third, QUERIES), expected);
  });

  test('a truncated or garbage lexical file is rebuilt too; a missing one is noted', async () => {
    const root = await workspace();
    const store = await tempDir('e2code-lexstore-');
    const first = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    await first.refresh();
    const expected = results(first, QUERIES);
    await first.close();
    const file = lexicalPath(store);

    const cases: [string, () => Promise<void>, RegExp][] = [
      [
        'truncated',
        async () => fsp.truncate(file, (await fsp.stat(file)).size - 100),
        /^word index unusable \(truncated: \d+ of \d+ bytes\)/,
      ],
      ['garbage', () => fsp.writeFile(file, 'not json\n{}'), /^word index unusable \(header is not JSON\)/],
      ['empty', () => fsp.writeFile(file, ''), /^word index unusable \(no header\)/],
      ['missing', () => fsp.rm(file), /^word index missing; rebuilt from the text of 3 indexed files$/],
    ];
    for (const [name, damage, note] of cases) {
      await damage();
      const again = await WorkspaceIndex.open({ root, storeDir: store, chunker });
      assert.equal(again.loadReport.notes.length, 1, name);
      assert.match(again.loadReport.notes[0], note, name);
      assert.deepEqual(results(again, QUERIES), expected, name);
    }
  });

  test('a crash with lexical changes not yet saved: the next open catches up from the chunk store', async () => {
    const root = await workspace();
    const store = await tempDir('e2code-lexstore-');
    const first = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    await first.refresh();
    await first.close(); // saves the lexical file; the index stays usable
    const saved = await fsp.readFile(lexicalPath(store));

    await writeFiles(root, { 'src/zoo.ts': OKAPI, 'cli/command.go': null });
    await first.refreshPaths(['src/zoo.ts', 'cli/command.go']);
    assert.deepEqual(await fsp.readFile(lexicalPath(store)), saved, 'a small change does not rewrite the lexical file');
    const expected = results(first, QUERIES);
    // No close(): the process "dies" here.

    const c = counting(chunker);
    const second = await WorkspaceIndex.open({ root, storeDir: store, chunker: c });
    assert.deepEqual(second.loadReport.notes, []);
    assert.deepEqual(c.calls, ['src/zoo.ts'], 'only the file with chunks the lexical file lacks is read');
    assert.deepEqual(second.lexicalSearch('zebra', 5), []);
    assert.deepEqual(second.lexicalSearch('parent execute', 5), []);
    assert.deepEqual(found(second, 'okapi height'), ['src/zoo.ts']);
    assert.deepEqual(results(second, QUERIES), expected);
  });

  test('a refresh that changes many documents saves the lexical file without waiting for close', async () => {
    const root = await tempDir('e2code-lex-');
    const files: Record<string, string> = {};
    for (let f = 0; f < 50; f++) {
      const fns = Array.from({ length: 8 }, (_, k) => {
        const lines = Array.from({ length: 12 }, (_, l) => `  const step${l} = input.values[${l}] * factor${k} + offset${f}_${l};`).join(
          '\n',
        );
        return `/** Scales the values of batch ${f}.${k}. */\nexport function scaleBatch${f}x${k}(input: { values: number[] }, factor${k}: number): number {\n${lines}\n  return step0 + step11;\n}\n`;
      });
      files[`src/batch${f}.ts`] = fns.join('\n');
    }
    await writeFiles(root, files);
    await settle(root);
    const store = await tempDir('e2code-lexstore-');
    const index = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    const r = await index.refresh();
    assert.ok(r.chunks >= 500, `${r.chunks} chunks`);
    // No close(): the next open finds the saved file and reads no source file.
    const c = counting(chunker);
    const again = await WorkspaceIndex.open({ root, storeDir: store, chunker: c });
    assert.deepEqual(again.loadReport.notes, []);
    assert.deepEqual(c.calls, []);
    assert.equal(found(again, 'scaleBatch7x3')[0], 'src/batch7.ts');
  });

  test('a lexical file written for other indexing settings is not used', async () => {
    const root = await workspace();
    const store = await tempDir('e2code-lexstore-');
    const first = await WorkspaceIndex.open({ root, storeDir: store, chunker });
    await first.refresh();
    await first.close();
    // Same store, another tokenizer: the chunk store is rebuilt, so is the lexical index.
    const second = await WorkspaceIndex.open({ root, storeDir: store, chunker, tokenizerId: 'other' });
    assert.equal(second.loadReport.status, 'rebuilt');
    assert.deepEqual(second.lexicalSearch('zebra', 5), []);
    await second.refresh();
    assert.deepEqual(found(second, 'zebra'), ['src/zoo.ts']);
    await second.close();
    const third = await WorkspaceIndex.open({ root, storeDir: store, chunker, tokenizerId: 'other' });
    assert.deepEqual(third.loadReport.notes, []);
    assert.deepEqual(found(third, 'zebra'), ['src/zoo.ts']);
  });
});

test('a workspace past the word index limit turns word search off with a note, instead of taking GBs', async () => {
  const root = await fsp.mkdtemp(path.join(os.tmpdir(), 'e2code-lexcap-'));
  try {
    const files: Record<string, string> = {};
    for (let i = 0; i < 12; i++) files[`m${i}.py`] = `def handler_${i}(request):\n    """Handle request ${i}."""\n    return ${i}\n`;
    await writeFiles(root, files);
    const small = await WorkspaceIndex.open({ root, persist: false, lexicalMaxChunks: 100 });
    await small.refresh();
    assert.equal(small.lexicalOff, undefined);
    assert.ok(small.lexicalSearch('handle request', 5).length > 0);
    const capped = await WorkspaceIndex.open({ root, persist: false, lexicalMaxChunks: 5 });
    await capped.refresh();
    assert.match(capped.lexicalOff ?? '', /word search is off for this workspace: it has more than 5 chunks/);
    assert.deepEqual(capped.lexicalSearch('handle request', 5), []);
    assert.ok(capped.loadReport.notes.some((n) => n.startsWith('word search is off')));
    await small.close();
    await capped.close();
  } finally {
    await fsp.rm(root, { recursive: true, force: true });
  }
});
