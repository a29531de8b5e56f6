// Citations in model answers: `path:line` references, returned as links only after checking that the
// file exists inside the workspace (no escaping through `..` or symlinks) and has that line. A model
// can invent paths; a link that opens nothing, or opens a file outside the workspace, is worse than none.
import { readFileSync, realpathSync, statSync } from 'node:fs';
import path from 'node:path';
import type { Citation } from '../../protocol';

const CITATION = /(?<![\w./-])((?:[\w@.-]+\/)*[\w@-][\w@.-]*\.[A-Za-z0-9]+):(\d+)(?:[-–]\d+)?/g;

export function findCitations(text: string): Citation[] {
  const out: Citation[] = [];
  const seen = new Set<string>();
  for (const m of text.matchAll(CITATION)) {
    const line = Number(m[2]);
    const key = `${m[1]}:${line}`;
    if (line < 1 || seen.has(key)) continue;
    seen.add(key);
    out.push({ path: m[1], line });
  }
  return out;
}

/** The citations of `text` that point at an existing line of a file inside `root`. */
export function verifiedCitations(text: string, root: string): Citation[] {
  let realRoot: string;
  try {
    realRoot = realpathSync(root);
  } catch {
    return [];
  }
  const lineCounts = new Map<string, number>();
  return findCitations(text).filter((c) => {
    const normal = path.posix.normalize(c.path.replace(/^\.\//, ''));
    if (normal.startsWith('../') || path.isAbsolute(normal)) return false;
    let count = lineCounts.get(normal);
    if (count === undefined) {
      try {
        const real = realpathSync(path.join(realRoot, normal));
        if (!real.startsWith(realRoot + path.sep) || !statSync(real).isFile()) return false;
        const content = readFileSync(real);
        count = content.length === 0 ? 0 : content.toString('utf8').split('\n').length - (content[content.length - 1] === 0x0a ? 1 : 0);
      } catch {
        count = -1;
      }
      lineCounts.set(normal, count);
    }
    if (c.line > count) return false;
    c.path = normal;
    return true;
  });
}
