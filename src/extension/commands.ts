// Every command is a small factory: it gets the context and returns the handler.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Selection } from '../core/protocol';
import type { Turn } from '../webview/protocol';
import type { ChatView } from './chat/view';
import { lineWindow } from './codeText';
import { errorMessage, type Ctx } from './ctx';
import { generateCode, type GenerateArgs, type ProposalProvider } from './generate';
import type { Indexer } from './indexer';
import { relativeTo } from './paths';
import { showStatusMenu } from './status';
import { summarizeWorkspace, type SummarizeArgs } from './summarize';

export interface Parts {
  ctx: Ctx;
  indexer: Indexer;
  chat: ChatView;
  proposals: ProposalProvider;
}

type Factory = (p: Parts) => (...args: never[]) => unknown;

/** Lines around the cursor explained when nothing is selected. */
const EXPLAIN_AROUND = 15;

export const explainSelection: Factory =
  ({ ctx, chat }) =>
  async (): Promise<Turn | undefined> => {
    const editor = vscode.window.activeTextEditor;
    if (!editor) {
      void vscode.window.showWarningMessage('e2code: select code in an editor to explain.');
      return undefined;
    }
    const doc = editor.document;
    const folder = ctx.activeFolder(doc.uri);
    let start = editor.selection.start.line + 1;
    // A selection that ends at the start of a line (whole lines selected) does not include that line.
    let end =
      editor.selection.end.line + (editor.selection.end.character === 0 && editor.selection.end.line > editor.selection.start.line ? 0 : 1);
    let text = doc.getText(editor.selection);
    if (editor.selection.isEmpty) {
      start = Math.max(1, start - EXPLAIN_AROUND);
      end = Math.min(doc.lineCount, end + EXPLAIN_AROUND);
      text = lineWindow(doc.getText(), start, end);
    }
    const rel = (folder && relativeTo(folder.uri.fsPath, doc.uri.fsPath)) ?? vscode.workspace.asRelativePath(doc.uri, false);
    const selection: Selection = { path: rel, startLine: start, endLine: end, text };
    // The editor keeps the focus: the answer streams into the panel beside it.
    await chat.reveal(false);
    const where = start === end ? `${rel}:${start}` : `${rel}:${start}-${end}`;
    // The selection goes with the request; the runtime plans the whole repository around it (the
    // definitions of what it uses come back as sources).
    return chat.ask({ task: 'explain', display: `Explain \`${where}\``, prompt: 'Explain this code.', selection, folder });
  };

export const summarize: Factory =
  ({ ctx, chat }) =>
  (arg?: vscode.WorkspaceFolder | vscode.Uri | SummarizeArgs) =>
    summarizeWorkspace(ctx, chat, arg);

export const generate: Factory =
  ({ ctx, proposals }) =>
  (args?: GenerateArgs) =>
    generateCode(ctx, proposals, args);

export const reindex: Factory =
  ({ indexer }) =>
  () =>
    indexer.indexAll();

export const pauseIndexing: Factory =
  ({ ctx, indexer }) =>
  async () => {
    try {
      await indexer.pause();
    } catch (err) {
      void vscode.window.showErrorMessage(`e2code: pause failed: ${errorMessage(err)}`);
      ctx.log.error(`pause failed: ${errorMessage(err)}`);
    }
  };

export const resumeIndexing: Factory =
  ({ ctx, indexer }) =>
  async () => {
    try {
      await indexer.resume();
    } catch (err) {
      void vscode.window.showErrorMessage(`e2code: resume failed: ${errorMessage(err)}`);
      ctx.log.error(`resume failed: ${errorMessage(err)}`);
    }
  };

export const showLogs: Factory =
  ({ ctx }) =>
  () =>
    ctx.log.show(true);

export const statusMenu: Factory =
  ({ ctx, indexer }) =>
  () =>
    showStatusMenu(ctx, indexer.state.state);

export const openChat: Factory =
  ({ chat }) =>
  () =>
    chat.reveal(true);

export const newChat: Factory =
  ({ chat }) =>
  async () => {
    await chat.reveal(true);
    chat.newChat();
  };

/** The chat list: `id` switches without asking (tests); else a quick pick of every conversation. */
export const showChats: Factory =
  ({ chat }) =>
  async (id?: string) => {
    if (typeof id === 'string') {
      await chat.reveal(true);
      return chat.switchChat(id);
    }
    await chat.pickChat();
    return undefined;
  };

export const stopAnswer: Factory =
  ({ chat }) =>
  () =>
    chat.stop();

/** Picks a model bundle (a directory with manifest.json); the settings change restarts the sidecar. */
export const selectBundle: Factory =
  ({ ctx }) =>
  async (chosen?: string): Promise<string | undefined> => {
    let dir = chosen;
    if (!dir) {
      const modelsDir = path.dirname(ctx.config.defaultBundlePath);
      const bundled = listBundles(modelsDir);
      // Bundles shipped inside the extension are named, not shown by their install path.
      const items: (vscode.QuickPickItem & { dir?: string })[] = [
        ...bundled.map((d) => ({
          label: path.basename(d),
          description: d === ctx.config.defaultBundlePath ? 'comes with e2code (default)' : 'comes with e2code',
          dir: d,
        })),
        { label: '$(folder-opened) Browse…', description: 'a bundle directory made by the recipe (holds manifest.json)' },
      ];
      const current = ctx.config.bundleChosen
        ? ctx.config.bundlePath
        : (ctx.info?.bundleName ?? path.basename(ctx.config.defaultBundlePath));
      const pick = await vscode.window.showQuickPick(items, { title: 'e2code: model bundle', placeHolder: `Current: ${current}` });
      if (!pick) return undefined;
      dir = pick.dir;
      if (!dir) {
        const uris = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, openLabel: 'Use this bundle' });
        dir = uris?.[0]?.fsPath;
      }
    }
    if (!dir) return undefined;
    if (!fs.existsSync(path.join(dir, 'manifest.json'))) {
      void vscode.window.showErrorMessage(`e2code: ${dir} is not a model bundle (no manifest.json).`);
      return undefined;
    }
    await ctx.config.setBundlePath(dir === ctx.config.defaultBundlePath ? '' : dir);
    return dir;
  };

function listBundles(modelsDir: string): string[] {
  try {
    return fs
      .readdirSync(modelsDir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && fs.existsSync(path.join(modelsDir, e.name, 'manifest.json')))
      .map((e) => path.join(modelsDir, e.name));
  } catch {
    return [];
  }
}

export const COMMANDS: Record<string, Factory> = {
  'e2code.explainSelection': explainSelection,
  'e2code.summarizeWorkspace': summarize,
  'e2code.summarizeFolder': summarize,
  'e2code.generateCode': generate,
  'e2code.reindex': reindex,
  'e2code.pauseIndexing': pauseIndexing,
  'e2code.resumeIndexing': resumeIndexing,
  'e2code.selectBundle': selectBundle,
  'e2code.showLogs': showLogs,
  'e2code.statusMenu': statusMenu,
  'e2code.openChat': openChat,
  'e2code.newChat': newChat,
  'e2code.showChats': showChats,
  'e2code.stopAnswer': stopAnswer,
};
