// The chat panel: a webview view in e2code's activity-bar container. The extension side keeps the
// conversation (per workspace, in workspaceState), runs one request at a time against the sidecar and
// streams tokens to the webview; the webview renders model text only through its sanitizer.
import { randomBytes, randomUUID } from 'node:crypto';
import * as vscode from 'vscode';
import type { ChatTurn, Selection, Task } from '../../core/protocol';
import { chatHtml } from '../../webview/html';
import type { FromWebview, ToWebview, Turn } from '../../webview/protocol';
import { errorMessage, type Ctx } from '../ctx';
import { openCitation } from '../citations';

export const CHAT_VIEW_ID = 'e2code.chat';
const HISTORY_KEY = 'e2code.chat.turns';
const MAX_TURNS = 200;
/** Turns of earlier conversation sent with a question (the decoder's window is small). */
const HISTORY_SENT = 4;

export interface AskRequest {
  task: Task;
  /** What the user sees as their message. */
  display: string;
  /** What the model gets as the request. */
  prompt: string;
  selection?: Selection;
  folder?: vscode.WorkspaceFolder;
}

export class ChatView implements vscode.WebviewViewProvider, vscode.Disposable {
  private view: vscode.WebviewView | undefined;
  private turns: Turn[];
  private inFlight: { abort: AbortController; done: Promise<void> } | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private lastEditor: vscode.TextEditor | undefined;
  private readonly readyWaiters: (() => void)[] = [];
  private webviewReady = false;

  constructor(private readonly ctx: Ctx) {
    this.turns = ctx.extension.workspaceState.get<Turn[]>(HISTORY_KEY, []).map((t) => (t.pending ? { ...t, pending: false, stopReason: 'cancelled' } : t));
    this.lastEditor = vscode.window.activeTextEditor;
    this.disposables.push(
      vscode.window.onDidChangeActiveTextEditor((e) => {
        // Focusing the webview clears the active editor; insert-at-cursor targets the last real one.
        if (e) this.lastEditor = e;
      }),
    );
  }

  /** The conversation, for tests. */
  get history(): readonly Turn[] {
    return this.turns;
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
      view.onDidDispose(() => {
        if (this.view === view) this.view = undefined;
      }),
    );
  }

  /** Shows the panel and resolves once its script is listening. */
  async reveal(): Promise<void> {
    if (!this.view) await vscode.commands.executeCommand(`${CHAT_VIEW_ID}.focus`);
    else this.view.show(true);
    if (this.webviewReady) return;
    await new Promise<void>((resolve) => {
      this.readyWaiters.push(resolve);
      setTimeout(resolve, 10_000).unref?.();
    });
  }

  /** Runs a request and streams its answer into the panel. Resolves with the finished assistant turn. */
  async ask(req: AskRequest): Promise<Turn> {
    if (this.inFlight) {
      this.inFlight.abort.abort();
      await this.inFlight.done;
    }
    const folder = req.folder ?? this.ctx.activeFolder();
    const user: Turn = { id: randomUUID(), role: 'user', content: req.display };
    const answer: Turn = { id: randomUUID(), role: 'assistant', content: '', pending: true, folder: folder?.name };
    const history: ChatTurn[] = this.turns
      .filter((t) => !t.pending && !t.error && t.content)
      .slice(-HISTORY_SENT)
      .map((t) => ({ role: t.role, content: t.content }));
    this.push(user);
    this.push(answer);
    this.post({ type: 'busy', busy: true });

    const abort = new AbortController();
    let finish!: () => void;
    const done = new Promise<void>((r) => (finish = r));
    this.inFlight = { abort, done };
    try {
      if (!folder) throw new Error('Open a folder or workspace first: e2code answers about the files in it.');
      const result = await this.ctx.generate(
        { task: req.task, root: folder.uri.fsPath, prompt: req.prompt, history, selection: req.selection },
        (text) => {
          answer.content += text;
          this.post({ type: 'token', id: answer.id, text });
        },
        abort.signal,
      );
      answer.content = result.answer;
      answer.stopReason = result.stopReason;
      answer.tokensPerSecond = result.timings.tokensPerSecond;
      answer.context = {
        folder: folder.name,
        softFiles: result.context.softFiles,
        textFiles: result.context.textFiles,
        positions: result.context.positions,
      };
    } catch (err) {
      if (abort.signal.aborted) answer.stopReason = 'cancelled';
      else {
        answer.error = errorMessage(err);
        this.ctx.log.error(`chat request failed: ${answer.error}`);
      }
    } finally {
      answer.pending = false;
      this.inFlight = undefined;
      finish();
      this.save();
      this.post({ type: 'done', turn: answer });
      this.post({ type: 'busy', busy: false });
    }
    return answer;
  }

  stop(): void {
    this.inFlight?.abort.abort();
  }

  newChat(): void {
    this.stop();
    this.turns = [];
    this.save();
    this.post({ type: 'restore', turns: [], busy: false });
  }

  private push(turn: Turn): void {
    this.turns.push(turn);
    if (this.turns.length > MAX_TURNS) this.turns.splice(0, this.turns.length - MAX_TURNS);
    this.post({ type: 'turn', turn });
  }

  private save(): void {
    void this.ctx.extension.workspaceState.update(HISTORY_KEY, this.turns);
  }

  private post(m: ToWebview): void {
    void this.view?.webview.postMessage(m);
  }

  private async onMessage(m: FromWebview): Promise<void> {
    try {
      switch (m.type) {
        case 'ready':
          this.webviewReady = true;
          this.post({ type: 'restore', turns: this.turns, busy: this.busy });
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
        case 'newChat':
          this.newChat();
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
