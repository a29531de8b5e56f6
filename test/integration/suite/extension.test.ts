// The extension in a real VS Code extension host (code-server), with the real sidecar and the bundled
// model, over a scratch copy of test/fixtures/workspace.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { E2codeApi } from '../../../src/extension/extension';
import type { IndexStatus } from '../../../src/extension/indexer';
import { openCitation } from '../../../src/extension/citations';
import { api, folder, openFile, waitFor } from './util';

const STOP_REASONS = ['eos', 'maxTokens', 'stop', 'repetition'];

/**
 * Generate's editor flow (diff preview, accept, one undoable edit) needs a model answer with code; the
 * bundled model cannot write code (grounded.test.ts checks that it is refused), so these tests give the
 * answer and the capability. Returns the function that puts both back.
 */
function givenModelAnswer(e: E2codeApi, answer: string): () => void {
  const gen = e.ctx.generate;
  const can = e.ctx.can;
  e.ctx.can = (what) => what === 'generate' || can.call(e.ctx, what);
  e.ctx.generate = async (params) => ({
    answer,
    origin: 'model',
    citations: [],
    sources: [],
    timings: { firstTokenMs: 1, tokensPerSecond: 1 },
    context: { positions: 0, softChunks: 0, textChunks: 0, softFiles: [], textFiles: [], decoderRuns: 1 },
    stopReason: params.task === 'generate' ? 'eos' : 'stop',
  });
  return () => {
    e.ctx.generate = gen;
    e.ctx.can = can;
  };
}

