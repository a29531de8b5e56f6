// The real sidecar under hostile and heavy request traffic: malformed requests get a clear error (and
// leave the sidecar working), 100 concurrent requests are each answered, queued or refused with a clear
// error, memory stays bounded, and cancelling under load works.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Methods } from '../../src/core/protocol';
import { REPO_SMALL, copyWorkspace, rmrf, rssBytes, startSidecar, tempDir } from './lib';

type Raw = { request<R>(method: string, params: unknown, signal?: AbortSignal): Promise<R> };

test('malformed requests: each gets a clear error naming the problem, quickly, and the sidecar keeps working', async (t) => {
  const root = copyWorkspace(REPO_SMALL);
  const xdg = tempDir('e2code-xdg-');
  const h = await startSidecar({ env: { XDG_CACHE_HOME: xdg } });
  try {
    const raw = h.client as unknown as Raw;
    const big = 'where is it? '.repeat(Math.ceil((1024 * 1024) / 13)); // 1 MB question
    const cases: [string, string, unknown, RegExp][] = [
      ['empty generate', Methods.generate, {}, /missing field "task"/],
      ['null params', Methods.index, null, /params must be an object/],
      ['array params', Methods.generate, [1, 2], /params must be an object/],
      ['wrong task', Methods.generate, { task: 'rm -rf', root, prompt: 'x' }, /"task" must be one of/],
      ['wrong root type', Methods.generate, { task: 'ask', root: 42, prompt: 'x' }, /"root" must be a string/],
      ['prompt not a string', Methods.generate, { task: 'ask', root, prompt: { $gt: '' } }, /"prompt" must be a string/],
      ['unknown top-level field', Methods.generate, { task: 'ask', root, prompt: 'x', __proto__x: 1 }, /unknown field "__proto__x"/],
      [
        'unknown option',
        Methods.generate,
        { task: 'ask', root, prompt: 'x', options: { maxTokens: 2, evil: true } },
        /unknown field "options.evil"/,
      ],
      [
        'negative maxTokens',
        Methods.generate,
        { task: 'ask', root, prompt: 'x', options: { maxTokens: -5 } },
        /"options.maxTokens" must be an integer/,
      ],
      [
        'NaN-ish temperature',
        Methods.generate,
        { task: 'ask', root, prompt: 'x', options: { temperature: 'hot' } },
        /"options.temperature" must be a number/,
      ],
      ['huge question (1 MB)', Methods.generate, { task: 'ask', root, prompt: big }, /"prompt" is too long: \d+ characters \(limit \d+\)/],
      [
        'over-long selection',
        Methods.generate,
        { task: 'explain', root, prompt: '', selection: { path: 'a.ts', startLine: 1, endLine: 9, text: 'x'.repeat(2_000_000) } },
        /"selection.text" is too long/,
      ],
      [
        'selection end before start',
        Methods.generate,
        { task: 'explain', root, prompt: '', selection: { path: 'a.ts', startLine: 9, endLine: 2, text: 'x' } },
        /"selection.endLine" \(2\) is before/,
      ],
      [
        'selection line 0',
        Methods.generate,
        { task: 'explain', root, prompt: '', selection: { path: 'a.ts', startLine: 0, endLine: 2, text: 'x' } },
        /"selection.startLine" must be an integer from 1/,
      ],
      [
        'history of wrong shape',
        Methods.generate,
        { task: 'ask', root, prompt: 'x', history: [{ role: 'system', content: 'obey' }] },
        /"history\[0\].role" must be one of "user", "assistant"/,
      ],
      ['NUL in root', Methods.index, { root: `${root}\0/etc` }, /"root" must be a string without NUL/],
      ['index option wrong type', Methods.index, { root, options: { maxFileBytes: '1e12' } }, /"options.maxFileBytes" must be an integer/],
      ['chunks without path', Methods.chunks, { root }, /missing field "path"/],
      ['initialize with a number', Methods.initialize, { bundlePath: 7, device: 'cpu' }, /"bundlePath" must be a string/],
      ['initialize with unknown device', Methods.initialize, { bundlePath: '/x', device: 'tpu' }, /"device" must be one of/],
      [
        'root that does not exist',
        Methods.generate,
        { task: 'ask', root: `${root}/nope`, prompt: 'x', options: { maxTokens: 2 } },
        /not a directory|no such directory/,
      ],
    ];
    const times: number[] = [];
    for (const [what, method, params, expected] of cases) {
      const t0 = Date.now();
      await assert.rejects(raw.request(method, params), (e: Error) => {
        assert.match(e.message, expected, `${what}: "${e.message}"`);
        return true;
      });
      times.push(Date.now() - t0);
    }
    // Still working, and still on the same engine (a bad initialize must not have torn it down).
    const st = await h.client.status();
    assert.equal(st.state, 'idle');
    assert.ok(st.bundleId);
    const r = await h.client.generate({ task: 'ask', root, prompt: 'What does the LRU cache do?', options: { maxTokens: 4 } });
    assert.ok(r.context.softChunks > 0);
    t.diagnostic(`${cases.length} malformed requests refused; slowest ${Math.max(...times)} ms`);
  } finally {
    await h.dispose();
    rmrf(root);
    rmrf(xdg);
  }
});

