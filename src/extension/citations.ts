// Opens a citation (`path:line` from the model) at its line, after checking it stays in the folder.
import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import { resolveCitation } from './paths';

export async function openCitation(ctx: Ctx, folderName: string, citedPath: string, line: number): Promise<boolean> {
  const folder = ctx.folderByName(folderName) ?? ctx.activeFolder();
  if (!folder || folder.uri.scheme !== 'file') {
    void vscode.window.showWarningMessage('e2code: no workspace folder to open the citation in.');
    return false;
  }
  const check = await resolveCitation(folder.uri.fsPath, citedPath, line);
  if (!check.ok) {
    ctx.log.warn(`citation ${citedPath}:${line} refused: ${check.reason}`);
    void vscode.window.showWarningMessage(`e2code: cannot open ${citedPath}:${line} (${check.reason}).`);
    return false;
  }
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(check.file));
  const at = Math.min(check.line, doc.lineCount) - 1;
  const pos = new vscode.Position(at, 0);
  await vscode.window.showTextDocument(doc, {
    selection: new vscode.Range(pos, pos),
    viewColumn: vscode.ViewColumn.One,
    preview: true,
  });
  return true;
}
