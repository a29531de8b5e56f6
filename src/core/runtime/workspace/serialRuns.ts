// One index refresh per root at a time: runs of one root queue behind each other (a failed run does not
// stop the next), runs of different roots go side by side. The engine's workspaces and the sidecar's
// model-free index both serialize through this.
export class SerialRuns<T> {
  private readonly tails = new Map<string, Promise<T>>();

  /** Starts `work` for `key` once every earlier run of `key` has settled. */
  run(key: string, work: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const run = previous.catch(() => undefined).then(work);
    this.tails.set(key, run);
    const forget = () => {
      if (this.tails.get(key) === run) this.tails.delete(key);
    };
    run.then(forget, forget);
    return run;
  }

  /** The last queued run of `key`, if one has not settled yet. */
  inFlight(key: string): Promise<T> | undefined {
    return this.tails.get(key);
  }
}
