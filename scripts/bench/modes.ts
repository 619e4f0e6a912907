/**
 * The benchmark's runs: the standard one (every selected target, and its A/B twin), the seeded one
 * (--seeded), the many-tenant one (--tenants) and the profiled one (--profile). Each starts its processes, measures them
 * (./load.ts), stops them, and reports (./report.ts); runBench adds what every JSON line carries.
 */
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { summariseProfile } from '../cpuprofile-top.js';
import { round1, runRounds, type Load } from './load.js';
import { timingText, type BenchOptions } from './options.js';
import type { Log, Processes } from './processes.js';
import { machine, printTable, seededReport, standardReport, tenantsReport, type ProfileSummary } from './report.js';
import { databaseSizes, seedDatabase, seedTenants, type Servers } from './servers.js';
import {
  ceilingTarget,
  KIND_TARGETS,
  kindOf,
  PEER_LOADS,
  peerTarget,
  ROUND_GROUP,
  ROUND_ORDER,
  SERVER_KINDS,
  serverLoads,
  serverTarget,
  signCeilingTarget,
  tenantLoads,
  type ServerKind,
  type TargetName,
} from './targets.js';

/** Everything a run needs, passed down instead of kept in globals. */
export interface Bench {
  options: BenchOptions;
  log: Log;
  processes: Processes;
  servers: Servers;
}

const withoutAb = (name: string) => name.replace('@ab', '') as TargetName;

async function standard(bench: Bench): Promise<Record<string, unknown>> {
  const { options, servers } = bench;
  const wanted = (name: string) => !options.only || options.only.has(name);
  const starters: Promise<Load[]>[] = [];
  for (const kind of SERVER_KINDS) {
    if (KIND_TARGETS[kind].some(wanted)) {
      starters.push(serverTarget(servers, kind));
      if (options.ab) starters.push(serverTarget(servers, kind, [], options.ab, bench.log));
    }
  }
  if (wanted('ceiling')) starters.push(ceilingTarget(servers));
  if (wanted('sign-ceiling')) starters.push(signCeilingTarget(servers));
  if (PEER_LOADS.some(wanted)) starters.push(peerTarget(servers));
  bench.log(`starting ${starters.length} target process(es)`);
  const loads = (await Promise.all(starters)).flat().filter((load) => wanted(withoutAb(load.name)));
  const rank = (name: string) => ROUND_ORDER.indexOf(withoutAb(name)) * 2 + (name.endsWith('@ab') ? 1 : 0);
  loads.sort((a, b) => rank(a.name) - rank(b.name));
  const figures = await runRounds(loads, bench, (name) => ROUND_GROUP[withoutAb(name)]);
  await bench.processes.stopAll();
  return standardReport(figures, options.ab);
}

