// Client side of the sidecar protocol, shared by the CLI and the extension (so: no `vscode` import).
// It owns the child process: spawns it, speaks JSON-RPC over its stdio, restarts it with backoff when
// it dies (re-sending `initialize`), and fails in-flight requests with an error that says what happened.
// A sidecar that lives but no longer answers (a deaf one) is found by a liveness check (a `status` request
// the sidecar answers ahead of queued work) and by per-request timeouts, and is killed and restarted.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { pathToFileURL } from 'node:url';
import {
  CancellationTokenSource,
  createMessageConnection,
  ResponseError,
  StreamMessageReader,
  StreamMessageWriter,
  type MessageConnection,
} from 'vscode-jsonrpc/node';
import {
  Methods,
  Notifications,
  type ChunksParams,
  type ChunksResult,
  type GenerateParams,
  type GenerateResult,
  type IndexParams,
  type IndexResult,
  type InitializeParams,
  type InitializeResult,
  type ProgressNotification,
  type StatusResult,
  type TokenNotification,
} from '../core/protocol';

/**
 * 'noModel': the process runs but refused `initialize` (the bundle cannot be loaded): status, index
 * (walk and chunk only), chunks and pause/resume work; generate is refused with the reason.
 */
export type SidecarState = 'stopped' | 'starting' | 'ready' | 'noModel' | 'restarting' | 'dead';

export interface SidecarClientOptions {
  /** dist/sidecar.js, or src/sidecar/main.ts (run through tsx; for tests and development). */
  sidecarPath: string;
  /** Node binary; default process.execPath (inside VS Code that is Electron, hence ELECTRON_RUN_AS_NODE). */
  nodePath?: string;
  env?: NodeJS.ProcessEnv;
  /** Receives the sidecar's stderr lines and the client's own notes. */
  log?: (line: string) => void;
  /** Delays before successive restarts; the last one repeats. */
  restartDelaysMs?: number[];
  /** Give up (state 'dead') after this many restarts within `restartWindowMs`. */
  maxRestarts?: number;
  restartWindowMs?: number;
  /**
   * While started, a `status` request every `intervalMs`; a sidecar that sends nothing at all for
   * `timeoutMs` after one is deaf: it is killed and restarted. intervalMs 0 turns the check off.
   */
  liveness?: { intervalMs: number; timeoutMs: number };
  /** Per-request time limits in ms by method (short name: 'status', 'generate', ...); 0 = none. See DEFAULT_TIMEOUTS_MS. */
  requestTimeoutsMs?: Partial<Record<RequestName, number>>;
}

type RequestName = 'initialize' | 'index' | 'chunks' | 'generate' | 'status' | 'pauseIndex' | 'resumeIndex';

/**
 * Requests that answer at once get a time limit; `index` and `generate` may rightly run for minutes, and
 * the liveness check tells a slow sidecar from a deaf one for them. `initialize` loads the model.
 */
export const DEFAULT_TIMEOUTS_MS: Record<RequestName, number> = {
  initialize: 600_000,
  index: 0,
  generate: 0,
  chunks: 60_000,
  status: 30_000,
  pauseIndex: 30_000,
  resumeIndex: 30_000,
};

export const DEFAULT_LIVENESS = { intervalMs: 15_000, timeoutMs: 30_000 };

export interface Disposable {
  dispose(): void;
}

/** A request the sidecar did not answer within its time limit (see SidecarClientOptions.requestTimeoutsMs). */
export class SidecarTimeoutError extends Error {
  constructor(
    readonly method: string,
    readonly ms: number,
  ) {
    super(`sidecar did not answer ${method} within ${ms} ms`);
    this.name = 'SidecarTimeoutError';
  }
}

/** Error of a request that could not complete because the sidecar process went away. */
export class SidecarExitError extends Error {
  constructor(
    message: string,
    readonly code: number | null,
    readonly signal: NodeJS.Signals | null,
  ) {
    super(message);
    this.name = 'SidecarExitError';
  }
}

interface Pending {
  method: string;
  reject: (err: Error) => void;
}

interface Process {
  child: ChildProcess;
  connection: MessageConnection;
  exited: boolean;
  /** When the sidecar last sent anything (any byte on stdout is a sign of life). */
  lastHeard: number;
  liveness?: NodeJS.Timeout;
  pinging: boolean;
  /** Set when the client killed it for not answering: the reason its requests failed. */
  deafReason?: string;
}

