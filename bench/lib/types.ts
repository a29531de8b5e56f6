// The contract between one benchmark file (`bench/<name>.bench.ts`, default export returning a
// BenchResult) and the runner (`bench/run.ts`), which adds the environment and peak RSS it measured
// from outside, writes `bench/results/<name>.json`, a markdown table per bench and an SVG per chart.

/** One measured number. `target` states the goal so the report can say met / missed. */
export interface BenchMetric {
  name: string;
  value: number;
  /** `s`, `ms`, `MB`, `MB/s`, `files`, `%`, ... */
  unit: string;
  /** Goal for this metric, e.g. `{ op: '<', value: 300 }` for "under 300 ms". */
  target?: { op: '<' | '<=' | '>' | '>='; value: number };
  /** What exactly was measured (inputs, repetitions, median of N, ...). */
  note?: string;
}

/** A line of a chart: y against x (e.g. MB/s against file size). */
export interface BenchSeries {
  name: string;
  points: Array<[x: number, y: number]>;
}

/** One chart (an SVG line chart is drawn per chart). */
export interface BenchChart {
  /** File-name-safe id, unique within the bench; the SVG is `bench/results/<bench>-<id>.svg`. */
  id: string;
  title: string;
  xLabel: string;
  yLabel: string;
  series: BenchSeries[];
}

/** A free-form table (rendered as markdown). */
export interface BenchTable {
  title: string;
  columns: string[];
  rows: Array<Array<string | number>>;
}

/** What a bench's default export resolves to. */
export interface BenchResult {
  /** Bench name; the runner fills it from the file name when empty. */
  name?: string;
  /** One or two sentences: what is measured and on what input. */
  description: string;
  metrics: BenchMetric[];
  tables?: BenchTable[];
  charts?: BenchChart[];
  /** Why the bench could not run here (a missing optional tool): reported, not an error; earlier results are kept. */
  skipped?: string;
}

/** A BenchResult as written to bench/results/<name>.json: plus what the runner measured. */
export interface BenchRecord extends BenchResult {
  name: string;
  /** ISO time the bench finished. */
  finishedAt: string;
  /** Wall time of the whole bench process. */
  wallSeconds: number;
  /** Peak resident set size of the bench's own child process (getrusage maxrss). */
  peakRssMB: number;
  environment: {
    node: string;
    platform: string;
    arch: string;
    cpus: string;
    cpuCount: number;
    totalMemMB: number;
    /** 1-minute load average when the bench started and when it ended: timings on a busy machine are not comparable. */
    loadAverage?: { start: number; end: number };
  };
  /** Set when the bench threw or its process died. */
  error?: string;
}

export type BenchFn = () => Promise<BenchResult>;
