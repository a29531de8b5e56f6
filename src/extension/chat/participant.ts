// `@e2code` in editors that have VS Code's chat view: /explain, /summarize, /generate, or a question.
import * as vscode from 'vscode';
import type { ChatTurn, Selection, Task } from '../../core/protocol';
import { errorMessage, type Ctx } from '../ctx';
import { resolveCitation, relativeTo } from '../paths';

export const PARTICIPANT_ID = 'e2code.participant';

/** Registers the participant where the host has the chat API; returns undefined elsewhere. */
export function registerParticipant(ctx: Ctx): vscode.ChatParticipant | undefined {
  const chat = (vscode as { chat?: typeof vscode.chat }).chat;
  if (typeof chat?.createChatParticipant !== 'function') {
    ctx.log.info('this editor has no chat API: @e2code not registered');
    return undefined;
  }
  const participant = chat.createChatParticipant(PARTICIPANT_ID, (request, context, stream, token) =>
    handleChatRequest(ctx, request, context, stream, token),
  );
  participant.iconPath = vscode.Uri.joinPath(ctx.extension.extensionUri, 'media', 'icon.svg');
  return participant;
}

/** The participant's handler (exported for the integration test, which has no chat UI to type into). */
export async function handleChatRequest(
  ctx: Ctx,
  request: vscode.ChatRequest,
  context: vscode.ChatContext,
  stream: vscode.ChatResponseStream,
  token: vscode.CancellationToken,
): Promise<vscode.ChatResult> {
  const task: Task = request.command === 'explain' || request.command === 'summarize' || request.command === 'generate' ? request.command : 'ask';
  const editor = vscode.window.activeTextEditor;
  const folder = ctx.activeFolder(editor?.document.uri);
  if (!folder) {
    stream.markdown('Open a folder first: e2code answers about the files in it.');
    return {};
  }
  let selection: Selection | undefined;
  if ((task === 'explain' || task === 'generate') && editor) {
    const range = editor.selection.isEmpty ? editor.document.lineAt(editor.selection.active.line).range : editor.selection;
    const rel = relativeTo(folder.uri.fsPath, editor.document.uri.fsPath);
    if (rel) selection = { path: rel, startLine: range.start.line + 1, endLine: range.end.line + 1, text: editor.document.getText(range) };
  }
  const defaults: Record<Task, string> = {
    ask: '',
    explain: 'Explain this code.',
    summarize: `Summarize the whole repository ${folder.name}: its purpose and its structure.`,
    generate: '',
  };
  const prompt = request.prompt.trim() || defaults[task];
  if (!prompt) {
    stream.markdown(task === 'generate' ? 'Say what code to write, e.g. `/generate a function that parses the config`.' : 'Ask a question about this workspace.');
    return {};
  }
  const history: ChatTurn[] = [];
  for (const h of context.history) {
    if (h instanceof vscode.ChatRequestTurn) history.push({ role: 'user', content: h.prompt });
    else if (h instanceof vscode.ChatResponseTurn) {
      const text = h.response.map((p) => (p instanceof vscode.ChatResponseMarkdownPart ? p.value.value : '')).join('');
      if (text) history.push({ role: 'assistant', content: text });
    }
  }

  const abort = new AbortController();
  const sub = token.onCancellationRequested(() => abort.abort());
  stream.progress(ctx.client ? 'Thinking…' : 'Starting the model…');
  try {
    const result = await ctx.generate(
      { task, root: folder.uri.fsPath, prompt, history: history.slice(-4), selection },
      (text) => stream.markdown(text),
      abort.signal,
    );
    for (const c of result.citations) {
      const check = await resolveCitation(folder.uri.fsPath, c.path, c.line);
      if (check.ok) stream.reference(new vscode.Location(vscode.Uri.file(check.file), new vscode.Position(check.line - 1, 0)));
    }
    return { metadata: { stopReason: result.stopReason, context: result.context } };
  } catch (err) {
    if (abort.signal.aborted) return {};
    return { errorDetails: { message: errorMessage(err) } };
  } finally {
    sub.dispose();
  }
}
