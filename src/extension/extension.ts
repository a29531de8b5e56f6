// Entry point of the VS Code extension. Thin: it wires UI to the sidecar, which owns the model.
import * as vscode from 'vscode';
import { ChatView, CHAT_VIEW_ID } from './chat/view';
import { registerParticipant } from './chat/participant';
import { COMMANDS } from './commands';
import { Config } from './config';
import { Ctx, errorMessage } from './ctx';
import { PROPOSAL_SCHEME, ProposalProvider } from './generate';
import { Indexer } from './indexer';
import { StatusBar } from './status';

/** What `activate` returns: used by the integration tests, and by other extensions if they like. */
export interface E2codeApi {
  ctx: Ctx;
  indexer: Indexer;
  chat: ChatView;
  status: StatusBar;
  /** `@e2code`, where the editor has the chat API. */
  participant: vscode.ChatParticipant | undefined;
}

let current: Ctx | undefined;

export function activate(extension: vscode.ExtensionContext): E2codeApi {
  const ctx = new Ctx(extension);
  current = ctx;
  ctx.log.info(`e2code ${extension.extension.packageJSON.version as string} activating in ${vscode.env.appName} ${vscode.version}`);

  const indexer = new Indexer(ctx);
  const status = new StatusBar(ctx);
  const chat = new ChatView(ctx, indexer);
  const proposals = new ProposalProvider();
  // Context keys for when-clauses: Pause/Resume by the index state, Generate by what the model can do.
  const setContext = (key: string, value: unknown) => void vscode.commands.executeCommand('setContext', key, value);
  setContext('e2code.indexState', indexer.state.state);
  setContext('e2code.canGenerate', false);
  ctx.push(
    indexer,
    status,
    chat,
    indexer.onDidChange((s) => {
      status.update(s);
      setContext('e2code.indexState', s.state);
    }),
    ctx.onSidecarState(() => setContext('e2code.canGenerate', ctx.can('generate'))),
  );
  ctx.push(
    vscode.window.registerWebviewViewProvider(CHAT_VIEW_ID, chat),
    vscode.workspace.registerTextDocumentContentProvider(PROPOSAL_SCHEME, proposals),
  );
  for (const [id, factory] of Object.entries(COMMANDS)) {
    ctx.push(vscode.commands.registerCommand(id, factory({ ctx, indexer, chat, proposals })));
  }
  const participant = registerParticipant(ctx);
  if (participant) ctx.push(participant);

  ctx.push(
    vscode.workspace.onDidChangeConfiguration(async (e) => {
      try {
        if (Config.needsRestart(e)) {
          ctx.log.info('model settings changed: restarting the sidecar');
          indexer.cancel();
          await ctx.restartClient();
          await indexer.indexAll();
        } else if (Config.needsReindex(e)) {
          await indexer.indexAll();
        }
      } catch (err) {
        ctx.log.error(`applying settings failed: ${errorMessage(err)}`);
      }
    }),
  );

  if (vscode.workspace.workspaceFolders?.length) {
    // In the background: activation must not wait for a model to load.
    void indexer.indexAll();
  }
  return { ctx, indexer, chat, status, participant };
}

export async function deactivate(): Promise<void> {
  const ctx = current;
  current = undefined;
  // Let the sidecar shut down (it flushes its cache) before the rest goes.
  await ctx?.client?.dispose();
  ctx?.dispose();
}
