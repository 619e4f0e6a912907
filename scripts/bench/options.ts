/**
 * The benchmark's command line (`npm run bench -- --help`): one options object, passed to every
 * part of the run, instead of settings read from globals.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { RoundSettings } from './load.js';
import { ROOT } from './processes.js';
import type { AbOptions } from './servers.js';
import { ALL_LOADS, KIND_TARGETS, PEER_LOADS, PROFILABLE, TARGETS, TENANT_TARGETS, type TargetName } from './targets.js';

export type Mode = 'full' | 'quick' | 'smoke' | 'seeded' | 'tenants' | 'profile';

export interface BenchOptions extends RoundSettings {
  mode: Mode;
  json: boolean;
  only: Set<string> | undefined;
  seeded: number | undefined;
  /** --tenants: the tenants seeded into the many-tenant database. */
  tenants: number | undefined;
  /** --tenants --cpu-prof: both servers run under `node --cpu-prof`. */
  cpuProf: boolean;
  profile: string | undefined;
  /** --seeded: server instances per database, each measured on its own (see seededMode). */
  instances: number;
  /** A/B: also run each selected server target from this checkout and/or with these settings. */
  ab: AbOptions | undefined;
  /** Servers reach their database through a proxy adding this round-trip time (ms), via DATABASE_URL. */
  dbLatencyMs: number | undefined;
}

/**
 * A mode's defaults: [rounds, seconds per measurement, warm-up seconds per target, lead-in seconds
 * before each measurement]. Warm-up and first lead-in together are long enough for the JIT: a
 * shorter warm-up alone left this server's first round slower than its second; every target gets
 * the same. --quick takes three shorter rounds rather than two longer ones: this machine has phases
 * of several seconds in which every function of a process runs slower, and the median of three
 * outlasts one such round where the mean of two did not; more and shorter rounds in the same time
 * were noisier per round and no better in the median (docs/performance.md, Fifth and Sixth passes).
 */
function modeDefaults(mode: Mode, quick: boolean, smoke = false): [rounds: number, duration: number, warmup: number, leadIn: number] {
  switch (mode) {
    case 'full':
      return [3, 10, 8, 1];
    case 'quick':
      return [3, 4, 2.5, 0.5];
    case 'smoke':
      // Nine targets (SMOKE_TARGETS): short, so that the test suite's run stays within about half a minute.
      return [1, 2, 0.5, 0];
    case 'seeded':
      return modeDefaults(quick ? 'quick' : 'full', quick);
    case 'tenants':
      // --tenants with --smoke: the smoke timings (test/bench-smoke.test.ts runs `--tenants 20 --smoke`).
      return modeDefaults(smoke ? 'smoke' : quick ? 'quick' : 'full', quick);
    case 'profile':
      // One measured round right after the warm-up: no target idles in between.
      return [1, quick ? 10 : 20, quick ? 3 : 5, 0];
  }
}

/**
 * --smoke's targets, unless --only names others: one of every kind of process (a registration
 * server, the token server, the introspection server, the sign ceiling, the peer) and a pair of each
 * comparison issue 19 added, so that the test suite runs every part of the benchmark's machinery.
 */
export const SMOKE_TARGETS: readonly TargetName[] = [
  'register-bearer',
  'register-v11',
  'sign-ceiling',
  'token-cc-rs256',
  'peer-token-rs256',
  'introspect-jwt',
  'peer-introspect',
  'revoke-jwt',
  'refresh-jwt',
];

/**
 * Names --only takes besides the targets: `token-cc` (both token-cc-*), `introspect` (both
 * introspect-* and the peer's), `peer` (every peer-*).
 */
const ONLY_ALIASES: Record<string, readonly TargetName[]> = {
  'token-cc': KIND_TARGETS['token-cc'],
  introspect: [...KIND_TARGETS.introspect, 'peer-introspect'],
  peer: PEER_LOADS,
};

/** Timings in words, for the run's first log line and --help. */
export function timingText({ rounds, duration, warmup, leadIn }: Pick<RoundSettings, 'rounds' | 'duration' | 'warmup' | 'leadIn'>): string {
  return `${rounds} round(s) of ${duration} s per target after a ${warmup} s warm-up, each after a ${leadIn} s lead-in`;
}

/** A mode's default timings in words. */
function timings(mode: Mode, quick = false): string {
  const [rounds, duration, warmup, leadIn] = modeDefaults(mode, quick);
  return timingText({ rounds, duration, warmup, leadIn });
}

