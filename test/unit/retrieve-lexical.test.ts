import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { foldPlural, LEXICAL_FORMAT, LexicalIndex, splitIdentifiers, type LexicalDoc } from '../../src/core/retrieve/lexical';

function doc(hash: string, path: string, text: string, symbols: string[] = [], symbolPath = ''): LexicalDoc {
  return { hash, path, symbols, symbolPath, text };
}

/** A small mixed-language corpus in the shape the workspace index feeds (one doc per chunk). */
const CORPUS: LexicalDoc[] = [
  doc(
    'go-add',
    'command.go',
    '// AddCommand adds one or more commands to this parent command.\nfunc (c *Command) AddCommand(cmds ...*Command) {\n\tfor _, x := range cmds {\n\t\tc.commands = append(c.commands, x)\n\t}\n}',
    ['AddCommand'],
    'method AddCommand',
  ),
  doc(
    'go-exec',
    'command.go',
    '// Execute uses the args (os.Args[1:] by default) and runs the command tree.\nfunc (c *Command) Execute() error {\n\treturn c.ExecuteC()\n}',
    ['Execute'],
    'method Execute',
  ),
  doc(
    'go-help',
    'help.go',
    '// The help text lists every subcommand of the command and its flags.\nfunc usage(c *Command) string {\n\treturn c.UsageString()\n}',
    ['usage'],
    'function usage',
  ),
  doc(
    'py-parse',
    'cli/parser.py',
    'def parse_args(argv):\n    """Parse the command line into options."""\n    return Parser().run(argv)\n',
    ['parse_args'],
    'function parse_args',
  ),
  doc(
    'ts-refresh',
    'src/core/index/index.ts',
    'async refreshPaths(paths: readonly string[]): Promise<RefreshResult> {\n  return this.serialise(() => this.refreshSome(paths));\n}',
    ['refreshPaths'],
    'class WorkspaceIndex > method refreshPaths',
  ),
  doc(
    'ts-mention',
    'src/extension/watch.ts',
    'watcher.onDidChange((uri) => index.refreshPaths([uri.fsPath]));\nwatcher.onDidCreate((uri) => queue.push(uri));',
    [],
  ),
  doc('md-readme', 'README.md', '# Usage\n\nRun the tool from the project directory. It prints a summary of what it found.', []),
  doc(
    'rb-etag',
    'lib/rack/etag.rb',
    '# Automatically sets the ETag header on all String bodies.\nclass ETag\n  def initialize(app, no_cache_control = nil)\n    @app = app\n  end\nend',
    ['ETag', 'initialize'],
    'class ETag',
  ),
];

function build(docs: readonly LexicalDoc[] = CORPUS): LexicalIndex {
  const ix = LexicalIndex.empty();
  ix.add(docs);
  return ix;
}

const top = (ix: LexicalIndex, q: string, n = 1) => ix.search(q, n).map((h) => h.hash);

describe('splitIdentifiers', () => {
  test('camelCase, PascalCase, snake_case, kebab-case and digits, whole identifier kept', () => {
    assert.deepEqual(splitIdentifiers('refreshPaths'), ['refreshpaths', 'refresh', 'paths']);
    assert.deepEqual(splitIdentifiers('HTTPServer'), ['httpserver', 'http', 'server']);
    assert.deepEqual(splitIdentifiers('add_subcommand'), ['add_subcommand', 'add', 'subcommand']);
    assert.deepEqual(splitIdentifiers('--no-hybrid'), ['no-hybrid', 'no', 'hybrid']);
    assert.deepEqual(splitIdentifiers('utf8Decode'), ['utf8decode', 'utf', 'decode']);
    assert.deepEqual(splitIdentifiers('sha256'), ['sha256', 'sha', '256']);
    assert.deepEqual(splitIdentifiers('MAX_FILE_BYTES'), ['max_file_bytes', 'max', 'file', 'bytes']);
  });

  test('plain words are lower-cased once; edge underscores trimmed; one-letter tokens dropped', () => {
    assert.deepEqual(splitIdentifiers('The index, a cache.'), ['the', 'index', 'cache']);
    assert.deepEqual(splitIdentifiers('__init__ $el x'), ['init', 'el']);
    assert.deepEqual(splitIdentifiers('Command'), ['command']);
  });

  test('repeats are kept (term frequency); order follows the text', () => {
    assert.deepEqual(splitIdentifiers('a.b.fooBar(fooBar)'), ['foobar', 'foo', 'bar', 'foobar', 'foo', 'bar']);
  });

  test('non-ASCII identifiers split by Unicode case', () => {
    assert.deepEqual(splitIdentifiers('größeÄndern'), ['größeändern', 'größe', 'ändern']);
    assert.deepEqual(splitIdentifiers('// 変数 value'), ['変数', 'value']);
  });

  test('blobs longer than 64 characters are left out', () => {
    assert.deepEqual(splitIdentifiers(`key = "${'a'.repeat(65)}"`), ['key']);
  });
});

