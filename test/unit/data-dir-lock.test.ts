/**
 * The data folder's lock (src/embedded/data-dir-lock.ts) against real processes in every state its
 * holder can be in: running, stopping, exited but not reaped (a zombie), gone, or a PID that now
 * names another process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { DataDirInUseError, dataDirHolder, lockDataDir, processLiveness, startTimeOf } from '../../src/embedded/data-dir-lock.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function folder(t: Test): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-lock-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A process that runs until the test ends. */
function sleeper(t: Test): ChildProcess & { pid: number } {
  const child = spawn('sleep', ['60'], { stdio: 'ignore' });
  t.teardown(() => child.kill('SIGKILL'));
  return child as ChildProcess & { pid: number };
}

/**
 * A zombie: `sleep 0.05` started in the background by a shell that then becomes `sleep 60` (exec),
 * which never waits for children. Once the short sleep exits it stays unreaped until the long one ends.
 */
async function zombie(t: Test): Promise<number> {
  const parent = spawn('sh', ['-c', 'sleep 0.05 & echo $!; exec sleep 60'], { stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => parent.kill('SIGKILL'));
  const pid = Number((await new Promise<Buffer>((resolve) => parent.stdout!.once('data', resolve))).toString().trim());
  for (let i = 0; i < 100 && processLiveness(pid) !== 'exited'; i++) await sleep(20);
  return pid;
}

const writeLock = (dir: string, text: string) => fs.writeFile(path.join(dir, 'dcr.pid'), text);
const readLock = (dir: string) => fs.readFile(path.join(dir, 'dcr.pid'), 'utf8');

t.test('processLiveness tells a running process, a zombie and a PID that does not exist apart', async (t) => {
  t.equal(processLiveness(process.pid), 'running');
  const zombiePid = await zombie(t);
  t.equal(processLiveness(zombiePid), 'exited', 'a zombie has exited, though signal 0 still reaches it');
  t.doesNotThrow(() => process.kill(zombiePid, 0), '(signal 0 does reach it)');
  const child = spawn('true', { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  t.equal(processLiveness(child.pid!), 'absent', 'a reaped process is absent');
});

t.test('a free folder is locked, and released', async (t) => {
  const dir = await folder(t);
  const lock = await lockDataDir(dir);
  t.equal((await readLock(dir)).trim(), `${process.pid} ${startTimeOf(process.pid)}`, 'the lock names this process and its start time');
  await lock.release();
  t.notOk(existsSync(path.join(dir, 'dcr.pid')));
});

t.test('a running holder refuses at once, and is named', async (t) => {
  const dir = await folder(t);
  const holder = sleeper(t);
  await writeLock(dir, `${holder.pid} ${startTimeOf(holder.pid)}\n`);
  t.equal(await dataDirHolder(dir), holder.pid);
  const started = Date.now();
  await t.rejects(lockDataDir(dir), new DataDirInUseError(`The data folder ${dir} is in use by another server (PID ${holder.pid}). Stop it, or give this one its own DCR_DATA_DIR.`));
  t.ok(Date.now() - started < 1_000, 'without waiting');
  t.equal(await readLock(dir), `${holder.pid} ${startTimeOf(holder.pid)}\n`, "the holder's lock is left alone");
});

t.test('a zombie holder is not a running server: its lock is replaced', async (t) => {
  const dir = await folder(t);
  const pid = await zombie(t);
  await writeLock(dir, `${pid} ${startTimeOf(pid)}\n`);
  t.equal(await dataDirHolder(dir), undefined, 'no holder');
  const lock = await lockDataDir(dir);
  t.match(await readLock(dir), new RegExp(`^${process.pid} `), 'the lock is now this process');
  await lock.release();
});

t.test('a holder that is stopping is waited for, then its lock is replaced', async (t) => {
  const dir = await folder(t);
  const holder = sleeper(t);
  await writeLock(dir, `${holder.pid} ${startTimeOf(holder.pid)} stopping\n`);
  const messages: string[] = [];
  const locking = lockDataDir(dir, (message) => messages.push(message));
  await sleep(300);
  t.match(await readLock(dir), /stopping/, 'the stopping server keeps its lock while it runs');
  holder.kill('SIGTERM');
  const lock = await locking;
  t.match(await readLock(dir), new RegExp(`^${process.pid} `), 'then the lock is this process');
  t.match(messages.join('\n'), new RegExp(`waiting for the server that is stopping on .* \\(PID ${holder.pid}\\) to finish`));
  await lock.release();
});

t.test('markStopping marks the lock; a dead holder or a reused PID is stale', async (t) => {
  const dir = await folder(t);
  const lock = await lockDataDir(dir);
  await lock.markStopping();
  t.equal((await readLock(dir)).trim(), `${process.pid} ${startTimeOf(process.pid)} stopping`);
  await lock.release();

  const child = spawn('true', { stdio: 'ignore' });
  await new Promise((resolve) => child.once('exit', resolve));
  await writeLock(dir, `${child.pid} 12345\n`);
  t.equal(await dataDirHolder(dir), undefined, 'a PID that no longer exists holds nothing');

  const other = sleeper(t);
  await writeLock(dir, `${other.pid} 1\n`);
  t.equal(await dataDirHolder(dir), undefined, 'a running PID with another start time is another process');
  const again = await lockDataDir(dir);
  await again.release();
});
