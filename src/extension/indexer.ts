// Keeps the sidecar's index of every workspace folder current: a full index at start (with a
// cancellable notification the first time), then a debounced re-index of a folder after saves,
// creates, deletes and renames in it. The sidecar's index is content-addressed, so a re-index only
// re-encodes the chunks whose text changed.
import * as vscode from 'vscode';
import type { IndexResult, ProgressNotification } from '../core/protocol';
import { errorMessage, type Ctx } from './ctx';

export type IndexState = 'starting' | 'indexing' | 'ready' | 'paused' | 'error' | 'stopped';

export interface IndexStatus {
  state: IndexState;
  /** 0..100 while indexing. */
  percent?: number;
  /** Folder being indexed, or the error. */
  detail?: string;
}

export class Indexer implements vscode.Disposable {
  private status: IndexStatus = { state: 'stopped' };
  private readonly emitter = new vscode.EventEmitter<IndexStatus>();
  readonly onDidChange = this.emitter.event;
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Folders (fsPath) waiting for their (re-)index; processed one at a time. */
  private readonly queue = new Set<string>();
  private running: Promise<void> | undefined;
  private current: { root: string; abort: AbortController } | undefined;
  private paused = false;
  private firstRunDone = false;
  private restarted = false;
  private readonly disposables: vscode.Disposable[] = [];
  /** Last result per folder fsPath; read by the tests and the status tooltip. */
  readonly results = new Map<string, IndexResult>();
  /** How many index requests completed; lets tests wait for "a re-index after my edit". */
  completedRuns = 0;

  constructor(private readonly ctx: Ctx) {
    this.disposables.push(this.emitter);
    const watcher = vscode.workspace.createFileSystemWatcher('**/*');
    this.disposables.push(
      watcher,
      watcher.onDidCreate((u) => this.touched(u)),
      watcher.onDidChange((u) => this.touched(u)),
      watcher.onDidDelete((u) => this.touched(u)),
      vscode.workspace.onDidSaveTextDocument((d) => this.touched(d.uri)),
      vscode.workspace.onDidRenameFiles((e) => e.files.forEach((f) => (this.touched(f.oldUri), this.touched(f.newUri)))),
      vscode.workspace.onDidChangeWorkspaceFolders((e) => {
        for (const f of e.removed) this.queue.delete(f.uri.fsPath);
        for (const f of e.added) this.enqueue(f.uri.fsPath);
      }),
      ctx.onSidecarState((s) => {
        if (s === 'restarting') {
          this.restarted = true;
          this.set({ state: 'starting', detail: 'sidecar restarting' });
        } else if (s === 'dead') {
          this.set({ state: 'error', detail: ctx.startError ?? 'sidecar stopped' });
        } else if (s === 'ready' && this.restarted) {
          // A new sidecar process knows no folder yet (and an index may have died with the old one).
          this.restarted = false;
          this.paused = false;
          this.ctx.log.info('sidecar restarted: re-indexing');
          void this.indexAll();
        }
      }),
    );
  }