describe('foldPlural', () => {
  test('plurals fold to the singular; words ending in ss, us, is and short words stay', () => {
    assert.deepEqual(
      ['subcommands', 'entries', 'paths', 'bytes', 'class', 'status', 'this', 'axis', 'gas', 'ies', 'series'].map(foldPlural),
      ['subcommand', 'entry', 'path', 'byte', 'class', 'status', 'this', 'axis', 'gas', 'ies', 'sery'],
    );
  });
});

describe('LexicalIndex ranking', () => {
  test('"How do I add a subcommand?" ranks the chunk defining AddCommand first', () => {
    assert.deepEqual(top(build(), 'How do I add a subcommand?'), ['go-add']);
  });

  test('plural and singular find each other, in queries and in code', () => {
    const ix = build([
      doc('py', 'cli.py', 'parser.add_subcommand(name)\n', []),
      doc('adder', 'math.py', 'total = add(a, b) + add(c, d) + add(e, f)\n', []),
      doc('entries', 'flush.ts', 'for (const e of logEntries) flush(e);', []),
      doc('logger', 'logger.ts', 'log(a); log(b); logger.log(c);', []),
      doc('other', 'x.ts', 'const unrelated = 2;', []),
    ]);
    assert.deepEqual(top(ix, 'How do I add subcommands?'), ['py']);
    assert.deepEqual(top(ix, 'log entry'), ['entries']);
  });

  test('natural words find the chunk with the split identifier', () => {
    const ix = build();
    assert.deepEqual(top(ix, 'refresh paths'), ['ts-refresh']);
    assert.deepEqual(top(ix, 'refreshPaths'), ['ts-refresh']);
    assert.deepEqual(top(ix, 'where is parse args defined'), ['py-parse']);
    assert.deepEqual(top(ix, 'etag'), ['rb-etag']);
  });

  test('a chunk defining a name outranks one that mentions it more often, even in its path', () => {
    const body = Array.from({ length: 30 }, (_, i) => `  const step${i} = prepare(paths[${i}], options.mode${i});`).join('\n');
    const ix = build([
      doc(
        'def',
        'src/index.ts',
        `export function refreshPaths(paths: string[], options: Options) {\n${body}\n}`,
        ['refreshPaths'],
        'function refreshPaths',
      ),
      doc('uses', 'test/refreshPaths.test.ts', 'test(() => { refreshPaths(x); refreshPaths(y); refreshPaths(z); });', []),
      doc('other', 'c.ts', 'const unrelated = 1;', []),
    ]);
    const hits = ix.search('refreshPaths', 10);
    assert.deepEqual(
      hits.map((h) => h.hash),
      ['def', 'uses'],
    );
    assert.ok(hits[0].score > hits[1].score);
  });

  test('comment words are indexed', () => {
    assert.deepEqual(top(build(), 'automatically sets header on string bodies'), ['rb-etag']);
    assert.deepEqual(top(build(), 'runs the command tree'), ['go-exec']);
  });

  test('path words are indexed', () => {
    assert.deepEqual(top(build(), 'rack'), ['rb-etag']);
    assert.deepEqual(top(build(), 'watch'), ['ts-mention']);
  });

  test('stop words are dropped from queries, but a query of only stop words still searches', () => {
    const ix = build([doc('is', 'a.py', 'if x is None: find(x)', []), doc('other', 'b.py', 'y = 2', [])]);
    // "how", "do", "I", "the" are dropped: "where is the thing" alone would match nothing but stop words.
    assert.deepEqual(ix.search('how do I', 5), []);
    assert.deepEqual(top(ix, 'is'), ['is']);
    assert.deepEqual(top(ix, 'find'), ['is']);
    assert.deepEqual(ix.search('   ?!  ', 5), []);
  });

  test('limit, and scores best first', () => {
    const ix = build();
    const hits = ix.search('command', 3);
    assert.equal(hits.length, 3);
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1].score >= hits[i].score);
    assert.deepEqual(ix.search('command', 0), []);
  });
});

