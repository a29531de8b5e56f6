// Which paths the walker leaves out by rule (as opposed to by content): gitignore semantics via the
// `ignore` package, layered the way git layers them, plus e2code's own layers on top.
//
// Precedence, highest first (the first layer that matches a path decides):
//   1. configured exclude globs (gitignore syntax, root-relative): always exclude;
//   2. `.git` directories: always excluded;
//   3. `.e2codeignore` files, deepest directory first: may exclude, and `!pattern` re-includes what a
//      lower layer excluded;
//   4. `.gitignore` files, deepest directory first, then `.git/info/exclude` (git's own order);
//   5. built-in default excludes (node_modules/, virtualenvs, VCS folders): a `.e2codeignore` `!rule` can
//      re-include them.
// As in git, a directory that is excluded is not entered, so a file inside it can only be re-included
// by re-including the directory too (`!build/` in `.e2codeignore`).
import ignore, { type Ignore } from 'ignore';
import { promises as fsp } from 'node:fs';
import path from 'node:path';

export const DEFAULT_EXCLUDES: readonly string[] = [
  'node_modules/',
  'bower_components/',
  '.hg/',
  '.svn/',
  '.venv/',
  'venv/',
  '__pycache__/',
  '.mypy_cache/',
  '.pytest_cache/',
  '.tox/',
  '.gradle/',
  '.idea/',
  '.DS_Store',
];

export interface IgnoreDecision {
  ignored: boolean;
  /** Which rule source decided (for per-file reports): `exclude`, `.git`, `<dir>/.e2codeignore`, ... */
  by?: string;
}

interface DirRules {
  git: Ignore | null;
  e2c: Ignore | null;
}

/**
 * `ig.test` also reports a path as ignored when one of its ancestor directories matches. The walker only
 * gets inside an ancestor that some layer excluded when a higher layer re-included it, so such inherited
 * matches are disregarded: only a rule matching the path itself counts.
 */
function testSelf(ig: Ignore, rel: string): { ignored: boolean; unignored: boolean } {
  const r = ig.test(rel);
  if (!r.ignored) return r;
  const parts = rel.split('/').filter(Boolean);
  for (let k = 1; k < parts.length; k++) {
    if (ig.ignores(`${parts.slice(0, k).join('/')}/`)) return { ignored: false, unignored: false };
  }
  return r;
}

async function readRules(file: string): Promise<Ignore | null> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch {
    // Missing is the common case; an unreadable ignore file cannot be honoured either way.
    return null;
  }
  if (!text.trim()) return null;
  return ignore({ allowRelativePaths: true }).add(text);
}

export interface IgnoreRulesOptions {
  excludeGlobs?: readonly string[];
  defaultExcludes?: readonly string[];
  /** Honour .gitignore files and .git/info/exclude (default true). */
  useGitignore?: boolean;
}

export class IgnoreRules {
  private readonly dirs = new Map<string, Promise<DirRules>>();
  private readonly exclude: Ignore | null;
  private readonly defaults: Ignore | null;
  private infoExclude: Promise<Ignore | null> | null = null;
  private readonly useGitignore: boolean;

  constructor(
    private readonly rootAbs: string,
    options: IgnoreRulesOptions = {},
  ) {
    const globs = (options.excludeGlobs ?? []).filter((g) => g.trim());
    this.exclude = globs.length ? ignore({ allowRelativePaths: true }).add([...globs]) : null;
    const defaults = options.defaultExcludes ?? DEFAULT_EXCLUDES;
    this.defaults = defaults.length ? ignore().add([...defaults]) : null;
    this.useGitignore = options.useGitignore ?? true;
  }

  /** Reads (once) the ignore files of a workspace-relative directory (`''` is the root). */
  loadDir(relDir: string): Promise<DirRules> {
    let rules = this.dirs.get(relDir);
    if (!rules) {
      const abs = path.join(this.rootAbs, relDir);
      rules = Promise.all([
        this.useGitignore ? readRules(path.join(abs, '.gitignore')) : Promise.resolve(null),
        readRules(path.join(abs, '.e2codeignore')),
      ]).then(([git, e2c]) => ({ git, e2c }));
      this.dirs.set(relDir, rules);
    }
    return rules;
  }