  get state(): IndexStatus {
    return this.status;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** Index every workspace folder (start-up, re-index command, settings change). */
  indexAll(): Promise<void> {
    for (const f of vscode.workspace.workspaceFolders ?? []) this.enqueue(f.uri.fsPath);
    return this.drain();
  }

  /** Resolves when no index is queued or running. */
  async whenIdle(): Promise<void> {
    while (this.running) await this.running;
  }

  async pause(): Promise<void> {
    const client = await this.ctx.ensureClient();
    await client.pauseIndex();
    this.paused = true;
    this.set({ state: 'paused', percent: this.status.percent });
    this.ctx.log.info('indexing paused');
  }

  async resume(): Promise<void> {
    const client = await this.ctx.ensureClient();
    await client.resumeIndex();
    this.paused = false;
    this.ctx.log.info('indexing resumed');
    if (this.current) this.set({ state: 'indexing', percent: this.status.percent, detail: this.status.detail });
    else if (this.queue.size > 0) void this.drain();
    else this.set({ state: 'ready' });
  }

  /** Cancels the running index and everything queued. */
  cancel(): void {
    this.queue.clear();
    this.current?.abort.abort();
  }

  private touched(uri: vscode.Uri): void {
    if (uri.scheme !== 'file') return;
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    if (!folder) return;
    // The sidecar's own cache or a VCS directory changing is not a source change.
    if (/[\\/](\.git|\.e2code|node_modules)([\\/]|$)/.test(uri.fsPath.slice(folder.uri.fsPath.length))) return;
    const root = folder.uri.fsPath;
    clearTimeout(this.timers.get(root));
    this.timers.set(
      root,
      setTimeout(() => {
        this.timers.delete(root);
        this.ctx.log.debug(`re-index ${root} after file changes`);
        this.enqueue(root);
        void this.drain();
      }, this.ctx.config.refreshDelayMs),
    );
  }

  private enqueue(root: string): void {
    this.queue.add(root);
  }

  private drain(): Promise<void> {
    if (!this.running) {
      this.running = this.loop().finally(() => (this.running = undefined));
    }
    return this.running;
  }

  private async loop(): Promise<void> {
    while (this.queue.size > 0) {
      const root = this.queue.values().next().value as string;
      this.queue.delete(root);
      if (!this.firstRunDone) {
        this.firstRunDone = true;
        await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'e2code: indexing', cancellable: true },
          (progress, token) => this.indexOne(root, token, progress),
        );
      } else {
        await this.indexOne(root);
      }
    }
  }

  private async indexOne(
    root: string,
    token?: vscode.CancellationToken,
    progress?: vscode.Progress<{ message?: string; increment?: number }>,
  ): Promise<void> {
    const abort = new AbortController();
    const sub = token?.onCancellationRequested(() => {
      this.ctx.log.info('indexing cancelled from the notification');
      this.cancel();
    });
    this.current = { root, abort };
    const name = vscode.workspace.getWorkspaceFolder(vscode.Uri.file(root))?.name ?? root;
    let reported = 0;
    try {
      this.set({ state: 'starting', detail: name });
      const client = await this.ctx.ensureClient();
      this.set({ state: this.paused ? 'paused' : 'indexing', percent: 0, detail: name });
      const onProgress = (p: ProgressNotification) => {
        const percent = overallPercent(p);
        if (!this.paused) this.set({ state: 'indexing', percent, detail: name });
        if (progress) {
          progress.report({ increment: Math.max(0, percent - reported), message: `${name}: ${p.phase} ${p.done}/${p.total}` });
          reported = Math.max(reported, percent);
        }
      };
      const t0 = Date.now();
      const result = await client.index({ root, options: this.ctx.config.indexOptions }, onProgress, abort.signal);
      this.results.set(root, result);
      this.completedRuns++;
      this.ctx.log.info(
        `indexed ${name}: ${result.files} files, ${result.chunks} chunks (${result.encoded} encoded, ${result.cached} cached)` +
          ` in ${Date.now() - t0} ms; skipped ${JSON.stringify(result.skipped)}`,
      );
      if (result.modelError) this.set({ state: 'error', detail: `indexed without a model: ${result.modelError}` });
      else if (this.queue.size === 0) this.set({ state: this.paused ? 'paused' : 'ready' });
    } catch (err) {
      if (abort.signal.aborted) {
        this.ctx.log.info(`indexing ${name} cancelled`);
        this.set({ state: 'ready', detail: 'last index cancelled' });
      } else {
        const msg = errorMessage(err);
        this.ctx.log.error(`indexing ${name} failed: ${msg}`);
        this.set({ state: 'error', detail: msg });
      }
    } finally {
      sub?.dispose();
      this.current = undefined;
    }
  }

  private set(s: IndexStatus): void {
    this.status = s;
    this.emitter.fire(s);
  }

  dispose(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.cancel();
    for (const d of this.disposables) d.dispose();
  }
}

/** One number for the three phases: walking is quick, chunking a fifth, encoding the rest. */
export function overallPercent(p: ProgressNotification): number {
  const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 1;
  const at = p.phase === 'walk' ? 0 : p.phase === 'chunk' ? 0.05 + 0.15 * frac : 0.2 + 0.8 * frac;
  return Math.round(at * 100);
}