export class SidecarClient {
  private proc: Process | undefined;
  private initParams: InitializeParams | undefined;
  private initResult: InitializeResult | undefined;
  private ready: Promise<void> | undefined;
  private currentState: SidecarState = 'stopped';
  private readonly stateListeners = new Set<(s: SidecarState) => void>();
  private readonly pending = new Set<Pending>();
  private readonly tokenStreams = new Map<string, (text: string) => void>();
  private readonly progressStreams = new Map<string, (p: ProgressNotification) => void>();
  private restartTimes: number[] = [];
  private disposed = false;
  private lastExitMessage = '';

  constructor(private readonly options: SidecarClientOptions) {}

  get state(): SidecarState {
    return this.currentState;
  }

  /** What `initialize` returned (bundle, provider in use); undefined before the first start. */
  get info(): InitializeResult | undefined {
    return this.initResult;
  }

  get pid(): number | undefined {
    return this.proc?.child.pid;
  }

  onStateChange(listener: (state: SidecarState) => void): Disposable {
    this.stateListeners.add(listener);
    return { dispose: () => this.stateListeners.delete(listener) };
  }

  /**
   * Spawns the sidecar and initializes it; resolves with the bundle and provider in use. When the
   * sidecar refuses `initialize` (a bad bundle or device, not fixed by restarting) this rejects with its
   * reason, but the process stays up in state 'noModel' for what needs no model (see SidecarState).
   */
  async start(init: InitializeParams): Promise<InitializeResult> {
    if (this.disposed) throw new Error('SidecarClient was disposed');
    this.initParams = init;
    this.setState('starting');
    const launched = this.launch();
    this.ready = launched.catch((err: unknown) => {
      if (!this.initRefused(err)) throw err;
    });
    try {
      await launched;
    } catch (err) {
      if (this.initRefused(err)) {
        this.initResult = undefined;
        this.startLiveness(this.proc!);
        this.setState('noModel');
      } else {
        this.stopProcess();
        this.setState('dead');
      }
      throw err;
    }
    return this.initResult!;
  }

  /** `initialize` was answered with an error while the process lives on. */
  private initRefused(err: unknown): boolean {
    return !(err instanceof SidecarExitError) && !!this.proc && !this.proc.exited;
  }

  index(params: IndexParams, onProgress?: (p: ProgressNotification) => void, signal?: AbortSignal): Promise<IndexResult> {
    const streamId = params.streamId ?? randomUUID();
    if (onProgress) this.progressStreams.set(streamId, onProgress);
    return this.request<IndexResult>(Methods.index, { ...params, streamId }, signal).finally(() => this.progressStreams.delete(streamId));
  }

  generate(params: GenerateParams, onToken?: (text: string) => void, signal?: AbortSignal): Promise<GenerateResult> {
    const streamId = params.streamId ?? randomUUID();
    if (onToken) this.tokenStreams.set(streamId, onToken);
    return this.request<GenerateResult>(Methods.generate, { ...params, streamId }, signal).finally(() =>
      this.tokenStreams.delete(streamId),
    );
  }

  status(): Promise<StatusResult> {
    return this.request<StatusResult>(Methods.status, {});
  }

  chunks(params: ChunksParams): Promise<ChunksResult> {
    return this.request<ChunksResult>(Methods.chunks, params);
  }

  pauseIndex(): Promise<void> {
    return this.request<void>(Methods.pauseIndex, {});
  }

  resumeIndex(): Promise<void> {
    return this.request<void>(Methods.resumeIndex, {});
  }

