/**
 * `npm run bench -- [--quick] [--json] [--smoke] [--only a,b] [--seeded N] [--profile TARGET]
 *                    [--rounds R] [--duration S] [--warmup S] [--lead-in S] [--slices K] [--instances N]
 *                    [--connections C]`
 *
 * Load benchmark of the real server process against two references on the same machine:
 *
 * - `register-bearer`   POST /client-registration/v0.17/register, Bearer (a JWT from the password
 *                       grant with apim:dcr:app_manage), a new clientName on every request;
 * - `register-basic`    the same with Basic authentication (the super admin);
 * - `register-existing` the same body every time: WSO2's idempotent "log in" (Bearer);
 * - `token-cc-jwt`, `token-cc-opaque`  client_credentials at /oauth2/token (client_secret_basic),
 *                       on a JWT app and on an opaque-token app;
 * - `ceiling`           scripts/bench/ceiling.ts: a bare Fastify app validating the same body with
 *                       the same schema and doing one INSERT into the same Postgres: the floor
 *                       cost of a durable registration;
 * - `peer-reg`, `peer-token`, `peer-token-jwt`  scripts/bench/peer.ts: oidc-provider's dynamic
 *                       registration and its client_credentials token endpoint, opaque tokens and
 *                       ES256 JWTs, on its in-memory store (no disk at all). token_vs_peer compares
 *                       like with like: the lower of JWT ÷ peer JWT and opaque ÷ peer opaque.
 *
 * Each target runs as its own process on its own fresh database: the server exactly as `npm start`
 * runs it (`node dist/server.js` after the build, fresh DCR_DATA_DIR, LOG_LEVEL=warn, default pool of
 * 10). After a warm-up of every target, measurements (autocannon, 50 connections, 127.0.0.1 only)
 * ALTERNATE between targets in rounds, in forward then reverse order, so that drift of the machine
 * (other work, thermal) hits every target alike; targets compared with each other alternate within
 * a round too, in slices of a second (ROUND_GROUP). Every measurement follows an unmeasured lead-in
 * of the same load on the same target (see runRounds). Figures per target: the median over rounds of
 * requests/s, p50 and p99 latency; errors summed over warm-up, lead-ins and rounds (non-2xx answers plus
 * socket errors); peak RSS of the target's node process (VmHWM from /proc/<pid>/status). Each
 * ratio is the median over rounds of the two targets' ratio within a round (see ratio()); the
 * ratios of the medians are reported too.
 *
 * --quick: everything in under 3 minutes. --json: the last stdout line is one JSON object
 * (ratios, checks and raw figures). --smoke: register-bearer only, a few seconds (the test suite's
 * check that the benchmark runs). --seeded N: seeds N apps with scripts/seed.ts into a fresh
 * database and measures register-bearer and token-cc there and on an empty one, with --instances N
 * servers on each database (2, see seededMode), all of a target's in one group.
 * --slices K: slices per measurement (4; 1 measures in one go).
 * --profile TARGET: runs that server target under `node --cpu-prof` and prints the top self-time
 * functions of the measured round (scripts/cpuprofile-top.ts).
 * --ab DIR and/or --ab-env NAME=value,...: A/B runs. Each selected server target also runs from the
 * checkout in DIR and/or with those settings, as `<target>@ab`, alternating with the current one
 * (with --profile: that server is the one profiled).
 * --db-latency MS: each server reaches its own PostgreSQL through a proxy adding MS of round-trip
 * time (scripts/bench/remote-db.ts, DATABASE_URL): a database on another host.
 * A missed target is printed as FAIL; the exit code stays 0.
 */
import autocannon from 'autocannon';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/fixtures/free-port.js';
import { summariseProfile } from './cpuprofile-top.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const ADMIN = 'admin';
const ADMIN_PASSWORD = 'bench-Admin-Pa55word';
const PEER_IAT = 'bench-initial-access-token-7f3a9c';
const PEER_CLIENT_SECRET = 'bench-peer-client-secret-0123456789abcdef';
const REGISTER_PATH = '/client-registration/v0.17/register';
const SERVER_KINDS = ['register-bearer', 'register-basic', 'register-existing', 'token-cc'] as const;
const ALL_LOADS = [
  'register-bearer',
  'register-basic',
  'register-existing',
  'token-cc-jwt',
  'token-cc-opaque',
  'ceiling',
  'peer-reg',
  'peer-token',
  'peer-token-jwt',
] as const;

/**
 * The order of the measurements in a round: each target next to what it is compared with
 * (register-bearer between the peer's /reg and register-basic, the ceiling one further, each token
 * target next to its peer). The machine's speed moved by a third and more within a minute, so targets
 * measured 30 s apart (the order above) could land in different phases; neighbours share one.
 * Forward then reverse rounds still give each target the same mean position.
 */
const ROUND_ORDER: readonly (typeof ALL_LOADS)[number][] = [
  'ceiling',
  'peer-reg',
  'register-bearer',
  'register-basic',
  'register-existing',
  'token-cc-opaque',
  'peer-token',
  'token-cc-jwt',
  'peer-token-jwt',
];

/**
 * Targets compared with each other are measured as one group, their slices alternating (see
 * runRounds): register-bearer with the peer's /reg, the ceiling and register-basic; each token
 * target with its peer. register-existing is compared with nothing.
 */
const ROUND_GROUP: Record<(typeof ALL_LOADS)[number], string> = {
  ceiling: 'register',
  'peer-reg': 'register',
  'register-bearer': 'register',
  'register-basic': 'register',
  'register-existing': 'register-existing',
  'token-cc-opaque': 'token-opaque',
  'peer-token': 'token-opaque',
  'token-cc-jwt': 'token-jwt',
  'peer-token-jwt': 'token-jwt',
};

// ---------------------------------------------------------------------------------------------
// Arguments

interface Args {
  mode: 'full' | 'quick' | 'smoke' | 'seeded' | 'profile';
  json: boolean;
  only: Set<string> | undefined;
  seeded: number | undefined;
  profile: string | undefined;
  rounds: number;
  duration: number;
  warmup: number;
  /** Seconds of unmeasured load on a target right before each of its measurements (see runRounds). */
  leadIn: number;
  /** Each measurement is taken in this many slices, alternating with its group's (see runRounds). */
  slices: number;
  /** --seeded: server instances per database, each measured on its own (see seededMode). */
  instances: number;
  connections: number;
  /** A/B: also run each selected server target from this checkout and/or with these settings. */
  ab: { cwd: string; env: Record<string, string> } | undefined;
  /** Servers reach their database through a proxy adding this round-trip time (ms), via DATABASE_URL. */
  dbLatencyMs: number | undefined;
}

