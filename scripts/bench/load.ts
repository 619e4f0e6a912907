/**
 * The load driver: autocannon on 127.0.0.1 against each target, a warm-up of every target, then
 * rounds in which the measurements alternate between targets, in forward then reverse order, so
 * that drift of the machine (other work, thermal) hits every target alike; targets compared with
 * each other alternate within a round too, in slices (see runRounds).
 *
 * Figures per target: the median over rounds of requests/s, p50, p95 and p99 latency, and of CPU
 * per request (node process, postgres); errors summed over warm-up, lead-ins and rounds (non-2xx
 * answers, socket errors, and answers whose body a load's verifyBody refused); peak RSS of the
 * target's node process (VmHWM from /proc).
 */
import { createRequire } from 'node:module';
import autocannon from 'autocannon';
import { cpuOf, type Log, type Processes, type Proc } from './processes.js';

// autocannon's own histogram codec (hdr-histogram-js, as it encodes RawResult.latencies): its
// summaries stop at p90, p97.5 and p99, and p95 is read from the decoded histogram.
const { decodeHist } = createRequire(import.meta.url)('autocannon/lib/histUtil.js') as typeof import('autocannon/lib/histUtil.js');

/**
 * A target's load: the process it measures and autocannon's options for one run of it. `options`
 * may be asynchronous (a load that needs a fresh token for each run); it is awaited before the
 * run's CPU is read, so what it asks of the target is not counted.
 */
export interface Load {
  name: string;
  proc: Proc;
  /** `seconds`: how long the run is to last (a load that supplies one token per request sizes its supply by it). */
  options(seconds: number): autocannon.Options | Promise<autocannon.Options>;
}

/** How long and how hard runRounds loads each target (seconds, except where said). */
export interface RoundSettings {
  rounds: number;
  /** Per measurement. */
  duration: number;
  /** Per target, before the first round. */
  warmup: number;
  /** Unmeasured load on a target right before each of its measurements (see runRounds). */
  leadIn: number;
  /** Each measurement is taken in this many slices, alternating with its group's (see runRounds). */
  slices: number;
  /** autocannon's connections. */
  connections: number;
}

/** What runRounds needs: its settings, where to log, whose memory to sample. */
export interface LoadContext {
  options: RoundSettings;
  log: Log;
  processes: Processes;
}

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
  p95: number;
  p99: number;
  requests: number;
  non2xx: number;
  socketErrors: number;
  /** 2xx answers whose body the load's verifyBody refused. */
  mismatches: number;
  timeouts: number;
  statusCodes: Record<string, number>;
}

export interface Figures {
  /** Median over rounds of CPU µs per request: the target's node process, its postgres processes. */
  nodeCpuUsPerRequest: number;
  pgCpuUsPerRequest: number;
  rps: number;
  rpsRuns: number[];
  p50Ms: number;
  p95Ms: number;
  p99Ms: number;
  p99MsRuns: number[];
  requests: number;
  errors: number;
  non2xx: number;
  socketErrors: number;
  mismatches: number;
  timeouts: number;
  warmupErrors: number;
  leadInErrors: number;
  statusCodes: Record<string, number>;
  peakRssMb: number;
  process: string;
}

export const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
export const round1 = (n: number) => Math.round(n * 10) / 10;

const sum = <T>(list: T[], pick: (item: T) => number) => list.reduce((total, item) => total + pick(item), 0);

/** A run's failed requests: non-2xx answers, socket errors, refused bodies. */
const errorsOf = (run: Run) => run.non2xx + run.socketErrors + run.mismatches;
/** What a run's errors were, for the log. */
const errorText = (run: Run) => `${JSON.stringify(run.statusCodes)} socket ${run.socketErrors}${run.mismatches ? ` body refused ${run.mismatches}` : ''}`;

