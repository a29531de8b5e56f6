// The evaluation's questions on Go and Ruby repositories (written here to a temporary directory): the
// product's walker and chunker give the files and chunks, tree-sitter facts the definitions, and the
// questions are the recipe's phrasings about them. And the reason given when nothing can be asked.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createChunker } from '../../../src/core/chunker';
import { walkFiles } from '../../../src/core/walker';
import { extractFacts, FACT_LANGUAGES } from '../../../src/core/facts';
import { buildQuestions, noQuestionsReason, type EvalFile, type EvalTask } from '../../../src/core/eval/questions';

const GO: Record<string, string> = {
  'doc.go': `// Package flagset parses command-line flags into typed values.
package flagset
`,
  'flag.go': `package flagset

import "strconv"

// Flag is a named value set from the command line.
type Flag struct {
	Name  string
	Usage string
	value Value
}

// Value is the interface to the dynamic value stored in a flag.
type Value interface {
	String() string
	Set(string) error
}

// IsBoolFlag reports whether the flag takes no argument.
func (f *Flag) IsBoolFlag() bool {
	_, ok := f.value.(*boolValue)
	return ok
}

type boolValue bool

// Set parses a boolean from its text form.
func (b *boolValue) Set(s string) error {
	v, err := strconv.ParseBool(s)
	*b = boolValue(v)
	return err
}
`,
  'set.go': `package flagset

import "fmt"

// FlagSet is a set of defined flags.
type FlagSet struct {
	name   string
	formal map[string]*Flag
}

// NewFlagSet returns a new, empty flag set with the specified name.
func NewFlagSet(name string) *FlagSet {
	return &FlagSet{name: name, formal: map[string]*Flag{}}
}

// Lookup returns the Flag structure of the named flag, returning nil if none exists.
func (f *FlagSet) Lookup(name string) *Flag {
	return f.formal[name]
}

// Parse parses flag definitions from the argument list, which should not
// include the command name.
func (f *FlagSet) Parse(arguments []string) error {
	for _, a := range arguments {
		if _, ok := f.formal[a]; !ok {
			return fmt.Errorf("flag provided but not defined: %s", a)
		}
	}
	return nil
}
`,
};

const RUBY: Record<string, string> = {
  'lib/rack/etag.rb': `# frozen_string_literal: true

module Rack
  # Automatically sets the etag header on all String bodies.
  class ETag
    def initialize(app, cache_control = nil)
      @app = app
      @cache_control = cache_control
    end

    # Calls the app and adds the etag header.
    def call(env)
      status, headers, body = @app.call(env)
      [status, headers, body]
    end

    private

    # Whether an etag is set for this status.
    def etag_status?(status)
      status == 200 || status == 201
    end
  end
end
`,
  'lib/rack/lint.rb': `# frozen_string_literal: true

module Rack
  # Validates your application and the requests and responses according to the Rack spec.
  class Lint
    # Raised when the app breaks the spec.
    class LintError < RuntimeError; end

    # Checks the environment of a request.
    def check_environment!(env)
      raise LintError, "env is not a Hash" unless env.is_a?(Hash)
    end

    def self.assert(message)
      raise LintError, message unless yield
    end
  end
end
`,
};

function write(dir: string, files: Record<string, string>): string {
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}

/** A repository's source files as `e2code eval` loads them: the product's walker, chunker and facts. */
async function load(root: string): Promise<EvalFile[]> {
  const chunker = await createChunker({ maxTokens: 128 });
  const files: EvalFile[] = [];
  for await (const item of walkFiles(root, {})) {
    if (!('file' in item)) continue;
    const rel = item.file.path;
    const language = chunker.languageOf(rel);
    if (!FACT_LANGUAGES.includes(language)) continue;
    const bytes = Buffer.from(item.bytes);
    const chunks = (await chunker.chunkFile(rel, item.bytes)).map((c) => ({
      ...c,
      code: bytes.subarray(c.startByte, c.endByte).toString('utf8'),
    }));
    const content = bytes.toString('utf8');
    files.push({ repo: root, path: rel, language, content, chunks, ...(await extractFacts(content, language)) });
  }
  return files.sort((a, b) => a.path.localeCompare(b.path));
}

