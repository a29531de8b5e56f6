// Where e2code keeps what it caches (soft prompts, workspace indexes) by default. Computing it touches
// nothing on disk and never throws: with no usable home directory (HOME unset and no passwd entry, as in
// some containers and service managers) it is a per-user temporary directory, and the note says so.
import os from 'node:os';
import path from 'node:path';

export interface CacheLocation {
  dir: string;
  /** Set when the usual places were unavailable: say it once to the user (after the directory exists). */
  note?: string;
}

/** The home directory, or undefined when the OS cannot tell (os.homedir() throws then). */
function homeDir(env: NodeJS.ProcessEnv): string | undefined {
  if (env.HOME) return env.HOME;
  if (env !== process.env) return undefined;
  try {
    return os.homedir() || undefined;
  } catch {
    return undefined;
  }
}

/** e2code's own cache folder: `$XDG_CACHE_HOME/e2code`, else `~/.cache/e2code`, else a temporary directory. */
export function cacheHome(env: NodeJS.ProcessEnv = process.env): CacheLocation {
  if (env.XDG_CACHE_HOME) return { dir: path.join(path.resolve(env.XDG_CACHE_HOME), 'e2code') };
  const home = homeDir(env);
  if (home) return { dir: path.join(path.resolve(home), '.cache', 'e2code') };
  let user: string | number = 'user';
  try {
    user = process.getuid?.() ?? os.userInfo().username;
  } catch {
    // no uid and no passwd entry: one shared name
  }
  const dir = path.join(os.tmpdir(), `e2code-cache-${user}`);
  return {
    dir,
    note: `no home directory (HOME is unset and the user has no passwd entry) and no XDG_CACHE_HOME: caching in ${dir}, which the system may clear; set XDG_CACHE_HOME (or E2CODE_CACHE_DIR for the soft-prompt cache) to keep it`,
  };
}

/** The soft-prompt cache: `$E2CODE_CACHE_DIR`, else cacheHome(). */
export function cacheLocation(env: NodeJS.ProcessEnv = process.env): CacheLocation {
  if (env.E2CODE_CACHE_DIR) return { dir: path.resolve(env.E2CODE_CACHE_DIR) };
  return cacheHome(env);
}

/** The default soft-prompt cache directory (see cacheLocation); never throws. */
export function defaultCacheDir(): string {
  return cacheLocation().dir;
}
