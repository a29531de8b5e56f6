// Markdown rendering of bench records: one section per bench with its metrics (value, goal, met?),
// its tables and links to its charts.
import type { BenchMetric, BenchRecord } from './types';

function fmtNumber(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Number.isInteger(v)) return String(v);
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toPrecision(3);
}

export function targetMet(m: BenchMetric): boolean | undefined {
  if (!m.target) return undefined;
  const { op, value } = m.target;
  return op === '<' ? m.value < value : op === '<=' ? m.value <= value : op === '>' ? m.value > value : m.value >= value;
}

function cell(s: string | number): string {
  return String(typeof s === 'number' ? fmtNumber(s) : s)
    .replace(/\|/g, '\\|')
    .replace(/\n/g, ' ');
}

export function renderRecord(r: BenchRecord, chartFile: (chartId: string) => string): string {
  const out: string[] = [];
  out.push(`## ${r.name}`, '', r.description, '');
  if (r.error) out.push(`**Failed:** ${cell(r.error.split('\n')[0])}`, '');
  out.push(
    `Finished ${r.finishedAt} in ${fmtNumber(r.wallSeconds)} s; peak RSS of the bench process ${fmtNumber(r.peakRssMB)} MB; ` +
      `${r.environment.cpuCount} x ${r.environment.cpus}, ${r.environment.totalMemMB} MB, Node ${r.environment.node}` +
      (r.environment.loadAverage
        ? `; load average ${r.environment.loadAverage.start.toFixed(1)} at start, ${r.environment.loadAverage.end.toFixed(1)} at end.`
        : '.'),
    '',
  );
  if (r.metrics.length) {
    out.push('| metric | value | unit | goal | met | note |', '| --- | ---: | --- | --- | --- | --- |');
    for (const m of r.metrics) {
      const met = targetMet(m);
      const goal = m.target ? `${m.target.op} ${m.target.value}` : '';
      out.push(
        `| ${cell(m.name)} | ${cell(m.value)} | ${cell(m.unit)} | ${goal} | ${met === undefined ? '' : met ? 'yes' : '**no**'} | ${cell(m.note ?? '')} |`,
      );
    }
    out.push('');
  }
  for (const t of r.tables ?? []) {
    out.push(`**${t.title}**`, '', `| ${t.columns.map(cell).join(' | ')} |`, `| ${t.columns.map(() => '---').join(' | ')} |`);
    for (const row of t.rows) out.push(`| ${row.map(cell).join(' | ')} |`);
    out.push('');
  }
  for (const c of r.charts ?? []) out.push(`![${c.title}](${chartFile(c.id)})`, '');
  return out.join('\n');
}

export function renderReadme(records: BenchRecord[], chartFile: (bench: string, chartId: string) => string): string {
  const head = [
    '# Benchmark results',
    '',
    'Written by `npm run bench` (`bench/run.ts`): each `bench/<name>.bench.ts` runs in its own process; its',
    'result is `<name>.json` here. Rerun one bench with `npm run bench -- <name>`.',
    '',
  ];
  const summary = ['| bench | metric | value | goal | met |', '| --- | --- | ---: | --- | --- |'];
  for (const r of records) {
    for (const m of r.metrics.filter((x) => x.target)) {
      const met = targetMet(m);
      summary.push(
        `| ${r.name} | ${cell(m.name)} | ${cell(m.value)} ${cell(m.unit)} | ${m.target!.op} ${m.target!.value} | ${met ? 'yes' : '**no**'} |`,
      );
    }
    if (r.error) summary.push(`| ${r.name} | (failed) | | | **no** |`);
  }
  const body = records.map((r) => renderRecord(r, (id) => chartFile(r.name, id)));
  return [...head, '## Goals', '', ...summary, '', ...body].join('\n') + '\n';
}