  /** Asks the sidecar to shut down, then makes sure it is gone. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const proc = this.proc;
    if (proc && !proc.exited) {
      const exited = new Promise<void>((resolve) => proc.child.once('exit', () => resolve()));
      try {
        await Promise.race([proc.connection.sendRequest(Methods.shutdown, {}), delay(2000)]);
      } catch {
        // It may already be exiting; the kill below covers it.
      }
      await Promise.race([exited, delay(2000)]);
    }
    this.stopProcess();
    this.failPending('sidecar client disposed');
    this.setState('stopped');
    this.stateListeners.clear();
  }

  private async request<R>(method: string, params: unknown, signal?: AbortSignal): Promise<R> {
    if (this.disposed) throw new Error('SidecarClient was disposed');
    if (!this.ready) throw new Error(`sidecar not started: call start() before ${shortName(method)}`);
    if (this.currentState === 'dead') throw new Error(`sidecar is not running: ${this.lastExitMessage || 'it failed to start'}`);
    await this.ready;
    const proc = this.proc;
    if (!proc || proc.exited) throw new Error(`sidecar is not running: ${this.lastExitMessage}`);
    signal?.throwIfAborted();
    const cts = new CancellationTokenSource();
    const onAbort = () => cts.cancel();
    signal?.addEventListener('abort', onAbort, { once: true });
    const name = shortName(method) as RequestName;
    const timeoutMs = this.options.requestTimeoutsMs?.[name] ?? DEFAULT_TIMEOUTS_MS[name] ?? 0;
    let timer: NodeJS.Timeout | undefined;
    let entry: Pending | undefined;
    try {
      return await new Promise<R>((resolve, reject) => {
        entry = { method, reject };
        this.pending.add(entry);
        if (timeoutMs > 0) {
          timer = setTimeout(() => {
            cts.cancel();
            reject(new SidecarTimeoutError(name, timeoutMs));
            // A slow answer or a deaf sidecar: the liveness check tells them apart.
            void this.checkLiveness(proc);
          }, timeoutMs);
          timer.unref?.();
        }
        proc.connection.sendRequest<R>(method, params, cts.token).then(resolve, (err: unknown) => {
          if (err instanceof ResponseError) reject(new Error(err.message));
          else reject(err instanceof Error ? err : new Error(String(err)));
        });
      });
    } finally {
      if (timer) clearTimeout(timer);
      if (entry) this.pending.delete(entry);
      signal?.removeEventListener('abort', onAbort);
      cts.dispose();
    }
  }

  /**
   * Sends `status` and waits up to the liveness timeout. A sidecar that sent nothing at all meanwhile
   * (no answer, no token, no progress) is deaf: it is killed, which fails its requests with the reason
   * and restarts it (see onUnexpectedExit).
   */
  private async checkLiveness(proc: Process): Promise<void> {
    if (proc.exited || proc.pinging || this.proc !== proc) return;
    const { timeoutMs } = this.options.liveness ?? DEFAULT_LIVENESS;
    proc.pinging = true;
    const sent = Date.now();
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      proc.connection.sendRequest(Methods.status, {}).then(
        () => true,
        () => true,
      ),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), timeoutMs);
      }),
    ]);
    clearTimeout(timer);
    proc.pinging = false;
    if (answered || proc.exited || this.proc !== proc || proc.lastHeard > sent) return;
    proc.deafReason = `it stopped answering (nothing from it for ${timeoutMs} ms after a liveness check)`;
    this.options.log?.(`[client] sidecar ${proc.child.pid} sent nothing for ${timeoutMs} ms after a liveness check; restarting it`);
    proc.child.kill('SIGKILL');
  }

  private async launch(): Promise<void> {
    const { sidecarPath } = this.options;
    const nodePath = this.options.nodePath ?? process.execPath;
    const args = sidecarPath.endsWith('.ts') ? ['--import', tsxLoader(), sidecarPath] : [sidecarPath];
    const child = spawn(nodePath, args, {
      env: { ...process.env, ...this.options.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const connection = createMessageConnection(new StreamMessageReader(child.stdout!), new StreamMessageWriter(child.stdin!));
    const proc: Process = { child, connection, exited: false, lastHeard: Date.now(), pinging: false };
    this.proc = proc;
    child.stdout!.on('data', () => {
      proc.lastHeard = Date.now();
    });

    let stderrTail = '';
    let partial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (data: string) => {
      stderrTail = (stderrTail + data).slice(-4000);
      partial += data;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) this.options.log?.(`[sidecar] ${line}`);
    });
    // Writes to a dead child's stdin raise EPIPE; the exit handler reports the real cause.
    child.stdin!.on('error', () => undefined);

    connection.onNotification(Notifications.token, (n: TokenNotification) => this.tokenStreams.get(n.streamId)?.(n.text));
    connection.onNotification(Notifications.progress, (n: ProgressNotification) => this.progressStreams.get(n.streamId)?.(n));
    connection.onNotification(Notifications.log, (n: { message: string }) => this.options.log?.(`[sidecar] ${n.message}`));
    // Output the client cannot read: the sidecar's stream is lost, as deaf as one that says nothing.
    connection.onError(([err]) => {
      if (proc.exited || this.proc !== proc) return;
      proc.deafReason = `its output could not be read (${err.message})`;
      this.options.log?.(`[client] sidecar ${child.pid}: ${proc.deafReason}; restarting it`);
      child.kill('SIGKILL');
    });
    connection.listen();

    const exitPromise = new Promise<never>((_, reject) => {
      const onGone = (code: number | null, signal: NodeJS.Signals | null, spawnError?: Error) => {
        if (proc.exited) return;
        proc.exited = true;
        if (proc.liveness) clearInterval(proc.liveness);
        connection.dispose();
        const how = spawnError
          ? `could not be started (${spawnError.message})`
          : proc.deafReason
            ? `was stopped and restarted because ${proc.deafReason}`
            : signal
              ? `exited with signal ${signal}`
              : `exited with code ${code}`;
        const lastLine = stderrTail.trim().split('\n').pop() ?? '';
        this.lastExitMessage = `sidecar ${how}${lastLine ? `; last output: ${lastLine}` : ''}`;
        for (const p of [...this.pending]) {
          p.reject(new SidecarExitError(`sidecar ${how} during ${shortName(p.method)}`, code, signal));
        }
        this.pending.clear();
        reject(new SidecarExitError(this.lastExitMessage, code, signal));
        if (this.proc === proc) this.onUnexpectedExit();
      };
      child.once('exit', (code, signal) => onGone(code, signal));
      child.once('error', (err) => onGone(null, null, err));
    });
    exitPromise.catch(() => undefined);

    const initTimeoutMs = this.options.requestTimeoutsMs?.initialize ?? DEFAULT_TIMEOUTS_MS.initialize;
    let initTimer: NodeJS.Timeout | undefined;
    const initTimeout = new Promise<never>((_, reject) => {
      if (initTimeoutMs <= 0) return;
      initTimer = setTimeout(() => {
        // Killing it makes the exit handler fail the start with this reason.
        proc.deafReason = `it did not answer initialize within ${initTimeoutMs} ms`;
        child.kill('SIGKILL');
        reject(new SidecarExitError(`sidecar ${proc.deafReason}`, null, 'SIGKILL'));
      }, initTimeoutMs);
      initTimer.unref?.();
    });
    initTimeout.catch(() => undefined);
    try {
      this.initResult = await Promise.race([
        connection.sendRequest<InitializeResult>(Methods.initialize, this.initParams).catch((err: unknown) => {
          throw new Error(err instanceof Error ? err.message : String(err));
        }),
        exitPromise,
        initTimeout,
      ]);
    } finally {
      clearTimeout(initTimer);
    }
    this.startLiveness(proc);
    this.setState('ready');
  }

  /** Checks the sidecar now and then while it runs (see checkLiveness); also while it serves without a model. */
  private startLiveness(proc: Process): void {
    const { intervalMs } = this.options.liveness ?? DEFAULT_LIVENESS;
    if (intervalMs <= 0 || proc.exited || proc.liveness) return;
    proc.liveness = setInterval(() => void this.checkLiveness(proc), intervalMs);
    proc.liveness.unref?.();
  }

  private onUnexpectedExit(): void {
    if (this.disposed || this.currentState === 'starting' || this.currentState === 'dead') return;
    const now = Date.now();
    const window = this.options.restartWindowMs ?? 60_000;
    this.restartTimes = this.restartTimes.filter((t) => now - t < window);
    if (this.restartTimes.length >= (this.options.maxRestarts ?? 5)) {
      this.options.log?.(`[client] ${this.lastExitMessage}; restarted too often, giving up`);
      this.setState('dead');
      return;
    }
    const delays = this.options.restartDelaysMs ?? [200, 1000, 3000, 10_000];
    const wait = delays[Math.min(this.restartTimes.length, delays.length - 1)];
    this.restartTimes.push(now);
    this.options.log?.(`[client] ${this.lastExitMessage}; restarting in ${wait} ms`);
    this.setState('restarting');
    this.ready = delay(wait).then(async () => {
      if (this.disposed) throw new Error('SidecarClient was disposed');
      try {
        await this.launch();
      } catch (err) {
        // An exit during re-initialization already scheduled the next attempt (or gave up); a refused
        // initialize will not heal by retrying: the process serves what needs no model.
        if (this.initRefused(err)) {
          this.initResult = undefined;
          this.startLiveness(this.proc!);
          this.setState('noModel');
          return;
        }
        if (!(err instanceof SidecarExitError)) {
          this.stopProcess();
          this.setState('dead');
        }
        throw err;
      }
    });
    this.ready.catch(() => undefined);
  }

  private stopProcess(): void {
    const proc = this.proc;
    this.proc = undefined;
    if (proc && !proc.exited) {
      proc.exited = true;
      if (proc.liveness) clearInterval(proc.liveness);
      proc.connection.dispose();
      proc.child.kill('SIGKILL');
    }
  }

  private failPending(message: string): void {
    for (const p of this.pending) p.reject(new Error(`${message} during ${shortName(p.method)}`));
    this.pending.clear();
  }

  private setState(state: SidecarState): void {
    if (state === this.currentState) return;
    this.currentState = state;
    for (const l of this.stateListeners) l(state);
  }
}

/** tsx's loader as a file URL, so that running the TS source works from any working directory. */
function tsxLoader(): string {
  try {
    return pathToFileURL(require.resolve('tsx')).href;
  } catch {
    return 'tsx';
  }
}

function shortName(method: string): string {
  return method.replace(/^e2code\//, '');
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref?.());
}
