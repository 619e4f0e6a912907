/**
 * The benchmark still runs: `scripts/bench.ts --smoke` starts the real server on a fresh database,
 * runs one target (register-bearer) for a few seconds with autocannon, and prints its JSON line.
 * Only that it ran is asserted — no error answer, no socket error, a JSON last line — never a
 * figure: the machine running the suite decides those (docs/performance.md).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t from 'tap';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

t.test('npm run bench -- --smoke --json', { timeout: 90_000 }, async (t) => {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Not tap's loaders and coverage: the benchmark and its servers run as `npm run bench` runs them.
    if (value !== undefined && !/^(NODE_OPTIONS|NODE_V8_COVERAGE|_TAPJS|TAP)/.test(key)) env[key] = value;
  }
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', '--smoke', '--json'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.comment(`bench --smoke took ${Date.now() - started} ms`);
  t.equal(code, 0, `exit code\n${stderr.slice(-3000)}`);

  const last = stdout.trim().split('\n').pop() ?? '';
  let result: { mode?: string; targets?: Record<string, { requests: number; errors: number; rps: number }> } = {};
  t.doesNotThrow(() => (result = JSON.parse(last) as typeof result), 'the last line is JSON');
  t.equal(result.mode, 'smoke');
  const target = result.targets?.['register-bearer'];
  t.ok(target, 'register-bearer was measured');
  t.ok((target?.requests ?? 0) > 0, 'requests were answered');
  t.equal(target?.errors, 0, 'no non-2xx answer and no socket error');
  t.match(result, { register_vs_peer: null, register_vs_ceiling: null, basic_vs_bearer: null, token_vs_peer: null });
});
