// The sidecar process: hosts the model runtime for the extension, spoken to over JSON-RPC on stdio
// (vscode-jsonrpc). stdout carries only protocol messages; every log line goes to stderr. One decode at
// a time, a bounded queue of waiting requests (overload is refused, not buffered), cancellation through
// `$/cancelRequest`, and the process ends when its client goes away (stdin closes). Its input is read
// strictly (./framing.ts): a framing error is fatal, logged, and the client restarts the sidecar. Status
// requests are answered as they arrive, and cancelling a request still queued answers it at once: neither
// waits behind queued generation.
import {
  createMessageConnection,
  ResponseError,
  StreamMessageWriter,
  type CancellationToken,
  type Message,
  type RequestMessage,
  type ResponseMessage,
} from 'vscode-jsonrpc/node';
import { Engine, PauseGate } from '../core/runtime/engine';
import { cacheLocation } from '../core/runtime/cache/location';
import { StrictMessageReader } from './framing';
import { checkPromptFits, validateParams } from './validate';
import { ModelFreeIndex } from './browse';
import { QueueFullError, Turns } from './turns';
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
  type StatusResult,
} from '../core/protocol';

/** Error codes of refusals the client may want to tell apart. */
export const SidecarErrors = {
  notInitialized: -32002,
  busy: -32001,
} as const;

const MAX_QUEUE = Math.max(1, Number(process.env.E2CODE_SIDECAR_MAX_QUEUE) || 8);

// Anything written with console.log must not corrupt the protocol stream.
console.log = console.error;
console.info = console.error;
const log = (line: string) => process.stderr.write(`${line}\n`);

const writer = new StreamMessageWriter(process.stdout);
const reader = new StrictMessageReader(process.stdin, undefined, answerAhead);
const connection = createMessageConnection(reader, writer, undefined, { connectionStrategy: { cancelUndispatched } });

let engine: Engine | undefined;
let initParams: InitializeParams | undefined;
let initializing: Promise<Engine> | undefined;
const gate = new PauseGate();
let indexing = 0;
const turns = new Turns(MAX_QUEUE);
let lastError: string | undefined;
/** Set while no model is loaded because the last `initialize` failed: index browsing without a model. */
let modelFree: ModelFreeIndex | undefined;

function abortSignalOf(token: CancellationToken): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  if (token.isCancellationRequested) controller.abort();
  const sub = token.onCancellationRequested(() => controller.abort());
  return { signal: controller.signal, dispose: () => sub.dispose() };
}

function requireEngine(): Engine {
  if (!engine && modelFree) {
    throw new ResponseError(
      -32603,
      `no model is loaded (${modelFree.modelError}); only index browsing (index, chunks, status) works until the bundle is fixed`,
    );
  }
  if (!engine) throw new ResponseError(SidecarErrors.notInitialized, 'sidecar not initialized: send e2code/initialize first');
  return engine;
}

connection.onRequest(Methods.initialize, async (params: InitializeParams): Promise<InitializeResult> => {
  validateParams(Methods.initialize, params); // before anything is torn down: a bad request changes nothing
  if (engine && initParams && JSON.stringify(initParams) === JSON.stringify(params)) return engine.info();
  if (initializing) await initializing.catch(() => undefined);
  const previous = engine;
  engine = undefined;
  await previous?.close();
  initParams = params;
  const location = params.cacheDir ? { dir: params.cacheDir } : cacheLocation();
  initializing = Engine.create({
    bundlePath: params.bundlePath,
    device: params.device,
    threads: params.threads,
    cacheDir: location.dir,
    log,
  });
  try {
    engine = await initializing;
    if (location.note) log(`e2code sidecar: ${location.note}`);
  } catch (err) {
    lastError = (err as Error).message;
    // What needs no model keeps working (see ../core/protocol.ts).
    const previousFree = modelFree;
    modelFree = new ModelFreeIndex(params.bundlePath, lastError);
    await previousFree?.close().catch(() => undefined);
    log(`e2code sidecar: no model (${lastError}); serving index status and chunks without it (${modelFree.note})`);
    throw new ResponseError(-32603, lastError);
  }
  lastError = undefined;
  const free = modelFree;
  modelFree = undefined;
  await free?.close().catch(() => undefined);
  const info = engine.info();
  log(
    `e2code sidecar: bundle ${info.bundleName} (${info.bundleId}) on ${info.provider}${info.providerNote ? ` — ${info.providerNote}` : ''}`,
  );
  return info;
});

// Runs of one root are serialized by the engine's Workspaces (or the model-free index): not here.
connection.onRequest(Methods.index, async (params: IndexParams, token: CancellationToken): Promise<IndexResult> => {
  validateParams(Methods.index, params);
  const e: Pick<Engine, 'index'> = !engine && modelFree ? modelFree : requireEngine();
  const { signal, dispose } = abortSignalOf(token);
  const streamId = params.streamId ?? '';
  indexing++;
  try {
    return await e.index(params.root, {
      signal,
      gate,
      options: params.options,
      paths: params.paths,
      onProgress: (p) => void connection.sendNotification(Notifications.progress, { ...p, streamId }),
    });
  } catch (err) {
    if (signal.aborted) throw new ResponseError(-32800, 'index cancelled');
    throw err;
  } finally {
    indexing--;
    dispose();
  }
});