/** Status code counts of several runs added up. */
function addStatusCodes(runs: Run[]): Record<string, number> {
  const statusCodes: Record<string, number> = {};
  for (const run of runs) for (const [code, count] of Object.entries(run.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + count;
  return statusCodes;
}

async function measure(load: Load, seconds: number, connections: number): Promise<Run> {
  const options = await load.options(seconds);
  const cpuBefore = cpuOf(load.proc);
  // autocannon stops at its first sample tick past `duration`: with the default tick of 1 s, a
  // lead-in shorter than a second ran for a whole second. Requests/s is computed over the time it really ran.
  // A load with `amount` (one fresh token per request) stops when its supply is used up instead.
  const raw = (await autocannon({ connections, duration: seconds, ...options, timeout: 10, sampleInt: 250, skipAggregateResult: true })) as unknown as autocannon.RawResult;
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
    p95: percentile([raw], 95),
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    socketErrors: result.errors,
    mismatches: result.mismatches,
    timeouts: result.timeouts,
    statusCodes,
  };
}

/** The `p`th percentile (ms) of the latencies of the runs' answers together (2xx only, as autocannon records them). */
function percentile(raws: autocannon.RawResult[], p: number): number {
  const histograms = raws.map((raw) => decodeHist(raw.latencies)).filter((h) => h !== null);
  const merged = histograms[0];
  if (!merged) return 0;
  for (const h of histograms.slice(1)) merged.add(h);
  return merged.getValueAtPercentile(p);
}

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
  const raws = parts.map((part) => part.raw);
  const merged = aggregate(raws);
  const requests = sum(parts, (part) => part.requests);
  const seconds = sum(parts, (part) => part.seconds);
  const perRequest = (pick: (part: Run) => number) => Math.round(sum(parts, (part) => pick(part) * part.requests) / Math.max(1, requests));
  return {
    nodeCpuUs: perRequest((part) => part.nodeCpuUs),
    pgCpuUs: perRequest((part) => part.pgCpuUs),
    rps: requests / seconds,
    seconds,
    p50: merged.latency.p50,
    p95: percentile(raws, 95),
    p99: merged.latency.p99,
    raw: parts[0]!.raw,
    requests,
    non2xx: sum(parts, (part) => part.non2xx),
    socketErrors: sum(parts, (part) => part.socketErrors),
    mismatches: sum(parts, (part) => part.mismatches),
    timeouts: sum(parts, (part) => part.timeouts),
    statusCodes: addStatusCodes(parts),
  };
}

/** A target's figures from its rounds, with the errors of its warm-up and lead-ins. */
function figuresOf(list: Run[], warmupErrors: number, leadInErrors: number, proc: Proc): Figures {
  const non2xx = sum(list, (run) => run.non2xx);
  const socketErrors = sum(list, (run) => run.socketErrors);
  const mismatches = sum(list, (run) => run.mismatches);
  return {
    nodeCpuUsPerRequest: median(list.map((run) => run.nodeCpuUs)),
    pgCpuUsPerRequest: median(list.map((run) => run.pgCpuUs)),
    rps: Math.round(median(list.map((run) => run.rps))),
    rpsRuns: list.map((run) => Math.round(run.rps)),
    p50Ms: median(list.map((run) => run.p50)),
    p95Ms: median(list.map((run) => run.p95)),
    p99Ms: median(list.map((run) => run.p99)),
    p99MsRuns: list.map((run) => run.p99),
    requests: sum(list, (run) => run.requests),
    errors: non2xx + socketErrors + mismatches + warmupErrors + leadInErrors,
    non2xx,
    socketErrors,
    mismatches,
    timeouts: sum(list, (run) => run.timeouts),
    warmupErrors,
    leadInErrors,
    statusCodes: addStatusCodes(list),
    peakRssMb: round1(proc.peakRssKb / 1024),
    process: proc.label,
  };
}

