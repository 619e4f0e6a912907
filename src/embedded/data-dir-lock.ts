import { readFileSync } from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';

/**
 * One server per data folder: `DCR_DATA_DIR/dcr.pid` names the process that holds it, as
 * `<pid> <start time>[ stopping]`. PostgreSQL's own postmaster.pid would refuse a second cluster
 * on the same files too, but only after the second server had taken the first one's cluster for an
 * orphan to stop; this lock is checked first.
 *
 * Whether the recorded holder still holds the folder is decided from the process itself, never
 * from what is left behind, for every way a server can end:
 * - SIGTERM/SIGINT: the server marks the lock `stopping` when its shutdown starts, and removes it at
 *   the end. A start meanwhile (a supervisor restarting it at once) waits for that shutdown to end,
 *   bounded, instead of failing.
 * - SIGKILL (of the group, or of node alone while its postgres lives on): the lock stays behind,
 *   naming a process that no longer runs. It is stale and replaced (the orphaned cluster is then
 *   stopped by the caller, src/embedded/cluster.ts).
 * - A holder that has exited but not been reaped yet (a zombie: its parent, e.g. an `npm start`
 *   that already exited, has not collected it) holds nothing, though `kill(pid, 0)` still reaches
 *   it. It was taken for a running server and the restart refused. Its state in /proc says it has
 *   exited; it is given a moment to be reaped, then its lock is replaced.
 * - PIDs wrap: the start time recorded with the PID must match, or the PID is another process's.
 */
export class DataDirInUseError extends Error {
  override name = 'DataDirInUseError';
}

const LOCK_FILE = 'dcr.pid';
/** How long a start waits for a holder that is shutting down: its own bound (src/server.ts), plus a margin. */
const STOPPING_WAIT_MS = 25_000;
/** How long an exited, unreaped holder is waited for before its lock is replaced anyway. */
const ZOMBIE_WAIT_MS = 1_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export type Liveness = 'running' | 'exited' | 'absent';

/**
 * Whether `pid` runs, has exited but not been reaped (state Z or X in /proc/<pid>/stat), or does
 * not exist. Where there is no /proc (macOS), signal 0 tells only whether the PID exists.
 */
export function processLiveness(pid: number): Liveness {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) S ...": the command name may hold spaces and parentheses; the state follows the last ')'.
    const state = stat.charAt(stat.lastIndexOf(')') + 2);
    return state === 'Z' || state === 'X' ? 'exited' : 'running';
  } catch {
    try {
      process.kill(pid, 0);
      return 'running';
    } catch (err) {
      return (err as NodeJS.ErrnoException).code === 'EPERM' ? 'running' : 'absent';
    }
  }
}

/** True while `pid` runs (a zombie does not). */
export function isRunning(pid: number): boolean {
  return processLiveness(pid) === 'running';
}

/** The process's start time in clock ticks since boot (/proc/<pid>/stat field 22), or '' if unknown. */
export function startTimeOf(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? '';
  } catch {
    return '';
  }
}

interface LockRecord {
  pid: number;
  startTime: string | undefined;
  stopping: boolean;
}

async function readLock(lockFile: string): Promise<LockRecord | undefined> {
  const [pidText, startTime, state] = (await fs.readFile(lockFile, 'utf8').catch(() => '')).trim().split(/\s+/);
  const pid = Number.parseInt(pidText ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  return { pid, startTime: startTime || undefined, stopping: state === 'stopping' };
}

type HolderState = 'running' | 'stopping' | 'exited' | 'stale';

/** What the recorded holder is doing now. */
function holderState(record: LockRecord | undefined): HolderState {
  if (!record || record.pid === process.pid) return 'stale';
  const liveness = processLiveness(record.pid);
  if (liveness === 'absent') return 'stale';
  // A recorded start time that differs: the PID now names another process.
  const startTime = startTimeOf(record.pid);
  if (record.startTime !== undefined && startTime !== '' && startTime !== record.startTime) return 'stale';
  if (liveness === 'exited') return 'exited';
  return record.stopping ? 'stopping' : 'running';
}

/**
 * The PID of another live process holding the data folder, or undefined when the folder is free,
 * its lock is stale, or its holder has exited.
 */
export async function dataDirHolder(dataDir: string): Promise<number | undefined> {
  const record = await readLock(path.join(dataDir, LOCK_FILE));
  const state = holderState(record);
  return state === 'running' || state === 'stopping' ? record!.pid : undefined;
}

/** Waits while `pid` stays in `state`, at most `ms`; true if it left that state in time. */
async function waitWhile(pid: number, state: Liveness, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (processLiveness(pid) === state) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

export interface DataDirLock {
  /** Marks the lock as held by a server that is shutting down (a new start then waits for it). */
  markStopping(): Promise<void>;
  release(): Promise<void>;
}

/** Takes the data folder for this process, or explains who holds it. Replaces a stale lock. */
export async function lockDataDir(dataDir: string, log: (message: string) => void = () => {}): Promise<DataDirLock> {
  const lockFile = path.join(dataDir, LOCK_FILE);
  const mine = `${process.pid} ${startTimeOf(process.pid)}`;
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const handle = await fs.open(lockFile, 'wx', 0o600);
      await handle.writeFile(`${mine}\n`);
      await handle.close();
      const ownsLock = async () => (await readLock(lockFile))?.pid === process.pid;
      return {
        markStopping: async () => {
          if (await ownsLock()) await fs.writeFile(lockFile, `${mine} stopping\n`, { mode: 0o600 });
        },
        release: async () => {
          if (await ownsLock()) await fs.rm(lockFile, { force: true });
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const record = await readLock(lockFile);
    const state = holderState(record);
    if (state === 'running') {
      throw new DataDirInUseError(
        `The data folder ${dataDir} is in use by another server (PID ${record!.pid}). ` +
          'Stop it, or give this one its own DCR_DATA_DIR.',
      );
    }
    if (state === 'stopping') {
      log(`waiting for the server that is stopping on ${dataDir} (PID ${record!.pid}) to finish`);
      if (!(await waitWhile(record!.pid, 'running', STOPPING_WAIT_MS))) {
        throw new DataDirInUseError(
          `The server on ${dataDir} (PID ${record!.pid}) has been stopping for over ${STOPPING_WAIT_MS / 1000} s; ` +
            'stop it, or give this one its own DCR_DATA_DIR.',
        );
      }
      continue;
    }
    if (state === 'exited') await waitWhile(record!.pid, 'exited', ZOMBIE_WAIT_MS);
    // The holder is gone (crash, kill -9) or has exited: the lock is stale.
    await fs.rm(lockFile, { force: true });
  }
  throw new DataDirInUseError(`Could not lock the data folder ${dataDir}`);
}
