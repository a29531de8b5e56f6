// The status-bar item: index state at a glance (indexing 42% / ready / paused / error); a click opens
// a menu of the index commands.
import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import type { IndexStatus } from './indexer';
import { plainReason } from './words';

export const STATUS_MENU_COMMAND = 'e2code.statusMenu';

export class StatusBar implements vscode.Disposable {
  private readonly item: vscode.StatusBarItem;

  constructor(private readonly ctx: Ctx) {
    this.item = vscode.window.createStatusBarItem('e2code.status', vscode.StatusBarAlignment.Left, 10);
    this.item.name = 'e2code';
    this.item.command = STATUS_MENU_COMMAND;
    this.update({ state: 'stopped' });
    this.item.show();
  }

  /** The text shown, for tests and logs. */
  get text(): string {
    return this.item.text;
  }

  update(s: IndexStatus): void {
    const { icon, label } = present(s);
    this.item.text = `${icon} e2code: ${label}`;
    const info = this.ctx.info;
    // The user's own folders and a bundle they chose may be named; library and system paths are not.
    const keep = [
      ...(vscode.workspace.workspaceFolders ?? []).map((f) => f.uri.fsPath),
      ...(this.ctx.config.bundleChosen ? [this.ctx.config.bundlePath] : []),
    ];
    const lines = [`e2code — ${label}${s.detail ? ` (${plainReason(s.detail, keep)})` : ''}`];
    if (s.state === 'incomplete') lines.push('Answers use what was indexed so far; Re-index Workspace completes it.');
    if (info)
      lines.push(
        `Model: ${info.bundleName}, running on ${info.provider === 'cuda' ? 'the GPU' : 'the CPU'}${info.providerNote ? ` (${plainReason(info.providerNote, keep)})` : ''}`,
      );
    lines.push('Click for index actions');
    this.item.tooltip = lines.join('\n');
    this.item.backgroundColor = s.state === 'error' ? new vscode.ThemeColor('statusBarItem.errorBackground') : undefined;
    this.item.accessibilityInformation = { label: `e2code ${label}`, role: 'button' };
  }

  dispose(): void {
    this.item.dispose();
  }
}

function present(s: IndexStatus): { icon: string; label: string } {
  switch (s.state) {
    case 'indexing':
      return { icon: '$(sync~spin)', label: `indexing ${s.percent ?? 0}%` };
    case 'paused':
      return { icon: '$(debug-pause)', label: 'paused' };
    case 'ready':
      return { icon: '$(check)', label: 'ready' };
    case 'incomplete':
      return { icon: '$(warning)', label: 'index incomplete' };
    case 'error':
      return { icon: '$(error)', label: 'error' };
    case 'starting':
      return { icon: '$(loading~spin)', label: 'starting' };
    default:
      return { icon: '$(circle-slash)', label: 'stopped' };
  }
}

/** The menu behind the status-bar item. */
export async function showStatusMenu(ctx: Ctx, state: IndexStatus['state']): Promise<void> {
  const items: (vscode.QuickPickItem & { command: string })[] = [];
  // Only what applies now: pause while indexing, resume while paused.
  if (state === 'paused') items.push({ label: '$(debug-start) Resume indexing', command: 'e2code.resumeIndexing' });
  else if (state === 'indexing' || state === 'starting')
    items.push({ label: '$(debug-pause) Pause indexing', command: 'e2code.pauseIndexing' });
  items.push(
    { label: '$(refresh) Re-index workspace', command: 'e2code.reindex' },
    { label: '$(package) Select model bundle…', command: 'e2code.selectBundle' },
    { label: '$(output) Show logs', command: 'e2code.showLogs' },
  );
  const model = ctx.info ? `model ${ctx.info.bundleName} on ${ctx.info.provider === 'cuda' ? 'the GPU' : 'the CPU'}` : 'model not loaded';
  const pick = await vscode.window.showQuickPick(items, { title: `e2code — ${model}`, placeHolder: 'Index actions' });
  if (pick) await vscode.commands.executeCommand(pick.command);
}