/** Word-wraps `text` to `width` columns, each line after the first indented by `indent`. */
function wrap(text: string, indent: number, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && indent + line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  lines.push(line);
  return lines.join(`\n${' '.repeat(indent)}`);
}

const item = (name: string, text: string) => `  ${name.padEnd(22)}${wrap(text, 24)}`;

export const HELP = [
  'npm run bench -- [options]',
  '',
  wrap(
    'Load benchmark of the real server process, started exactly as `npm start` starts it, each server kind in its own process on its own fresh database, against three references on the same machine: two bare Fastify ceilings (registration, RS256 signing) and oidc-provider (the peer). Progress goes to stderr; the table, the ratios and the checks against the targets to stdout. A missed target is printed as FAIL; the exit code stays 0.',
    0,
  ),
  '',
  'Targets:',
  ...Object.entries(TARGETS).map(([name, text]) => item(name, text)),
  '',
  "--tenants's targets (each also as <target>@single, on a single-tenant database):",
  ...Object.entries(TENANT_TARGETS).map(([name, text]) => item(name, text)),
  '',
  'Modes (the first that applies, in this order: --tenants, --smoke, --profile, --seeded, --quick, full):',
  item('(none)', `full: ${timings('full')}`),
  item('--quick', `everything in about 4 minutes: ${timings('quick')}`),
  item('--smoke', `the test suite's check that the benchmark runs, about 25 s: ${SMOKE_TARGETS.join(', ')} (or --only's targets), ${timings('smoke')}`),
  item(
    '--seeded N',
    "seeds N apps with scripts/seed.ts into a fresh database and measures register-bearer and token-cc there and on an empty one, with --instances servers on each database, all of a target's in one group; the full mode's timings, or with --quick the quick ones",
  ),
  item(
    '--tenants N',
    `seeds N tenants (t1.bench ... tN.bench: an admin, a JWT app and an RS256 key each; scripts/bench/seed-tenants.ts) into one database and a single tenant into another, sweeps every tenant once (a registration by each admin, then a token each), then measures ${Object.keys(TENANT_TARGETS).join(', ')} on both, each request to the next tenant in turn: tenants_*_vs_single (target >= 0.9). The full mode's timings, with --quick the quick ones, with --smoke the smoke ones`,
  ),
  item(
    '--profile TARGET',
    `runs that server target or a ceiling under \`node --cpu-prof\` and prints the top self-time functions of the measured round: ${timings('profile')} (with --quick: ${timings('profile', true)})`,
  ),
  '',
  'Options:',
  item('--cpu-prof', "--tenants: both servers run under `node --cpu-prof`; the top self-time functions of each over the rounds are printed after the table"),
  item('--json', 'the last stdout line is one JSON object (ratios, checks and raw figures)'),
  item('--only a,b', `measure only these targets (token-cc: both token-cc-*; introspect: both introspect-* and peer-introspect; peer: all four peer-*)`),
  item('--rounds R', 'measured rounds'),
  item('--duration S', 'seconds per measurement'),
  item('--warmup S', 'seconds of warm-up per target'),
  item('--lead-in S', 'seconds of unmeasured load right before each measurement (0: none)'),
  item('--slices K', 'slices per measurement, in turn with the targets compared (4; smoke 2; profile 1; 1 measures in one go)'),
  item('--connections C', 'autocannon connections (50)'),
  item('--instances N', '--seeded: server instances per database (2)'),
  item('--ab DIR', 'also run each selected server target from the checkout in DIR, as <target>@ab, in turn with the current one (with --profile: that server is the one profiled)'),
  item(
    '--ab-env NAME=v,...',
    'the same with these server settings (with --ab: on that checkout); e.g. DCR_JWT_ALG=ES256 or PS256: the @ab token rows then sign that way; DCR_APIM_NOTIFY_URL=receiver: the @ab server pushes its revocation events to a local receiver of its own (compare revoke-jwt and refresh-jwt with their @ab rows: target >= 0.9)',
  ),
  item('--db-latency MS', 'each server reaches its own PostgreSQL through a proxy adding MS of round-trip time (scripts/bench/remote-db.ts): a database on another host'),
  item('--help', 'this text'),
  '',
].join('\n');

const OPTIONS = Object.fromEntries([
  ...['quick', 'json', 'smoke', 'help', 'cpu-prof'].map((name) => [name, { type: 'boolean' as const }]),
  ...['only', 'seeded', 'tenants', 'profile', 'rounds', 'duration', 'warmup', 'lead-in', 'slices', 'instances', 'connections', 'ab', 'ab-env', 'db-latency'].map((name) => [
    name,
    { type: 'string' as const },
  ]),
]);

