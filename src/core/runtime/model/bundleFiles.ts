// Opening a bundle's files safely. A bundle is a folder anyone may hand us: a name in it can be a FIFO
// (reading blocks forever), a link to /dev/zero (reading never ends: memory grows until the process
// aborts) or a file far larger than any real one. So a file is read only when it is a regular file
// (links followed) within a size cap, checked on the open descriptor before a byte is read; files that
// onnxruntime opens itself are checked the same way just before it does.
import { closeSync, constants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs';

/** Caps by what a file is; each far above any real file of its kind. */
export const FILE_CAPS = {
  manifest: 1024 ** 2,
  tokenizer: 64 * 1024 ** 2,
  /** Protobuf's own limit: larger ONNX models keep their weights in external data files. */
  onnx: 2 * 1024 ** 3,
} as const;

function kindOf(st: Stats): string {
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  if (st.isDirectory()) return 'a directory';
  return 'not a regular file';
}

/** Why `st` is not acceptable as a bundle file of at most `cap` bytes, or undefined. */
function problem(st: Stats, cap: number): string | undefined {
  if (!st.isFile()) return `is ${kindOf(st)}, not a regular file`;
  if (st.size > cap) return `is ${st.size} bytes, more than the ${cap} a file of its kind may have`;
  return undefined;
}

/** Throws (naming the file) unless `file` is a regular file of at most `cap` bytes; returns its size. */
export function checkRegularFile(file: string, cap: number): number {
  const st = statSync(file);
  const why = problem(st, cap);
  if (why) throw new Error(`${file} ${why}`);
  return st.size;
}

/**
 * The whole of `file`, read only if it is a regular file of at most `cap` bytes. Opened non-blocking (a
 * FIFO would block in open itself) and checked on the descriptor, so a name swapped after the check
 * cannot slip through.
 */
export function readRegularFile(file: string, cap: number): Buffer {
  const fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  try {
    const st = fstatSync(fd);
    const why = problem(st, cap);
    if (why) throw new Error(`${file} ${why}`);
    const buf = Buffer.alloc(st.size);
    let at = 0;
    while (at < buf.length) {
      const n = readSync(fd, buf, at, buf.length - at, at);
      if (n === 0) throw new Error(`${file} ended after ${at} of its ${st.size} bytes (it changed while being read)`);
      at += n;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}
