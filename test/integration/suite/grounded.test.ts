// Answers a developer can use, in the real extension host with the real sidecar and the bundled model,
// over the small TypeScript project the runner writes (test/integration/harness/project.ts): sources at
// definition lines, Explain finding what the selection uses, one summarize request per scope, Generate
// with a model that cannot write, saves refreshing only their paths, waiting for the index.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { GenerateParams } from '../../../src/core/protocol';
import { openCitation } from '../../../src/extension/citations';
import type { E2codeApi } from '../../../src/extension/extension';
import type { GenerateOutcome } from '../../../src/extension/generate';
import type { Turn } from '../../../src/webview/protocol';
import { lineOf, PROJECT_DIRECTORIES, PROJECT_FILES } from '../harness/project';
import { api, folder, openFile, waitFor } from './util';

/** Records every generate request the extension sends while `body` runs. */
async function recordRequests<T>(e: E2codeApi, body: () => Promise<T>): Promise<{ result: T; requests: GenerateParams[] }> {
  const requests: GenerateParams[] = [];
  const gen = e.ctx.generate.bind(e.ctx);
  e.ctx.generate = (params, onToken, signal) => {
    requests.push(params as GenerateParams);
    return gen(params, onToken, signal);
  };
  try {
    return { result: await body(), requests };
  } finally {
    e.ctx.generate = gen;
  }
}

/**
 * A save is reported twice (the document's save and the file watcher's change), the second one possibly
 * after the first refresh ran: waits out the refresh delay (300 ms in the test settings) and any refresh.
 */
async function settle(e: E2codeApi): Promise<void> {
  await new Promise((r) => setTimeout(r, 1000));
  await e.indexer.whenIdle();
}

async function ready(): Promise<E2codeApi> {
  const e = await api();
  await waitFor('first index', () => e.indexer.results.get(folder().uri.fsPath));
  await e.indexer.whenIdle();
  return e;
}