test('100 concurrent requests: each answered, queued or refused with a clear error; memory bounded; cancelling under load works', async (t) => {
  const root = copyWorkspace(REPO_SMALL);
  const xdg = tempDir('e2code-xdg-');
  const h = await startSidecar({ env: { XDG_CACHE_HOME: xdg, E2CODE_SIDECAR_MAX_QUEUE: '8' } });
  try {
    const client = h.client;
    await client.index({ root });
    const pid = client.pid!;
    await client.generate({ task: 'ask', root, prompt: 'warm up', options: { maxTokens: 2 } });
    const rssBefore = rssBytes(pid);
    let peak = rssBefore;
    const sampler = setInterval(() => {
      try {
        peak = Math.max(peak, rssBytes(pid));
      } catch {
        // gone
      }
    }, 50);

    // 100 generate requests at once, a quarter of them cancelled shortly after they were sent.
    const controllers = Array.from({ length: 100 }, () => new AbortController());
    const started = Date.now();
    const outcomes = await Promise.all(
      controllers.map(async (c, i) => {
        if (i % 4 === 3) setTimeout(() => c.abort(), 200 + i * 5);
        const t0 = Date.now();
        try {
          const r = await client.generate(
            { task: 'ask', root, prompt: `Question ${i}: what does shapes.ts define?`, options: { maxTokens: 6 } },
            undefined,
            c.signal,
          );
          return { kind: r.stopReason === 'cancelled' ? 'cancelled' : 'answered', ms: Date.now() - t0 };
        } catch (e) {
          const m = (e as Error).message;
          if (/sidecar busy: \d+ generate requests already running or queued \(limit 8\)/.test(m))
            return { kind: 'refused', ms: Date.now() - t0 };
          if (c.signal.aborted && /abort|cancel/i.test(`${(e as Error).name} ${m}`)) return { kind: 'cancelled', ms: Date.now() - t0 };
          return { kind: `unexpected: ${m}`, ms: Date.now() - t0 };
        }
      }),
    );
    // Status and chunk requests are answered meanwhile as well (100 more, concurrently).
    const side = await Promise.all(
      Array.from({ length: 100 }, (_, i) => (i % 2 ? client.status() : client.chunks({ root, path: 'src/lruCache.ts' }))),
    );
    clearInterval(sampler);
    const counts: Record<string, number> = {};
    for (const o of outcomes) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
    assert.deepEqual(
      Object.keys(counts).filter((k) => k.startsWith('unexpected')),
      [],
      JSON.stringify(counts),
    );
    assert.ok((counts.answered ?? 0) >= 1, JSON.stringify(counts));
    assert.ok((counts.refused ?? 0) >= 1, `nothing refused at 100 concurrent: ${JSON.stringify(counts)}`);
    assert.equal(side.length, 100);
    const growthMB = (peak - rssBefore) / 1024 / 1024;
    assert.ok(growthMB < 512, `sidecar RSS grew by ${growthMB.toFixed(0)} MB under load`);
    // Cancelling under load: every cancelled request finished promptly.
    const cancelled = outcomes.filter((o) => o.kind === 'cancelled');
    assert.ok(cancelled.every((o) => o.ms < 120_000));
    // And the sidecar is idle and usable afterwards.
    const st = await client.status();
    assert.equal(st.queueLength, 0);
    const after = await client.generate({ task: 'ask', root, prompt: 'Where is LruCache defined?', options: { maxTokens: 4 } });
    assert.notEqual(after.stopReason, 'cancelled');
    t.diagnostic(
      `100 concurrent generates in ${Date.now() - started} ms: ${JSON.stringify(counts)}; +100 status/chunks answered; RSS ${(rssBefore / 1048576).toFixed(0)} -> peak ${(peak / 1048576).toFixed(0)} MB`,
    );
  } finally {
    await h.dispose();
    rmrf(root);
    rmrf(xdg);
  }
});
