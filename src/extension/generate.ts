// "Generate code": an instruction at the cursor (or for the selection) becomes code, shown as a diff to
// accept (the default) or applied as one undoable edit. A bundle without the `generate` capability is
// not asked: the user is told plainly that this model cannot write code, and nothing changes.
import * as vscode from 'vscode';
import type { Selection } from '../core/protocol';
import { extractCode } from './codeText';
import { errorMessage, type Ctx } from './ctx';
import { relativeTo } from './paths';

export const PROPOSAL_SCHEME = 'e2code-proposal';
/** Lines before the cursor the model sees as "the place" when nothing is selected. */
const CONTEXT_LINES_BEFORE = 40;

export interface GenerateOutcome {
  code: string;
  applied: boolean;
  mode: 'edit' | 'diff';
  /** Why nothing was written, in the words the user was shown. */
  notice?: string;
}

/** Serves proposed file contents for the diff view. */
export class ProposalProvider implements vscode.TextDocumentContentProvider {
  private readonly docs = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;

  set(uri: vscode.Uri, text: string): void {
    this.docs.set(uri.toString(), text);
    this.emitter.fire(uri);
  }

  delete(uri: vscode.Uri): void {
    this.docs.delete(uri.toString());
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.docs.get(uri.toString()) ?? '';
  }
}

export interface GenerateArgs {
  instruction?: string;
  /** Overrides the setting `e2code.generate.apply` (tests, keybindings). */
  mode?: 'edit' | 'diff';
  /** In diff mode: answer the accept prompt without asking (tests). */
  autoAccept?: boolean;
}

export async function generateCode(ctx: Ctx, proposals: ProposalProvider, args: GenerateArgs = {}): Promise<GenerateOutcome | undefined> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) {
    void vscode.window.showWarningMessage('e2code: put the cursor in an editor where the code should go.');
    return undefined;
  }
  const mode = args.mode ?? ctx.config.generateApply;
  try {
    await ctx.ensureClient();
  } catch (err) {
    void vscode.window.showErrorMessage(`e2code: the model did not start: ${errorMessage(err)}`);
    return undefined;
  }
  if (!ctx.can('generate')) {
    const notice = cannotWrite(ctx.info?.bundleName);
    void vscode.window.showInformationMessage(notice);
    return { code: '', applied: false, mode, notice };
  }
  const instruction =
    args.instruction ??
    (await vscode.window.showInputBox({
      title: 'e2code: Generate code',
      prompt: editor.selection.isEmpty ? 'What to write at the cursor' : 'What to do with the selection',
      placeHolder: 'e.g. a function that parses the config file',
      ignoreFocusOut: true,
    }));
  if (!instruction?.trim()) return undefined;

  const doc = editor.document;
  const folder = ctx.activeFolder(doc.uri);
  if (!folder) {
    void vscode.window.showWarningMessage('e2code: open a folder first: generated code is grounded in its files.');
    return undefined;
  }
  const range = editor.selection.isEmpty ? new vscode.Range(editor.selection.active, editor.selection.active) : editor.selection;
  const version = doc.version;
  const selection = selectionContext(doc, folder, range);

  let code: string | undefined;
  let notice: string | undefined;
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'e2code: generating', cancellable: true },
    async (progress, token) => {
      const abort = new AbortController();
      const sub = token.onCancellationRequested(() => abort.abort());
      let tokens = 0;
      try {
        const r = await ctx.generate(
          { task: 'generate', root: folder.uri.fsPath, prompt: instruction.trim(), selection },
          () => progress.report({ message: `${++tokens} tokens` }),
          abort.signal,
        );
        code = extractCode(r.answer);
        notice = r.notice;
      } catch (err) {
        if (!abort.signal.aborted) void vscode.window.showErrorMessage(`e2code: generate failed: ${errorMessage(err)}`);
      } finally {
        sub.dispose();
      }
    },
  );
  if (code === undefined) return undefined;
  if (!code.trim()) {
    const message = notice ? `e2code: ${notice} Nothing was changed.` : 'e2code: the model returned no code; nothing was changed.';
    void vscode.window.showInformationMessage(message);
    return { code, applied: false, mode, notice: notice ?? message };
  }
  if (doc.version !== version) {
    void vscode.window.showWarningMessage('e2code: the document changed while generating; the code was not applied.');
    return { code, applied: false, mode };
  }

  if (mode === 'edit') {
    const applied = await editor.edit((b) => b.replace(range, code!), { undoStopBefore: true, undoStopAfter: true });
    return { code, applied, mode };
  }

  const proposalUri = vscode.Uri.from({ scheme: PROPOSAL_SCHEME, path: doc.uri.path, query: String(Date.now()) });
  const before = doc.getText();
  const start = doc.offsetAt(range.start);
  const end = doc.offsetAt(range.end);
  proposals.set(proposalUri, before.slice(0, start) + code + before.slice(end));
  await vscode.commands.executeCommand(
    'vscode.diff',
    doc.uri,
    proposalUri,
    `${vscode.workspace.asRelativePath(doc.uri)} ↔ e2code proposal`,
  );
  const answer = args.autoAccept
    ? 'Accept'
    : await vscode.window.showInformationMessage('e2code: apply the generated code?', 'Accept', 'Reject');
  proposals.delete(proposalUri);
  await closeDiff(proposalUri);
  if (answer !== 'Accept') return { code, applied: false, mode };
  if (doc.version !== version) {
    void vscode.window.showWarningMessage('e2code: the document changed since the proposal; not applied.');
    return { code, applied: false, mode };
  }
  const edit = new vscode.WorkspaceEdit();
  edit.replace(doc.uri, range, code);
  const applied = await vscode.workspace.applyEdit(edit);
  return { code, applied, mode };
}

/** What the user reads when the model cannot write code. */
export function cannotWrite(bundleName: string | undefined): string {
  return `e2code: this model${bundleName ? ` (${bundleName})` : ''} cannot write code. Nothing was changed.`;
}

function selectionContext(doc: vscode.TextDocument, folder: vscode.WorkspaceFolder, range: vscode.Range): Selection {
  const rel = relativeTo(folder.uri.fsPath, doc.uri.fsPath) ?? vscode.workspace.asRelativePath(doc.uri, false);
  if (!range.isEmpty) {
    return { path: rel, startLine: range.start.line + 1, endLine: range.end.line + 1, text: doc.getText(range) };
  }
  const from = Math.max(0, range.start.line - CONTEXT_LINES_BEFORE);
  const text = doc.getText(new vscode.Range(from, 0, range.start.line, range.start.character));
  return { path: rel, startLine: from + 1, endLine: range.start.line + 1, text };
}

async function closeDiff(proposalUri: vscode.Uri): Promise<void> {
  for (const group of vscode.window.tabGroups.all) {
    for (const tab of group.tabs) {
      const input = tab.input;
      if (input instanceof vscode.TabInputTextDiff && input.modified.toString() === proposalUri.toString()) {
        await vscode.window.tabGroups.close(tab);
      }
    }
  }
}
