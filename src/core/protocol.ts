// The JSON-RPC contract between clients (extension, CLI) and the sidecar (vscode-jsonrpc over stdio).
// Requests are cancellable with the protocol's own `$/cancelRequest`. Streaming goes out as
// notifications tagged with the client-chosen `streamId`.
import type { Chunk, Progress } from './types';

export type Device = 'auto' | 'cpu' | 'cuda';
// Without a usable model bundle `initialize` is refused (with the reason), but the sidecar keeps serving
// what needs no model: `status` (state 'error' and the reason), `index` (walk and chunk only; the result
// carries `modelError`), `chunks`, pause/resume. `generate` is refused with the reason.
export type Task = 'ask' | 'explain' | 'summarize' | 'generate';

export interface InitializeParams {
  bundlePath: string;
  device: Device;
  /** Intra-op threads for onnxruntime; 0 = its default. */
  threads?: number;
  /** Where the soft-prompt cache lives (shared across workspaces). */
  cacheDir?: string;
}
export interface InitializeResult {
  bundleId: string;
  bundleName: string;
  /** Execution provider actually in use after any fallback. */
  provider: 'cuda' | 'cpu';
  /** Why the requested provider was not used, if it was not. */
  providerNote?: string;
}

export interface IndexOptions {
  excludeGlobs?: string[];
  maxFileBytes?: number;
  chunkTokens?: number;
}
export interface IndexParams {
  root: string;
  options?: IndexOptions;
  streamId?: string;
}
export interface IndexResult {
  files: number;
  chunks: number;
  encoded: number;
  cached: number;
  skipped: Record<string, number>;
  seconds: number;
  /** Set when the model bundle could not be loaded: files were walked and chunked, nothing encoded. */
  modelError?: string;
}

export interface Selection {
  path: string;
  startLine: number;
  endLine: number;
  text: string;
}
export interface GenerateOptions {
  temperature?: number;
  topP?: number;
  maxTokens?: number;
  hybrid?: boolean;
  /** Decoder positions the repository context may use; default: the bundle's decoder.contextPositions if it has one, else its max minus reserves. */
  contextBudget?: number;
  stop?: string[];
  /** Keep decoding past end-of-sequence tokens and repetition (fixed-length runs: benchmarks, tests). */
  ignoreEos?: boolean;
}
export interface ChatTurn {
  role: 'user' | 'assistant';
  content: string;
}
export interface GenerateParams {
  task: Task;
  root: string;
  prompt: string;
  history?: ChatTurn[];
  selection?: Selection;
  options?: GenerateOptions;
  streamId?: string;
}
export interface Citation {
  path: string;
  line: number;
}
export interface GenerateResult {
  answer: string;
  citations: Citation[];
  timings: { firstTokenMs: number; tokensPerSecond: number };
  context: { positions: number; softChunks: number; textChunks: number; softFiles: string[]; textFiles: string[] };
  stopReason: 'eos' | 'maxTokens' | 'stop' | 'cancelled' | 'repetition';
}

export interface StatusResult {
  state: 'starting' | 'idle' | 'indexing' | 'paused' | 'generating' | 'error';
  bundleId?: string;
  provider?: string;
  queueLength: number;
  rssBytes: number;
  message?: string;
}

/** Method names: requests. */
export const Methods = {
  initialize: 'e2code/initialize',
  index: 'e2code/index',
  pauseIndex: 'e2code/pauseIndex',
  resumeIndex: 'e2code/resumeIndex',
  chunks: 'e2code/chunks',
  generate: 'e2code/generate',
  status: 'e2code/status',
  shutdown: 'e2code/shutdown',
} as const;

/** Notification names: sidecar -> client. */
export const Notifications = {
  progress: 'e2code/progress',
  token: 'e2code/token',
  log: 'e2code/log',
} as const;

export interface ProgressNotification extends Progress {
  streamId: string;
  phase: 'walk' | 'chunk' | 'encode';
  perSecond?: number;
}
export interface TokenNotification {
  streamId: string;
  text: string;
}
export interface ChunksParams {
  root: string;
  path: string;
}
export interface ChunksResult {
  chunks: Chunk[];
}