  /** Forgets cached rules (after an ignore file changed). */
  invalidate(): void {
    this.dirs.clear();
    this.infoExclude = null;
  }

  /** Loads the rules of every ancestor directory of a relative path, root first. */
  async loadAncestors(relPath: string): Promise<void> {
    const parts = relPath.split('/');
    parts.pop();
    await this.loadDir('');
    for (let i = 1; i <= parts.length; i++) await this.loadDir(parts.slice(0, i).join('/'));
    await this.gitInfoExclude();
  }

  private gitInfoExclude(): Promise<Ignore | null> {
    if (!this.infoExclude) {
      this.infoExclude = this.useGitignore
        ? readRules(path.join(this.rootAbs, '.git', 'info', 'exclude'))
        : Promise.resolve(null);
    }
    return this.infoExclude;
  }

  /**
   * Decides one path whose ancestors' rules are loaded (the walker loads a directory's rules before
   * listing it). Ancestor directories are assumed not excluded: the walker never enters those.
   */
  async decide(relPath: string, isDir: boolean): Promise<IgnoreDecision> {
    const probe = isDir ? `${relPath}/` : relPath;
    if (this.exclude?.ignores(probe)) return { ignored: true, by: 'exclude' };
    const base = relPath.slice(relPath.lastIndexOf('/') + 1);
    if (base === '.git') return { ignored: true, by: '.git' };

    // Ancestor directories from deepest to root, with the path relative to each.
    const parts = relPath.split('/');
    const layers: Array<{ dir: string; rel: string }> = [];
    for (let i = parts.length - 1; i >= 0; i--) {
      const dir = parts.slice(0, i).join('/');
      const rel = parts.slice(i).join('/') + (isDir ? '/' : '');
      layers.push({ dir, rel });
    }
    const rules = await Promise.all(layers.map((l) => this.loadDir(l.dir)));

    for (let i = 0; i < layers.length; i++) {
      const e2c = rules[i].e2c;
      const r = e2c && testSelf(e2c, layers[i].rel);
      if (r?.ignored) return { ignored: true, by: `${layers[i].dir ? layers[i].dir + '/' : ''}.e2codeignore` };
      if (r?.unignored) return { ignored: false, by: `${layers[i].dir ? layers[i].dir + '/' : ''}.e2codeignore` };
    }
    for (let i = 0; i < layers.length; i++) {
      const git = rules[i].git;
      const r = git && testSelf(git, layers[i].rel);
      if (r?.ignored) return { ignored: true, by: `${layers[i].dir ? layers[i].dir + '/' : ''}.gitignore` };
      if (r?.unignored) return { ignored: false };
    }
    const info = await this.gitInfoExclude();
    const r = info && testSelf(info, probe);
    if (r?.ignored) return { ignored: true, by: '.git/info/exclude' };
    if (r?.unignored) return { ignored: false };
    if (this.defaults && testSelf(this.defaults, probe).ignored) return { ignored: true, by: 'default excludes' };
    return { ignored: false };
  }

  /** Decides a path whose ancestors may themselves be excluded (single-path checks for editor events). */
  async decideWithAncestors(relPath: string, isDir: boolean): Promise<IgnoreDecision> {
    await this.loadAncestors(relPath);
    const parts = relPath.split('/');
    for (let i = 1; i < parts.length; i++) {
      const d = await this.decide(parts.slice(0, i).join('/'), true);
      if (d.ignored) return d;
    }
    return this.decide(relPath, isDir);
  }
}

/** True for the names of files whose change invalidates ignore rules. */
export function isIgnoreFile(relPath: string): boolean {
  const base = relPath.slice(relPath.lastIndexOf('/') + 1);
  return base === '.gitignore' || base === '.e2codeignore' || relPath === '.git/info/exclude';
}
