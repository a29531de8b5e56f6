// One decode at a time: a bounded, cancellable first-come queue for generate requests.
//
// The turn is handed from the finishing request straight to the next waiter, so no gap exists in which
// the queue looks free. A waiter whose request is cancelled leaves the queue at once; one that was
// cancelled before it even queued never joins it. (An earlier version let such a request be woken and
// then return without passing its turn on, which stranded everyone behind it.)

export class QueueFullError extends Error {
  constructor(
    readonly queued: number,
    readonly limit: number,
  ) {
    super(`sidecar busy: ${queued} generate requests already running or queued (limit ${limit}); try again when one finishes`);
  }
}

export class Turns {
  private busy = false;
  private readonly waiting: (() => void)[] = [];

  constructor(readonly limit: number) {}

  /** Whether a request holds the turn now. */
  get running(): boolean {
    return this.busy;
  }

  /** Requests waiting for the turn (not counting the running one). */
  get queueLength(): number {
    return this.waiting.length;
  }

  /**
   * Waits for the turn and runs `work` in it. Refuses at once with QueueFullError when `limit` requests
   * are already running or waiting; resolves to `cancelled()` when `signal` aborts before the turn came.
   */
  async run<T>(signal: AbortSignal, work: () => Promise<T>, cancelled: () => T): Promise<T> {
    const queued = this.waiting.length + (this.busy ? 1 : 0);
    if (queued >= this.limit) throw new QueueFullError(queued, this.limit);
    if (signal.aborted) return cancelled();
    if (this.busy) {
      if (!(await this.wait(signal))) return cancelled();
    } else {
      this.busy = true;
    }
    // From here on this request holds the turn and must pass it on, whatever happens.
    try {
      return await work();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.busy = false;
    }
  }

  /** Resolves true when the turn is handed over, false when `signal` aborts first. */
  private wait(signal: AbortSignal): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(turn);
        if (i >= 0) this.waiting.splice(i, 1);
        resolve(false);
      };
      const turn = () => {
        signal.removeEventListener('abort', onAbort);
        resolve(true);
      };
      this.waiting.push(turn);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }
}
