/**
 * The report on stdout: the table of figures, the ratios between targets, the targets' checks
 * (PASS, FAIL, SKIP; a FAIL leaves the exit code 0), and the pieces of the --json line. Each ratio
 * is the median over rounds of the two targets' ratio within a round (see ratio()); the ratios of
 * the medians are reported too.
 */
import os from 'node:os';
import { median, type Figures } from './load.js';
import type { AbOptions, DatabaseSizes, Seeded } from './servers.js';
import type { TenantSweep } from './targets.js';

const write = (text: string) => process.stdout.write(text);

interface Check {
  name: string;
  value: number | null;
  target: string;
  pass: boolean | null;
}

/**
 * a ÷ b in requests/s: the median over rounds of a's figure over b's in the same round. The two
 * are measured next to each other in every round (ROUND_ORDER), so a phase of the machine that
 * slows both cancels out of each round's ratio, where the ratio of two medians can pair a slow
 * round of one with a fast round of the other (docs/performance.md, Fifth pass).
 */
function ratio(a: Figures | undefined, b: Figures | undefined): number | null {
  if (!a || !b || a.rpsRuns.length !== b.rpsRuns.length || b.rpsRuns.some((rps) => rps <= 0)) return ratioOfMedians(a, b);
  return Math.round(median(a.rpsRuns.map((rps, round) => rps / b.rpsRuns[round]!)) * 100) / 100;
}

/**
 * The same over several instances of each side: per round, the sum of a's requests/s over the sum
 * of b's; the median over rounds. With one instance each, ratio().
 */
function ratioOfSums(as: Figures[], bs: Figures[]): number | null {
  const rounds = as[0]?.rpsRuns.length ?? 0;
  if (as.length === 0 || bs.length === 0 || [...as, ...bs].some((f) => f.rpsRuns.length !== rounds)) return null;
  const sum = (list: Figures[], round: number) => list.reduce((total, f) => total + f.rpsRuns[round]!, 0);
  const perRound = Array.from({ length: rounds }, (_, round) => sum(as, round) / sum(bs, round));
  return perRound.every(Number.isFinite) ? Math.round(median(perRound) * 100) / 100 : null;
}

/** a's median requests/s over b's: reported alongside, for comparison with earlier runs. */
function ratioOfMedians(a: Figures | undefined, b: Figures | undefined): number | null {
  return a && b && b.rps > 0 ? Math.round((a.rps / b.rps) * 100) / 100 : null;
}

/** The smaller of two ratios; one alone if the other was not measured. */
function minOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}

export function printTable(figures: Record<string, Figures>): void {
  const lines = [
    `${'target'.padEnd(28)}${'req/s'.padStart(7)}  ${'(rounds)'.padEnd(20)}${'p50 ms'.padStart(7)}${'p95 ms'.padStart(8)}${'p99 ms'.padStart(8)}${'errors'.padStart(8)}${'peak RSS MB'.padStart(13)}${'CPU µs/req node+pg'.padStart(20)}  process`,
  ];
  for (const [name, f] of Object.entries(figures)) {
    lines.push(
      `${name.padEnd(28)}${String(f.rps).padStart(7)}  ${`(${f.rpsRuns.join(', ')})`.padEnd(20)}${String(f.p50Ms).padStart(7)}${String(f.p95Ms).padStart(8)}${String(f.p99Ms).padStart(8)}` +
        `${String(f.errors).padStart(8)}${String(f.peakRssMb).padStart(13)}${`${f.nodeCpuUsPerRequest}+${f.pgCpuUsPerRequest}`.padStart(20)}  ${f.process}` +
        (f.errors > 0
          ? `  status ${JSON.stringify(f.statusCodes)} socket ${f.socketErrors}${f.mismatches ? ` body refused ${f.mismatches}` : ''} warm-up ${f.warmupErrors} lead-in ${f.leadInErrors}`
          : ''),
    );
  }
  write(`${lines.join('\n')}\n`);
}

export function machine() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGb: Math.round(os.totalmem() / 1024 ** 3),
    node: process.version,
    platform: `${os.type()} ${os.release()}`,
    loadAverage: os.loadavg().map((n) => Math.round(n * 100) / 100),
  };
}

/**
 * The standard run's report: the table, the ratios (with --ab, each target's over its current
 * self), the checks against the targets; returns them for the JSON line.
 */