function parseArgs(argv: string[]): Args {
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--')) throw new Error(`unexpected argument ${arg}`);
    const [name, inline] = arg.slice(2).split('=', 2) as [string, string | undefined];
    if (['quick', 'json', 'smoke'].includes(name)) flags.set(name, true);
    else if (['only', 'seeded', 'profile', 'rounds', 'duration', 'warmup', 'lead-in', 'slices', 'instances', 'connections', 'ab', 'ab-env', 'db-latency'].includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new Error(`--${name} needs a value`);
      flags.set(name, value);
    } else throw new Error(`unknown option --${name}`);
  }
  const number = (name: string, fallback: number, { zero = false } = {}) => {
    const value = flags.get(name);
    if (value === undefined) return fallback;
    const parsed = Number(String(value).replace(/_/g, ''));
    if (!Number.isFinite(parsed) || parsed < 0 || (parsed === 0 && !zero)) throw new Error(`--${name} must be a positive number${zero ? ' or 0' : ''}`);
    return parsed;
  };
  const quick = flags.has('quick');
  const smoke = flags.has('smoke');
  const seeded = flags.has('seeded') ? Math.floor(number('seeded', 1)) : undefined;
  const profile = flags.has('profile') ? String(flags.get('profile')) : undefined;
  const mode: Args['mode'] = smoke ? 'smoke' : profile ? 'profile' : seeded !== undefined ? 'seeded' : quick ? 'quick' : 'full';
  // Defaults per mode: [rounds, seconds per measurement, warm-up seconds per target, lead-in
  // seconds before each measurement]. Warm-up and first lead-in together are long enough for the
  // JIT: 2 s of warm-up alone left this server's first round a third slower than its second
  // (docs/performance.md); every target gets the same.
  // --quick takes three rounds of 4 s rather than two of 5 s: this machine has phases of several
  // seconds in which every function of a process runs 1.6x slower (profiled, docs/performance.md
  // "Fifth pass"), and the median of three outlasts one such round where the mean of two did not.
  // Five rounds of 2 s in the same time were noisier per round and no better in the median
  // (docs/performance.md, "Sixth pass").
  const defaults: Record<Args['mode'], [number, number, number, number]> = {
    full: [3, 10, 8, 1],
    quick: [3, 4, 2.5, 0.5],
    smoke: [1, 3, 1, 0],
    seeded: quick ? [3, 4, 2.5, 0.5] : [3, 10, 8, 1],
    // One measured round right after the warm-up: no target idles in between.
    profile: [1, quick ? 10 : 20, quick ? 3 : 5, 0],
  };
  const [rounds, duration, warmup, leadIn] = defaults[mode];
  const only = smoke
    ? new Set(['register-bearer'])
    : flags.has('only')
      ? new Set(
          String(flags.get('only'))
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
            .flatMap((s) => (s === 'token-cc' ? ['token-cc-jwt', 'token-cc-opaque'] : s === 'peer' ? ['peer-reg', 'peer-token', 'peer-token-jwt'] : [s])),
        )
      : undefined;
  for (const name of only ?? []) {
    if (!(ALL_LOADS as readonly string[]).includes(name)) throw new Error(`unknown target ${name} (targets: ${ALL_LOADS.join(', ')})`);
  }
  if (profile !== undefined && !(ALL_LOADS as readonly string[]).slice(0, 6).includes(profile)) {
    throw new Error(`--profile takes a server target or the ceiling: ${ALL_LOADS.slice(0, 6).join(', ')}`);
  }
  return {
    mode,
    json: flags.has('json'),
    only,
    seeded,
    profile,
    rounds: Math.floor(number('rounds', rounds)),
    duration: number('duration', duration),
    warmup: number('warmup', warmup),
    leadIn: number('lead-in', leadIn, { zero: true }),
    // Compared targets alternate in slices (a second each in --quick, see runRounds). The smoke
    // run takes two, so that the test suite runs the merging of slices; a profile takes one.
    slices: Math.floor(number('slices', mode === 'profile' ? 1 : mode === 'smoke' ? 2 : 4)),
    instances: Math.floor(number('instances', 2)),
    connections: Math.floor(number('connections', 50)),
    dbLatencyMs: flags.has('db-latency') ? number('db-latency', 1) : undefined,
    ab:
      flags.has('ab') || flags.has('ab-env')
        ? { cwd: flags.has('ab') ? path.resolve(String(flags.get('ab'))) : ROOT, env: settings(flags.get('ab-env')) }
        : undefined,
  };
}

/** `A=1,B=2` → { A: '1', B: '2' } (server settings for an A/B run). */
function settings(text: string | true | undefined): Record<string, string> {
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

// ---------------------------------------------------------------------------------------------
// Processes

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const benchStart = Date.now();
const log = (message: string) => process.stderr.write(`[bench ${((Date.now() - benchStart) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);

interface Proc {
  label: string;
  pid: number;
  port: number;
  base: string;
  child: ChildProcess;
  dataDir: string;
  /** The data folder of the postgres this target uses, when not its own (--db-latency). */
  pgDataDir?: string;
  exited: Promise<void>;
  running(): boolean;
  stdoutText(): string;
  tail(): string;
  peakRssKb: number;
}

const procs: Proc[] = [];

/** This process's environment minus what would change how a target is configured or loaded. */
function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAPJS|TS_NODE|DCR_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$|npm_)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Last `max` characters of a stream, so a chatty child never grows this process. */
function capture(stream: NodeJS.ReadableStream | null, max = 16_384): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
    if (text.length > max) text = text.slice(-max);
  });
  return () => text;
}

async function spawnProc(label: string, nodeArgs: string[], env: Record<string, string>, cwd = ROOT): Promise<Proc> {
  const port = await freePort();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), `dcr-bench-${label}-`));
  const child = spawn(process.execPath, nodeArgs, {
    cwd,
    // Its own process group, with the postgres it spawns: stopping the group reaps everything.
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cleanEnv({ PORT: String(port), HOST: '127.0.0.1', DCR_DATA_DIR: dataDir, CEILING_DATA_DIR: dataDir, ...env }),
  });
  if (child.pid === undefined) throw new Error(`${label}: the process did not start`);
  const stdoutText = capture(child.stdout);
  const stderrText = capture(child.stderr);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const proc: Proc = {
    label,
    pid: child.pid,
    port,
    base: `http://127.0.0.1:${port}`,
    child,
    dataDir,
    exited,
    running: () => child.exitCode === null && child.signalCode === null,
    stdoutText,
    tail: () => `--- stderr ---\n${stderrText().slice(-4000)}\n--- stdout ---\n${stdoutText().slice(-2000)}`,
    peakRssKb: 0,
  };
  procs.push(proc);
  return proc;
}