connection.onRequest(Methods.pauseIndex, () => {
  gate.pause();
});
connection.onRequest(Methods.resumeIndex, () => {
  gate.resume();
});

connection.onRequest(Methods.chunks, async (params: ChunksParams): Promise<ChunksResult> => {
  validateParams(Methods.chunks, params);
  if (!engine && modelFree) return { chunks: await modelFree.chunks(params.root, params.path) };
  const e = requireEngine();
  if (!e.isIndexed(params.root)) await e.index(params.root);
  const ws = e.workspace(params.root);
  if (!ws || !ws.files().includes(params.path)) return { chunks: [] };
  return { chunks: await ws.readChunks(params.path) };
});

connection.onRequest(Methods.generate, async (params: GenerateParams, token: CancellationToken): Promise<GenerateResult> => {
  validateParams(Methods.generate, params);
  const e = requireEngine();
  checkPromptFits(params.prompt, e.bundle.manifest.decoder.maxPositions, e.bundle.decoderTokenizer.maxTokenChars);
  const { signal, dispose } = abortSignalOf(token);
  try {
    const streamId = params.streamId ?? '';
    return await turns.run(
      signal,
      () => e.generate(params, { signal, onToken: (text) => void connection.sendNotification(Notifications.token, { streamId, text }) }),
      cancelledResult,
    );
  } catch (err) {
    if (err instanceof QueueFullError) throw new ResponseError(SidecarErrors.busy, err.message);
    throw err;
  } finally {
    dispose();
  }
});

/** The sidecar's state now; answered ahead of everything queued (see answerAhead). */
function statusNow(): StatusResult {
  const state: StatusResult['state'] = !engine
    ? lastError
      ? 'error'
      : 'starting'
    : turns.running
      ? 'generating'
      : indexing > 0
        ? gate.paused
          ? 'paused'
          : 'indexing'
        : 'idle';
  return {
    state,
    bundleId: engine?.bundle.id,
    provider: engine?.bundle.provider,
    queueLength: turns.queueLength,
    rssBytes: process.memoryUsage().rss,
    ...(lastError ? { message: lastError } : {}),
  };
}

/**
 * Answers `status` as soon as it arrives: vscode-jsonrpc handles queued messages one per event-loop turn,
 * and a turn can hold a model run, so behind thousands of queued requests a status request waited
 * minutes. Returns true when it answered the message.
 */
function answerAhead(message: Message): boolean {
  const m = message as Partial<RequestMessage>;
  if (m.method !== Methods.status || (typeof m.id !== 'number' && typeof m.id !== 'string')) return false;
  let response: ResponseMessage;
  try {
    validateParams(Methods.status, m.params);
    response = { jsonrpc: '2.0', id: m.id, result: statusNow() };
  } catch (err) {
    const e = err instanceof ResponseError ? err : new ResponseError(-32603, (err as Error).message);
    response = { jsonrpc: '2.0', id: m.id, error: e.toJson() };
  }
  writer.write(response).catch(() => undefined);
  return true;
}

/** A request cancelled before it was dispatched is answered at once instead of when its turn comes. */
function cancelUndispatched(message: Message): ResponseMessage | undefined {
  const m = message as RequestMessage;
  if (m.id === undefined) return undefined;
  if (m.method === Methods.generate) return { jsonrpc: '2.0', id: m.id, result: cancelledResult() };
  return { jsonrpc: '2.0', id: m.id, error: new ResponseError(-32800, `${m.method} cancelled before it started`).toJson() };
}

connection.onRequest(Methods.shutdown, async () => {
  setImmediate(() => void exit(0));
});

function cancelledResult(): GenerateResult {
  return {
    answer: '',
    origin: 'index',
    citations: [],
    sources: [],
    timings: { firstTokenMs: 0, tokensPerSecond: 0 },
    context: { positions: 0, softChunks: 0, textChunks: 0, softFiles: [], textFiles: [], decoderRuns: 0 },
    stopReason: 'cancelled',
  };
}

let exiting = false;
async function exit(code: number): Promise<void> {
  if (exiting) return;
  exiting = true;
  try {
    await modelFree?.close();
    await engine?.close();
  } catch (err) {
    log(`closing the engine failed: ${(err as Error).message}`);
  }
  process.exit(code);
}

// A frame stream cannot be resynchronised: after a framing error every later request would go unanswered.
reader.onError((err) => {
  log(`e2code sidecar: unreadable input on stdin (${err.message}); exiting so that the client starts a fresh sidecar`);
  void exit(2);
});

// The client is gone: nobody will read our answers, so stop working.
connection.onClose(() => void exit(0));
process.stdin.on('end', () => void exit(0));
process.on('uncaughtException', (err) => {
  log(`uncaught: ${err.stack ?? err.message}`);
  void exit(1);
});

connection.listen();
log(`e2code sidecar ${process.pid} listening on stdio`);
