// Messages between the chat webview and the extension host (postMessage). Plain data only; imported by
// both sides, so no `vscode` and no DOM types here.

export interface ContextUsed {
  /** Workspace folder name the answer was grounded in. */
  folder: string;
  softFiles: string[];
  textFiles: string[];
  positions: number;
}

export interface Turn {
  id: string;
  role: 'user' | 'assistant';
  /** Markdown from the model (untrusted) or the user's text. */
  content: string;
  /** Assistant turns: where citations resolve (workspace folder name). */
  folder?: string;
  context?: ContextUsed;
  stopReason?: string;
  error?: string;
  /** Present while the answer is still streaming. */
  pending?: boolean;
  tokensPerSecond?: number;
}

/** Extension -> webview. */
export type ToWebview =
  | { type: 'restore'; turns: Turn[]; busy: boolean }
  | { type: 'turn'; turn: Turn }
  | { type: 'token'; id: string; text: string }
  | { type: 'done'; turn: Turn }
  | { type: 'busy'; busy: boolean }
  | { type: 'focusInput' };

/** Webview -> extension. */
export type FromWebview =
  | { type: 'ready' }
  | { type: 'ask'; text: string }
  | { type: 'stop' }
  | { type: 'newChat' }
  | { type: 'openCitation'; folder: string; path: string; line: number }
  | { type: 'openExternal'; url: string }
  | { type: 'copy'; text: string }
  | { type: 'insert'; text: string };
