// A strict reader of the sidecar's input frames (`Content-Length: N\r\n\r\n` + N bytes of JSON), for
// vscode-jsonrpc. Its own reader accepts any Content-Length (2147483648 makes it buffer without bound,
// -5 corrupts its position) and, after a bad frame, reports an error but keeps reading from a stream it
// has lost its place in: every later request goes unanswered. A frame stream cannot be resynchronised,
// so here any framing error is final: reported once through onError (the sidecar logs it and exits, and
// the client restarts it). Also: frames are capped in size, a frame that stops arriving is an error
// after a while, and `priority` may answer a message on arrival, ahead of those queued before it.
import { AbstractMessageReader, type DataCallback, type Disposable, type Message } from 'vscode-jsonrpc/node';

export const MAX_HEADER_BYTES = 8 * 1024;

export interface FrameLimits {
  /** Largest body accepted. */
  maxFrameBytes: number;
  /** A frame that has started but gets no further bytes for this long is an error. */
  stallMs: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxFrameBytes: 64 * 1024 * 1024, stallMs: 10_000 };

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

/** The body length a frame header announces; throws FramingError for anything else. */
export function parseFrameHeader(text: string, maxFrameBytes: number): number {
  let length: number | undefined;
  for (const line of text.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new FramingError(`malformed header line ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-length') {
      if (!/^\d{1,12}$/.test(value)) throw new FramingError(`Content-Length ${JSON.stringify(value.slice(0, 40))} is not a byte count`);
      const n = Number(value);
      if (n < 1 || n > maxFrameBytes) throw new FramingError(`Content-Length ${n} is outside 1..${maxFrameBytes}`);
      length = n;
    } else if (name === 'content-type') {
      const charset = /charset=([^;\s]+)/i.exec(value)?.[1]?.toLowerCase();
      if (charset && charset !== 'utf-8' && charset !== 'utf8')
        throw new FramingError(`Content-Type charset ${JSON.stringify(charset)} is not utf-8`);
    }
    // Other headers are ignored, as the base protocol allows.
  }
  if (length === undefined) throw new FramingError('a frame header has no Content-Length');
  return length;
}

export class StrictMessageReader extends AbstractMessageReader {
  private chunks: Buffer[] = [];
  private buffered = 0;
  /** The current frame's body length, once its header is read; -1 between frames. */
  private expected = -1;
  private stallTimer: NodeJS.Timeout | undefined;
  private failed = false;

  constructor(
    private readonly readable: NodeJS.ReadableStream,
    private readonly limits: FrameLimits = DEFAULT_FRAME_LIMITS,
    /** Returns true when it has handled the message itself (it is then not passed on). */
    private readonly priority?: (message: Message) => boolean,
  ) {
    super();
  }

  listen(callback: DataCallback): Disposable {
    const onData = (data: Buffer | string) => this.onData(typeof data === 'string' ? Buffer.from(data, 'utf8') : data, callback);
    const onError = (err: Error) => this.fireError(err);
    const onClose = () => this.fireClose();
    this.readable.on('data', onData);
    this.readable.on('error', onError);
    this.readable.on('close', onClose);
    return {
      dispose: () => {
        this.readable.off('data', onData);
        this.readable.off('error', onError);
        this.readable.off('close', onClose);
        this.clearStall();
      },
    };
  }

  private onData(data: Buffer, callback: DataCallback): void {
    if (this.failed) return;
    this.chunks.push(data);
    this.buffered += data.length;
    try {
      for (;;) {
        if (this.expected < 0) {
          if (this.buffered === 0) return this.clearStall();
          const head = this.peek(Math.min(this.buffered, MAX_HEADER_BYTES + 4));
          const end = head.indexOf('\r\n\r\n');
          if (end < 0) {
            if (this.buffered > MAX_HEADER_BYTES) throw new FramingError(`no end of a frame header within ${MAX_HEADER_BYTES} bytes`);
            return this.armStall();
          }
          this.expected = parseFrameHeader(head.subarray(0, end).toString('latin1'), this.limits.maxFrameBytes);
          this.take(end + 4);
        }
        if (this.buffered < this.expected) return this.armStall();
        const body = this.take(this.expected);
        this.expected = -1;
        let message: unknown;
        try {
          message = JSON.parse(body.toString('utf8'));
        } catch (err) {
          throw new FramingError(`a ${body.length}-byte frame is not JSON (${(err as Error).message})`);
        }
        if (typeof message !== 'object' || message === null || Array.isArray(message)) {
          throw new FramingError(`a frame holds ${Array.isArray(message) ? 'an array' : typeof message}, not a JSON-RPC message object`);
        }
        if (!this.priority?.(message as Message)) callback(message as Message);
      }
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)));
    }
  }

  private fail(err: Error): void {
    this.failed = true;
    this.clearStall();
    this.chunks = [];
    this.buffered = 0;
    this.fireError(err);
  }

  /** The first `n` buffered bytes, without consuming them. */
  private peek(n: number): Buffer {
    if (this.chunks[0].length >= n) return this.chunks[0].subarray(0, n);
    const all = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [all];
    return all.subarray(0, n);
  }

  /** Consumes and returns the first `n` buffered bytes (the caller checked they are there). */
  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks, this.buffered);
    const rest = all.subarray(n);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.buffered = rest.length;
    return all.subarray(0, n);
  }

  /** (Re)starts the stall clock: each arrival of bytes for an unfinished frame is progress. */
  private armStall(): void {
    this.clearStall();
    const have = this.buffered;
    const want = this.expected;
    this.stallTimer = setTimeout(() => {
      this.fail(
        new FramingError(
          want < 0
            ? `a frame header stopped after ${have} bytes for ${this.limits.stallMs} ms`
            : `a frame stopped after ${have} of its ${want} bytes for ${this.limits.stallMs} ms`,
        ),
      );
    }, this.limits.stallMs);
    this.stallTimer.unref?.();
  }

  private clearStall(): void {
    if (this.stallTimer) clearTimeout(this.stallTimer);
    this.stallTimer = undefined;
  }
}
