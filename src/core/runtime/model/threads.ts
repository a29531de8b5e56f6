// How many threads the model runtime may use here. onnxruntime spins that many intra-op threads per
// session; more than the machine has only makes them fight (64 threads on 2 cores decoded 20x slower,
// 1000 seemed to hang). The one limit for the CLI flag, the sidecar's `initialize` and the extension's
// setting: the machine's logical cores.
import os from 'node:os';

/** The most threads worth asking for on this machine: its logical cores (at least 1). */
export function maxThreads(): number {
  return Math.max(1, os.availableParallelism());
}

/** Why `n` is not a usable thread count here (0 = onnxruntime's default), or undefined when it is. */
export function threadsProblem(n: unknown): string | undefined {
  const max = maxThreads();
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > max) {
    return `threads must be an integer from 0 (onnxruntime's default) to ${max}, the logical cores of this machine (got ${typeof n === 'number' ? n : JSON.stringify(n)})`;
  }
  return undefined;
}

/** A thread count from a setting, brought within 0..maxThreads() (out-of-range or non-integer -> 0, the default; too many -> the cores). */
export function clampThreads(n: unknown): number {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) return 0;
  return Math.min(Math.floor(n), maxThreads());
}
