/**
 * The benchmark still runs: `scripts/bench.ts --smoke` starts one process of every kind it loads
 * (a registration server, the token server, the introspection server, the revocation server on
 * fresh databases, the sign ceiling, oidc-provider), runs one target of each for two seconds with autocannon
 * (options.ts's SMOKE_TARGETS), and prints its JSON line. Only that it ran is asserted: every
 * target answered without an error (non-2xx, socket error, or an introspection answer that was not
 * active), latency percentiles were read, the ratios of the targets it ran were computed and the
 * others not, and a JSON last line; the same of `--tenants 20 --smoke` (its six targets, its ratios,
 * its seeding and the servers' RSS). Never a figure: the machine running the suite decides those
 * (docs/performance.md).
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

type Figures = { requests: number; errors: number; rps: number; p50Ms: number; p95Ms: number; p99Ms: number; peakRssMb: number };
type Result = { mode?: string; targets?: Record<string, Figures>; [ratio: string]: unknown };

/** `scripts/bench.ts ...args --json` run as `npm run bench` runs it: its exit code, stderr, and its JSON last line. */
async function bench(t: Test, args: string[]): Promise<Result> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    // Not tap's loaders and coverage: the benchmark and its servers run as `npm run bench` runs them.
    if (value !== undefined && !/^(NODE_OPTIONS|NODE_V8_COVERAGE|_TAPJS|TAP)/.test(key)) env[key] = value;
  }
  const started = Date.now();
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench.ts', ...args, '--json'], {
    cwd: ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  t.comment(`bench ${args.join(' ')} took ${Date.now() - started} ms`);
  t.equal(code, 0, `exit code\n${stderr.slice(-3000)}`);

  const last = stdout.trim().split('\n').pop() ?? '';
  let result: Result = {};
  t.doesNotThrow(() => (result = JSON.parse(last) as Result), 'the last line is JSON');
  return result;
}

/** Every answer of the target was a success, and its latency percentiles were read. */
function answered(t: Test, result: Result, name: string): void {
  const target = result.targets?.[name];
  t.ok(target, `${name} was measured`);
  t.ok((target?.requests ?? 0) > 0, `${name}: requests were answered`);
  t.equal(target?.errors, 0, `${name}: no error answer, no socket error, no inactive introspection`);
  t.ok((target?.p50Ms ?? 0) <= (target?.p95Ms ?? -1) && (target?.p95Ms ?? 0) <= (target?.p99Ms ?? -1), `${name}: p50 <= p95 <= p99`);
}

t.test('npm run bench -- --smoke --json', { timeout: 120_000 }, async (t) => {
  const result = await bench(t, ['--smoke']);
  t.equal(result.mode, 'smoke');
  for (const name of ['register-bearer', 'register-v11', 'sign-ceiling', 'token-cc-rs256', 'peer-token-rs256', 'introspect-jwt', 'peer-introspect', 'revoke-jwt', 'refresh-jwt']) {
    answered(t, result, name);
  }
  // Ratios of the pairs it ran are numbers; those of targets it did not run are null.
  for (const ratio of ['token_rs256_vs_peer', 'token_rs256_vs_sign_ceiling', 'introspect_jwt_vs_peer']) t.type(result[ratio], 'number', `${ratio} computed`);
  t.match(result, { register_vs_peer: null, register_vs_ceiling: null, basic_vs_bearer: null, v11_vs_v017: null, token_opaque_vs_peer: null, introspect_opaque_vs_peer: null });
});

// The --tenants mode's machinery (seed-tenants.ts, the sweep over every tenant, the loads that turn
// through the tenants, the ratios and the servers' RSS) on 20 tenants against one.
t.test('npm run bench -- --tenants 20 --smoke --json', { timeout: 120_000 }, async (t) => {
  const result = await bench(t, ['--tenants', '20', '--smoke']);
  t.equal(result.mode, 'tenants');
  t.equal(result.tenants, 20);
  for (const target of ['tenants-register', 'tenants-token', 'tenants-introspect']) {
    answered(t, result, target);
    answered(t, result, `${target}@single`);
  }
  for (const ratio of ['tenants_register_vs_single', 'tenants_token_vs_single', 'tenants_introspect_vs_single']) t.type(result[ratio], 'number', `${ratio} computed`);
  t.match(result, {
    seed: { many: { tenants: 20, tenantsTotal: 21, applicationsTotal: 21, activeKeys: 21 }, single: { tenants: 1, tenantsTotal: 2 } },
    sweep: { many: { tenants: 20 }, single: { tenants: 1 } },
  });
  const rss = result.rssMb as Record<string, { afterStart: number; afterSweep: number; peak: number }>;
  for (const side of ['many', 'single']) t.ok(rss[side]!.peak > 0 && rss[side]!.peak >= rss[side]!.afterSweep, `${side}: peak RSS read`);
});
