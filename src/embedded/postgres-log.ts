/**
 * The cluster's log, pg/postgres.log (pg_ctl writes the postmaster's output there): one older
 * generation is kept beside it, and its last lines explain a postgres that did not start.
 */
import fs from 'node:fs/promises';
import path from 'node:path';

/** One generation of the log is kept beside the current one, from this size on. */
const LOG_ROTATE_BYTES = 10 * 1024 * 1024;

export const logFileOf = (pgDir: string) => path.join(pgDir, 'postgres.log');

/** Before a start: a log past LOG_ROTATE_BYTES becomes postgres.log.1 (replacing the older one). */
export async function rotateLog(pgDir: string): Promise<void> {
  const log = logFileOf(pgDir);
  const size = (await fs.stat(log).catch(() => undefined))?.size ?? 0;
  if (size > LOG_ROTATE_BYTES) await fs.rename(log, `${log}.1`);
}

/** The last lines of the cluster's log, for an error message. */
export async function logTail(pgDir: string, lines = 20): Promise<string> {
  const text = await fs.readFile(logFileOf(pgDir), 'utf8').catch(() => '');
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