async function seededMode(bench: Bench): Promise<Record<string, unknown>> {
  const { options, servers, log } = bench;
  const n = options.seeded!;
  const seeded = await seedDatabase(n, log);
  const { seed } = seeded;
  const wallSeconds = round1(seeded.wallMs / 1000);
  log(`seeded in ${seed.seconds} s of inserts (${wallSeconds} s with initdb and the cluster's start and stop); database ${Math.round(seed.databaseBytes! / 1024 / 1024)} MB`);

  // One server per database on its embedded cluster, and instances - 1 more on each reaching the
  // same cluster through DATABASE_URL, as instances of one deployment do. Two processes of one
  // build differ in Node CPU for one path and not another (docs/performance.md, Seventh pass):
  // each side's figure is the sum over its instances, so no one process decides it.
  const [emptyProc, seededProc] = await Promise.all([servers.server('empty'), servers.server('seeded', { dataDir: seeded.dir })]);
  const sides = [
    { procs: [emptyProc], suffix: '' },
    { procs: [seededProc], suffix: '@seeded' },
  ];
  for (let i = 2; i <= options.instances; i++) {
    const more = await Promise.all(sides.map((side) => servers.instance(`${side.procs[0]!.label}#${i}`, side.procs[0]!)));
    sides.forEach((side, n) => side.procs.push(more[n]!));
  }
  const loads: Load[] = [];
  for (let i = 0; i < options.instances; i++) {
    for (const side of sides) {
      const suffix = `${side.suffix}${i > 0 ? `#${i + 1}` : ''}`;
      const kinds: ServerKind[] = ['register-bearer', 'token-cc'];
      for (const kind of kinds) loads.push(...(await serverLoads(side.procs[i]!, kind, suffix)));
    }
  }
  // A target's instances on both databases form one group, alternating in slices:
  // register-bearer, register-bearer@seeded, register-bearer#2, register-bearer@seeded#2, ...
  const target = (name: string) => name.replace(/@seeded|#\d+$/g, '');
  loads.sort((a, b) => target(a.name).localeCompare(target(b.name)));
  const figures = await runRounds(loads, bench, target);
  const sizes = await databaseSizes(seededProc, log);
  await bench.processes.stopAll();
  return seededReport(figures, { n, instances: options.instances, seed, wallSeconds, sizes });
}

/**
 * --tenants N: one database seeded with N tenants (scripts/bench/seed-tenants.ts) and one with a
 * single tenant, seeded alike, each served by one server process as `npm start` runs it; the same
 * three loads on each (targets.ts tenantLoads: every request to the next tenant in turn), a target
 * and its @single twin in one group, alternating in slices. Both servers remember a verified
 * credential for an hour (DCR_AUTH_CACHE_TTL=3600, its maximum; 300 s by default): the sweep over
 * 10,000 admins' first sign-ins alone takes longer than 300 s (a scrypt each), and with the default
 * its first entries would expire before the rounds (docs/performance.md, "Tenants").
 */
async function tenantsMode(bench: Bench): Promise<Record<string, unknown>> {
  const { options, servers, log } = bench;
  const n = options.tenants!;
  const [many, single] = await Promise.all([seedTenants(n, log), seedTenants(1, log)]);
  for (const seeded of [many, single]) {
    log(`seeded ${seeded.seed.tenants} tenant(s) in ${seeded.seed.seconds} s (${round1(seeded.wallMs / 1000)} s with initdb); database ${Math.round(seeded.seed.databaseBytes! / 1024 / 1024)} MB`);
  }
  const env = { DCR_AUTH_CACHE_TTL: '3600' };
  const profileDirs = options.cpuProf
    ? await Promise.all(['many', 'single'].map((side) => fs.mkdtemp(path.join(os.tmpdir(), `dcr-bench-profile-tenants-${side}-`))))
    : undefined;
  const flags = (i: number) => (profileDirs ? ['--cpu-prof', `--cpu-prof-dir=${profileDirs[i]}`] : []);
  const spawned = Date.now();
  const [manyProc, singleProc] = await Promise.all([
    servers.server(`tenants${n}`, { dataDir: many.dir, env, nodeFlags: flags(0) }),
    servers.server('tenants1', { dataDir: single.dir, env, nodeFlags: flags(1) }),
  ]);
  bench.processes.sampleMemory();
  const startRssMb = { many: round1(manyProc.peakRssKb / 1024), single: round1(singleProc.peakRssKb / 1024) };
  // One sweep at a time: each uses the machine's two cores.
  const singleSide = await tenantLoads(singleProc, single.clients, '@single', log);
  const manySide = await tenantLoads(manyProc, many.clients, '', log);
  log(`${manyProc.label}: swept ${n.toLocaleString('en')} tenants: admins' first sign-ins in ${manySide.sweep.registerSeconds} s, then first tokens in ${manySide.sweep.tokenSeconds} s`);
  bench.processes.sampleMemory();
  const sweptRssMb = { many: round1(manyProc.peakRssKb / 1024), single: round1(singleProc.peakRssKb / 1024) };
  const loads = [...manySide.loads, ...singleSide.loads];
  const target = (name: string) => name.replace('@single', '');
  loads.sort((a, b) => target(a.name).localeCompare(target(b.name)));
  const roundsFrom = Date.now();
  const figures = await runRounds(loads, bench, target);
  await bench.processes.stopAll();
  const profiles = profileDirs && (await Promise.all(profileDirs.map((dir) => profileSummary(dir, (roundsFrom - spawned) * 1000))));
  return tenantsReport(figures, {
    n,
    seed: { many: many.seed, single: single.seed, wallSeconds: round1(many.wallMs / 1000) },
    sweep: { many: manySide.sweep, single: singleSide.sweep },
    rssMb: {
      many: { afterStart: startRssMb.many, afterSweep: sweptRssMb.many, peak: round1(manyProc.peakRssKb / 1024) },
      single: { afterStart: startRssMb.single, afterSweep: sweptRssMb.single, peak: round1(singleProc.peakRssKb / 1024) },
    },
    ...(profiles ? { profiles: { many: profiles[0]!, single: profiles[1]! } } : {}),
  });
}

/** The main thread's profile in `dir` (the largest .cpuprofile), its top functions from `fromUs` on. */
async function profileSummary(dir: string, fromUs: number): Promise<ProfileSummary> {
  const files = await Promise.all(
    (await fs.readdir(dir)).filter((file) => file.endsWith('.cpuprofile')).map(async (file) => ({ file: path.join(dir, file), size: (await fs.stat(path.join(dir, file))).size })),
  );
  if (files.length === 0) throw new Error(`no .cpuprofile was written in ${dir}`);
  const file = files.sort((a, b) => b.size - a.size)[0]!.file;
  const summary = summariseProfile(JSON.parse(await fs.readFile(file, 'utf8')), 25, { fromUs });
  return { file, text: summary.text, busyMs: summary.busyMs, top: summary.top, groups: summary.groups };
}

async function profileMode(bench: Bench): Promise<Record<string, unknown>> {
  const { options, servers } = bench;
  const target = options.profile! as TargetName;
  const kind = kindOf(target);
  const profileDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-bench-profile-'));
  const spawned = Date.now();
  const flags = ['--cpu-prof', `--cpu-prof-dir=${profileDir}`];
  // With --ab, the server of that checkout (or with those settings) is the one profiled.
  const started =
    target === 'ceiling'
      ? ceilingTarget(servers, flags)
      : target === 'sign-ceiling'
        ? signCeilingTarget(servers, flags)
        : serverTarget(servers, kind!, flags, options.ab, bench.log);
  const loads = (await started).filter(
    (load) => withoutAb(load.name) === target,
  );
  // The summary covers the measured round only: start-up (module loading, schema compilation)
  // and the warm-up are left out.
  const warmupEnds = Date.now() + options.warmup * 1000;
  const figures = await runRounds(loads, bench);
  await bench.processes.stopAll();
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

/** The run `bench.options` asks for, its wall time and machine last; the JSON line with --json. */
export async function runBench(bench: Bench): Promise<void> {
  const { options } = bench;
  const startedAt = Date.now();
  const before = machine();
  bench.log(
    `mode ${options.mode}: ${timingText(options)}${options.slices > 1 ? ` and in ${options.slices} slices` : ''}, ` +
      `${options.connections} connections; ${before.cpus} CPUs, load average ${before.loadAverage.join(' ')}`,
  );
  const run = options.mode === 'tenants' ? tenantsMode : options.mode === 'seeded' ? seededMode : options.mode === 'profile' ? profileMode : standard;
  const out = await run(bench);
  const after = machine();
  const result = {
    mode: options.mode,
    ...out,
    settings: {
      connections: options.connections,
      rounds: options.rounds,
      durationSeconds: options.duration,
      warmupSeconds: options.warmup,
      leadInSeconds: options.leadIn,
      slices: options.slices,
    },
    machine: { ...before, loadAverageAfter: after.loadAverage },
    wallSeconds: round1((Date.now() - startedAt) / 1000),
  };
  process.stdout.write(`\nwall time ${result.wallSeconds} s; load average before ${before.loadAverage.join(' ')}, after ${after.loadAverage.join(' ')}\n`);
  if (options.json) process.stdout.write(`${JSON.stringify(result)}\n`);
}
