// A real crash: a process writing the index store is SIGKILLed at arbitrary moments; every time, the
// store must load (never throw) to a committed state.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { IndexStore, type StoreRecord } from '../../src/core/index/store';

const repo = path.join(__dirname, '..', '..');
const temps: string[] = [];
after(async () => {
  for (const d of temps) await fsp.rm(d, { recursive: true, force: true });
});

async function writeUntilKilled(dir: string, afterReadyMs: number): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repo, 'test/fixtures/walker/store-crash-child.ts'), dir], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && resolve());
    child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
  });
  await new Promise((r) => setTimeout(r, afterReadyMs));
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
}

test('SIGKILL while writing snapshots and journal: the store always loads a committed state', async () => {
  for (const delay of [0, 37, 151, 420]) {
    const dir = await fsp.mkdtemp(path.join(os.tmpdir(), 'e2code-crash-'));
    temps.push(dir);
    await writeUntilKilled(dir, delay);
    const state = new Map<string, number>();
    const store = new IndexStore<{ gen: number }, never>(dir, 'crash-test');
    const report = await store.load((r: StoreRecord<{ gen: number }, never>) => {
      if (r[0] === 'f' && r[2]) state.set(r[1], r[2].gen);
    });
    assert.equal(report.status, 'loaded', `delay ${delay}: ${report.notes.join('; ')}`);
    assert.equal(state.size, 20_000);
    const base = state.get('p19999')!;
    for (const [p, gen] of state) {
      const k = Number(p.slice(1));
      assert.ok(gen === base || (k < 10 && gen === base + 1), `delay ${delay}: ${p} at generation ${gen}, base ${base}`);
    }
    // A snapshot temp file left by the kill is removed by load.
    assert.deepEqual(
      (await fsp.readdir(dir)).filter((f) => f.endsWith('.tmp')),
      [],
    );
  }
});