export function standardReport(figures: Record<string, Figures>, ab: AbOptions | undefined): Record<string, unknown> {
  const f = (name: string) => figures[name];
  const serverRss = Object.values(figures)
    .filter((x) => !['ceiling', 'peer'].includes(x.process) && !x.process.endsWith('@ab'))
    .map((x) => x.peakRssMb);
  const totalErrors = Object.values(figures).reduce((sum, x) => sum + x.errors, 0);
  const tokenRs256VsPeer = ratio(f('token-cc-rs256'), f('peer-token-rs256'));
  const tokenOpaqueVsPeer = ratio(f('token-cc-opaque'), f('peer-token'));
  // oidc-provider introspects opaque tokens only: both of ours are compared with its opaque one.
  const introspectJwtVsPeer = ratio(f('introspect-jwt'), f('peer-introspect'));
  const introspectOpaqueVsPeer = ratio(f('introspect-opaque'), f('peer-introspect'));
  const ratios = {
    register_vs_peer: ratio(f('register-bearer'), f('peer-reg')),
    register_vs_ceiling: ratio(f('register-bearer'), f('ceiling')),
    basic_vs_bearer: ratio(f('register-basic'), f('register-bearer')),
    // The same registration on IS DCR v1.1 and on v0.17, both with Basic.
    v11_vs_v017: ratio(f('register-v11'), f('register-basic')),
    // Like for like: RS256 JWT against the peer's RS256 JWT, opaque against its opaque; the target is on both.
    token_vs_peer: minOf(tokenRs256VsPeer, tokenOpaqueVsPeer),
    token_rs256_vs_peer: tokenRs256VsPeer,
    token_opaque_vs_peer: tokenOpaqueVsPeer,
    // The server's RS256 token over the bare signer's: what everything but the signature costs.
    token_rs256_vs_sign_ceiling: ratio(f('token-cc-rs256'), f('sign-ceiling')),
    // The target is on both kinds of token: the lower decides.
    introspect_vs_peer: minOf(introspectJwtVsPeer, introspectOpaqueVsPeer),
    introspect_jwt_vs_peer: introspectJwtVsPeer,
    introspect_opaque_vs_peer: introspectOpaqueVsPeer,
    existing_vs_bearer: ratio(f('register-existing'), f('register-bearer')),
  };
  const ratiosOfMedians = {
    register_vs_peer: ratioOfMedians(f('register-bearer'), f('peer-reg')),
    register_vs_ceiling: ratioOfMedians(f('register-bearer'), f('ceiling')),
    basic_vs_bearer: ratioOfMedians(f('register-basic'), f('register-bearer')),
    v11_vs_v017: ratioOfMedians(f('register-v11'), f('register-basic')),
    token_rs256_vs_peer: ratioOfMedians(f('token-cc-rs256'), f('peer-token-rs256')),
    token_opaque_vs_peer: ratioOfMedians(f('token-cc-opaque'), f('peer-token')),
    token_rs256_vs_sign_ceiling: ratioOfMedians(f('token-cc-rs256'), f('sign-ceiling')),
    introspect_jwt_vs_peer: ratioOfMedians(f('introspect-jwt'), f('peer-introspect')),
    introspect_opaque_vs_peer: ratioOfMedians(f('introspect-opaque'), f('peer-introspect')),
  };
  const abRatios = Object.fromEntries(
    Object.keys(figures)
      .filter((name) => name.endsWith('@ab'))
      .map((name) => [`${name.replace('@ab', '')}: ab_vs_current`, ratio(f(name), f(name.replace('@ab', '')))]),
  );
  const atLeast = (name: string, value: number | null, min: number): Check => ({
    name,
    value,
    target: `>= ${min}`,
    pass: value === null ? null : value >= min,
  });
  const p99 = f('register-bearer')?.p99Ms ?? null;
  const peakRss = serverRss.length ? Math.max(...serverRss) : null;
  const checks: Check[] = [
    atLeast('register_vs_peer', ratios.register_vs_peer, 1.5),
    atLeast('register_vs_ceiling', ratios.register_vs_ceiling, 0.6),
    atLeast('basic_vs_bearer', ratios.basic_vs_bearer, 0.5),
    atLeast('v11_vs_v017 (IS DCR v1.1 register)', ratios.v11_vs_v017, 0.9),
    atLeast('token_vs_peer', ratios.token_vs_peer, 1.5),
    atLeast('token_rs256_vs_peer', ratios.token_rs256_vs_peer, 1.5),
    atLeast('token_rs256_vs_sign_ceiling', ratios.token_rs256_vs_sign_ceiling, 0.8),
    atLeast('introspect_vs_peer (JWT and opaque)', ratios.introspect_vs_peer, 1.5),
    { name: 'p99 register-bearer ms', value: p99, target: '<= 50', pass: p99 === null ? null : p99 <= 50 },
    { name: 'errors (all targets)', value: totalErrors, target: '= 0', pass: totalErrors === 0 },
    { name: 'peak RSS MB (server processes)', value: peakRss, target: '<= 200', pass: peakRss === null ? null : peakRss <= 200 },
  ];
  if (ab?.env.DCR_APIM_NOTIFY_URL) {
    // Issue 22: pushing revocation events costs the revoke and refresh paths at most 10%.
    checks.push(
      atLeast('revoke-jwt with notify / without', ratio(f('revoke-jwt@ab'), f('revoke-jwt')), 0.9),
      atLeast('refresh-jwt with notify / without', ratio(f('refresh-jwt@ab'), f('refresh-jwt')), 0.9),
    );
  }

  write('\n');
  printTable(figures);
  write('\nratios (requests/s; median over rounds of the ratio within a round):\n');
  for (const [name, value] of Object.entries({ ...ratios, ...abRatios })) write(`  ${name.padEnd(28)} ${value ?? 'n/a'}\n`);
  write(
    `  (ratios of the medians: ${Object.entries(ratiosOfMedians)
      .map(([name, value]) => `${name} ${value ?? 'n/a'}`)
      .join(', ')})\n`,
  );
  write('\ntargets:\n');
  for (const check of checks) {
    const verdict = check.pass === null ? 'SKIP' : check.pass ? 'PASS' : 'FAIL';
    write(`  ${verdict}  ${check.name.padEnd(36)} ${String(check.value ?? 'n/a').padStart(8)}  (target ${check.target})\n`);
  }
  write('\nnote: the peer (oidc-provider) keeps everything in process memory, in an LRU of 1,000 entries: it does not even write to disk.\n');
  if (f('introspect-jwt') && f('peer-introspect')) write('note: the peer refuses to introspect JWT access tokens (400 unsupported_token_type): introspect-jwt is compared with its opaque introspection.\n');
  return { ...ratios, ...(ab ? { ab: { ...ab, ratios: abRatios } } : {}), ratiosOfMedians, checks, targets: figures };
}

