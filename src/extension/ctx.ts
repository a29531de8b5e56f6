// The one object that owns the extension's state: settings, log, the sidecar client and every
// disposable. Commands, views and the indexer get it and nothing else (rust-analyzer's `Ctx` pattern).
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Capability, GenerateParams, GenerateResult, InitializeResult, Task } from '../core/protocol';
import { SidecarClient, type SidecarState } from '../sidecar/client';
import { Config } from './config';

export class Ctx implements vscode.Disposable {
  readonly config: Config;
  readonly log: vscode.LogOutputChannel;
  private clientInstance: SidecarClient | undefined;
  private starting: Promise<SidecarClient> | undefined;
  private readonly disposables: vscode.Disposable[] = [];
  private readonly stateEmitter = new vscode.EventEmitter<SidecarState>();
  /** Fires on every sidecar state change, including the ones of a replaced client. */
  readonly onSidecarState = this.stateEmitter.event;
  private lastError: string | undefined;

  constructor(readonly extension: vscode.ExtensionContext) {
    this.config = new Config(extension.extensionPath);
    this.log = vscode.window.createOutputChannel('e2code', { log: true });
    this.disposables.push(this.log, this.stateEmitter);
  }

  push(...d: vscode.Disposable[]): void {
    this.disposables.push(...d);
  }

  get client(): SidecarClient | undefined {
    return this.clientInstance;
  }

  get sidecarState(): SidecarState {
    return this.clientInstance?.state ?? 'stopped';
  }

  /** Why the sidecar last failed to start, for the status bar tooltip. */
  get startError(): string | undefined {
    return this.lastError;
  }

  get info(): InitializeResult | undefined {
    return this.clientInstance?.info;
  }

  /** Whether the loaded bundle can do `what` (false while no model is loaded). */
  can(what: Capability): boolean {
    return this.info?.capabilities?.includes(what) ?? false;
  }

  /**
   * Whether the bundle writes the answer to `task` itself. If not, the runtime assembles it from the
   * index (origin 'index'), and whatever the decoder streams on the way is not the answer.
   */
  writes(task: Task): boolean {
    return this.can(task === 'ask' ? 'explain' : task);
  }

  /** The running client, starting it on first use. Concurrent callers share one start. */
  async ensureClient(): Promise<SidecarClient> {
    if (this.clientInstance && this.clientInstance.state !== 'dead' && this.clientInstance.state !== 'stopped') {
      return this.clientInstance;
    }
    if (!this.starting) {
      this.starting = this.startClient().finally(() => (this.starting = undefined));
    }
    return this.starting;
  }

  private async startClient(): Promise<SidecarClient> {
    const old = this.clientInstance;
    this.clientInstance = undefined;
    if (old) await old.dispose();

    const sidecarPath = path.join(this.extension.extensionPath, 'dist', 'sidecar.js');
    const bundlePath = this.config.bundlePath;
    const cacheDir = path.join(this.extension.globalStorageUri.fsPath, 'cache');
    fs.mkdirSync(cacheDir, { recursive: true });
    const client = new SidecarClient({
      sidecarPath,
      log: (line) => this.log.info(line),
    });
    this.clientInstance = client;
    client.onStateChange((s) => {
      this.log.debug(`sidecar state: ${s}`);
      this.stateEmitter.fire(s);
    });
    this.log.info(`starting sidecar ${sidecarPath} with bundle ${bundlePath} (device ${this.config.device})`);
    try {
      const info = await client.start({
        bundlePath,
        device: this.config.device,
        threads: this.config.threads || undefined,
        cacheDir,
      });
      this.lastError = undefined;
      this.log.info(
        `sidecar ready: bundle ${info.bundleName} (${info.bundleId}), provider ${info.provider}` +
          (info.providerNote ? ` (${info.providerNote})` : '') +
          `, can: ${(info.capabilities ?? []).join(', ') || 'nothing'}`,
      );
      this.stateEmitter.fire(client.state);
      return client;
    } catch (err) {
      this.lastError = errorMessage(err);
      this.log.error(`sidecar failed to start: ${this.lastError}`);
      this.stateEmitter.fire(client.state);
      // No usable model, but the sidecar runs: indexing and chunk browsing work, answers are refused
      // with the reason (the status bar shows it after each index).
      if (client.state === 'noModel') return client;
      throw err;
    }
  }

  /** Stops the sidecar and starts a new one (after a bundle/device change). */
  async restartClient(): Promise<SidecarClient> {
    const old = this.clientInstance;
    this.clientInstance = undefined;
    if (old) await old.dispose();
    return this.ensureClient();
  }

  /** Sends a generate request, with the current settings, to the running sidecar. */
  async generate(params: Omit<GenerateParams, 'options'>, onToken?: (text: string) => void, signal?: AbortSignal): Promise<GenerateResult> {
    const client = await this.ensureClient();
    this.log.info(`generate ${params.task} in ${params.root}: ${params.prompt.slice(0, 120)}`);
    const t0 = Date.now();
    const result = await client.generate({ ...params, options: this.config.generateOptions }, onToken, signal);
    this.log.info(
      `generate ${params.task}: ${result.origin} answer, ${result.stopReason} in ${Date.now() - t0} ms, ` +
        `${result.context.softChunks} soft + ${result.context.textChunks} text chunks, ${result.context.positions} positions, ` +
        `${result.context.decoderRuns} decoder runs, ${result.sources?.length ?? 0} sources` +
        (result.notice ? `; notice: ${result.notice}` : ''),
    );
    return result;
  }

  /** The folder a request is about: the active editor's, else the first. */
  activeFolder(uri?: vscode.Uri): vscode.WorkspaceFolder | undefined {
    const target = uri ?? vscode.window.activeTextEditor?.document.uri;
    const own = target ? vscode.workspace.getWorkspaceFolder(target) : undefined;
    return own ?? vscode.workspace.workspaceFolders?.[0];
  }

  folderByName(name: string): vscode.WorkspaceFolder | undefined {
    return vscode.workspace.workspaceFolders?.find((f) => f.name === name);
  }

  dispose(): void {
    const client = this.clientInstance;
    this.clientInstance = undefined;
    void client?.dispose();
    for (const d of this.disposables.splice(0).reverse()) {
      try {
        d.dispose();
      } catch {
        // Keep disposing the rest.
      }
    }
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
