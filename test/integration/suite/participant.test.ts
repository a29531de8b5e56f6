// `@e2code` in VS Code's chat: registered where the editor has the chat API. The chat UI itself needs a
// language-model provider that cannot be signed into here, so the test calls the participant's handler
// as the chat view would, with a response stream that records what the participant writes.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { handleChatRequest, PARTICIPANT_ID } from '../../../src/extension/chat/participant';
import { api, folder, openFile } from './util';

interface Recorded {
  markdown: string;
  progress: string[];
  references: vscode.Location[];
}

function recordingStream(): { stream: vscode.ChatResponseStream; rec: Recorded } {
  const rec: Recorded = { markdown: '', progress: [], references: [] };
  const stream = {
    markdown: (v: string | vscode.MarkdownString) => void (rec.markdown += typeof v === 'string' ? v : v.value),
    progress: (v: string) => void rec.progress.push(v),
    reference: (v: vscode.Location) => void rec.references.push(v),
    anchor: (v: vscode.Location, title?: string) => void (rec.markdown += `[${title ?? ''}](${v.uri.fsPath})`),
  } as unknown as vscode.ChatResponseStream;
  return { stream, rec };
}

function request(command: string | undefined, prompt: string): vscode.ChatRequest {
  return { command, prompt, references: [], toolReferences: [] } as unknown as vscode.ChatRequest;
}

describe('@e2code chat participant', () => {
  it('is registered in this editor (it has the chat API)', async () => {
    const e = await api();
    assert.equal(typeof vscode.chat?.createChatParticipant, 'function');
    assert.equal(e.participant?.id, PARTICIPANT_ID);
  });

  for (const command of ['explain', 'summarize', 'generate', undefined]) {
    it(`answers ${command ? `/${command}` : 'a plain question'} by streaming markdown`, async () => {
      const e = await api();
      const editor = await openFile('lib/strings.js');
      editor.selection = new vscode.Selection(3, 0, 9, 0);
      const { stream, rec } = recordingStream();
      const prompt = command === 'generate' ? 'a function that reverses a string' : command ? '' : 'What does truncate do?';
      const seen: string[] = [];
      const gen = e.ctx.generate.bind(e.ctx);
      e.ctx.generate = (params, onToken, signal) => {
        const scope = 'scope' in params ? `:scope=${(params as { scope?: string }).scope}` : '';
        seen.push(
          `${params.task}:${params.selection ? `${params.selection.path}:${params.selection.startLine}-${params.selection.endLine}` : '-'}${scope}`,
        );
        return gen(params, onToken, signal);
      };
      let result: vscode.ChatResult;
      try {
        result = await handleChatRequest(
          e.ctx,
          request(command, prompt),
          { history: [] } as unknown as vscode.ChatContext,
          stream,
          new vscode.CancellationTokenSource().token,
        );
      } finally {
        e.ctx.generate = gen;
      }
      assert.equal(result.errorDetails, undefined, JSON.stringify(result.errorDetails));
      const task = command ?? 'ask';
      if (task === 'generate' && !e.ctx.can('generate')) {
        assert.deepEqual(seen, [], 'a model that cannot write code is not asked to');
        // The stream got a MarkdownString with its text escaped (spaces as &nbsp;): read it back as text.
        assert.match(rec.markdown.replace(/&nbsp;/g, ' ').replace(/\\(.)/g, '$1'), /this model \(default\) cannot write code/);
        return;
      }
      const withSelection = task === 'explain' || task === 'generate';
      assert.deepEqual(seen, [`${task}:${withSelection ? 'lib/strings.js:4-10' : '-'}${task === 'summarize' ? ':scope=' : ''}`]);
      const meta = result.metadata as {
        stopReason: string;
        origin: string;
        context: { softFiles: string[]; decoderRuns: number };
        sources: { path: string }[];
      };
      assert.ok(['eos', 'maxTokens', 'stop', 'repetition'].includes(meta.stopReason), meta.stopReason);
      assert.ok(meta.origin === 'model' || meta.origin === 'index', meta.origin);
      if (meta.context.decoderRuns > 0) {
        assert.ok(meta.context.softFiles.includes('lib/strings.js'), `soft files: ${meta.context.softFiles}`);
        assert.equal(meta.context.softFiles.length, e.indexer.results.get(folder().uri.fsPath)!.files, 'every indexed file as soft tokens');
      }
      if (meta.origin === 'index') assert.match(rec.markdown, /\*\*From the code\*\*/);
      else assert.match(rec.markdown, /\*\*Model's answer\*\*/);
      if (task !== 'summarize') assert.ok(meta.sources.length > 0, 'sources listed');
      if (meta.sources.length) assert.match(rec.markdown, /\*\*Sources\*\*/);
      assert.ok(rec.progress.length > 0, 'progress shown first');
      for (const r of rec.references) assert.ok(r.uri.fsPath.startsWith(folder().uri.fsPath), 'references stay in the folder');
    });
  }
});