/**
 * Warm-up of every target, then the rounds. Each measurement follows a lead-in: `leadIn` seconds
 * of the same load on the same target, not counted (its errors are). Why: a node process, this
 * server's or oidc-provider's, that has idled for a while answers its first second of load well
 * below the seconds after it, and the rounds idle some targets far longer than others (the peer's
 * one process serves three targets; the ceiling waits for all the others). Without the lead-in,
 * those rounds measured the resumption, and only for some targets (docs/performance.md, Sixth pass).
 *
 * Loads compared with each other form a group (`groupOf`: ROUND_GROUP, or a target and its
 * @seeded twin), measured together: a lead-in of each, then each member's measurement in `slices`
 * slices that cycle A B C, A B C, …, so that each member idles as long between its slices as the
 * others: a process idle for a few seconds runs its first second slower (above). A mirrored order
 * (A B C, C B A, …) would give the members the same mean time but not the same idles. Measured one
 * after the other, a target and its seeded twin gave per-round ratios far apart: this machine's
 * speed moves from one window of a few seconds to the next. Slices of a second put the members of
 * a group through the same phases (docs/performance.md, Seventh pass).
 */
export async function runRounds(loads: Load[], { options, log, processes }: LoadContext, groupOf: (name: string) => string = (name) => name): Promise<Record<string, Figures>> {
  const runs = new Map<string, Run[]>(loads.map((load) => [load.name, []]));
  const warmupErrors = new Map<string, number>(loads.map((load) => [load.name, 0]));
  const leadInErrors = new Map<string, number>(loads.map((load) => [load.name, 0]));
  const byGroup = new Map<string, Load[]>();
  for (const load of loads) byGroup.set(groupOf(load.name), [...(byGroup.get(groupOf(load.name)) ?? []), load]);
  const groups = [...byGroup.values()];
  const sampler = setInterval(() => processes.sampleMemory(), 250);
  try {
    for (const load of loads) {
      log(`warm-up ${load.name} (${options.warmup} s)`);
      const warm = await measure(load, options.warmup, options.connections);
      warmupErrors.set(load.name, errorsOf(warm));
      if (errorsOf(warm) > 0) log(`  warm-up errors on ${load.name}: ${errorText(warm)}`);
    }
    for (let round = 0; round < options.rounds; round++) {
      const forward = round % 2 === 0;
      for (const group of forward ? groups : [...groups].reverse()) {
        const members = forward ? group : [...group].reverse();
        for (const load of members) {
          if (options.leadIn <= 0) continue;
          const lead = await measure(load, options.leadIn, options.connections);
          leadInErrors.set(load.name, leadInErrors.get(load.name)! + errorsOf(lead));
          if (errorsOf(lead) > 0) log(`  lead-in errors on ${load.name}: ${errorText(lead)}`);
        }
        // Slices cycle through the group, A B C, A B C, …: every member idles as long between
        // its slices as the others. The one-slice offset of their mean times flips in the
        // reverse rounds.
        const slices = new Map<string, Run[]>(members.map((load) => [load.name, []]));
        for (let slice = 0; slice < options.slices; slice++) {
          for (const load of members) {
            slices.get(load.name)!.push(await measure(load, options.duration / options.slices, options.connections));
          }
        }
        for (const load of members) {
          const parts = slices.get(load.name)!;
          const run = combine(parts);
          runs.get(load.name)!.push(run);
          log(
            `round ${round + 1}/${options.rounds} ${load.name.padEnd(26)} ${Math.round(run.rps).toString().padStart(6)} req/s  ` +
              `p50 ${run.p50} ms  p95 ${run.p95} ms  p99 ${run.p99} ms  errors ${errorsOf(run)}  CPU/req node ${run.nodeCpuUs} µs pg ${run.pgCpuUs} µs` +
              (parts.length > 1 ? `  (slices ${parts.map((part) => Math.round(part.rps)).join(' ')})` : ''),
          );
        }
      }
    }
  } finally {
    clearInterval(sampler);
  }
  processes.sampleMemory();
  const figures: Record<string, Figures> = {};
  for (const load of loads) figures[load.name] = figuresOf(runs.get(load.name)!, warmupErrors.get(load.name)!, leadInErrors.get(load.name)!, load.proc);
  return figures;
}