/** The options of `argv`, or 'help' for --help; throws on anything it does not know. */
export function parseOptions(argv: string[]): BenchOptions | 'help' {
  let flags: Record<string, string | boolean | undefined>;
  try {
    // No option is `multiple`: each value is one string or true.
    flags = parseArgs({ args: argv, strict: true, allowPositionals: false, options: OPTIONS }).values as typeof flags;
  } catch (err) {
    throw new Error(`${(err as Error).message} (--help lists the options)`);
  }
  if (flags.help) return 'help';
  const has = (name: string) => flags[name] !== undefined;
  const number = (name: string, fallback: number, { zero = false } = {}) => {
    const value = flags[name];
    if (value === undefined) return fallback;
    const parsed = Number(String(value).replace(/_/g, ''));
    if (!Number.isFinite(parsed) || parsed < 0 || (parsed === 0 && !zero)) throw new Error(`--${name} must be a positive number${zero ? ' or 0' : ''}`);
    return parsed;
  };
  const quick = has('quick');
  const smoke = has('smoke');
  const seeded = has('seeded') ? Math.floor(number('seeded', 1)) : undefined;
  const tenants = has('tenants') ? Math.floor(number('tenants', 1)) : undefined;
  if (tenants !== undefined && tenants < 1) throw new Error('--tenants must be a positive number');
  const profile = has('profile') ? String(flags.profile) : undefined;
  if (tenants !== undefined && (profile !== undefined || seeded !== undefined || has('only') || has('ab') || has('ab-env'))) {
    throw new Error('--tenants runs its own targets: it takes none of --only, --seeded, --profile, --ab, --ab-env');
  }
  if (has('cpu-prof') && tenants === undefined) throw new Error('--cpu-prof goes with --tenants (--profile TARGET profiles the other targets)');
  const mode: Mode =
    tenants !== undefined ? 'tenants' : smoke ? 'smoke' : profile ? 'profile' : seeded !== undefined ? 'seeded' : quick ? 'quick' : 'full';
  const [rounds, duration, warmup, leadIn] = modeDefaults(mode, quick, smoke);
  const only = has('only')
    ? new Set<string>(
        String(flags.only)
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean)
          .flatMap((s): readonly string[] => (Object.hasOwn(ONLY_ALIASES, s) ? ONLY_ALIASES[s]! : [s])),
      )
    : smoke && mode === 'smoke'
      ? new Set<string>(SMOKE_TARGETS)
      : undefined;
  for (const name of only ?? []) {
    if (!(ALL_LOADS as readonly string[]).includes(name)) throw new Error(`unknown target ${name} (targets: ${ALL_LOADS.join(', ')})`);
  }
  if (profile !== undefined && !PROFILABLE.includes(profile as TargetName)) {
    throw new Error(`--profile takes a server target or a ceiling: ${PROFILABLE.join(', ')}`);
  }
  return {
    mode,
    json: has('json'),
    only,
    seeded,
    tenants,
    cpuProf: has('cpu-prof'),
    profile,
    rounds: Math.floor(number('rounds', rounds)),
    duration: number('duration', duration),
    warmup: number('warmup', warmup),
    leadIn: number('lead-in', leadIn, { zero: true }),
    // Compared targets alternate in slices (see runRounds). The smoke run takes two, so that the
    // test suite runs the merging of slices; a profile takes one.
    slices: Math.floor(number('slices', mode === 'profile' ? 1 : smoke ? 2 : 4)),
    instances: Math.floor(number('instances', 2)),
    connections: Math.floor(number('connections', 50)),
    dbLatencyMs: has('db-latency') ? number('db-latency', 1) : undefined,
    ab: has('ab') || has('ab-env') ? { cwd: has('ab') ? path.resolve(String(flags.ab)) : ROOT, env: settings(flags['ab-env']) } : undefined,
  };
}

/** `A=1,B=2` → { A: '1', B: '2' } (server settings for an A/B run). */
function settings(text: string | boolean | undefined): Record<string, string> {
  if (typeof text !== 'string') return {};
  return Object.fromEntries(
    text
      .split(',')
      .filter(Boolean)
      .map((pair) => {
        const at = pair.indexOf('=');
        if (at <= 0) throw new Error(`--ab-env takes NAME=value pairs, not ${pair}`);
        return [pair.slice(0, at), pair.slice(at + 1)];
      }),
  );
}
