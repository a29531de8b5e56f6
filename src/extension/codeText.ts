// Turning a model answer into code to put in the editor. No `vscode` import: unit-tested.

/**
 * The code of an answer: the longest fenced block if there is one (models wrap code in prose),
 * else the whole answer. Trailing blank lines are dropped; indentation is kept.
 */
export function extractCode(answer: string): string {
  const fence = /^(```|~~~)[^\n]*\n([\s\S]*?)^\1[ \t]*$/gm;
  let best: string | undefined;
  for (const m of answer.matchAll(fence)) {
    if (best === undefined || m[2].length > best.length) best = m[2];
  }
  const code = best ?? answer;
  return code.replace(/\s+$/, '') + (best !== undefined ? '\n' : '');
}

/** Lines `from..to` (1-based, inclusive) of a text, for a selection's context. */
export function lineWindow(text: string, from: number, to: number): string {
  const lines = text.split('\n');
  return lines.slice(Math.max(0, from - 1), Math.max(0, to)).join('\n');
}
