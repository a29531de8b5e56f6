// A large synthetic workspace (3,000 files here; 50,000 in bench/load-index50k.bench.ts): indexing keeps
// the event loop responsive, can be cancelled promptly, keeps what it finished, and completes afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { WorkspaceIndex } from '../../src/core/index/index';
import { rmrf, tempDir } from './lib';

function makeWorkspace(files: number): string {
  const root = tempDir('e2code-big-');
  for (let i = 0; i < files; i++) {
    const dir = path.join(root, `d${i % 50}`, `e${i % 7}`);
    if (i < 350) mkdirSync(dir, { recursive: true });
    const ext = ['ts', 'py', 'go', 'md', 'txt'][i % 5];
    writeFileSync(
      path.join(dir, `f${i}.${ext}`),
      `// file ${i}\nfunction f${i}(a, b) {\n  return a + b * ${i};\n}\n\nconst v${i} = f${i}(1, 2);\n`,
    );
  }
  return root;
}

test('indexing 3,000 files stays responsive, is cancellable mid-way, and resumes', async (t) => {
  const root = makeWorkspace(3000);
  const store = tempDir('e2code-store-');
  try {
    const index = await WorkspaceIndex.open({ root, storeDir: store });
    let maxLag = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxLag = Math.max(maxLag, now - last - 20);
      last = now;
    }, 20);
    const controller = new AbortController();
    let abortedAt = 0;
    let doneAtAbort = 0;
    const t0 = performance.now();
    const err = await index
      .refresh({
        signal: controller.signal,
        onProgress: (p) => {
          if (!abortedAt && p.total > 0 && p.done >= p.total / 3) {
            doneAtAbort = p.done;
            abortedAt = performance.now();
            controller.abort();
          }
        },
      })
      .then(
        () => undefined,
        (e: unknown) => e as Error,
      );
    const cancelMs = performance.now() - abortedAt;
    assert.ok(abortedAt > 0, 'never reached a third of the files');
    assert.ok(err, 'the cancelled refresh resolved');
    assert.ok(cancelMs < 10_000, `cancelling took ${Math.round(cancelMs)} ms`);
    const kept = index.stats().files;
    assert.ok(kept >= doneAtAbort - 10 && kept < 3000, `kept ${kept} files after cancelling at ${doneAtAbort}`);
    // Resumes: the next refresh finishes the rest (re-reading nothing it kept).
    const r = await index.refresh();
    clearInterval(timer);
    assert.equal(r.files, 3000);
    assert.ok(r.unchanged.length >= kept - 10, `${r.unchanged.length} unchanged, ${kept} kept`);
    assert.ok(maxLag < 3000, `the event loop was blocked for ${Math.round(maxLag)} ms`);
    await index.close();
    // Persisted: reopening loads everything.
    const again = await WorkspaceIndex.open({ root, storeDir: store });
    assert.equal(again.loadReport.status, 'loaded');
    assert.equal(again.stats().files, 3000);
    await again.close();
    t.diagnostic(
      `cancelled at ${doneAtAbort}/3000 in ${Math.round(cancelMs)} ms (${Math.round(abortedAt - t0)} ms in); kept ${kept}; resumed to 3000; max event-loop lag ${Math.round(maxLag)} ms`,
    );
  } finally {
    rmrf(root);
    rmrf(store);
  }
});
