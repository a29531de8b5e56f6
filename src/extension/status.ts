// The status-bar item: index state at a glance (indexing 42% / ready / paused / error); a click opens
// a menu of the index commands.
import * as vscode from 'vscode';
import type { Ctx } from './ctx';
import type { IndexStatus } from './indexer';

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
    const lines = [`e2code — ${label}${s.detail ? ` (${s.detail})` : ''}`];
    if (info) lines.push(`Model: ${info.bundleName} on ${info.provider}${info.providerNote ? ` — ${info.providerNote}` : ''}`);
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
    case 'error':
      return { icon: '$(error)', label: 'error' };
    case 'starting':
      return { icon: '$(loading~spin)', label: 'starting' };
    default:
      return { icon: '$(circle-slash)', label: 'stopped' };
  }
}

/** The menu behind the status-bar item. */
export async function showStatusMenu(ctx: Ctx, paused: boolean): Promise<void> {
  const items: (vscode.QuickPickItem & { command: string })[] = [
    paused
      ? { label: '$(debug-start) Resume indexing', command: 'e2code.resumeIndexing' }
      : { label: '$(debug-pause) Pause indexing', command: 'e2code.pauseIndexing' },
    { label: '$(refresh) Re-index workspace', command: 'e2code.reindex' },
    { label: '$(package) Select model bundle…', command: 'e2code.selectBundle' },
    { label: '$(output) Show logs', command: 'e2code.showLogs' },
  ];
  const model = ctx.info ? `model ${ctx.info.bundleName} on ${ctx.info.provider}` : 'model not loaded';
  const pick = await vscode.window.showQuickPick(items, { title: `e2code — ${model}`, placeHolder: 'Index actions' });
  if (pick) await vscode.commands.executeCommand(pick.command);
}
