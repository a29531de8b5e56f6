// Helpers for suites running inside the extension host.
import * as vscode from 'vscode';
import type { E2codeApi } from '../../../src/extension/extension';

export const EXTENSION_ID = 'e2code.e2code';

export async function api(): Promise<E2codeApi> {
  const ext = vscode.extensions.getExtension<E2codeApi>(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} not found`);
  return ext.isActive ? ext.exports : ext.activate();
}

export function folder(): vscode.WorkspaceFolder {
  const f = vscode.workspace.workspaceFolders?.[0];
  if (!f) throw new Error('the test window has no workspace folder');
  return f;
}

export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 120_000,
): Promise<T> {
  const t0 = Date.now();
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function openFile(rel: string): Promise<vscode.TextEditor> {
  const doc = await vscode.workspace.openTextDocument(vscode.Uri.joinPath(folder().uri, rel));
  return vscode.window.showTextDocument(doc, { preview: false });
}
