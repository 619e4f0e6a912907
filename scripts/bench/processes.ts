/**
 * The child processes of the benchmark (the servers under test, the ceiling, the peer, the
 * proxied databases of --db-latency) and what it reads of them in /proc: CPU time and peak memory.
 * One Processes object owns them all, so that a failure or Ctrl-C stops every one.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/fixtures/free-port.js';

/** The checkout this benchmark belongs to: where its servers, scripts and seeding run. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export type Log = (message: string) => void;

/** Progress on stderr, stamped with the seconds since `start`: stdout is the report's. */
export function logger(start = Date.now()): Log {
  return (message) => process.stderr.write(`[bench ${((Date.now() - start) / 1000).toFixed(1).padStart(5)} s] ${message}\n`);
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface Proc {
  label: string;
  pid: number;
  port: number;
  base: string;
  child: ChildProcess;
  dataDir: string;
  /** The data folder of the postgres this target uses, when not its own (--db-latency, a second instance). */
  pgDataDir?: string;
  exited: Promise<void>;
  running(): boolean;
  stdoutText(): string;
  tail(): string;
  peakRssKb: number;
}

/** This process's environment minus what would change how a target is configured or loaded. */
export function cleanEnv(extra: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value === undefined) continue;
    if (/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAPJS|TS_NODE|DCR_|DATABASE_URL$|PORT$|HOST$|LOG_LEVEL$|npm_)/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Last `max` characters of a stream, so a chatty child never grows this process. */
export function capture(stream: NodeJS.ReadableStream | null, max = 16_384): () => string {
  let text = '';
  stream?.setEncoding('utf8');
  stream?.on('data', (chunk: string) => {
    text += chunk;
    if (text.length > max) text = text.slice(-max);
  });
  return () => text;
}

/** The running children: each on its own port and in a fresh temporary folder, until stopped. */
export class Processes {
  readonly #running: Proc[] = [];

  async spawn(label: string, nodeArgs: string[], env: Record<string, string>, cwd = ROOT): Promise<Proc> {
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
    this.#running.push(proc);
    return proc;
  }

  /** Raises each running child's peakRssKb to its current peak resident set. */
  sampleMemory(): void {
    for (const proc of this.#running) {
      const memory = memoryOf(proc.pid);
      if (memory) proc.peakRssKb = Math.max(proc.peakRssKb, memory.hwm, memory.rss);
    }
  }

  async stop(proc: Proc): Promise<void> {
    this.sampleMemory();
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
    this.#running.splice(this.#running.indexOf(proc), 1);
  }

  async stopAll(): Promise<void> {
    await Promise.all([...this.#running].map((proc) => this.stop(proc)));
  }
}

/** Waits until `ready()` holds; fails with the child's output if it exits or takes too long. */
export async function waitFor(proc: Proc, ready: () => Promise<boolean>, timeoutMs = 90_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!proc.running()) throw new Error(`${proc.label} exited before it was ready\n${proc.tail()}`);
    if (await ready().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${proc.label} was not ready within ${timeoutMs} ms\n${proc.tail()}`);
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
export function cpuOf(proc: Proc): { node: number; pg: number } {
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
      // worker): the postmaster reaps them and their time moves into its cutime and cstime, so a
      // backend exiting during a measurement would otherwise take its CPU out of the sum.
      pg += ms + (Number(fields[13]) + Number(fields[14])) * TICK_MS;
    } else if (postmaster > 0 && Number(fields[1]) === postmaster) pg += ms;
  }
  return { node, pg };
}
