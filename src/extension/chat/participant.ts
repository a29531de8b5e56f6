// `@e2code` in editors that have VS Code's chat view: /explain, /summarize, /generate, or a question.
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { ChatTurn, Selection, Source, Task } from '../../core/protocol';
import { errorMessage, type Ctx } from '../ctx';
import { cannotWrite } from '../generate';
import { resolveCitation, relativeTo } from '../paths';

const SOURCES_SHOWN = 5;

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
  const task: Task =
    request.command === 'explain' || request.command === 'summarize' || request.command === 'generate' ? request.command : 'ask';
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
    stream.markdown(
      task === 'generate'
        ? 'Say what code to write, e.g. `/generate a function that parses the config`.'
        : 'Ask a question about this workspace.',
    );
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

  const scope = task === 'summarize' ? await summarizeScope(folder.uri.fsPath, request.prompt) : undefined;
  const abort = new AbortController();
  const sub = token.onCancellationRequested(() => abort.abort());
  stream.progress(ctx.client ? 'Thinking…' : 'Starting the model…');
  try {
    await ctx.ensureClient();
    if (task === 'generate' && !ctx.can('generate')) {
      stream.markdown(new vscode.MarkdownString().appendText(cannotWrite(ctx.info?.bundleName).replace(/^e2code: /, '')));
      return {};
    }
    // A model that cannot write this answer: the runtime assembles it from the index; the decoder's
    // tokens on the way are not shown.
    const streams = ctx.writes(task);
    if (streams) stream.markdown("**Model's answer**\n\n");
    else stream.progress('Looking up the code…');
    const result = await ctx.generate(
      {
        task,
        root: folder.uri.fsPath,
        prompt: scope ? `Summarize ${scope}: what it contains and how its parts fit together.` : prompt,
        history: history.slice(-4),
        selection,
        ...(scope !== undefined ? { scope } : {}),
      },
      streams ? (text) => stream.markdown(text) : undefined,
      abort.signal,
    );
    if (!streams) {
      if (result.origin === 'index' && (result.answer.trim() || result.sources.length)) stream.markdown('**From the code**\n\n');
      if (result.answer.trim()) stream.markdown(result.answer);
    }
    if (result.notice) {
      stream.markdown('\n\n');
      stream.markdown(new vscode.MarkdownString().appendText(result.notice));
    }
    if (!result.answer.trim() && !result.sources.length && !result.notice)
      stream.markdown('No answer: nothing came back for this question.');
    await streamSources(folder.uri.fsPath, result.sources, stream);
    for (const c of result.citations) {
      const check = await resolveCitation(folder.uri.fsPath, c.path, c.line);
      if (check.ok) stream.reference(new vscode.Location(vscode.Uri.file(check.file), new vscode.Position(check.line - 1, 0)));
    }
    return { metadata: { stopReason: result.stopReason, origin: result.origin, context: result.context, sources: result.sources } };
  } catch (err) {
    if (abort.signal.aborted) return {};
    return { errorDetails: { message: errorMessage(err) } };
  } finally {
    sub.dispose();
  }
}

/** Sources as clickable anchors (each checked against the folder: a file may be gone since indexing). */
async function streamSources(root: string, sources: Source[], stream: vscode.ChatResponseStream): Promise<void> {
  const shown: { source: Source; file: string }[] = [];
  for (const s of sources.slice(0, SOURCES_SHOWN)) {
    const check = await resolveCitation(root, s.path, s.line);
    if (check.ok) shown.push({ source: s, file: check.file });
  }
  if (!shown.length) return;
  stream.markdown('\n\n**Sources**\n\n');
  for (const { source: s, file } of shown) {
    const at = new vscode.Location(vscode.Uri.file(file), new vscode.Position(s.line - 1, 0));
    stream.markdown('- ');
    stream.anchor(at, `${s.path}:${s.line}`);
    const rest = new vscode.MarkdownString();
    if (s.symbol) rest.appendText(` ${s.symbol}`);
    if (s.doc) rest.appendText(` — ${s.doc.split('\n')[0]}`);
    rest.appendText('\n');
    stream.markdown(rest);
    stream.reference(at);
  }
}

/** `/summarize src/cli` summarizes that directory when it exists in the folder; anything else, the whole folder. */
async function summarizeScope(root: string, prompt: string): Promise<string> {
  const named = prompt.trim().replace(/^\.\//, '').replace(/\/+$/, '');
  if (!named || /\s/.test(named)) return '';
  const check = await resolveCitation(root, named, 1);
  if (check.ok) return named;
  try {
    const real = await fs.realpath(path.join(root, named));
    const rel = relativeTo(await fs.realpath(root), real);
    return rel && (await fs.stat(real)).isDirectory() ? rel : '';
  } catch {
    return '';
  }
}