describe('grounded answers (shapes-cli project)', () => {
  it('indexes the project and says what the bundled model can do', async () => {
    const e = await ready();
    assert.equal(e.indexer.results.get(folder().uri.fsPath)!.files, Object.keys(PROJECT_FILES).length);
    assert.equal(e.indexer.state.state, 'ready');
    const caps = e.ctx.info?.capabilities;
    assert.ok(Array.isArray(caps) && caps.includes('locate'), `capabilities: ${JSON.stringify(caps)}`);
  });

  it('"where is X defined": the top source is the definition line, and opening it lands there', async () => {
    const e = await ready();
    const turn = await e.chat.ask({
      task: 'ask',
      display: 'Where is centimetresToMetres defined?',
      prompt: 'Where is centimetresToMetres defined?',
    });
    assert.equal(turn.error, undefined, turn.error);
    const top = turn.sources?.[0];
    assert.ok(top, `sources: ${JSON.stringify(turn.sources)}`);
    const line = lineOf('src/geometry/units.ts', 'export function centimetresToMetres');
    assert.deepEqual(
      { path: top.path, line: top.line, symbol: top.symbol },
      { path: 'src/geometry/units.ts', line, symbol: 'centimetresToMetres' },
    );
    assert.match(top.signature ?? '', /function centimetresToMetres\(cm: number\): number/);
    assert.match(top.doc ?? '', /Converts centimetres to metres/);
    assert.ok(top.endLine >= top.line);
    for (const s of turn.sources!) assert.ok(fs.existsSync(path.join(folder().uri.fsPath, s.path)), `source ${s.path} exists`);
    // What clicking the card does.
    assert.equal(await openCitation(e.ctx, turn.folder!, top.path, top.line), true);
    const ed = vscode.window.activeTextEditor!;
    assert.equal(path.relative(folder().uri.fsPath, ed.document.uri.fsPath), path.join('src', 'geometry', 'units.ts'));
    assert.equal(ed.selection.active.line, line - 1);
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('Explain sends the selection and shows the definitions of what it uses among its sources', async () => {
    const e = await ready();
    const editor = await openFile('src/cli/main.ts');
    const from = lineOf('src/cli/main.ts', 'export function runCli') - 1;
    editor.selection = new vscode.Selection(from, 0, from + 5, 0);
    const { result: turn, requests } = await recordRequests(
      e,
      async () => (await vscode.commands.executeCommand('e2code.explainSelection')) as Turn,
    );
    assert.equal(turn.error, undefined, turn.error);
    assert.equal(requests.length, 1);
    assert.equal(requests[0].task, 'explain');
    assert.equal(requests[0].selection?.path, 'src/cli/main.ts');
    assert.match(requests[0].selection?.text ?? '', /centimetresToMetres/);
    const used = turn.sources?.find((s) => s.symbol === 'centimetresToMetres');
    assert.ok(used, `sources: ${JSON.stringify(turn.sources?.map((s) => `${s.path}:${s.line} ${s.symbol ?? ''}`))}`);
    assert.deepEqual(
      { path: used.path, line: used.line },
      { path: 'src/geometry/units.ts', line: lineOf('src/geometry/units.ts', 'export function centimetresToMetres') },
    );
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('Summarize Workspace: one request for the whole folder, each directory listed once, a bounded number of decoder runs', async () => {
    const e = await ready();
    const { result: turn, requests } = await recordRequests(
      e,
      async () => (await vscode.commands.executeCommand('e2code.summarizeWorkspace', { folder: folder(), scope: '' })) as Turn,
    );
    assert.equal(turn.error, undefined, turn.error);
    assert.equal(requests.length, 1, 'one request, no fan-out per directory');
    assert.equal(requests[0].task, 'summarize');
    assert.equal(requests[0].scope, '');
    const text = turn.content;
    for (const dir of PROJECT_DIRECTORIES) {
      const headings = text
        .split('\n')
        .filter((l) => /^#+\s/.test(l) && new RegExp(`(^|[\\s\`/])${dir}/?(\`|\\s|$)`).test(l.replace(/^#+\s*/, ' ')));
      assert.equal(headings.length, 1, `directory ${dir} listed once; headings: ${JSON.stringify(headings)}\n${text}`);
    }
    const runs = turn.context?.decoderRuns;
    assert.equal(typeof runs, 'number');
    assert.ok(runs! <= PROJECT_DIRECTORIES.length + 1, `decoder runs ${runs}`);
    assert.equal(e.chat.history.at(-2)?.content, 'Summarize the workspace shapes-cli');
  });

  it('Summarize a directory: one request with that scope, about that directory only', async () => {
    const e = await ready();
    const { result: turn, requests } = await recordRequests(
      e,
      async () => (await vscode.commands.executeCommand('e2code.summarizeWorkspace', { folder: folder(), scope: 'src/shapes' })) as Turn,
    );
    assert.equal(turn.error, undefined, turn.error);
    assert.deepEqual(
      requests.map((r) => r.scope),
      ['src/shapes'],
    );
    assert.match(turn.content, /rectangle\.ts/);
    assert.match(turn.content, /circle\.ts/);
    assert.doesNotMatch(turn.content, /usage\.md|units\.ts/, 'nothing from outside the scope');
  });

  it('Generate with the bundled model (it cannot write code) says so and leaves the file unchanged', async () => {
    const e = await ready();
    assert.equal(e.ctx.can('generate'), false, 'the bundled model has no generate capability');
    const file = path.join(folder().uri.fsPath, 'src', 'shapes', 'circle.ts');
    const before = fs.readFileSync(file, 'utf8');
    const editor = await openFile('src/shapes/circle.ts');
    editor.selection = new vscode.Selection(editor.document.lineCount - 1, 0, editor.document.lineCount - 1, 0);
    const version = editor.document.version;
    const { result: out, requests } = await recordRequests(
      e,
      async () =>
        (await vscode.commands.executeCommand('e2code.generateCode', {
          instruction: 'a function that returns the circumference',
        })) as GenerateOutcome,
    );
    assert.ok(out, 'an outcome');
    assert.equal(out.applied, false);
    assert.equal(out.mode, 'diff', 'the default is a diff preview');
    assert.match(out.notice ?? '', /cannot write code/);
    assert.equal(requests.length, 0, 'the model was not asked');
    assert.equal(editor.document.version, version, 'no edit');
    assert.equal(editor.document.isDirty, false);
    assert.equal(fs.readFileSync(file, 'utf8'), before);
    const diffs = vscode.window.tabGroups.all.flatMap((g) => g.tabs).filter((t) => t.input instanceof vscode.TabInputTextDiff);
    assert.equal(diffs.length, 0, 'no proposal opened');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('a question nothing matches says so in plain words, with no sources and nothing invented', async () => {
    const e = await ready();
    const turn = await e.chat.ask({
      task: 'ask',
      display: 'Where is zqxwvPlorkbat configured?',
      prompt: 'Where is zqxwvPlorkbat configured?',
    });
    assert.equal(turn.error, undefined, turn.error);
    assert.match(turn.notice ?? '', /nothing in this workspace matches/i);
    assert.deepEqual(turn.sources, []);
    assert.doesNotMatch(turn.content, /\.(ts|md)\b/, `no file named: ${turn.content}`);
  });

  it('saves, creates, renames and deletes refresh only their paths (IndexParams.paths), and answers follow the edit', async () => {
    const e = await ready();
    const root = folder().uri.fsPath;
    const files = e.indexer.results.get(root)!.files;

    // Save an edit: a new function in circle.ts.
    let runs = e.indexer.completedRuns;
    const editor = await openFile('src/shapes/circle.ts');
    await editor.edit((b) =>
      b.insert(
        new vscode.Position(editor.document.lineCount - 1, 0),
        '\n/** The perimeter of a square with side `s`. */\nexport function squarePerimeter(s: number): number {\n  return 4 * s;\n}\n',
      ),
    );
    await editor.document.save();
    await waitFor('refresh after save', () => e.indexer.completedRuns > runs);
    await e.indexer.whenIdle();
    assert.deepEqual(e.indexer.lastRequest.get(root), { paths: ['src/shapes/circle.ts'] });
    await settle(e);
    const line =
      editor.document
        .getText()
        .split('\n')
        .findIndex((l) => l.startsWith('export function squarePerimeter')) + 1;
    const turn = await e.chat.ask({
      task: 'ask',
      display: 'Where is squarePerimeter defined?',
      prompt: 'Where is squarePerimeter defined?',
    });
    assert.deepEqual(
      { path: turn.sources?.[0]?.path, line: turn.sources?.[0]?.line },
      { path: 'src/shapes/circle.ts', line },
      'the answer reflects the saved edit',
    );
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');

    // Create.
    runs = e.indexer.completedRuns;
    const created = vscode.Uri.joinPath(folder().uri, 'src', 'shapes', 'square.ts');
    await vscode.workspace.fs.writeFile(
      created,
      Buffer.from('/** A square. */\nexport class Square {\n  constructor(readonly side: number) {}\n}\n'),
    );
    await waitFor('refresh after create', () => e.indexer.completedRuns > runs && e.indexer.results.get(root)!.files === files + 1);
    await settle(e);
    assert.deepEqual(e.indexer.lastRequest.get(root), { paths: ['src/shapes/square.ts'] });

    // Rename: the old and the new path.
    runs = e.indexer.completedRuns;
    const renamed = vscode.Uri.joinPath(folder().uri, 'src', 'shapes', 'quad.ts');
    const edit = new vscode.WorkspaceEdit();
    edit.renameFile(created, renamed);
    assert.equal(await vscode.workspace.applyEdit(edit), true);
    await waitFor('refresh after rename', () => e.indexer.completedRuns > runs);
    await settle(e);
    assert.deepEqual(e.indexer.lastRequest.get(root), { paths: ['src/shapes/quad.ts', 'src/shapes/square.ts'] });
    assert.equal(e.indexer.results.get(root)!.files, files + 1);

    // Delete.
    runs = e.indexer.completedRuns;
    await vscode.workspace.fs.delete(renamed);
    await waitFor('refresh after delete', () => e.indexer.completedRuns > runs && e.indexer.results.get(root)!.files === files);
    assert.deepEqual(e.indexer.lastRequest.get(root), { paths: ['src/shapes/quad.ts'] });
  });

  it('a question asked while the folder is being indexed waits for the index and says so', async () => {
    const e = await ready();
    const seen = new Set<string>();
    const indexing = e.indexer.indexAll();
    const asking = e.chat.ask({ task: 'ask', display: 'Where is `Circle` defined?', prompt: 'Where is `Circle` defined?' });
    seen.add(e.chat.history.at(-1)?.waiting ?? '(none at the start)');
    const watch = setInterval(() => {
      const w = e.chat.history.at(-1)?.waiting;
      if (w) seen.add(w);
    }, 5);
    let turn: Turn;
    try {
      turn = await asking;
    } finally {
      clearInterval(watch);
    }
    await indexing;
    const waits = [...seen];
    assert.ok(
      waits.some((w) => /^Waiting for the index( \(\d+%\))?…$/.test(w)),
      `waits seen: ${JSON.stringify(waits)}`,
    );
    assert.equal(turn.error, undefined);
    assert.equal(turn.waiting, undefined, 'the finished answer no longer waits');
    assert.equal(turn.sources?.[0]?.path, 'src/shapes/circle.ts');
  });

  it('cancelling a full index leaves the status "index incomplete", not "ready"; a re-index completes it', async () => {
    const e = await ready();
    const running = e.indexer.indexAll();
    assert.equal(e.indexer.isPending(folder().uri.fsPath), true, 'the index started');
    e.indexer.cancel();
    await running;
    assert.equal(e.indexer.state.state, 'incomplete', `state ${JSON.stringify(e.indexer.state)}`);
    assert.match(e.status.text, /index incomplete/);
    assert.doesNotMatch(e.status.text, /ready/);
    await vscode.commands.executeCommand('e2code.reindex');
    assert.equal(e.indexer.state.state, 'ready');
    assert.match(e.status.text, /e2code: ready/);
  });
});
