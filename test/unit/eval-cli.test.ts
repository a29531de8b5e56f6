// `e2code eval` end to end on a small repository with the bundled model: valid JSON with every task and
// row, the table by default, clear errors, and Ctrl-C cancelling cleanly. Model quality is not asserted.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { writeEvalFixture } from './eval/fixture';

const ROOT = path.resolve(__dirname, '../..');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'e2code-eval-cli-'));
const repo = writeEvalFixture(path.join(tmp, 'repo'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const env = { ...process.env, E2CODE_CACHE_DIR: path.join(tmp, 'cache'), XDG_CACHE_HOME: path.join(tmp, 'xdg') };
const args = (...rest: string[]) => ['--import', pathToFileURL(require.resolve('tsx')).href, path.join(ROOT, 'src/cli/main.ts'), ...rest];

function cli(...rest: string[]) {
  const r = spawnSync(process.execPath, args(...rest), { cwd: tmp, encoding: 'utf8', env, timeout: 300_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('eval --json --n 2 prints the full result: every task, every row, metrics, positions, examples', () => {
  const r = cli('eval', '--repo', repo, '--n', '2', '--json', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(out.repos, [repo]);
  assert.equal(out.files, 5);
  assert.equal(out.files_per_question, 4);
  assert.equal(out.topk, 2);
  assert.match(out.bundle.id, /^default-/);
  const metrics: Record<string, string[]> = {
    where: ['exact', 'path', 'in_context'],
    what: ['exact', 'rougeL'],
    summary: ['exact', 'rougeL'],
    complete: ['exact', 'edit_sim'],
    reconstruct: ['token_acc'],
  };
  assert.deepEqual(Object.keys(out.tasks), Object.keys(metrics));
  for (const [task, names] of Object.entries(metrics)) {
    const t = out.tasks[task];
    assert.equal(t.n, 2, `${task}: n`);
    const rows = task === 'reconstruct' ? ['none', 'soft'] : ['none', 'truncated', 'retrieved', 'soft', 'hybrid'];
    assert.deepEqual(Object.keys(t.rows), rows);
    for (const row of rows) {
      const x = t.rows[row];
      assert.equal(x.n, 2);
      for (const m of names) assert.ok(typeof x[m] === 'number' && x[m] >= 0 && x[m] <= 1, `${task}/${row}: ${m} = ${x[m]}`);
      assert.ok(x.positions_mean > 0);
      assert.equal(x.examples.length, 2);
      for (const e of x.examples) assert.ok(e.length === 3 && e.every((s: unknown) => typeof s === 'string'));
    }
    // No context is the shortest prompt; soft tokens add positions, far fewer than the same chunks as text.
    assert.ok(t.rows.none.positions_mean < t.rows.soft.positions_mean);
    assert.ok(t.rows.soft.positions_as_text_mean > t.rows.soft.positions_mean, `${task}: soft chunks as text take more positions`);
    assert.equal(t.rows.none.positions_as_text_mean, undefined);
    // Every row with a context is compared with no context on the same questions.
    assert.equal(t.rows.none.vs_none, undefined);
    const key = { where: 'path', what: 'rougeL', summary: 'rougeL', complete: 'edit_sim', reconstruct: 'token_acc' }[task]!;
    for (const row of rows.slice(1)) {
      const v = t.rows[row].vs_none;
      assert.ok(Math.abs(v.diff - (t.rows[row][key] - t.rows.none[key])) < 2e-4, `${task}/${row}: vs_none.diff ${v.diff}`);
      assert.ok(v.ci95[0] <= v.diff + 1e-9 && v.diff <= v.ci95[1] + 1e-9, `${task}/${row}: ${JSON.stringify(v)}`);
    }
  }
  assert.match(out.tasks.where.rows.soft.examples[0][0], /^Where is \S+ defined\?$/);
  // Where rows with a context say how much the order decided: the first file is the reference / is the answer.
  for (const row of ['truncated', 'retrieved', 'soft', 'hybrid']) {
    for (const m of ['reference_first', 'answered_first'])
      assert.ok(out.tasks.where.rows[row][m] >= 0 && out.tasks.where.rows[row][m] <= 1, `${row}: ${m}`);
  }
  assert.equal(out.tasks.where.rows.none.reference_first, undefined);
  assert.match(r.stderr, /eval reconstruct: 2\/2 questions/, 'progress goes to stderr');
});

test('eval prints a table by default; bad options are clear errors', () => {
  const small = path.join(ROOT, 'test/fixtures/repo-small');
  const r = cli('eval', '--repo', repo, '--repo', small, '--n', '1', '--tasks', 'where,reconstruct', '--threads', '1', '--seed', '5');
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.startsWith(`bundle default (`) && r.stdout.includes(`on ${repo}, ${small}:`), r.stdout);
  assert.match(r.stdout, /^task +row +n +metric/m);
  for (const row of ['none', 'truncated', 'retrieved', 'soft', 'hybrid'])
    assert.match(r.stdout, new RegExp(`^where +${row} +1 +path `, 'm'));
  assert.match(r.stdout, /^reconstruct +soft +1 +token_acc .* [+-]\d\.\d{3} \[[+-]\d\.\d{3}, [+-]\d\.\d{3}\]$/m);
  assert.match(r.stdout, /^task .* vs none \[95% CI\]$/m);
  assert.match(r.stderr, /indexed \d+ files, \d+ chunks/);
  assert.match(r.stderr, /eval where: 1\/1 questions/);

  // The shuffled-soft-tokens control says so in its header and keeps every row.
  const shuffled = cli('eval', '--repo', repo, '--n', '1', '--tasks', 'where', '--threads', '1', '--shuffle-soft');
  assert.equal(shuffled.code, 0, shuffled.stderr);
  assert.match(shuffled.stdout, /control: soft tokens shuffled between chunks/);
  assert.match(shuffled.stdout, /^where +soft +1 +path /m);

  const task = cli('eval', '--repo', repo, '--tasks', 'where,params');
  assert.equal(task.code, 1);
  assert.match(task.stderr, /unknown task "params"/);
  assert.match(cli('eval').stderr, /required option '--repo <dir>'/);
  const missing = cli('eval', '--repo', path.join(tmp, 'nope'));
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /does not exist/);
  const n = cli('eval', '--repo', repo, '--n', '0');
  assert.notEqual(n.code, 0);
  assert.match(n.stderr, /--n/);
  assert.match(cli('--help').stdout, /^ +eval /m);
});

test('eval on a repository it can ask nothing about exits 1 with the reason, not a table of zeros', () => {
  const bare = path.join(tmp, 'bare');
  mkdirSync(path.join(bare, 'src'), { recursive: true });
  writeFileSync(path.join(bare, 'README.md'), '# Notes\n\nWhat this project is about.\n');
  writeFileSync(path.join(bare, 'src/Main.kt'), 'fun main() {\n    println("hello")\n}\n');
  const r = cli('eval', '--repo', bare, '--n', '2', '--threads', '1');
  assert.equal(r.code, 1, r.stdout);
  assert.equal(r.stdout, '', 'no result printed');
  const reason = `e2code: no questions could be built from ${bare}: none of its 2 indexed files (kotlin 1, markdown 1) is in a language questions are built for (python, `;
  assert.ok(r.stderr.includes(reason), r.stderr);
  // --json too: nothing on stdout that a script could read as a result.
  const json = cli('eval', '--repo', bare, '--n', '1', '--tasks', 'where', '--json', '--threads', '1');
  assert.equal(json.code, 1);
  assert.equal(json.stdout, '');
  assert.match(json.stderr, /no questions could be built from /);
});

test('eval --grounded measures the sources: where-is exact at the definition line, natural-language file in the top 3, per row', () => {
  // A small Go repository written here: the grounded rows must work on a language the recipe never trained on.
  const go = path.join(tmp, 'go');
  mkdirSync(go, { recursive: true });
  const fns = ['ParseFlags', 'ExecuteCommand', 'RegisterHandler', 'ValidateArguments', 'RenderTemplate', 'OpenDatabase'];
  fns.forEach((name, i) =>
    writeFileSync(
      path.join(go, `file${i}.go`),
      `package demo\n\n// ${name} ${['parses the flags of a command line', 'runs the command with its arguments', 'registers an HTTP handler for a route', 'checks the arguments against the rules', 'renders an HTML template with the given data', 'opens a connection to the database'][i]}.\nfunc ${name}(input string) error {\n\treturn nil\n}\n`,
    ),
  );
  const r = cli('eval', '--repo', go, '--grounded', '--n', '6', '--json', '--threads', '1');
  assert.equal(r.code, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.deepEqual(Object.keys(out.kinds.where.rows), ['lexical', 'vector', 'fused', 'grounded']);
  assert.equal(out.kinds.where.n, 6);
  assert.equal(out.kinds.where.rows.grounded.hit, 1, JSON.stringify(out.kinds.where.rows));
  assert.ok(out.kinds.natural.n >= 1);
  assert.ok(out.kinds.natural.rows.lexical.hit > 0);
  const table = cli('eval', '--repo', go, '--grounded', '--n', '2', '--threads', '1');
  assert.match(table.stdout, /^where +grounded +2 +1\.000/m);
});

test('Ctrl-C cancels a run cleanly', async () => {
  const child = spawn(process.execPath, args('eval', '--repo', repo, '--n', '40', '--threads', '1'), { cwd: tmp, env });
  let stderr = '';
  let sent = false;
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (!sent && /eval \w+: \d+\/\d+ questions/.test(stderr)) {
      sent = true;
      child.kill('SIGINT');
    }
  });
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  assert.ok(sent, `never saw progress: ${stderr}`);
  assert.equal(code, 130, stderr);
  assert.match(stderr, /eval cancelled/);
});