const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2code-questions-'));
let goFiles: EvalFile[];
let rubyFiles: EvalFile[];
before(async () => {
  goFiles = await load(write(path.join(tmp, 'go'), GO));
  rubyFiles = await load(write(path.join(tmp, 'ruby'), RUBY));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const opts = { n: 20, filesPerQuestion: 4, softTokensPerChunk: 4, seed: 0 };

/** Each where/what question names a definition found once among its files, answered by its file (where) or doc (what). */
function checkDefinitionQuestions(files: EvalFile[], task: 'where' | 'what'): Set<string> {
  const qs = buildQuestions(files, task, opts);
  assert.ok(qs.length > 0, `no ${task} questions`);
  const asked = new Set<string>();
  for (const q of qs) {
    const name = (task === 'where' ? /^Where is (\S+) defined\?$/ : /^What does (\S+) do\?$/).exec(q.request)?.[1];
    assert.ok(name, q.request);
    asked.add(name);
    const own = files.find((f) => f.path === q.file)!;
    const same = q.files.flatMap((f) => files.find((x) => x.path === f.path)!.defs.filter((d) => d.name === name));
    assert.equal(same.length, 1, `${name} is ambiguous in ${q.files.map((f) => f.path)}`);
    assert.ok(own.defs.includes(q.def!));
    assert.equal(q.answer, task === 'where' ? q.file : q.def!.doc);
    // The line the grounded answer points at: the definition's, inside its chunk.
    assert.ok(q.defChunk && q.defChunk.startLine <= q.def!.line && q.def!.line <= q.defChunk.endLine);
    assert.match(own.content.split('\n')[q.def!.line - 1], new RegExp(name.replace(/[?!]/g, '\\$&')));
  }
  return asked;
}

test('a Go repository gives where/what/summary questions about its exported and unexported definitions', () => {
  assert.deepEqual(
    goFiles.map((f) => [f.path, f.language]),
    [
      ['doc.go', 'go'],
      ['flag.go', 'go'],
      ['set.go', 'go'],
    ],
  );
  const where = checkDefinitionQuestions(goFiles, 'where');
  for (const name of ['Flag', 'Value', 'IsBoolFlag', 'boolValue', 'FlagSet', 'NewFlagSet', 'Lookup', 'Parse'])
    assert.ok(where.has(name), `never asked where ${name} is`);
  assert.ok(!where.has('Set'), 'Set is both a Value method and a boolValue method in flag.go: ambiguous');
  const what = checkDefinitionQuestions(goFiles, 'what');
  assert.ok(what.has('Lookup') && !what.has('boolValue'), 'what questions only about documented definitions');
  const lookup = buildQuestions(goFiles, 'what', opts).find((q) => q.def?.name === 'Lookup')!;
  assert.equal(lookup.answer, 'Lookup returns the Flag structure of the named flag, returning nil if none exists.');
  assert.deepEqual([lookup.def!.line, lookup.def!.endLine, lookup.def!.signature], [17, 19, 'func (f *FlagSet) Lookup(name string) *Flag']);
  const summary = buildQuestions(goFiles, 'summary', opts);
  assert.deepEqual(
    summary.map((q) => [q.request, q.answer]),
    [['Summarize doc.go.', 'Package flagset parses command-line flags into typed values.']],
  );
});

test('a Ruby repository gives questions about its classes and ?/! methods', () => {
  assert.deepEqual(
    rubyFiles.map((f) => f.path),
    ['lib/rack/etag.rb', 'lib/rack/lint.rb'],
  );
  const where = checkDefinitionQuestions(rubyFiles, 'where');
  for (const name of ['ETag', 'call', 'etag_status?', 'Lint', 'LintError', 'check_environment!', 'assert'])
    assert.ok(where.has(name), `never asked where ${name} is`);
  assert.ok(!where.has('Rack'), 'the module both files reopen is ambiguous');
  assert.ok(!where.has('initialize'), 'a constructor is its class');
  const what = checkDefinitionQuestions(rubyFiles, 'what');
  assert.ok(what.has('etag_status?') && what.has('check_environment!') && !what.has('assert'));
  const summary = buildQuestions(rubyFiles, 'summary', opts);
  assert.deepEqual(summary.map((q) => [q.file, q.answer]).sort(), [
    ['lib/rack/etag.rb', 'Automatically sets the etag header on all String bodies.'],
    ['lib/rack/lint.rb', 'Validates your application and the requests and responses according to the Rack spec.'],
  ]);
});

test('with no question to build, the reason says what the files lack', () => {
  const tasks: EvalTask[] = ['where', 'what', 'summary', 'complete', 'reconstruct'];
  const context = { languages: FACT_LANGUAGES, softTokensPerChunk: 4 };
  assert.equal(
    noQuestionsReason([], tasks, { ...context, indexed: { markdown: 2, kotlin: 1 } }),
    `none of its 3 indexed files (markdown 2, kotlin 1) is in a language questions are built for (${FACT_LANGUAGES.join(', ')})`,
  );
  assert.match(
    noQuestionsReason([], tasks, { ...context, indexed: {} }),
    /^it has no indexed files \(questions are built from python, javascript, /,
  );
  // Go files without definitions or docs, asked only about definitions and file docs.
  const bare = goFiles.map((f) => ({ ...f, defs: [], moduleDoc: '' }));
  assert.equal(
    noQuestionsReason(bare, ['where', 'summary'], { ...context, indexed: { go: 3 } }),
    'no definitions with a name of 3+ characters found in 3 source files (go 3); no file doc comments (module docstring, package comment, file-top comment) found in 3 source files (go 3)',
  );
  const undocumented = goFiles.map((f) => ({ ...f, defs: f.defs.map((d) => ({ ...d, doc: '' })) }));
  assert.equal(buildQuestions(undocumented, 'what', opts).length, 0);
  assert.equal(
    noQuestionsReason(undocumented, ['what'], { ...context, indexed: { go: 3 } }),
    'no definitions with doc comments found in 3 source files (go 3)',
  );
  // Files too long for a question's context (more than 256 positions of soft tokens).
  assert.equal(
    noQuestionsReason(rubyFiles, ['where'], { ...context, softTokensPerChunk: 200, indexed: { ruby: 2 } }),
    "its 2 source files (ruby 2) are all too long for a question (a question's context holds at most 1 chunk of a file)",
  );
});
