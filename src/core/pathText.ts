// Paths as they are written into model text (a chunk's header, the prompt's file and code headers).
// A file name may hold a newline, carriage return or other control character; written raw it would
// split a one-line header in two (and look like a header plus code). Such characters are written as
// JSON-style escapes instead (`\n`, `\r`, `\t`, else `\u00XX`), everywhere a path goes into model text,
// so the header stays one line. Everything else is written as it is (paths are mostly plain), which
// keeps the headers of ordinary paths unchanged. The recipe uses the same rule
// (models/recipe/common.py `escape_path`).

const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g;
const SHORT: Record<string, string> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

export function escapePath(p: string): string {
  CONTROL.lastIndex = 0;
  if (!CONTROL.test(p)) return p;
  return p.replace(CONTROL, (c) => SHORT[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
