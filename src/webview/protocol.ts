// Messages between the chat webview and the extension host (postMessage). Plain data only; imported by
// both sides, so no `vscode` and no DOM types here.
import type { Source, Task } from '../core/protocol';

export type { Source };

export interface ContextUsed {
  /** Workspace folder name the answer was grounded in. */
  folder: string;
  softFiles: string[];
  textFiles: string[];
  positions: number;
  /** Decoder passes of the request; 0: answered from the index alone. */
  decoderRuns?: number;
}

export interface Turn {
  id: string;
  role: 'user' | 'assistant';
  /** Assistant turns: what was asked for (a summary folds its sources away: its map links them already). */
  task?: Task;
  /** Markdown from the model (untrusted), assembled from the index, or the user's text. */
  content: string;
  /** Assistant turns: where citations and sources resolve (workspace folder name). */
  folder?: string;
  /** Who wrote `content`: the model, or the runtime from the index (quoted code and docs). */
  origin?: 'model' | 'index';
  /** A plain-words note from the runtime (nothing matched, this model cannot write code, ...). */
  notice?: string;
  /** Real locations from the index, best first. */
  sources?: Source[];
  context?: ContextUsed;
  stopReason?: string;
  error?: string;
  /** Present while the answer is still streaming. */
  pending?: boolean;
  /** While pending: what the answer waits for, in plain words (e.g. "Waiting for the index (42%)"). */
  waiting?: string;
  tokensPerSecond?: number;
}

/** A conversation as the chat list shows it. */
export interface ChatSummary {
  id: string;
  title: string;
  /** Milliseconds since the epoch of the last turn. */
  updated: number;
  questions: number;
}

/** Extension -> webview. */
export type ToWebview =
  | { type: 'restore'; turns: Turn[]; busy: boolean }
  | { type: 'turn'; turn: Turn }
  | { type: 'token'; id: string; text: string }
  | { type: 'waiting'; id: string; text: string }
  | { type: 'done'; turn: Turn }
  | { type: 'busy'; busy: boolean }
  | { type: 'focusInput' };

/** Webview -> extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'ask'; text: string }
  | { type: 'stop' }
  | { type: 'openCitation'; folder: string; path: string; line: number }
  | { type: 'openExternal'; url: string }
  | { type: 'copy'; text: string }
  | { type: 'insert'; text: string };
