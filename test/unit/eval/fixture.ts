// A small repository for the `e2code eval` tests: Python and TypeScript files with module docs, doc
// comments, a dunder method, a too-short name, a name defined in two files (ambiguous when both are in
// a question), plus files eval leaves out (Markdown, a .d.ts).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const FILES: Record<string, string> = {
  'pkg/shapes.py': `"""Geometric shapes with areas and perimeters."""
import math


class Circle:
    """A circle given by its radius."""

    def __init__(self, radius):
        self.radius = radius

    def area(self):
        """Area enclosed by the circle."""
        return math.pi * self.radius * self.radius


def ab(x):
    return x


def square_area(side):
    """Area of a square with the given side length."""
    total = side * side
    return total
`,
  'pkg/util.py': `"""Small helpers for numbers and strings."""


def clamp(value, lo, hi):
    """Limit a value to the closed range from lo to hi."""
    if value < lo:
        return lo
    if value > hi:
        return hi
    return value


def parse(text):
    """Parse a comma separated list of integers."""
    return [int(part) for part in text.split(",") if part.strip()]
`,
  'src/store.ts': `/** An in-memory key-value store with expiry. */
export class Store {
  private readonly items = new Map<string, { value: string; expires: number }>();

  /** Remember a value for the given number of milliseconds. */
  put(key: string, value: string, ttlMs: number): void {
    this.items.set(key, { value, expires: Date.now() + ttlMs });
  }

  /** The value of a key that has not expired yet. */
  fetch(key: string): string | undefined {
    const item = this.items.get(key);
    if (!item || item.expires < Date.now()) return undefined;
    return item.value;
  }
}

/** Builds the storage key of a user's session. */
export function sessionKey(user: string, session: number): string {
  const prefix = 'session';
  return prefix + ':' + user + ':' + String(session);
}
`,
  'src/parse.ts': `/** Parsing of the configuration format. */

/** Parse a configuration text into key and value pairs. */
export function parse(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\\n')) {
    const [key, value] = line.split('=');
    if (key && value !== undefined) out.set(key.trim(), value.trim());
  }
  return out;
}

/** Renders key and value pairs back into configuration text. */
export function render(pairs: Map<string, string>): string {
  return [...pairs].map(([k, v]) => k + ' = ' + v).join('\\n');
}
`,
  'src/math.js': `// Arithmetic helpers shared by the scripts.

/** Sum of the numbers in a list. */
function sumAll(numbers) {
  let total = 0;
  for (const n of numbers) total += n;
  return total;
}

module.exports = { sumAll };
`,
  'README.md': '# fixture\n\nA repository for the eval tests.\n',
  'types/global.d.ts': 'declare function ignoredDeclaration(x: number): void;\n',
};

export const SOURCE_FILES = Object.keys(FILES)
  .filter((p) => /\.(py|ts|js)$/.test(p) && !p.endsWith('.d.ts'))
  .sort();

export function writeEvalFixture(dir: string): string {
  for (const [rel, text] of Object.entries(FILES)) {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), text);
  }
  return dir;
}