/** Waits until `ready()` holds; fails with the child's output if it exits or takes too long. */
async function waitFor(proc: Proc, ready: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running()) throw new Error(`${proc.label} exited before it was ready\n${proc.tail()}`);
    if (await ready().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${proc.label} was not ready within ${timeoutMs} ms\n${proc.tail()}`);
}

let dbLatencyMs: number | undefined;

/**
 * node's arguments for the server of the checkout in `cwd`, as its `npm start` runs it: its
 * `start` script after its `prestart` (the build of dist/), once per checkout. An older checkout
 * without a build ran TypeScript through tsx.
 */
const serverCommands = new Map<string, Promise<string[]>>();
function serverCommand(cwd: string): Promise<string[]> {
  let command = serverCommands.get(cwd);
  if (!command) {
    command = (async () => {
      const pkg = JSON.parse(await fs.readFile(path.join(cwd, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
      const prestart = pkg.scripts.prestart;
      if (prestart) {
        const [node, ...buildArgs] = prestart.split(/\s+/);
        if (node !== 'node') throw new Error(`${cwd}: prestart is not a node command: ${prestart}`);
        await new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, buildArgs, { cwd, stdio: ['ignore', 'ignore', 'inherit'] });
          child.once('error', reject);
          child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${cwd}: ${prestart} exited ${code}`))));
        });
      }
      // `exec node …` since the script execs node (README, "Stopping and restarting"); earlier trees: `node …`.
      const [node, ...args] = (pkg.scripts.start ?? '').replace(/^exec\s+/, '').split(/\s+/);
      if (node !== 'node') throw new Error(`${cwd}: start is not a node command: ${pkg.scripts.start}`);
      return args;
    })();
    serverCommands.set(cwd, command);
  }
  return command;
}

async function startServer(label: string, nodeFlags: string[] = [], dataDir?: string, cwd = ROOT, env: Record<string, string> = {}): Promise<Proc> {
  let remote: Proc | undefined;
  if (dbLatencyMs !== undefined && !dataDir) {
    // Its own PostgreSQL behind a delaying proxy, reached through DATABASE_URL.
    remote = await startScript(`${label}-db`, 'scripts/bench/remote-db.ts', { DB_LATENCY_MS: String(dbLatencyMs) });
    const url = /ready \d+ (\S+)/.exec(remote.stdoutText())![1]!;
    env = { ...env, DATABASE_URL: url, DCR_SECRET_KEY: randomBytes(32).toString('base64') };
  }
  const proc = await spawnProc(
    label,
    [...nodeFlags, ...(await serverCommand(cwd))],
    { DCR_ADMIN_PASSWORD: ADMIN_PASSWORD, LOG_LEVEL: 'warn', ...env, ...(dataDir ? { DCR_DATA_DIR: dataDir } : {}) },
    cwd,
  );
  if (remote) proc.pgDataDir = remote.dataDir;
  if (dataDir) {
    // spawnProc made a fresh folder; this server uses the given (seeded) one instead.
    await fs.rm(proc.dataDir, { recursive: true, force: true });
    proc.dataDir = dataDir;
  }
  await waitFor(proc, async () => {
    const res = await fetch(`${proc.base}/health/ready`, { signal: AbortSignal.timeout(2_000) });
    await res.arrayBuffer();
    return res.status === 200;
  });
  return proc;
}

/**
 * Another server on the embedded cluster of a running one, through DATABASE_URL, with its secret
 * key: a second instance of one deployment. Its PostgreSQL CPU is that cluster's.
 */
