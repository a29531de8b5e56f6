// Validation of request params at the sidecar boundary. Params arrive as untyped JSON from another
// process; a malformed request must get a clear error naming the bad field (JSON-RPC InvalidParams),
// never reach the engine (where it would fail somewhere deep, or silently do something else), and never
// disturb the state of the sidecar (a bad `initialize` must not tear down a working engine).
import { ResponseError } from 'vscode-jsonrpc/node';
import { maxThreads } from '../core/runtime/model/threads';

/** JSON-RPC "Invalid params". */
export const INVALID_PARAMS = -32602;

/** Total characters of request text (prompt + selection + history) accepted by `generate`. */
export const MAX_REQUEST_CHARS = Math.max(1024, Number(process.env.E2CODE_SIDECAR_MAX_REQUEST_CHARS) || 256 * 1024);
const MAX_PATH_CHARS = 4096;
const MAX_HISTORY_TURNS = 1000;

type Check = (v: unknown, at: string) => void;

class Invalid extends Error {}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return `an array of ${v.length}`;
  if (typeof v === 'string') return v.length > 40 ? `a string of ${v.length} characters` : JSON.stringify(v);
  if (typeof v === 'object') return 'an object';
  return `${typeof v} ${String(v)}`;
}

const bad = (at: string, want: string, v: unknown): never => {
  throw new Invalid(`${at ? `"${at}"` : 'params'} must be ${want} (got ${describe(v)})`);
};

const str =
  (o: { nonEmpty?: boolean; max?: number } = {}): Check =>
  (v, at) => {
    if (typeof v !== 'string') bad(at, 'a string', v);
    const s = v as string;
    if (o.nonEmpty && s.length === 0) bad(at, 'a non-empty string', v);
    if (o.max !== undefined && s.length > o.max) throw new Invalid(`"${at}" is too long: ${s.length} characters (limit ${o.max})`);
    if (s.includes('\0')) bad(at, 'a string without NUL characters', v);
  };

const int =
  (min: number, max = Number.MAX_SAFE_INTEGER): Check =>
  (v, at) => {
    if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) bad(at, `an integer from ${min} to ${max}`, v);
  };

const num =
  (min: number, max: number): Check =>
  (v, at) => {
    if (typeof v !== 'number' || !Number.isFinite(v) || v < min || v > max) bad(at, `a number from ${min} to ${max}`, v);
  };

const bool: Check = (v, at) => {
  if (typeof v !== 'boolean') bad(at, 'true or false', v);
};

const oneOf =
  (...values: string[]): Check =>
  (v, at) => {
    if (typeof v !== 'string' || !values.includes(v)) bad(at, `one of ${values.map((x) => JSON.stringify(x)).join(', ')}`, v);
  };

const arrayOf =
  (item: Check, max: number): Check =>
  (v, at) => {
    if (!Array.isArray(v)) bad(at, 'an array', v);
    const a = v as unknown[];
    if (a.length > max) throw new Invalid(`"${at}" has ${a.length} items (limit ${max})`);
    a.forEach((x, i) => item(x, `${at}[${i}]`));
  };

/** An object with exactly these fields (`?` suffix: optional); unknown fields are refused by name. */
const obj =
  (fields: Record<string, Check>): Check =>
  (v, at) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(at, 'an object', v);
    const o = v as Record<string, unknown>;
    const known = new Map(Object.entries(fields).map(([k, c]) => [k.replace(/\?$/, ''), { check: c, optional: k.endsWith('?') }]));
    for (const key of Object.keys(o)) {
      if (!known.has(key)) throw new Invalid(`unknown field "${at ? `${at}.` : ''}${key}"`);
    }
    for (const [key, { check, optional }] of known) {
      const path = at ? `${at}.${key}` : key;
      if (o[key] === undefined) {
        if (!optional) throw new Invalid(`missing field "${path}"`);
        continue;
      }
      check(o[key], path);
    }
  };

const root = str({ nonEmpty: true, max: MAX_PATH_CHARS });
const streamId = str({ max: 200 });