describe('activation and indexing', () => {
  it('activates, registers its commands and starts the sidecar with the bundled model', async () => {
    const e = await api();
    const commands = await vscode.commands.getCommands(true);
    for (const c of [
      'e2code.explainSelection',
      'e2code.summarizeWorkspace',
      'e2code.generateCode',
      'e2code.reindex',
      'e2code.pauseIndexing',
      'e2code.resumeIndexing',
      'e2code.selectBundle',
      'e2code.showLogs',
      'e2code.newChat',
      'e2code.showChats',
      'e2code.summarizeFolder',
      'e2code.chat.focus',
    ]) {
      assert.ok(commands.includes(c), `command ${c} registered`);
    }
    await waitFor('sidecar ready', () => e.ctx.client?.state === 'ready');
    assert.equal(e.ctx.info?.bundleName, 'default');
    assert.ok(['cpu', 'cuda'].includes(e.ctx.info?.provider ?? ''), `provider ${e.ctx.info?.provider}`);
    assert.ok(Array.isArray(e.ctx.info?.capabilities), 'the bundle says what it can do');
  });

  it('indexes the workspace in the background and shows ready in the status bar', async () => {
    const e = await api();
    await waitFor('first index', () => e.indexer.results.get(folder().uri.fsPath));
    await e.indexer.whenIdle();
    const r = e.indexer.results.get(folder().uri.fsPath)!;
    assert.equal(r.files, 5, `files indexed: ${JSON.stringify(r)}`);
    assert.ok(r.chunks >= r.files, 'at least a chunk per file');
    assert.equal(e.indexer.state.state, 'ready');
    assert.match(e.status.text, /e2code: ready/);
  });

  it('reports indexing progress in the status bar while re-indexing', async () => {
    const e = await api();
    const seen: IndexStatus[] = [];
    const texts: string[] = [];
    const sub = e.indexer.onDidChange((s) => {
      seen.push(s);
      texts.push(e.status.text);
    });
    try {
      await vscode.commands.executeCommand('e2code.reindex');
    } finally {
      sub.dispose();
    }
    const indexing = seen.filter((s) => s.state === 'indexing');
    assert.ok(indexing.length > 0, `states seen: ${seen.map((s) => s.state).join(',')}`);
    assert.ok(
      texts.some((t) => /indexing \d+%/.test(t)),
      `status texts: ${texts.join(' | ')}`,
    );
    const percents = indexing.map((s) => s.percent ?? 0);
    assert.deepEqual(
      [...percents].sort((a, b) => a - b),
      percents,
      'progress never goes backwards',
    );
    assert.equal(seen.at(-1)?.state, 'ready');
    // Nothing changed: every chunk came from the soft-prompt cache.
    const r = e.indexer.results.get(folder().uri.fsPath)!;
    assert.equal(r.encoded, 0);
    assert.equal(r.cached, r.chunks);
  });

  it('re-indexes a folder after a file is created, edited and deleted (debounced)', async () => {
    const e = await api();
    await e.indexer.whenIdle();
    const root = folder().uri.fsPath;
    const before = e.indexer.results.get(root)!;
    const runs = e.indexer.completedRuns;
    const file = vscode.Uri.joinPath(folder().uri, 'src', 'added.ts');
    await vscode.workspace.fs.writeFile(file, Buffer.from('export function added(): number {\n  return 42;\n}\n'));
    await waitFor('re-index after create', () => e.indexer.completedRuns > runs && e.indexer.results.get(root)!.files === before.files + 1);
    const afterCreate = e.indexer.results.get(root)!;
    assert.ok(afterCreate.encoded >= 1, 'the new file was encoded');
    assert.ok(afterCreate.encoded < afterCreate.chunks, 'unchanged files came from the cache');

    // An edit through the editor and a save.
    const editor = await openFile('src/added.ts');
    const runsBeforeSave = e.indexer.completedRuns;
    await editor.edit((b) => b.insert(new vscode.Position(3, 0), '\nexport const answer = added();\n'));
    await editor.document.save();
    await waitFor('re-index after save', () => e.indexer.completedRuns > runsBeforeSave);
    await e.indexer.whenIdle();
    assert.ok(e.indexer.results.get(root)!.encoded >= 1, 'the edited chunk was re-encoded');

    const runsBeforeDelete = e.indexer.completedRuns;
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
    await vscode.workspace.fs.delete(file);
    await waitFor(
      're-index after delete',
      () => e.indexer.completedRuns > runsBeforeDelete && e.indexer.results.get(root)!.files === before.files,
    );
  });

  it('pauses and resumes indexing from the commands', async () => {
    const e = await api();
    await e.indexer.whenIdle();
    const root = folder().uri.fsPath;
    const files = e.indexer.results.get(root)!.files;
    const runs = e.indexer.completedRuns;
    await vscode.commands.executeCommand('e2code.pauseIndexing');
    assert.equal(e.indexer.state.state, 'paused');
    assert.match(e.status.text, /paused/);
    // A new file needs encoding: the sidecar holds that index at its pause gate.
    const file = vscode.Uri.joinPath(folder().uri, 'lib', 'paused.js');
    await vscode.workspace.fs.writeFile(file, Buffer.from('function whilePaused() {\n  return "held";\n}\n'));
    await waitFor('the sidecar holds the index', async () => (await e.ctx.client!.status()).state === 'paused', 20_000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.equal(e.indexer.completedRuns, runs, 'no index completes while paused');
    assert.match(e.status.text, /paused/);
    await vscode.commands.executeCommand('e2code.resumeIndexing');
    await waitFor('the held index completes', () => e.indexer.completedRuns > runs);
    await e.indexer.whenIdle();
    assert.equal(e.indexer.results.get(root)!.files, files + 1);
    assert.equal(e.indexer.state.state, 'ready');
    assert.match(e.status.text, /ready/);
    await vscode.workspace.fs.delete(file);
  });
});

describe('commands', () => {
  it('Explain Selection answers in the chat panel, grounded in the selection and the repository', async () => {
    const e = await api();
    const editor = await openFile('src/geometry.ts');
    const start = editor.document
      .getText()
      .split('\n')
      .findIndex((l) => l.includes('area(): number'));
    assert.ok(start > 0);
    editor.selection = new vscode.Selection(start - 1, 0, start + 3, 0);
    const turn = (await vscode.commands.executeCommand('e2code.explainSelection')) as import('../../../src/webview/protocol').Turn;
    assert.ok(turn, 'the command returns the answer turn');
    assert.equal(turn.error, undefined, `no error: ${turn.error}`);
    assert.ok(STOP_REASONS.includes(turn.stopReason ?? ''), `stop reason ${turn.stopReason}`);
    assert.ok(turn.context, 'context reported');
    assert.ok(turn.sources?.length, 'sources listed');
    for (const s of turn.sources!) assert.ok(fs.existsSync(path.join(folder().uri.fsPath, s.path)), `source ${s.path} exists`);
    const history = e.chat.history;
    const user = history.at(-2)!;
    assert.equal(user.role, 'user');
    assert.equal(user.content, `Explain \`src/geometry.ts:${start}-${start + 3}\``);
    assert.equal(history.at(-1)!.id, turn.id);
  });

  it('Generate Code inserts at the cursor as one undoable edit (edit mode; the model answer given)', async () => {
    const e = await api();
    const restore = givenModelAnswer(e, '```ts\nexport function double(n: number): number {\n  return 2 * n;\n}\n```');
    const file = path.join(folder().uri.fsPath, 'src', 'gen.ts');
    const original = '// Generated code goes below.\n\n';
    fs.writeFileSync(file, original);
    const editor = await openFile('src/gen.ts');
    editor.selection = new vscode.Selection(2, 0, 2, 0);
    const versionBefore = editor.document.version;
    const out = (await vscode.commands.executeCommand('e2code.generateCode', {
      instruction: 'a function that doubles a number',
      mode: 'edit',
    })) as import('../../../src/extension/generate').GenerateOutcome;
    assert.ok(out, 'an outcome');
    restore();
    assert.equal(out.mode, 'edit');
    assert.equal(out.code, 'export function double(n: number): number {\n  return 2 * n;\n}\n');
    assert.equal(out.applied, true);
    assert.equal(editor.document.getText(), original + out.code);
    assert.equal(editor.document.version, versionBefore + 1, 'one edit');
    await vscode.commands.executeCommand('undo');
    assert.equal(editor.document.getText(), original, 'one undo restores the file');
    assert.ok(e.ctx.client, 'sidecar still there');
    await vscode.commands.executeCommand('workbench.action.revertAndCloseActiveEditor');
  });

  it('Generate Code in diff mode (the default) shows the proposal and applies it when accepted (the model answer given)', async () => {
    const e = await api();
    const restore = givenModelAnswer(e, 'Here:\n```ts\nexport const y = 2;\n```\n');
    const file = path.join(folder().uri.fsPath, 'src', 'gen2.ts');
    const original = 'export const x = 1;\n';
    fs.writeFileSync(file, original);
    const editor = await openFile('src/gen2.ts');
    editor.selection = new vscode.Selection(1, 0, 1, 0);
    let sawDiff = false;
    const sub = vscode.window.tabGroups.onDidChangeTabs((ev) => {
      if (ev.opened.some((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === 'e2code-proposal'))
        sawDiff = true;
    });
    const out = (await vscode.commands.executeCommand('e2code.generateCode', {
      instruction: 'export a constant y equal to two',
      autoAccept: true,
    })) as import('../../../src/extension/generate').GenerateOutcome;
    sub.dispose();
    restore();
    assert.equal(out.code, 'export const y = 2;\n');
    assert.equal(out.mode, 'diff');
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(file));
    assert.ok(sawDiff, 'a diff editor with the proposal was opened');
    assert.equal(out.applied, true);
    assert.equal(doc.getText(), original + out.code);
    const stillOpen = vscode.window.tabGroups.all
      .flatMap((g) => g.tabs)
      .some((t) => t.input instanceof vscode.TabInputTextDiff && t.input.modified.scheme === 'e2code-proposal');
    assert.equal(stillOpen, false, 'the proposal diff is closed afterwards');
    await vscode.commands.executeCommand('workbench.action.files.revert');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('a question in the chat panel gets its sources (the definition first) and reports the context used', async () => {
    const e = await api();
    const turn = await e.chat.ask({ task: 'ask', display: 'Where is parse_config defined?', prompt: 'Where is parse_config defined?' });
    assert.equal(turn.error, undefined);
    assert.ok(turn.origin === 'model' || turn.origin === 'index', `origin ${turn.origin}`);
    assert.deepEqual(
      { path: turn.sources?.[0]?.path, line: turn.sources?.[0]?.line, symbol: turn.sources?.[0]?.symbol },
      { path: 'src/config.py', line: 4, symbol: 'parse_config' },
    );
    assert.equal(typeof turn.context!.decoderRuns, 'number');
    if (turn.origin === 'index') assert.doesNotMatch(turn.content, /\.py\.py|\.js\.js|\.ts\.ts/, 'no mangled file names');
  });

  it('Stop cancels an answer in flight', async () => {
    const e = await api();
    // Stop at the first streamed token: the decoder is certainly running. The bundled model's answers
    // can end after a handful of tokens, before the stop arrives; a fixed-length run (ignoreEos, as the
    // benchmarks use) keeps it decoding, so the stop is what ends it.
    const client = await e.ctx.ensureClient();
    const clientGen = client.generate.bind(client);
    let tokens = 0;
    client.generate = (params, onToken, signal) =>
      clientGen(
        { ...params, options: { ...params.options, ignoreEos: true, maxTokens: 512 } },
        (t) => {
          if (++tokens === 1) e.chat.stop();
          onToken?.(t);
        },
        signal,
      );
    let turn;
    try {
      turn = await e.chat.ask({ task: 'ask', display: 'Describe every file.', prompt: 'Describe every file in detail.' });
    } finally {
      client.generate = clientGen;
    }
    assert.ok(tokens >= 1, 'streaming had started');
    assert.equal(turn.stopReason, 'cancelled');
    assert.equal(turn.error, undefined);
    assert.equal(e.chat.busy, false);
    // The sidecar is free again right away.
    const next = await e.ctx.generate({ task: 'ask', root: folder().uri.fsPath, prompt: 'What does distance do?' });
    assert.notEqual(next.stopReason, 'cancelled');
  });

  it('opens citations at their line and refuses paths outside the folder', async () => {
    const e = await api();
    const root = folder().uri.fsPath;
    assert.equal(await openCitation(e.ctx, 'workspace', 'src/config.py', 4), true);
    const ed = vscode.window.activeTextEditor!;
    assert.equal(path.relative(root, ed.document.uri.fsPath), path.join('src', 'config.py'));
    assert.equal(ed.selection.active.line, 3);
    fs.symlinkSync('/etc', path.join(root, 'escape'));
    try {
      for (const bad of ['../outside.txt', '/etc/passwd', 'escape/passwd', 'src/../../x', 'C:/Windows/win.ini', 'missing.ts']) {
        assert.equal(await openCitation(e.ctx, 'workspace', bad, 1), false, `refused ${bad}`);
      }
    } finally {
      fs.unlinkSync(path.join(root, 'escape'));
    }
    assert.equal(
      path.relative(root, vscode.window.activeTextEditor!.document.uri.fsPath),
      path.join('src', 'config.py'),
      'nothing else opened',
    );
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('New Chat starts an empty conversation and keeps the earlier one in the chat list, switchable', async () => {
    const e = await api();
    const earlier = e.chat.currentChatId;
    const turns = e.chat.history.length;
    assert.ok(turns > 0);
    await vscode.commands.executeCommand('e2code.newChat');
    assert.equal(e.chat.history.length, 0);
    assert.notEqual(e.chat.currentChatId, earlier);
    const listed = e.chat.chats.find((c) => c.id === earlier);
    assert.ok(listed, 'the earlier chat is in the list');
    assert.ok(listed.questions > 0);
    // A second New Chat on the empty one does not pile up empty chats.
    const count = e.chat.chats.length;
    await vscode.commands.executeCommand('e2code.newChat');
    assert.equal(e.chat.chats.length, count);
    assert.equal(await vscode.commands.executeCommand('e2code.showChats', earlier), true);
    assert.equal(e.chat.currentChatId, earlier);
    assert.equal(e.chat.history.length, turns, 'switching back restores the conversation');
    const stored = e.ctx.extension.workspaceState.get<{ current: string; chats: unknown[] }>('e2code.chats');
    assert.equal(stored?.current, earlier);
    assert.equal(stored?.chats.length, count);
  });

  it('Select Model Bundle accepts a bundle directory and refuses others', async () => {
    const e = await api();
    const bad = (await vscode.commands.executeCommand('e2code.selectBundle', folder().uri.fsPath)) as string | undefined;
    assert.equal(bad, undefined);
    const good = (await vscode.commands.executeCommand('e2code.selectBundle', e.ctx.config.defaultBundlePath)) as string | undefined;
    assert.equal(good, e.ctx.config.defaultBundlePath);
    assert.equal(e.ctx.config.bundlePath, e.ctx.config.defaultBundlePath);
  });

  it('settings reach the requests', async () => {
    const e = await api();
    const cfg = vscode.workspace.getConfiguration('e2code');
    await cfg.update('maxTokens', 7, vscode.ConfigurationTarget.Workspace);
    await cfg.update('hybrid', false, vscode.ConfigurationTarget.Workspace);
    try {
      assert.deepEqual(
        { maxTokens: e.ctx.config.generateOptions.maxTokens, hybrid: e.ctx.config.generateOptions.hybrid },
        { maxTokens: 7, hybrid: false },
      );
      const r = await e.ctx.generate({ task: 'ask', root: folder().uri.fsPath, prompt: 'What does slugify do?' });
      assert.equal(r.context.textChunks, 0, 'hybrid off: no chunks as text');
      assert.ok(r.stopReason !== 'maxTokens' || r.answer.length > 0);
    } finally {
      await cfg.update('maxTokens', undefined, vscode.ConfigurationTarget.Workspace);
      await cfg.update('hybrid', undefined, vscode.ConfigurationTarget.Workspace);
    }
  });
});

describe('errors', () => {
  it('a broken model bundle shows error in the status bar; a good one recovers', async () => {
    const e = await api();
    await e.indexer.whenIdle();
    const broken = path.join(folder().uri.fsPath, '..', 'broken-bundle');
    fs.mkdirSync(broken, { recursive: true });
    fs.writeFileSync(path.join(broken, 'manifest.json'), JSON.stringify({ formatVersion: 1, name: 'broken' }));
    const cfg = vscode.workspace.getConfiguration('e2code');
    try {
      await cfg.update('bundlePath', broken, vscode.ConfigurationTarget.Global);
      await waitFor('error state', () => e.indexer.state.state === 'error');
      assert.match(e.status.text, /e2code: error/);
      assert.ok(e.ctx.startError, 'the start error is kept for the tooltip');
      const turn = await e.chat.ask({ task: 'ask', display: 'Hello?', prompt: 'Hello?' });
      assert.ok(turn.error, 'a request fails with a message instead of hanging');
    } finally {
      await cfg.update('bundlePath', undefined, vscode.ConfigurationTarget.Global);
      fs.rmSync(broken, { recursive: true, force: true });
    }
    await waitFor('ready again', () => e.indexer.state.state === 'ready' && e.ctx.client?.state === 'ready');
    assert.match(e.status.text, /e2code: ready/);
  });
});

describe('sidecar restart', () => {
  it('fails the request in flight cleanly, restarts the sidecar and re-indexes', async () => {
    const e = await api();
    await e.indexer.whenIdle();
    const client = e.ctx.client!;
    const pid = client.pid!;
    const runs = e.indexer.completedRuns;
    // Kill the sidecar in the same tick the request is sent: it is in flight and cannot have been answered
    // (an answer from the index alone can come back within milliseconds, before any token).
    const clientGen = client.generate.bind(client);
    let killed = false;
    client.generate = (params, onToken, signal) => {
      const pending = clientGen(params, onToken, signal);
      if (!killed) {
        killed = true;
        process.kill(pid, 'SIGKILL');
      }
      return pending;
    };
    let turn;
    try {
      turn = await e.chat.ask({ task: 'ask', display: 'Describe the repository.', prompt: 'Describe the repository.' });
    } finally {
      client.generate = clientGen;
    }
    assert.ok(killed, 'the request was sent before the kill');
    assert.match(turn.error ?? '', /sidecar exited with signal SIGKILL during generate/, `error: ${turn.error}`);
    assert.equal(e.chat.busy, false);
    await waitFor('a new sidecar process', () => client.state === 'ready' && client.pid !== pid && client.pid);
    await waitFor('re-index after restart', () => e.indexer.completedRuns > runs);
    await e.indexer.whenIdle();
    assert.equal(e.indexer.state.state, 'ready');
    const again = await e.chat.ask({ task: 'ask', display: 'What does slugify do?', prompt: 'What does slugify do?' });
    assert.equal(again.error, undefined, 'answers again after the restart');
  });
});
