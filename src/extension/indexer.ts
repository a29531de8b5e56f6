// Keeps the sidecar's index of every workspace folder current: a full index at start (with a
// cancellable notification the first time), then, after saves, creates, deletes and renames, a
// debounced refresh of just the changed paths (IndexParams.paths: the runtime updates those files'
// chunks, no walk of the tree).
import * as fs from 'node:fs';
import * as vscode from 'vscode';
import type { IndexParams, IndexResult, ProgressNotification } from '../core/protocol';
import { changedPath, PendingChanges, type IndexJob } from './changes';
import { errorMessage, type Ctx } from './ctx';
import { progressMessage } from './words';

/** 'incomplete': the last full index of a folder was cancelled; a re-index completes it. */
export type IndexState = 'starting' | 'indexing' | 'ready' | 'incomplete' | 'paused' | 'error' | 'stopped';

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
  /** Debounce per folder (fsPath): changes wait here until the folder has been quiet for a while. */
  private readonly timers = new Map<string, NodeJS.Timeout>();
  private readonly waiting = new PendingChanges();
  /** What each folder needs next; processed one folder at a time. */
  private readonly queue = new PendingChanges();
  private running: Promise<void> | undefined;
  private current: { root: string; abort: AbortController } | undefined;
  private paused = false;
  private firstRunDone = false;
  private restarted = false;
  /** Folders whose last full index was cancelled. */
  private readonly incomplete = new Set<string>();
  /** Modification time of each file when its last change was queued (fsPath -> mtimeMs). */
  private readonly modified = new Map<string, number>();
  private readonly disposables: vscode.Disposable[] = [];
  /** Last result per folder fsPath; read by the tests and the status tooltip. */
  readonly results = new Map<string, IndexResult>();
  /** The last request per folder fsPath (full walk or the paths refreshed); read by the tests. */
  readonly lastRequest = new Map<string, Pick<IndexParams, 'paths'>>();
  /** How many index requests completed; lets tests wait for "a re-index after my edit". */
  completedRuns = 0;

  constructor(private readonly ctx: Ctx) {
    this.disposables.push(this.emitter);
    const watcher = vscode.workspace.createFileSystemWatcher('**/*');
    this.disposables.push(
      watcher,
      watcher.onDidCreate((u) => this.touched(u, 'gone-or-new')),
      watcher.onDidChange((u) => this.touched(u, 'changed')),
      watcher.onDidDelete((u) => this.touched(u, 'gone-or-new')),
      vscode.workspace.onDidSaveTextDocument((d) => this.touched(d.uri, 'changed')),
      vscode.workspace.onDidRenameFiles((e) =>
        e.files.forEach((f) => (this.touched(f.oldUri, 'gone-or-new'), this.touched(f.newUri, 'gone-or-new'))),
      ),
      vscode.workspace.onDidChangeWorkspaceFolders((e) => {
        for (const f of e.removed) {
          this.queue.delete(f.uri.fsPath);
          this.incomplete.delete(f.uri.fsPath);
        }
        for (const f of e.added) this.queue.addFull(f.uri.fsPath);
        void this.drain();
      }),
      ctx.onSidecarState((s) => {
        if (s === 'restarting') {
          this.restarted = true;
          this.set({ state: 'starting', detail: 'restarting the model process' });
        } else if (s === 'dead') {
          this.set({ state: 'error', detail: ctx.startError ?? 'the model process stopped' });
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
    for (const f of vscode.workspace.workspaceFolders ?? []) this.queue.addFull(f.uri.fsPath);
    return this.drain();
  }

  /** Resolves when no index is queued or running. */
  async whenIdle(): Promise<void> {
    while (this.running) await this.running;
  }

  /** Whether the folder has changes waiting, or an index queued or running. */
  isPending(root: string): boolean {
    return this.current?.root === root || this.queue.has(root) || this.waiting.has(root);
  }

  /** Resolves when the folder has nothing waiting, queued or running (or when `signal` aborts). */
  async whenIndexed(root: string, signal?: AbortSignal): Promise<void> {
    while (this.isPending(root) && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(done, 200);
        const sub = this.onDidChange(done);
        signal?.addEventListener('abort', done, { once: true });
        function done() {
          clearTimeout(t);
          sub.dispose();
          signal?.removeEventListener('abort', done);
          resolve();
        }
      });
    }
  }

  async pause(): Promise<void> {
    const client = await this.ctx.ensureClient();
    await client.pauseIndex();
    this.paused = true;
    this.set({ state: 'paused', percent: this.status.percent, detail: this.status.detail });
    this.ctx.log.info('indexing paused');
  }

  async resume(): Promise<void> {
    const client = await this.ctx.ensureClient();
    await client.resumeIndex();
    this.paused = false;
    this.ctx.log.info('indexing resumed');
    if (this.current) this.set({ state: 'indexing', percent: this.status.percent, detail: this.status.detail });
    else if (this.queue.size > 0) void this.drain();
    else this.set(this.settled());
  }

  /** Cancels the running index and everything queued. */
  cancel(): void {
    this.queue.clear();
    this.current?.abort.abort();
  }

  /**
   * A save is reported twice, by the editor and by the file watcher (sometimes seconds apart, after the
   * refresh it caused): a change is queued once per modification time of the file.
   */
  private isRepeat(file: string, kind: 'changed' | 'gone-or-new'): boolean {
    if (kind === 'gone-or-new') {
      this.modified.delete(file);
      return false;
    }
    let mtime: number;
    try {
      mtime = fs.statSync(file).mtimeMs;
    } catch {
      this.modified.delete(file);
      return false;
    }
    if (this.modified.get(file) === mtime) return true;
    if (this.modified.size > 10_000) this.modified.clear();
    this.modified.set(file, mtime);
    return false;
  }

  private touched(uri: vscode.Uri, kind: 'changed' | 'gone-or-new'): void {
    if (uri.scheme !== 'file') return;
    const folder = vscode.workspace.getWorkspaceFolder(uri);
    if (!folder) return;
    const root = folder.uri.fsPath;
    const rel = changedPath(root, uri.fsPath);
    if (!rel || this.isRepeat(uri.fsPath, kind)) return;
    this.waiting.addPath(root, rel);
    clearTimeout(this.timers.get(root));
    this.timers.set(
      root,
      setTimeout(() => {
        this.timers.delete(root);
        const job = this.waiting.take(root);
        if (!job) return;
        if (job.full) this.queue.addFull(root);
        else for (const p of job.paths) this.queue.addPath(root, p);
        this.ctx.log.debug(`refresh ${root} after file changes: ${job.full ? 'full index' : job.paths.join(', ')}`);
        void this.drain();
      }, this.ctx.config.refreshDelayMs),
    );
  }

  private drain(): Promise<void> {
    if (!this.running) {
      this.running = this.loop().finally(() => (this.running = undefined));
    }
    return this.running;
  }

  private async loop(): Promise<void> {
    for (let root = this.queue.next(); root !== undefined; root = this.queue.next()) {
      const job = this.queue.take(root)!;
      if (!this.firstRunDone && job.full) {
        this.firstRunDone = true;
        await vscode.window.withProgress(
          { location: vscode.ProgressLocation.Notification, title: 'e2code: indexing', cancellable: true },
          (progress, token) => this.indexOne(root!, job, token, progress),
        );
      } else {
        await this.indexOne(root, job);
      }
    }
  }

  private async indexOne(
    root: string,
    job: IndexJob,
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
          progress.report({ increment: Math.max(0, percent - reported), message: progressMessage(name, p) });
          reported = Math.max(reported, percent);
        }
      };
      const request: Pick<IndexParams, 'paths'> = job.full ? {} : { paths: job.paths };
      const t0 = Date.now();
      const result = await client.index({ root, ...request, options: this.ctx.config.indexOptions }, onProgress, abort.signal);
      this.results.set(root, result);
      this.lastRequest.set(root, request);
      if (job.full) this.incomplete.delete(root);
      this.completedRuns++;
      this.ctx.log.info(
        `indexed ${name}${job.full ? '' : ` (${job.paths.length} changed path${job.paths.length === 1 ? '' : 's'})`}: ` +
          `${result.files} files, ${result.chunks} chunks (${result.encoded} encoded, ${result.cached} cached)` +
          ` in ${Date.now() - t0} ms; skipped ${JSON.stringify(result.skipped)}`,
      );
      if (result.modelError) this.set({ state: 'error', detail: `indexed without a model: ${result.modelError}` });
      else if (this.queue.size === 0) this.set(this.settled());
    } catch (err) {
      if (abort.signal.aborted) {
        this.ctx.log.info(`indexing ${name} cancelled`);
        if (job.full) this.incomplete.add(root);
        this.set(this.settled());
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

  /** The state once nothing runs: paused, incomplete (a full index was cancelled) or ready. */
  private settled(): IndexStatus {
    if (this.paused) return { state: 'paused' };
    if (this.incomplete.size > 0) {
      const names = [...this.incomplete].map((r) => vscode.workspace.getWorkspaceFolder(vscode.Uri.file(r))?.name ?? r);
      return { state: 'incomplete', detail: `indexing of ${names.join(', ')} was cancelled` };
    }
    return { state: 'ready' };
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
