// The chat panel: a webview view in e2code's activity-bar container. The extension side keeps the
// conversations (per workspace, in workspaceState; "New chat" keeps the earlier ones in a list), runs one
// request at a time against the sidecar (after the folder's index, saying so while it waits) and streams
// tokens to the webview; the webview renders model text only through its sanitizer.
import { randomBytes, randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type { ChatTurn, Selection, Task } from '../../core/protocol';
import { chatHtml } from '../../webview/html';
import type { ChatSummary, FromWebview, ToWebview, Turn } from '../../webview/protocol';
import { errorMessage, type Ctx } from '../ctx';
import { openCitation } from '../citations';
import type { Indexer } from '../indexer';
import { ChatStore } from './store';

function setContext(key: string, value: unknown): Thenable<unknown> {
  return vscode.commands.executeCommand('setContext', key, value);
}

export const CHAT_VIEW_ID = 'e2code.chat';
/** Turns of earlier conversation sent with a question (the decoder's window is small). */
const HISTORY_SENT = 4;

export interface AskRequest {
  task: Task;
  /** What the user sees as their message. */
  display: string;
  /** What the model gets as the request. */
  prompt: string;
  selection?: Selection;
  /** summarize: the workspace-relative directory or file ('' : the whole folder). */
  scope?: string;
  folder?: vscode.WorkspaceFolder;
}

export class ChatView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private readonly store: ChatStore;
  private inFlight: { abort: AbortController; done: Promise<void> } | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private lastEditor: vscode.TextEditor | undefined;
  private readonly readyWaiters: (() => void)[] = [];
  private webviewReady = false;

  constructor(
    private readonly ctx: Ctx,
    private readonly indexer: Indexer,
  ) {
    this.store = new ChatStore(ctx.extension.workspaceState);
    this.lastEditor = vscode.window.activeTextEditor;
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((e) => {
        // Focusing the webview clears the active editor; insert-at-cursor targets the last real one.
        if (e) this.lastEditor = e;
      }),
    );
    void setContext('e2code.answering', false);
  }

  /** The current conversation, for tests. */
  get history(): readonly Turn[] {
    return this.store.turns;
  }

  /** Every conversation, most recent first. */
  get chats(): ChatSummary[] {
    return this.store.list();
  }

  get currentChatId(): string {
    return this.store.current.id;
  }

  get busy(): boolean {
    return this.inFlight !== undefined;
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.view = view;
    this.webviewReady = false;
    const media = vscode.Uri.joinPath(this.ctx.extension.extensionUri, 'media');
    view.webview.options = { enableScripts: true, enableCommandUris: false, localResourceRoots: [media] };
    view.webview.html = this.html(view.webview, media);
    this.disposables.push(
      view.webview.onDidReceiveMessage((m: FromWebview) => this.onMessage(m)),
      view.onDidChangeVisibility(() => {
        if (view.visible) this.post({ type: 'focusInput' });
      }),
      view.onDidDispose(() => {
        if (this.view === view) this.view = undefined;
      }),
    );
  }

  /** Shows the panel, resolves once its script is listening, and puts the cursor in the question box. */
  async reveal(focusInput = true): Promise<void> {
    if (!this.view) await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
    else this.view.show(!focusInput);
    if (!this.webviewReady) {
      await new Promise<void>((resolve) => {
        this.readyWaiters.push(resolve);
        setTimeout(resolve, 10_000).unref?.();
      });
    }
    if (focusInput) this.post({ type: 'focusInput' });
  }

  /** Runs a request and streams its answer into the panel. Resolves with the finished assistant turn. */
  async ask(req: AskRequest): Promise<Turn> {
    if (this.inFlight) {
      this.inFlight.abort.abort();
      await this.inFlight.done;
    }
    const folder = req.folder ?? this.ctx.activeFolder();
    const user: Turn = { id: randomUUID(), role: 'user', content: req.display };
    const answer: Turn = { id: randomUUID(), role: 'assistant', task: req.task, content: '', pending: true, folder: folder?.name };
    const history: ChatTurn[] = this.store.turns
      .filter((t) => !t.pending && !t.error && t.content)
      .slice(-HISTORY_SENT)
      .map((t) => ({ role: t.role, content: t.content }));
    this.push(user);
    this.push(answer);
    this.setBusy(true);

    const abort = new AbortController();
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    this.inFlight = { abort, done };
    try {
      if (!folder) throw new Error('Open a folder or workspace first: e2code answers about the files in it.');
      await this.waitForIndex(folder, answer, abort.signal);
      if (abort.signal.aborted) throw new Error('cancelled');
      await this.ctx.ensureClient();
      // A model that cannot write this answer: its tokens are not shown; the answer comes from the index.
      const streams = this.ctx.writes(req.task);
      if (!streams) this.setWaiting(answer, 'Looking up the code…');
      const result = await this.ctx.generate(
        {
          task: req.task,
          root: folder.uri.fsPath,
          prompt: req.prompt,
          history,
          selection: req.selection,
          ...(req.scope !== undefined ? { scope: req.scope } : {}),
        },
        (text) => {
          if (!streams) return;
          if (answer.waiting) this.setWaiting(answer, '');
          answer.content += text;
          this.post({ type: 'token', id: answer.id, text });
        },
        abort.signal,
      );
      answer.content = result.answer;
      answer.origin = result.origin;
      answer.notice = result.notice;
      answer.sources = result.sources ?? [];
      // Stopped by the user after the answer was already on its way back: it counts as stopped.
      answer.stopReason = abort.signal.aborted ? 'cancelled' : result.stopReason;
      answer.tokensPerSecond = result.timings.tokensPerSecond;
      answer.context = {
        folder: folder.name,
        softFiles: result.context.softFiles,
        textFiles: result.context.textFiles,
        positions: result.context.positions,
        decoderRuns: result.context.decoderRuns,
      };
    } catch (err) {
      if (abort.signal.aborted) answer.stopReason = 'cancelled';
      else {
        answer.error = errorMessage(err);
        this.ctx.log.error(`chat request failed: ${answer.error}`);
      }
    } finally {
      answer.pending = false;
      answer.waiting = undefined;
      this.inFlight = undefined;
      finish();
      this.store.save();
      this.post({ type: 'done', turn: answer });
      this.setBusy(false);
    }
    return answer;
  }

  /** A question asked while its folder is being indexed waits for the index, and says so. */
  private async waitForIndex(folder: vscode.WorkspaceFolder, answer: Turn, signal: AbortSignal): Promise<void> {
    const root = folder.uri.fsPath;
    if (!this.indexer.isPending(root)) return;
    const show = () => {
      const s = this.indexer.state;
      // The percentage is of the folder being indexed now, which in a multi-root window may be another one.
      const percent = s.percent !== undefined && s.detail === folder.name ? `${s.percent}%` : '';
      const text =
        s.state === 'paused'
          ? `Waiting for the index (paused${percent ? ` at ${percent}` : ''}): resume indexing to get an answer.`
          : `Waiting for the index${s.state === 'indexing' && percent ? ` (${percent})` : ''}…`;
      this.setWaiting(answer, text);
    };
    show();
    const sub = this.indexer.onDidChange(show);
    try {
      await this.indexer.whenIndexed(root, signal);
    } finally {
      sub.dispose();
    }
  }

  private setWaiting(answer: Turn, text: string): void {
    if ((answer.waiting ?? '') === text) return;
    answer.waiting = text || undefined;
    this.post({ type: 'waiting', id: answer.id, text });
  }

  stop(): void {
    this.inFlight?.abort.abort();
  }

  /** Starts a new conversation; the earlier ones stay in the chat list. */
  newChat(): void {
    this.stop();
    this.store.newChat();
    this.post({ type: 'restore', turns: this.store.turns, busy: false });
    this.post({ type: 'focusInput' });
  }

  /** Switches to an earlier conversation; false if there is no such one. */
  switchChat(id: string): boolean {
    if (id === this.store.current.id) return true;
    this.stop();
    if (!this.store.switchTo(id)) return false;
    this.post({ type: 'restore', turns: this.store.turns, busy: false });
    this.post({ type: 'focusInput' });
    return true;
  }

  /** The chat list (a quick pick of every conversation); picking one switches to it. */
  async pickChat(): Promise<void> {
    const current = this.store.current.id;
    const items = this.store.list().map((c) => ({
      label: c.title,
      description: c.id === current ? 'current' : undefined,
      detail: `${c.questions} question${c.questions === 1 ? '' : 's'} · ${new Date(c.updated).toLocaleString()}`,
      id: c.id,
    }));
    const pick = await vscode.window.showQuickPick(items, { title: 'e2code: chats', placeHolder: 'Switch to a conversation' });
    if (!pick) return;
    await this.reveal();
    this.switchChat(pick.id);
  }

  private push(turn: Turn): void {
    this.store.push(turn);
    this.post({ type: 'turn', turn });
  }

  private setBusy(busy: boolean): void {
    this.post({ type: 'busy', busy });
    void setContext('e2code.answering', busy);
  }

  private post(m: ToWebview): void {
    void this.view?.webview.postMessage(m);
  }

  private async onMessage(m: FromWebview): Promise<void> {
    try {
      switch (m.type) {
        case 'ready':
          this.webviewReady = true;
          this.post({ type: 'restore', turns: this.store.turns, busy: this.busy });
          this.post({ type: 'focusInput' });
          this.readyWaiters.splice(0).forEach((r) => r());
          break;
        case 'ask':
          if (typeof m.text === 'string' && m.text.trim()) {
            await this.ask({ task: 'ask', display: m.text.trim(), prompt: m.text.trim() });
          }
          break;
        case 'stop':
          this.stop();
          break;
        case 'openCitation':
          await openCitation(this.ctx, m.folder, m.path, m.line);
          break;
        case 'openExternal': {
          const uri = vscode.Uri.parse(m.url, true);
          // Only web links leave the editor; anything else (command:, file:, vscode:) is refused.
          if (uri.scheme === 'https' || uri.scheme === 'http') await vscode.env.openExternal(uri);
          else this.ctx.log.warn(`refused to open link with scheme ${uri.scheme}`);
          break;
        }
        case 'copy':
          await vscode.env.clipboard.writeText(String(m.text));
          vscode.window.setStatusBarMessage('e2code: copied', 2000);
          break;
        case 'insert':
          await this.insertAtCursor(String(m.text));
          break;
      }
    } catch (err) {
      this.ctx.log.error(`chat view: ${m.type} failed: ${errorMessage(err)}`);
    }
  }

  private async insertAtCursor(text: string): Promise<void> {
    const editor = this.lastEditor && !this.lastEditor.document.isClosed ? this.lastEditor : vscode.window.visibleTextEditors[0];
    if (!editor) {
      void vscode.window.showWarningMessage('e2code: open an editor to insert the code into.');
      return;
    }
    await vscode.window.showTextDocument(editor.document, editor.viewColumn);
    await editor.edit((b) => editor.selections.forEach((s) => b.replace(s, text)));
  }

  private html(webview: vscode.Webview, media: vscode.Uri): string {
    const uri = (...p: string[]) => webview.asWebviewUri(vscode.Uri.joinPath(media, ...p)).toString();
    return chatHtml({
      cspSource: webview.cspSource,
      nonce: randomBytes(18).toString('base64'),
      scriptUri: uri('dist', 'webview.js'),
      styleUris: [uri('chat.css')],
    });
  }

  dispose(): void {
    this.stop();
    for (const d of this.disposables) d.dispose();
  }
}
