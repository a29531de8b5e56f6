// Save -> index ready, and save -> an answer that reflects the edit, through the real sidecar with the
// bundled model, in a workspace of 20,000 small source files (one definition each, so the cold index
// encodes ~20k chunks once). The editor's save sends `index` with `paths: [the file]`: no walk, only the
// file's new chunks encoded. Medians of 7 saves (each a new function appended to a different file).
// Run alone: `npm run bench -- save` (E2CODE_BENCH_FILES to change the size).
import { mkdirSync, appendFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { SidecarClient } from '../src/sidecar/client';
import { BUNDLE, rmrf, tempDir } from '../test/hardening/lib';
import type { BenchResult } from './lib/types';

const FILES = Number(process.env.E2CODE_BENCH_FILES ?? 20_000);
const SAVES = 7;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export default async function run(): Promise<BenchResult> {
  const root = tempDir('e2code-save-ws-');
  for (let i = 0; i < FILES; i++) {
    const dir = path.join(root, `pkg${Math.floor(i / 200)}`);
    if (i % 200 === 0) mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, `mod${i}.ts`),
      `/** Returns the ${i}th value scaled by the factor. */\nexport function value${i}(factor: number): number {\n  return ${i} * factor;\n}\n`,
    );
  }
  const cacheDir = tempDir('e2code-save-cache-');
  const xdg = tempDir('e2code-save-xdg-');
  const client = new SidecarClient({
    sidecarPath: path.join(__dirname, '..', 'src', 'sidecar', 'main.ts'),
    env: { E2CODE_CACHE_DIR: cacheDir, XDG_CACHE_HOME: xdg },
  });
  await client.start({ bundlePath: BUNDLE, device: 'cpu', cacheDir });
  try {
    const c0 = Date.now();
    const cold = await client.index({ root });
    const coldS = (Date.now() - c0) / 1000;
    const ready: number[] = [];
    const answered: number[] = [];
    let reflected = 0;
    for (let k = 0; k < SAVES; k++) {
      const i = Math.floor(((k + 1) * FILES) / (SAVES + 1));
      const rel = `pkg${Math.floor(i / 200)}/mod${i}.ts`;
      const name = `freshlySaved${k}Helper`;
      appendFileSync(path.join(root, rel), `\nexport function ${name}(): number {\n  return ${k};\n}\n`);
      const t0 = performance.now();
      const r = await client.index({ root, paths: [rel] });
      const t1 = performance.now();
      const a = await client.generate({ task: 'ask', root, prompt: `Where is ${name} defined?` });
      const t2 = performance.now();
      if (r.changes?.updated !== 1) throw new Error(`save of ${rel}: ${JSON.stringify(r.changes)}`);
      ready.push(t1 - t0);
      answered.push(t2 - t0);
      if (a.sources[0]?.path === rel && a.sources[0]?.symbol === name) reflected++;
    }
    return {
      description: `Saves through the real sidecar in a ${FILES}-file workspace: index({paths:[file]}) until ready, then "Where is <the new function> defined?" answered; medians of ${SAVES}.`,
      metrics: [
        {
          name: 'cold index (walk, chunk, encode)',
          value: Math.round(coldS * 10) / 10,
          unit: 's',
          note: `${cold.files} files, ${cold.chunks} chunks, ${cold.encoded} encoded`,
        },
        { name: 'save -> index ready', value: Math.round(median(ready)), unit: 'ms', target: { op: '<', value: 300 } },
        { name: 'save -> answer reflecting the edit', value: Math.round(median(answered)), unit: 'ms' },
        {
          name: 'answers whose first source is the new definition',
          value: reflected,
          unit: `of ${SAVES}`,
          target: { op: '>=', value: SAVES },
        },
      ],
    };
  } finally {
    await client.dispose();
    rmrf(root);
    rmrf(cacheDir);
    rmrf(xdg);
  }
}
