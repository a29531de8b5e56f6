// The ending every test runner here shares: one summary line `N passed, N failed` (what .ci and people
// read), an exit code that fails on any failure or on zero passes, and a crash reported as a failure.

export interface Stats {
  passes: number;
  failures: number;
}

/** Prints the timing and the summary line; returns the exit code. */
export function report(label: string, t0: number, stats: Stats, note = ''): number {
  console.log(`${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s in all${note}`);
  console.log(`${stats.passes} passed, ${stats.failures} failed`);
  return stats.failures === 0 && stats.passes > 0 ? 0 : 1;
}

/** Runs a runner's main and exits with its code; a thrown error counts as one failure. */
export function runMain(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      console.log('0 passed, 1 failed');
      process.exit(1);
    },
  );
}
