// A two-folder workspace: each folder is indexed on its own, requests go to the folder of the active
// editor, and a change in one folder re-indexes only that one.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { openCitation } from '../../../src/extension/citations';
import { api, waitFor } from './util';

function folders(): { first: vscode.WorkspaceFolder; second: vscode.WorkspaceFolder } {
  const all = vscode.workspace.workspaceFolders ?? [];
  assert.equal(all.length, 2, `folders: ${all.map((f) => f.name)}`);
  return { first: all.find((f) => f.name === 'workspace')!, second: all.find((f) => f.name === 'second')! };
}

describe('multi-root workspace', () => {
  it('indexes every folder separately', async () => {
    const e = await api();
    const { first, second } = folders();
    await waitFor('both folders indexed', () => e.indexer.results.has(first.uri.fsPath) && e.indexer.results.has(second.uri.fsPath));
    await e.indexer.whenIdle();
    assert.equal(e.indexer.results.get(first.uri.fsPath)!.files, 5);
    assert.equal(e.indexer.results.get(second.uri.fsPath)!.files, 2);
    assert.match(e.status.text, /ready/);
  });

  it('answers about the folder of the active editor, and citations resolve in that folder', async () => {
    const e = await api();
    const { second } = folders();
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(second.uri, 'tools', 'report.py'));
    await vscode.window.showTextDocument(doc);
    const turn = await e.chat.ask({ task: 'ask', display: 'What does render_report do?', prompt: 'What does render_report do?' });
    assert.equal(turn.error, undefined);
    assert.equal(turn.folder, 'second');
    assert.equal(turn.sources?.[0]?.path, 'tools/report.py', `sources: ${JSON.stringify(turn.sources)}`);
    for (const s of turn.sources ?? []) assert.ok(['README.md', 'tools/report.py'].includes(s.path), `a source of this folder: ${s.path}`);
    for (const f of turn.context!.softFiles) assert.ok(['README.md', 'tools/report.py'].includes(f), `context from this folder: ${f}`);
    assert.equal(await openCitation(e.ctx, 'second', 'tools/report.py', 2), true);
    assert.equal(vscode.window.activeTextEditor!.document.uri.fsPath, doc.uri.fsPath);
    assert.equal(await openCitation(e.ctx, 'second', 'src/geometry.ts', 1), false, 'a path of the other folder does not resolve here');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
  });

  it('re-indexes only the folder that changed', async () => {
    const e = await api();
    const { first, second } = folders();
    await e.indexer.whenIdle();
    const firstBefore = e.indexer.results.get(first.uri.fsPath)!;
    const runs = e.indexer.completedRuns;
    await vscode.workspace.fs.writeFile(vscode.Uri.joinPath(second.uri, 'tools', 'extra.py'), Buffer.from('def extra():\n    return 1\n'));
    await waitFor('second folder re-indexed', () => e.indexer.results.get(second.uri.fsPath)!.files === 3);
    await e.indexer.whenIdle();
    assert.equal(e.indexer.completedRuns, runs + 1, 'one index run');
    assert.equal(e.indexer.results.get(first.uri.fsPath), firstBefore, 'the other folder was not re-indexed');
  });
});