describe('LexicalIndex maintenance', () => {
  test('one document per hash: adding the same hash again is a no-op', () => {
    const ix = build();
    const size = ix.size;
    ix.add([doc('go-add', 'other/copy.go', 'zebra giraffe')]);
    assert.equal(ix.size, size);
    assert.deepEqual(ix.search('zebra', 5), []);
    assert.deepEqual(top(ix, 'AddCommand'), ['go-add']);
  });

  test('remove drops documents; their words are no longer found; unknown hashes are ignored', () => {
    const ix = build();
    ix.remove(['rb-etag', 'nope']);
    assert.equal(ix.has('rb-etag'), false);
    assert.equal(ix.size, CORPUS.length - 1);
    assert.deepEqual(ix.search('etag', 5), []);
    assert.deepEqual(top(ix, 'AddCommand'), ['go-add']);
    ix.add([doc('rb-etag', 'lib/rack/etag.rb', 'class Replaced; end', ['Replaced'])]);
    assert.deepEqual(
      ix.search('etag header', 5).map((h) => h.hash),
      ['rb-etag'],
      'path words of the new version',
    );
    assert.deepEqual(top(ix, 'replaced'), ['rb-etag']);
  });

  test('rankings do not depend on history: after removals they equal a fresh build', () => {
    // Few removals (below minisearch's automatic vacuum), whose postings follow the live ones: a search
    // that met them after scoring the live documents would use an inflated document frequency.
    const extra = Array.from({ length: 5 }, (_, i) =>
      doc(`x${i}`, `x/${i}.ts`, `command subcommand value${i} parse args header`, [`Thing${i}`]),
    );
    const queries = ['How do I add a subcommand?', 'command', 'parse args', 'header', 'refresh paths'];
    const grown = build([...CORPUS, ...extra]);
    grown.remove(extra.map((d) => d.hash));
    const fresh = build();
    for (const q of queries) assert.deepEqual(grown.search(q, 10), fresh.search(q, 10), q);
    for (const q of queries) assert.deepEqual(grown.search(q, 10), fresh.search(q, 10), `${q} (second time)`);
    // The same holds for an index saved with removals not yet vacuumed.
    const saved = build([...CORPUS, ...extra]);
    saved.remove(extra.map((d) => d.hash));
    const loaded = LexicalIndex.fromJSON(saved.toJSON());
    for (const q of queries) assert.deepEqual(loaded.search(q, 10), fresh.search(q, 10), `${q} (loaded)`);
  });

  test('toJSON / fromJSON round trip: same documents, same results', () => {
    const ix = build();
    ix.remove(['go-help']);
    const back = LexicalIndex.fromJSON(ix.toJSON());
    assert.equal(back.size, ix.size);
    assert.deepEqual([...back.keys()].sort(), [...ix.keys()].sort());
    for (const q of ['How do I add a subcommand?', 'command', 'refresh paths', 'etag header'])
      assert.deepEqual(back.search(q, 10), ix.search(q, 10), q);
    back.add([doc('new', 'n.ts', 'brandNewThing()', ['brandNewThing'])]);
    assert.deepEqual(top(back, 'brand new thing'), ['new']);
  });

  test('fromJSONAsync reads the same as fromJSON', async () => {
    const ix = build();
    const back = await LexicalIndex.fromJSONAsync(ix.toJSON());
    assert.equal(back.size, ix.size);
    for (const q of ['How do I add a subcommand?', 'command', 'etag header']) assert.deepEqual(back.search(q, 10), ix.search(q, 10), q);
    await assert.rejects(LexicalIndex.fromJSONAsync('{"format": 999}'), new RegExp(`format 999, expected ${LEXICAL_FORMAT}`));
  });

  test('fromJSON rejects other formats and damaged input', () => {
    assert.throws(() => LexicalIndex.fromJSON('{"format": 999, "index": {}}'), /format 999/);
    assert.throws(() => LexicalIndex.fromJSON(`{"format": ${LEXICAL_FORMAT}}`), /no document ids/);
    assert.throws(() => LexicalIndex.fromJSON(build().toJSON().slice(0, 100)));
  });
});