/**
 * The seeded run's report: the table, the seeding, and each target's seeded ÷ empty ratio (the
 * sum over its instances on each side); returns them for the JSON line.
 */
export function seededReport(
  figures: Record<string, Figures>,
  { n, instances, seed, wallSeconds, sizes }: { n: number; instances: number; seed: Seeded['seed']; wallSeconds: number; sizes: DatabaseSizes | undefined },
): Record<string, unknown> {
  const instancesOf = (name: string) => Object.keys(figures).filter((key) => key.replace(/#\d+$/, '') === name).map((key) => figures[key]!);
  const sideRatio = (name: string) => ratioOfSums(instancesOf(`${name}@seeded`), instancesOf(name));
  const ratios = {
    register_seeded_vs_empty: sideRatio('register-bearer'),
    token_rs256_seeded_vs_empty: sideRatio('token-cc-rs256'),
    token_opaque_seeded_vs_empty: sideRatio('token-cc-opaque'),
  };
  write('\n');
  printTable(figures);
  write(
    `\nseed: ${n.toLocaleString('en')} apps in ${seed.seconds} s (${seed.rowsPerSecond!.toLocaleString('en')} rows/s; ` +
      `${wallSeconds} s wall with the cluster's initdb); database ${Math.round(seed.databaseBytes! / 1024 / 1024)} MB after seeding, ` +
      `${sizes ? Math.round(sizes.databaseBytes / 1024 / 1024) : '?'} MB after the run (${sizes?.applications.toLocaleString('en') ?? '?'} apps)\n`,
  );
  for (const [name, value] of Object.entries(ratios)) write(`  ${name.padEnd(30)} ${value ?? 'n/a'}\n`);
  return { seed: { ...seed, wallSeconds, afterRun: sizes }, ...ratios, instances, targets: figures };
}

/** What tenantsReport prints besides the figures: the seeding, the sweep, the servers' memory. */
export interface TenantsRun {
  n: number;
  seed: { many: Record<string, number>; single: Record<string, number>; wallSeconds: number };
  sweep: { many: TenantSweep; single: TenantSweep };
  /** Each server's resident set (MB, VmHWM): after its start, after the sweep, at its peak. */
  rssMb: Record<'many' | 'single', { afterStart: number; afterSweep: number; peak: number }>;
  /** --cpu-prof: each server's profile over the rounds. */
  profiles?: Record<'many' | 'single', ProfileSummary>;
}

/** A server's CPU profile, summed up (scripts/cpuprofile-top.ts). */
export interface ProfileSummary {
  file: string;
  text: string;
  busyMs: number;
  top: unknown[];
  groups: unknown[];
}

/**
 * The --tenants run's report: the table, each target's N-tenant ÷ single-tenant ratio (the median
 * over rounds of the ratio within a round) checked against 0.9, and each server's memory; returns
 * them for the JSON line.
 */
export function tenantsReport(figures: Record<string, Figures>, run: TenantsRun): Record<string, unknown> {
  const f = (name: string) => figures[name];
  const ratios = {
    tenants_register_vs_single: ratio(f('tenants-register'), f('tenants-register@single')),
    tenants_token_vs_single: ratio(f('tenants-token'), f('tenants-token@single')),
    tenants_introspect_vs_single: ratio(f('tenants-introspect'), f('tenants-introspect@single')),
  };
  const ratiosOfMedians = {
    tenants_register_vs_single: ratioOfMedians(f('tenants-register'), f('tenants-register@single')),
    tenants_token_vs_single: ratioOfMedians(f('tenants-token'), f('tenants-token@single')),
    tenants_introspect_vs_single: ratioOfMedians(f('tenants-introspect'), f('tenants-introspect@single')),
  };
  const totalErrors = Object.values(figures).reduce((sum, x) => sum + x.errors, 0);
  const checks: Check[] = [
    ...Object.entries(ratios).map(([name, value]) => ({ name, value, target: '>= 0.9', pass: value === null ? null : value >= 0.9 })),
    { name: 'errors (all targets)', value: totalErrors, target: '= 0', pass: totalErrors === 0 },
  ];
  const n = run.n.toLocaleString('en');
  write('\n');
  printTable(figures);
  write(
    `\nseed: ${n} tenants in ${run.seed.many.seconds} s of statements (${run.seed.wallSeconds} s wall with the cluster's initdb); ` +
      `database ${Math.round(run.seed.many.databaseBytes! / 1024 / 1024)} MB (single tenant: ${Math.round(run.seed.single.databaseBytes! / 1024 / 1024)} MB)\n`,
  );
  write(
    `sweep before the rounds (not measured): ${n} admins' first sign-ins (a registration each) in ${run.sweep.many.registerSeconds} s, ` +
      `then ${n} first tokens in ${run.sweep.many.tokenSeconds} s\n`,
  );
  write('server RSS MB (VmHWM)      after start  after sweep  peak\n');
  for (const [side, label] of [['many', `${n} tenants`], ['single', '1 tenant']] as const) {
    const m = run.rssMb[side];
    write(`  ${label.padEnd(24)} ${String(m.afterStart).padStart(11)}  ${String(m.afterSweep).padStart(11)}  ${String(m.peak).padStart(4)}\n`);
  }
  write('\nratios (requests/s; median over rounds of the ratio within a round):\n');
  for (const [name, value] of Object.entries(ratios)) write(`  ${name.padEnd(30)} ${value ?? 'n/a'}\n`);
  write(`  (ratios of the medians: ${Object.entries(ratiosOfMedians).map(([name, value]) => `${name} ${value ?? 'n/a'}`).join(', ')})\n`);
  write('\ntargets:\n');
  for (const check of checks) {
    const verdict = check.pass === null ? 'SKIP' : check.pass ? 'PASS' : 'FAIL';
    write(`  ${verdict}  ${check.name.padEnd(36)} ${String(check.value ?? 'n/a').padStart(8)}  (target ${check.target})\n`);
  }
  for (const [side, label] of [['many', `${n} tenants`], ['single', '1 tenant']] as const) {
    const profile = run.profiles?.[side];
    if (profile) write(`\nprofile of the ${label} server over the rounds: ${profile.file}\n${profile.text}\n`);
  }
  const profiles = run.profiles && Object.fromEntries(Object.entries(run.profiles).map(([side, p]) => [side, { file: p.file, busyMs: p.busyMs, top: p.top, groups: p.groups }]));
  return { tenants: run.n, ...(profiles ? { profiles } : {}), ...ratios, ratiosOfMedians, checks, seed: run.seed, sweep: run.sweep, rssMb: run.rssMb, targets: figures };
}