const initialize = obj({
  bundlePath: str({ nonEmpty: true, max: MAX_PATH_CHARS }),
  device: oneOf('auto', 'cpu', 'cuda'),
  // More threads than cores only makes them fight (see ../core/runtime/model/threads.ts).
  'threads?': (v, at) => int(0, maxThreads())(v, at),
  'cacheDir?': str({ nonEmpty: true, max: MAX_PATH_CHARS }),
});

const index = obj({
  root,
  'paths?': arrayOf(str({ nonEmpty: true, max: MAX_PATH_CHARS }), 100_000),
  'options?': obj({
    'excludeGlobs?': arrayOf(str({ max: 1000 }), 10_000),
    'maxFileBytes?': int(1),
  }),
  'streamId?': streamId,
});

const chunks = obj({ root, path: str({ max: MAX_PATH_CHARS }) });

const generate = obj({
  task: oneOf('ask', 'explain', 'summarize', 'generate'),
  root,
  prompt: str({ max: MAX_REQUEST_CHARS }),
  'history?': arrayOf(obj({ role: oneOf('user', 'assistant'), content: str({ max: MAX_REQUEST_CHARS }) }), MAX_HISTORY_TURNS),
  'selection?': obj({
    path: str({ max: MAX_PATH_CHARS }),
    startLine: int(1),
    endLine: int(1),
    text: str({ max: MAX_REQUEST_CHARS }),
  }),
  'scope?': str({ max: MAX_PATH_CHARS }),
  'options?': obj({
    'temperature?': num(0, 100),
    'topP?': num(0, 1),
    'maxTokens?': int(1, 1_000_000),
    'hybrid?': bool,
    'contextBudget?': int(0),
    'stop?': arrayOf(str({ nonEmpty: true, max: 1000 }), 100),
    'ignoreEos?': bool,
  }),
  'streamId?': streamId,
});

/** Params of requests that take none: nothing or an empty object. */
const none: Check = (v, at) => {
  if (v === undefined || v === null) return;
  obj({})(v, at);
};

const CHECKS: Record<string, Check> = {
  'e2code/initialize': initialize,
  'e2code/index': index,
  'e2code/chunks': chunks,
  'e2code/generate': (v, at) => {
    generate(v, at);
    const p = v as { prompt: string; selection?: { startLine: number; endLine: number; text: string }; history?: { content: string }[] };
    if (p.selection && p.selection.endLine < p.selection.startLine) {
      throw new Invalid(`"selection.endLine" (${p.selection.endLine}) is before "selection.startLine" (${p.selection.startLine})`);
    }
    const total = p.prompt.length + (p.selection?.text.length ?? 0) + (p.history ?? []).reduce((n, t) => n + t.content.length, 0);
    if (total > MAX_REQUEST_CHARS) {
      throw new Invalid(`request text is too long: ${total} characters in prompt, selection and history (limit ${MAX_REQUEST_CHARS})`);
    }
  },
  'e2code/pauseIndex': none,
  'e2code/resumeIndex': none,
  'e2code/status': none,
  'e2code/shutdown': none,
};

/**
 * Refuses a question the loaded model cannot hold, before it is tokenized: a text of n characters takes at
 * least n / maxTokenChars tokens (see TextTokenizer.maxTokenChars), so more than maxPositions x
 * maxTokenChars characters can never fit the decoder. (Shorter ones that still do not fit are refused by
 * the engine once their tokens are counted.)
 */
export function checkPromptFits(prompt: string, maxPositions: number, maxTokenChars: number): void {
  const limit = maxPositions * maxTokenChars;
  if (Number.isFinite(limit) && prompt.length > limit) {
    throw new ResponseError(
      INVALID_PARAMS,
      `invalid params for e2code/generate: "prompt" is too long for this model: ${prompt.length} characters, and its decoder holds ${maxPositions} positions of at most ${maxTokenChars} characters each (limit ${limit})`,
    );
  }
}

/** Throws a ResponseError (InvalidParams) naming the bad field when `params` do not fit `method`. */
export function validateParams(method: string, params: unknown): void {
  const check = CHECKS[method];
  if (!check) return;
  try {
    check(params, '');
  } catch (err) {
    if (err instanceof Invalid) throw new ResponseError(INVALID_PARAMS, `invalid params for ${method}: ${err.message}`);
    throw err;
  }
}
