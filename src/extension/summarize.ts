// "Summarize Workspace": ONE request to the runtime for the scope the user picks (the whole folder, or a
// directory from a quick pick or the explorer's context menu), shown in the chat panel as the runtime
// returns it. The map itself (each directory once, key files, symbols, docs) is the runtime's work.
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Turn } from '../webview/protocol';
import type { ChatView } from './chat/view';
import type { Ctx } from './ctx';
import { relativeTo } from './paths';

const SKIP_DIRS = '{**/node_modules/**,**/.git/**,**/.e2code/**,**/dist/**,**/out/**,**/build/**,**/.vscode-test/**}';
/** Directories offered in the quick pick: this deep below the folder, at most this many. */
const PICK_DEPTH = 2;
const PICK_MAX = 200;

export interface SummarizeArgs {
  folder?: vscode.WorkspaceFolder;
  /** Workspace-relative directory or file; '' is the whole folder. Absent: ask the user. */
  scope?: string;
}

/**
 * `arg`: nothing (the command palette), a workspace folder, a `vscode.Uri` (the explorer's context menu)
 * or `{ folder, scope }` (tests, other commands).
 */
export async function summarizeWorkspace(
  ctx: Ctx,
  chat: ChatView,
  arg?: vscode.WorkspaceFolder | vscode.Uri | SummarizeArgs,
): Promise<Turn | undefined> {
  let folder: vscode.WorkspaceFolder | undefined;
  let scope: string | undefined;
  if (arg instanceof vscode.Uri) {
    folder = vscode.workspace.getWorkspaceFolder(arg);
    scope = folder ? (relativeTo(folder.uri.fsPath, arg.fsPath) ?? '') : undefined;
  } else if (arg && 'uri' in arg && 'index' in arg) {
    folder = arg;
  } else if (arg) {
    folder = (arg as SummarizeArgs).folder;
    scope = (arg as SummarizeArgs).scope;
  }
  folder ??= await pickFolder();
  if (!folder) return undefined;
  if (scope === undefined) {
    scope = await pickScope(ctx, folder);
    if (scope === undefined) return undefined;
  }
  const display = scope ? `Summarize \`${scope}\`` : `Summarize the workspace ${folder.name}`;
  const prompt = scope
    ? `Summarize ${scope}: what it contains and how its parts fit together.`
    : `Summarize the repository ${folder.name}: its purpose and its structure.`;
  await chat.reveal(false);
  return chat.ask({ task: 'summarize', display, prompt, scope, folder });
}

/** The directories of a folder that hold files (up to PICK_DEPTH deep), with how many files each holds. */
export async function directoriesOf(folder: vscode.WorkspaceFolder, excludeGlobs: string[]): Promise<{ dir: string; files: number }[]> {
  const exclude = excludeGlobs.length ? `{${[SKIP_DIRS.slice(1, -1), ...excludeGlobs].join(',')}}` : SKIP_DIRS;
  const files = await vscode.workspace.findFiles(new vscode.RelativePattern(folder, '**/*'), exclude, 20_000);
  const counts = new Map<string, number>();
  for (const f of files) {
    const parts = path.relative(folder.uri.fsPath, f.fsPath).split(path.sep);
    for (let depth = 1; depth < parts.length && depth <= PICK_DEPTH; depth++) {
      if (parts[depth - 1].startsWith('.')) break;
      const dir = parts.slice(0, depth).join('/');
      counts.set(dir, (counts.get(dir) ?? 0) + 1);
    }
  }
  return [...counts.entries()]
    .map(([dir, n]) => ({ dir, files: n }))
    .sort((a, b) => a.dir.localeCompare(b.dir))
    .slice(0, PICK_MAX);
}

async function pickScope(ctx: Ctx, folder: vscode.WorkspaceFolder): Promise<string | undefined> {
  const dirs = await directoriesOf(folder, ctx.config.excludeGlobs);
  if (!dirs.length) return '';
  const items: (vscode.QuickPickItem & { scope: string })[] = [
    { label: `$(root-folder) Whole workspace`, description: folder.name, scope: '' },
    { label: 'Directories', kind: vscode.QuickPickItemKind.Separator, scope: '' },
    ...dirs.map((d) => ({ label: `$(folder) ${d.dir}/`, description: `${d.files} file${d.files === 1 ? '' : 's'}`, scope: d.dir })),
  ];
  const pick = await vscode.window.showQuickPick(items, {
    title: 'e2code: summarize',
    placeHolder: 'What to summarize',
    matchOnDescription: true,
  });
  return pick?.scope;
}

async function pickFolder(): Promise<vscode.WorkspaceFolder | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  if (folders.length <= 1) {
    if (!folders.length) void vscode.window.showWarningMessage('e2code: open a folder to summarize.');
    return folders[0];
  }
  return vscode.window.showWorkspaceFolderPick({ placeHolder: 'Folder to summarize' });
}