async function startInstance(label: string, first: Proc): Promise<Proc> {
  const pgDir = first.pgDataDir ?? first.dataDir;
  const port = (await fs.readFile(path.join(pgDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[3]!.trim();
  const password = (await fs.readFile(path.join(pgDir, 'pg-password'), 'utf8')).trim();
  const secretKey = (await fs.readFile(path.join(first.dataDir, 'secret.key'), 'utf8')).trim();
  const proc = await startServer(label, [], undefined, ROOT, {
    DATABASE_URL: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/dcr`,
    DCR_SECRET_KEY: secretKey,
  });
  proc.pgDataDir = pgDir;
  return proc;
}

async function startScript(label: string, script: string, env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<Proc> {
  const proc = await spawnProc(label, [...nodeFlags, '--import', 'tsx', script], env);
  await waitFor(proc, async () => proc.stdoutText().includes('ready '));
  return proc;
}

/** VmHWM (peak resident set) and VmRSS of a live process, in kB. */
function memoryOf(pid: number): { hwm: number; rss: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
    return { hwm: field('VmHWM'), rss: field('VmRSS') };
  } catch {
    return undefined;
  }
}

/**
 * CPU time (ms) used so far by a target: its node process, and its embedded postgres (the
 * postmaster named in <data dir>/pg/postmaster.pid and its children: postgres puts each backend in
 * a process group of its own, so the target's group does not hold them). From /proc/<pid>/stat
 * utime+stime, in clock ticks (USER_HZ: 100 on Linux).
 */
function cpuOf(proc: Proc): { node: number; pg: number } {
  const TICK_MS = 10;
  let postmaster = -1;
  try {
    postmaster = Number.parseInt(readFileSync(path.join(proc.pgDataDir ?? proc.dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
  } catch {
    // no embedded postgres (the peer)
  }
  let node = 0;
  let pg = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue;
    }
    // Fields after the parenthesised command name: state(3) ppid(4) ... utime(14) stime(15)
    // cutime(16) cstime(17).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const pid = Number(entry);
    const ms = (Number(fields[11]) + Number(fields[12])) * TICK_MS;
    if (pid === proc.pid) node = ms;
    else if (postmaster > 0 && pid === postmaster) {
      // With the CPU of its children that have exited (a backend the pool closed, an autovacuum
      // worker): the postmaster reaps them, and their time moves into its cutime and cstime.
      // Without it, a backend exiting during a measurement took its CPU out of the sum (-70 µs).
      pg += ms + (Number(fields[13]) + Number(fields[14])) * TICK_MS;
    } else if (postmaster > 0 && Number(fields[1]) === postmaster) pg += ms;
  }
  return { node, pg };
}

function sampleMemory(): void {
  for (const proc of procs) {
    const memory = memoryOf(proc.pid);
    if (memory) proc.peakRssKb = Math.max(proc.peakRssKb, memory.hwm, memory.rss);
  }
}

async function stopProc(proc: Proc): Promise<void> {
  sampleMemory();
  if (proc.running()) {
    proc.child.kill('SIGTERM');
    await Promise.race([proc.exited, sleep(20_000)]);
  }
  try {
    process.kill(-proc.pid, 'SIGKILL'); // whatever is left of its group (an orphaned postgres)
  } catch {
    // the group is already gone
  }
  await fs.rm(proc.dataDir, { recursive: true, force: true }).catch(() => {});
  procs.splice(procs.indexOf(proc), 1);
}

async function stopAll(): Promise<void> {
  await Promise.all([...procs].map((proc) => stopProc(proc)));
}

// ---------------------------------------------------------------------------------------------
// HTTP set-up calls

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
const ADMIN_BASIC = basic(ADMIN, ADMIN_PASSWORD);

async function call(url: string, init: RequestInit): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    body = { text };
  }
  return { status: res.status, body };
}

interface RegisteredApp {
  clientId: string;
  clientSecret: string;
}

async function registerApp(proc: Proc, body: Record<string, unknown>): Promise<RegisteredApp> {
  const res = await call(`${proc.base}${REGISTER_PATH}`, {
    method: 'POST',
    headers: { authorization: ADMIN_BASIC, 'content-type': 'application/json' },
    body: JSON.stringify({ owner: ADMIN, saasApp: true, ...body }),
  });
  if (res.status !== 200) throw new Error(`${proc.label}: registering ${String(body.clientName)}: ${res.status} ${JSON.stringify(res.body)}`);
  return { clientId: String(res.body.clientId), clientSecret: String(res.body.clientSecret) };
}

/** A JWT access token with apim:dcr:app_manage for the super admin (password grant). */
async function bearerToken(proc: Proc): Promise<string> {
  const app = await registerApp(proc, { clientName: 'bench_bearer_client', grantType: 'password client_credentials', tokenType: 'JWT' });
  const res = await call(`${proc.base}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: basic(app.clientId, app.clientSecret), 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'password', username: ADMIN, password: ADMIN_PASSWORD, scope: 'apim:dcr:app_manage' }).toString(),
  });
  const token = res.body.access_token;
  if (res.status !== 200 || typeof token !== 'string' || !String(res.body.scope).includes('apim:dcr:app_manage')) {
    throw new Error(`${proc.label}: password grant: ${res.status} ${JSON.stringify(res.body)}`);
  }
  return token;
}

// ---------------------------------------------------------------------------------------------
// Loads

interface Load {
  name: string;
  proc: Proc;
  options(): autocannon.Options;
}

let nameSeq = 0;
/** Request definitions whose JSON body gets a clientName (or client_name) never sent before. */
function uniqueNames(tag: string, field: string, fixed: Record<string, unknown>, headers: Record<string, string>, pathName: string): autocannon.Request[] {
  // Client names allow only [ a-zA-Z0-9._-].
  const run = `${tag.replace(/[^a-zA-Z0-9._-]/g, '_')}_${Date.now().toString(36)}_${nameSeq++}_`;
  let i = 0;
  return [
    {
      method: 'POST',
      path: pathName,
      headers: { ...headers, 'content-type': 'application/json' },
      setupRequest: (request) => ({ ...request, body: JSON.stringify({ ...fixed, [field]: `${run}${i++}` }) }),
    },
  ];
}

/** The registration body of the server targets and the ceiling (README's call, client_credentials only, like the peer's client). */
const REGISTER_FIXED = { owner: ADMIN, grantType: 'client_credentials', saasApp: true };

function registerLoad(name: string, proc: Proc, authorization: string | undefined): Load {
  return {
    name,
    proc,
    options: () => ({
      url: proc.base,
      requests: uniqueNames(name, 'clientName', REGISTER_FIXED, authorization ? { authorization } : {}, REGISTER_PATH),
    }),
  };
}

function tokenLoad(name: string, proc: Proc, pathName: string, authorization: string): Load {
  return {
    name,
    proc,
    options: () => ({
      url: `${proc.base}${pathName}`,
      method: 'POST',
      headers: { authorization, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    }),
  };
}

/** The loads of one server target kind on a running server (`suffix` tells copies apart). */
async function serverLoads(proc: Proc, kind: (typeof SERVER_KINDS)[number], suffix = ''): Promise<Load[]> {
  switch (kind) {
    case 'register-bearer':
      return [registerLoad(`register-bearer${suffix}`, proc, `Bearer ${await bearerToken(proc)}`)];
    case 'register-basic':
      return [registerLoad(`register-basic${suffix}`, proc, ADMIN_BASIC)];
    case 'register-existing': {
      const token = await bearerToken(proc);
      const body = JSON.stringify({ ...REGISTER_FIXED, clientName: 'bench_existing_app' });
      await registerApp(proc, { ...REGISTER_FIXED, clientName: 'bench_existing_app' });
      return [
        {
          name: `register-existing${suffix}`,
          proc,
          options: () => ({
            url: `${proc.base}${REGISTER_PATH}`,
            method: 'POST',
            headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
            body,
          }),
        },
      ];
    }
    case 'token-cc': {
      const jwt = await registerApp(proc, { clientName: 'bench_cc_jwt', grantType: 'client_credentials', tokenType: 'JWT' });
      const opaque = await registerApp(proc, { clientName: 'bench_cc_opaque', grantType: 'client_credentials' });
      return [
        tokenLoad(`token-cc-jwt${suffix}`, proc, '/oauth2/token', basic(jwt.clientId, jwt.clientSecret)),
        tokenLoad(`token-cc-opaque${suffix}`, proc, '/oauth2/token', basic(opaque.clientId, opaque.clientSecret)),
      ];
    }
  }
}

/**
 * One server process on a fresh database, running one target kind; with `ab`, the server of
 * another checkout (its folder) or other settings, its loads named `<target>@ab`.
 */
async function serverTarget(kind: (typeof SERVER_KINDS)[number], nodeFlags: string[] = [], ab?: { cwd: string; env: Record<string, string> }): Promise<Load[]> {
  if (!ab) return serverLoads(await startServer(kind, nodeFlags), kind);
  return serverLoads(await startServer(`${kind}@ab`, nodeFlags, undefined, ab.cwd, ab.env), kind, '@ab');
}

async function ceilingTarget(nodeFlags: string[] = []): Promise<Load[]> {
  const proc = await startScript('ceiling', 'scripts/bench/ceiling.ts', { DCR_DB_POOL_SIZE: '10' }, nodeFlags);
  return [registerLoad('ceiling', proc, undefined)];
}

async function peerTarget(): Promise<Load[]> {
  const proc = await startScript('peer', 'scripts/bench/peer.ts', { PEER_IAT, PEER_CLIENT_SECRET });
  const peerClient = {
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    token_endpoint_auth_method: 'client_secret_basic',
  };
  // Sanity: both endpoints answer 2xx before they are measured.
  const reg = await call(`${proc.base}/reg`, {
    method: 'POST',
    headers: { authorization: `Bearer ${PEER_IAT}`, 'content-type': 'application/json' },
    body: JSON.stringify({ ...peerClient, client_name: 'check' }),
  });
  if (reg.status !== 201) throw new Error(`peer /reg: ${reg.status} ${JSON.stringify(reg.body)}`);
  return [
    {
      name: 'peer-reg',
      proc,
      options: () => ({ url: proc.base, requests: uniqueNames('peer', 'client_name', peerClient, { authorization: `Bearer ${PEER_IAT}` }, '/reg') }),
    },
    tokenLoad('peer-token', proc, '/token', basic('bench-cc', PEER_CLIENT_SECRET)),
    tokenLoad('peer-token-jwt', proc, '/token', basic('bench-cc-jwt', PEER_CLIENT_SECRET)),
  ];
}

// ---------------------------------------------------------------------------------------------
// Measuring

interface Run {
  /** CPU time per answered request, in µs: the target's node process, and its postgres processes. */
  nodeCpuUs: number;
  pgCpuUs: number;
  rps: number;
  /** How long the load really ran. */
  seconds: number;
  /** autocannon's unaggregated result (its latency histogram), to merge slices exactly. */
  raw: autocannon.RawResult;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

async function measure(load: Load, seconds: number, connections: number): Promise<Run> {
  const cpuBefore = cpuOf(load.proc);
  // autocannon stops at its first sample tick past `duration`: with the default tick of 1 s, a
  // 0.5 s lead-in ran for a whole second. Requests/s is computed over the time it really ran.
  const raw = (await autocannon({ ...load.options(), connections, duration: seconds, timeout: 10, sampleInt: 250, skipAggregateResult: true })) as unknown as autocannon.RawResult;
  const cpuAfter = cpuOf(load.proc);
  const result = aggregate([raw]);
  const perRequest = (ms: number) => Math.round((ms * 1000) / Math.max(1, result.requests.total));
  const statusCodes: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {})) statusCodes[code] = count;
  return {
    nodeCpuUs: perRequest(cpuAfter.node - cpuBefore.node),
    pgCpuUs: perRequest(cpuAfter.pg - cpuBefore.pg),
    rps: result.requests.total / result.duration,
    seconds: result.duration,
    raw,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    socketErrors: result.errors,
    timeouts: result.timeouts,
    statusCodes,
  };
}

interface Figures {
  /** Median over rounds of CPU µs per request: the target's node process, its postgres processes. */
  nodeCpuUsPerRequest: number;
  pgCpuUsPerRequest: number;
  rps: number;
  rpsRuns: number[];
  p50Ms: number;
  p99Ms: number;
  p99MsRuns: number[];
  requests: number;
  errors: number;
  non2xx: number;
  socketErrors: number;
  timeouts: number;
  warmupErrors: number;
  leadInErrors: number;
  statusCodes: Record<string, number>;
  peakRssMb: number;
  process: string;
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round1 = (n: number) => Math.round(n * 10) / 10;

/**
 * autocannon's summary of one or more unaggregated runs: their latency histograms merged, so the
 * percentiles of a measurement taken in slices are those of all its requests. (autocannon adds
 * status counts into the first run's object: each gets a copy.)
 */
function aggregate(raws: autocannon.RawResult[]): autocannon.Result {
  const copies = raws.map((raw) => ({ ...raw, statusCodeStats: structuredClone(raw.statusCodeStats) }));
  return autocannon.aggregateResult(copies, { url: 'http://127.0.0.1' });
}

/**
 * One measurement taken in slices: requests, errors and CPU summed, requests/s over the time the
 * slices really ran, latency percentiles of all the slices' requests together.
 */
function combine(parts: Run[]): Run {
  if (parts.length === 1) return parts[0]!;
  const merged = aggregate(parts.map((part) => part.raw));
  const requests = parts.reduce((sum, part) => sum + part.requests, 0);
  const seconds = parts.reduce((sum, part) => sum + part.seconds, 0);
  const perRequest = (pick: (part: Run) => number) => Math.round(parts.reduce((sum, part) => sum + pick(part) * part.requests, 0) / Math.max(1, requests));
  const statusCodes: Record<string, number> = {};
  for (const part of parts) for (const [code, count] of Object.entries(part.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  return {
    nodeCpuUs: perRequest((part) => part.nodeCpuUs),
    pgCpuUs: perRequest((part) => part.pgCpuUs),
    rps: requests / seconds,
    seconds,
    p50: merged.latency.p50,
    p99: merged.latency.p99,
    raw: parts[0]!.raw,
    requests,
    non2xx: parts.reduce((sum, part) => sum + part.non2xx, 0),
    socketErrors: parts.reduce((sum, part) => sum + part.socketErrors, 0),
    timeouts: parts.reduce((sum, part) => sum + part.timeouts, 0),
    statusCodes,
  };
}

/**
 * Warm-up of every target, then the rounds. Each measurement follows a lead-in: `args.leadIn`
 * seconds of the same load on the same target, not counted (its errors are). Why: a node process,
 * this server's or oidc-provider's, that has idled for 45 s answers its first second of load at
 * 0.55-0.75 of the seconds after it, with three times the page faults of a first second after 8 s
 * of idle (which runs at 0.97). After a 0.5 s lead-in, that first second ran at 0.96-1.09
 * (docs/performance.md, Sixth pass). And the rounds idle some targets far longer than others: the
 * peer's one process serves three targets and never idled more than 16 s, but the ceiling idled
 * 64 s before its second round, register-bearer 48 s, register-basic 40 s, and the token server
 * 40 s before its third opaque round. Over fifteen --quick runs, those rounds ran at a median
 * 0.64, 0.73, 0.85 and 0.91 of the same target's round after a short idle. Without the lead-in,
 * they measured the resumption, and only for some targets.
 *
 * Loads compared with each other form a group (`groupOf`: ROUND_GROUP, or a target and its
 * @seeded twin), measured together: a lead-in of each, then each member's measurement in
 * `args.slices` slices that cycle A B C, A B C, …, so that each member idles as long between its
 * slices as the others: a process idle for a few seconds runs its first second slower (above).
 * A mirrored order (A B C, C B A, …) would give the members the same mean time but not the same
 * idles. Measured one after the other, 4 s each, a target and its seeded twin gave
 * per-round ratios from 0.76 to 1.41 over three runs: this machine's speed moves by a fifth and more
 * from one 4 s window to the next (the same process's CPU per JWT went 145 → 203 µs within one
 * round). Slices of a second put the members of a group through the same phases.
 */
async function runRounds(loads: Load[], args: Args, groupOf: (name: string) => string = (name) => name): Promise<Record<string, Figures>> {
  const runs = new Map<string, Run[]>(loads.map((load) => [load.name, []]));
  const warmupErrors = new Map<string, number>(loads.map((load) => [load.name, 0]));
  const leadInErrors = new Map<string, number>(loads.map((load) => [load.name, 0]));
  const byGroup = new Map<string, Load[]>();
  for (const load of loads) byGroup.set(groupOf(load.name), [...(byGroup.get(groupOf(load.name)) ?? []), load]);
  const groups = [...byGroup.values()];
  const sampler = setInterval(sampleMemory, 250);
  try {
    for (const load of loads) {
      log(`warm-up ${load.name} (${args.warmup} s)`);
      const warm = await measure(load, args.warmup, args.connections);
      warmupErrors.set(load.name, warm.non2xx + warm.socketErrors);
      if (warm.non2xx + warm.socketErrors > 0) log(`  warm-up errors on ${load.name}: ${JSON.stringify(warm.statusCodes)} socket ${warm.socketErrors}`);
    }
    for (let round = 0; round < args.rounds; round++) {
      const forward = round % 2 === 0;
      for (const group of forward ? groups : [...groups].reverse()) {
        const members = forward ? group : [...group].reverse();
        for (const load of members) {
          if (args.leadIn <= 0) continue;
          const lead = await measure(load, args.leadIn, args.connections);
          leadInErrors.set(load.name, leadInErrors.get(load.name)! + lead.non2xx + lead.socketErrors);
          if (lead.non2xx + lead.socketErrors > 0) log(`  lead-in errors on ${load.name}: ${JSON.stringify(lead.statusCodes)} socket ${lead.socketErrors}`);
        }
        // Slices cycle through the group, A B C, A B C, …: every member idles as long between
        // its slices as the others. The one-slice offset of their mean times flips in the
        // reverse rounds.
        const slices = new Map<string, Run[]>(members.map((load) => [load.name, []]));
        for (let slice = 0; slice < args.slices; slice++) {
          for (const load of members) {
            slices.get(load.name)!.push(await measure(load, args.duration / args.slices, args.connections));
          }
        }
        for (const load of members) {
          const parts = slices.get(load.name)!;
          const run = combine(parts);
          runs.get(load.name)!.push(run);
          log(
            `round ${round + 1}/${args.rounds} ${load.name.padEnd(26)} ${Math.round(run.rps).toString().padStart(6)} req/s  ` +
              `p50 ${run.p50} ms  p99 ${run.p99} ms  errors ${run.non2xx + run.socketErrors}  CPU/req node ${run.nodeCpuUs} µs pg ${run.pgCpuUs} µs` +
              (parts.length > 1 ? `  (slices ${parts.map((part) => Math.round(part.rps)).join(' ')})` : ''),
          );
        }
      }
    }
  } finally {
    clearInterval(sampler);
  }
  sampleMemory();
  const figures: Record<string, Figures> = {};
  for (const load of loads) {
    const list = runs.get(load.name)!;
    const statusCodes: Record<string, number> = {};
    for (const run of list) for (const [code, count] of Object.entries(run.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
    const non2xx = list.reduce((sum, run) => sum + run.non2xx, 0);
    const socketErrors = list.reduce((sum, run) => sum + run.socketErrors, 0);
    figures[load.name] = {
      nodeCpuUsPerRequest: median(list.map((run) => run.nodeCpuUs)),
      pgCpuUsPerRequest: median(list.map((run) => run.pgCpuUs)),
      rps: Math.round(median(list.map((run) => run.rps))),
      rpsRuns: list.map((run) => Math.round(run.rps)),
      p50Ms: median(list.map((run) => run.p50)),
      p99Ms: median(list.map((run) => run.p99)),
      p99MsRuns: list.map((run) => run.p99),
      requests: list.reduce((sum, run) => sum + run.requests, 0),
      errors: non2xx + socketErrors + warmupErrors.get(load.name)! + leadInErrors.get(load.name)!,
      non2xx,
      socketErrors,
      timeouts: list.reduce((sum, run) => sum + run.timeouts, 0),
      warmupErrors: warmupErrors.get(load.name)!,
      leadInErrors: leadInErrors.get(load.name)!,
      statusCodes,
      peakRssMb: round1(load.proc.peakRssKb / 1024),
      process: load.proc.label,
    };
  }
  return figures;
}

// ---------------------------------------------------------------------------------------------
// Report

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
 * round of one with a fast round of the other. Over eleven --quick runs both gave the same mean
 * for the token ratios, and this one a third less spread (docs/performance.md, Fifth pass).
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

function printTable(figures: Record<string, Figures>): void {
  const lines = [
    `${'target'.padEnd(28)}${'req/s'.padStart(7)}  ${'(rounds)'.padEnd(20)}${'p50 ms'.padStart(7)}${'p99 ms'.padStart(8)}${'errors'.padStart(8)}${'peak RSS MB'.padStart(13)}${'CPU µs/req node+pg'.padStart(20)}  process`,
  ];
  for (const [name, f] of Object.entries(figures)) {
    lines.push(
      `${name.padEnd(28)}${String(f.rps).padStart(7)}  ${`(${f.rpsRuns.join(', ')})`.padEnd(20)}${String(f.p50Ms).padStart(7)}${String(f.p99Ms).padStart(8)}` +
        `${String(f.errors).padStart(8)}${String(f.peakRssMb).padStart(13)}${`${f.nodeCpuUsPerRequest}+${f.pgCpuUsPerRequest}`.padStart(20)}  ${f.process}` +
        (f.errors > 0 ? `  status ${JSON.stringify(f.statusCodes)} socket ${f.socketErrors} warm-up ${f.warmupErrors} lead-in ${f.leadInErrors}` : ''),
    );
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function machine() {
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

// ---------------------------------------------------------------------------------------------
// Modes

async function standard(args: Args): Promise<Record<string, unknown>> {
  const wanted = (name: string) => !args.only || args.only.has(name);
  const starters: Promise<Load[]>[] = [];
  for (const kind of SERVER_KINDS) {
    const names = kind === 'token-cc' ? ['token-cc-jwt', 'token-cc-opaque'] : [kind];
    if (names.some(wanted)) {
      starters.push(serverTarget(kind));
      if (args.ab) starters.push(serverTarget(kind, [], args.ab));
    }
  }
  if (wanted('ceiling')) starters.push(ceilingTarget());
  if (wanted('peer-reg') || wanted('peer-token') || wanted('peer-token-jwt')) starters.push(peerTarget());
  log(`starting ${starters.length} target process(es)`);
  const loads = (await Promise.all(starters)).flat().filter((load) => wanted(load.name.replace('@ab', '')));
  const rank = (name: string) => ROUND_ORDER.indexOf(name.replace('@ab', '') as (typeof ALL_LOADS)[number]) * 2 + (name.endsWith('@ab') ? 1 : 0);
  loads.sort((a, b) => rank(a.name) - rank(b.name));
  const figures = await runRounds(loads, args, (name) => ROUND_GROUP[name.replace('@ab', '') as (typeof ALL_LOADS)[number]]);
  await stopAll();

  const f = (name: string) => figures[name];
  const serverRss = Object.values(figures)
    .filter((x) => !['ceiling', 'peer'].includes(x.process) && !x.process.endsWith('@ab'))
    .map((x) => x.peakRssMb);
  const totalErrors = Object.values(figures).reduce((sum, x) => sum + x.errors, 0);
  const ratios = {
    register_vs_peer: ratio(f('register-bearer'), f('peer-reg')),
    register_vs_ceiling: ratio(f('register-bearer'), f('ceiling')),
    basic_vs_bearer: ratio(f('register-basic'), f('register-bearer')),
    // Like for like: JWT against the peer's JWT, opaque against its opaque; the target is on both.
    token_vs_peer: minOf(ratio(f('token-cc-jwt'), f('peer-token-jwt')), ratio(f('token-cc-opaque'), f('peer-token'))),
    token_jwt_vs_peer_jwt: ratio(f('token-cc-jwt'), f('peer-token-jwt')),
    token_opaque_vs_peer: ratio(f('token-cc-opaque'), f('peer-token')),
    existing_vs_bearer: ratio(f('register-existing'), f('register-bearer')),
  };
  const ratiosOfMedians = {
    register_vs_peer: ratioOfMedians(f('register-bearer'), f('peer-reg')),
    register_vs_ceiling: ratioOfMedians(f('register-bearer'), f('ceiling')),
    basic_vs_bearer: ratioOfMedians(f('register-basic'), f('register-bearer')),
    token_jwt_vs_peer_jwt: ratioOfMedians(f('token-cc-jwt'), f('peer-token-jwt')),
    token_opaque_vs_peer: ratioOfMedians(f('token-cc-opaque'), f('peer-token')),
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
    atLeast('token_vs_peer', ratios.token_vs_peer, 1.5),
    { name: 'p99 register-bearer ms', value: p99, target: '<= 50', pass: p99 === null ? null : p99 <= 50 },
    { name: 'errors (all targets)', value: totalErrors, target: '= 0', pass: totalErrors === 0 },
    { name: 'peak RSS MB (server processes)', value: peakRss, target: '<= 200', pass: peakRss === null ? null : peakRss <= 200 },
  ];

  process.stdout.write('\n');
  printTable(figures);
  process.stdout.write('\nratios (requests/s; median over rounds of the ratio within a round):\n');
  for (const [name, value] of Object.entries({ ...ratios, ...abRatios })) process.stdout.write(`  ${name.padEnd(22)} ${value ?? 'n/a'}\n`);
  process.stdout.write(
    `  (ratios of the medians: ${Object.entries(ratiosOfMedians)
      .map(([name, value]) => `${name} ${value ?? 'n/a'}`)
      .join(', ')})\n`,
  );
  process.stdout.write('\ntargets:\n');
  for (const check of checks) {
    const verdict = check.pass === null ? 'SKIP' : check.pass ? 'PASS' : 'FAIL';
    process.stdout.write(`  ${verdict}  ${check.name.padEnd(32)} ${String(check.value ?? 'n/a').padStart(8)}  (target ${check.target})\n`);
  }
  process.stdout.write(
    '\nnote: the peer (oidc-provider) keeps everything in process memory, in an LRU of 1,000 entries: it does not even write to disk.\n',
  );
  return { ...ratios, ...(args.ab ? { ab: { ...args.ab, ratios: abRatios } } : {}), ratiosOfMedians, checks, targets: figures };
}

async function seededMode(args: Args): Promise<Record<string, unknown>> {
  const n = args.seeded!;
  const seededDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-bench-seeded-'));
  log(`seeding ${n.toLocaleString('en')} apps into ${seededDir} (scripts/seed.ts)`);
  const started = Date.now();
  let seedOut: string;
  try {
    seedOut = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/seed.ts', String(n), '--json'], {
        cwd: ROOT,
        env: cleanEnv({ DCR_DATA_DIR: seededDir }),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const out = capture(child.stdout);
      child.once('exit', (code) => (code === 0 ? resolve(out()) : reject(new Error(`seed exited ${code}: ${out()}`))));
    });
  } catch (err) {
    await fs.rm(seededDir, { recursive: true, force: true });
    throw err;
  }
  const seed = JSON.parse(seedOut.trim().split('\n').pop()!) as Record<string, number>;
  const seedWallSeconds = round1((Date.now() - started) / 1000);
  log(`seeded in ${seed.seconds} s of inserts (${seedWallSeconds} s with initdb and the cluster's start and stop); database ${Math.round(seed.databaseBytes! / 1024 / 1024)} MB`);

  // One server per database on its embedded cluster, and args.instances - 1 more on each reaching
  // the same cluster through DATABASE_URL, as instances of one deployment do. Two processes of one
  // build differ by up to ±15 % in Node CPU for one path and not another (one seeded run: 10 %
  // more per opaque token in the seeded server, in all five rounds, and 1 % per JWT): each side's
  // figure is the sum over its instances, so no one process decides it.
  const [emptyProc, seededProc] = await Promise.all([startServer('empty'), startServer('seeded', [], seededDir)]);
  const sides = [
    { procs: [emptyProc], suffix: '' },
    { procs: [seededProc], suffix: '@seeded' },
  ];
  for (let i = 2; i <= args.instances; i++) {
    const more = await Promise.all(sides.map((side) => startInstance(`${side.procs[0]!.label}#${i}`, side.procs[0]!)));
    sides.forEach((side, n) => side.procs.push(more[n]!));
  }
  const loads: Load[] = [];
  for (let i = 0; i < args.instances; i++) {
    for (const side of sides) {
      const suffix = `${side.suffix}${i > 0 ? `#${i + 1}` : ''}`;
      loads.push(...(await serverLoads(side.procs[i]!, 'register-bearer', suffix)), ...(await serverLoads(side.procs[i]!, 'token-cc', suffix)));
    }
  }
  // A target's instances on both databases form one group, alternating in slices (args.slices):
  // register-bearer, register-bearer@seeded, register-bearer#2, register-bearer@seeded#2, ...
  const target = (name: string) => name.replace(/@seeded|#\d+$/g, '');
  loads.sort((a, b) => target(a.name).localeCompare(target(b.name)));
  const figures = await runRounds(loads, args, target);
  const sizes = await databaseSizes(seededProc);
  await stopAll();

  const instancesOf = (name: string) => Object.keys(figures).filter((key) => key.replace(/#\d+$/, '') === name).map((key) => figures[key]!);
  const sideRatio = (name: string) => ratioOfSums(instancesOf(`${name}@seeded`), instancesOf(name));
  const ratios = {
    register_seeded_vs_empty: sideRatio('register-bearer'),
    token_jwt_seeded_vs_empty: sideRatio('token-cc-jwt'),
    token_opaque_seeded_vs_empty: sideRatio('token-cc-opaque'),
  };
  process.stdout.write('\n');
  printTable(figures);
  process.stdout.write(
    `\nseed: ${n.toLocaleString('en')} apps in ${seed.seconds} s (${seed.rowsPerSecond!.toLocaleString('en')} rows/s; ` +
      `${seedWallSeconds} s wall with the cluster's initdb); database ${Math.round(seed.databaseBytes! / 1024 / 1024)} MB after seeding, ` +
      `${sizes ? Math.round(sizes.databaseBytes / 1024 / 1024) : '?'} MB after the run (${sizes?.applications.toLocaleString('en') ?? '?'} apps)\n`,
  );
  for (const [name, value] of Object.entries(ratios)) process.stdout.write(`  ${name.padEnd(30)} ${value ?? 'n/a'}\n`);
  return { seed: { ...seed, wallSeconds: seedWallSeconds, afterRun: sizes }, ...ratios, instances: args.instances, targets: figures };
}

/** pg_database_size and the app count of a running server's embedded database (read via psql-free pg). */
async function databaseSizes(proc: Proc): Promise<{ databaseBytes: number; applications: number } | undefined> {
  try {
    const { default: pg } = await import('pg');
    const lines = (await fs.readFile(path.join(proc.dataDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n');
    const password = (await fs.readFile(path.join(proc.dataDir, 'pg-password'), 'utf8')).trim();
    const client = new pg.Client({ connectionString: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${lines[3]}/dcr` });
    await client.connect();
    try {
      const { rows } = await client.query<{ db: string; n: string }>(
        'SELECT pg_database_size(current_database()) AS db, (SELECT count(*) FROM applications) AS n',
      );
      return { databaseBytes: Number(rows[0]!.db), applications: Number(rows[0]!.n) };
    } finally {
      await client.end();
    }
  } catch (err) {
    log(`could not read the database size: ${(err as Error).message}`);
    return undefined;
  }
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  dbLatencyMs = args.dbLatencyMs;
  const startedAt = Date.now();
  const before = machine();
  log(
    `mode ${args.mode}: ${args.rounds} round(s) of ${args.duration} s per target after a ${args.warmup} s warm-up, ` +
      `each after a ${args.leadIn} s lead-in${args.slices > 1 ? ` and in ${args.slices} slices` : ''}, ` +
      `${args.connections} connections; ${before.cpus} CPUs, load average ${before.loadAverage.join(' ')}`,
  );
  let out: Record<string, unknown>;
  if (args.mode === 'seeded') out = await seededMode(args);
  else if (args.mode === 'profile') out = await profileMode(args);
  else out = await standard(args);
  const after = machine();
  const result = {
    mode: args.mode,
    ...out,
    settings: { connections: args.connections, rounds: args.rounds, durationSeconds: args.duration, warmupSeconds: args.warmup, leadInSeconds: args.leadIn, slices: args.slices },
    machine: { ...before, loadAverageAfter: after.loadAverage },
    wallSeconds: round1((Date.now() - startedAt) / 1000),
  };
  process.stdout.write(`\nwall time ${result.wallSeconds} s; load average before ${before.loadAverage.join(' ')}, after ${after.loadAverage.join(' ')}\n`);
  if (args.json) process.stdout.write(`${JSON.stringify(result)}\n`);
}

async function profileMode(args: Args): Promise<Record<string, unknown>> {
  const target = args.profile!;
  const kind = target.startsWith('token-cc') ? 'token-cc' : (target as (typeof SERVER_KINDS)[number]);
  const profileDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-bench-profile-'));
  const spawned = Date.now();
  const flags = ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  // With --ab, the server of that checkout (or with those settings) is the one profiled.
  const loads = (target === 'ceiling' ? await ceilingTarget(flags) : await serverTarget(kind, flags, args.ab)).filter(
    (load) => load.name.replace('@ab', '') === target,
  );
  // The summary covers the measured round only: start-up (module loading, schema compilation)
  // and the warm-up are left out.
  const warmupEnds = Date.now() + args.warmup * 1000;
  const figures = await runRounds(loads, args);
  await stopAll();
  // Node writes one profile per thread (tsx's loader runs in a worker): the main thread's is the largest.
  const files = await Promise.all(
    (await fs.readdir(profileDir)).filter((file) => file.endsWith('.cpuprofile')).map(async (file) => ({ file: path.join(profileDir, file), size: (await fs.stat(path.join(profileDir, file))).size })),
  );
  if (files.length === 0) throw new Error(`no .cpuprofile was written in ${profileDir}`);
  const file = files.sort((a, b) => b.size - a.size)[0]!.file;
  const summary = summariseProfile(JSON.parse(await fs.readFile(file, 'utf8')), 25, { fromUs: (warmupEnds - spawned) * 1000 });
  printTable(figures);
  process.stdout.write(`\nprofile: ${file}\n${summary.text}\n`);
  return { targets: figures, profile: { file, busyMs: summary.busyMs, top: summary.top, groups: summary.groups } };
}

process.on('SIGINT', () => {
  void stopAll().finally(() => process.exit(130));
});

try {
  await main();
  // Every target is stopped; idle keep-alive sockets of the set-up calls would hold the exit up.
  process.exit(0);
} catch (err) {
  await stopAll();
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
