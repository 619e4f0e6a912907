/**
 * Starting what the benchmark loads: the server under test exactly as `npm start` runs it (from
 * this checkout or, for --ab, another one), further instances on its database, the ceilings and the
 * peer (scripts/bench/ceiling.ts, sign-ceiling.ts, peer.ts), PostgreSQL behind a delaying proxy (--db-latency,
 * scripts/bench/remote-db.ts), and a database seeded by scripts/seed.ts (--seeded).
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { capture, cleanEnv, ROOT, waitFor, type Log, type Processes, type Proc } from './processes.js';

/** The JWS algorithm the servers under test sign with: src/crypto/jws.ts's default, named explicitly. */
export const SERVER_JWT_ALG = 'RS256';

export const ADMIN = 'admin';
export const ADMIN_PASSWORD = 'bench-Admin-Pa55word';
export const PEER_IAT = 'bench-initial-access-token-7f3a9c';
export const PEER_CLIENT_SECRET = 'bench-peer-client-secret-0123456789abcdef';

/** A/B: the other server's checkout (this one without --ab) and its extra settings. */
export interface AbOptions {
  cwd: string;
  env: Record<string, string>;
}

export interface ServerOptions {
  nodeFlags?: string[];
  /** A database folder to use (a seeded one) instead of a fresh one. */
  dataDir?: string;
  /** The checkout whose server runs (--ab DIR). */
  cwd?: string;
  env?: Record<string, string>;
}

export class Servers {
  /** node's arguments for the server of each checkout, built once per checkout. */
  readonly #commands = new Map<string, Promise<string[]>>();

  /** `dbLatencyMs`: each server gets its own PostgreSQL behind a proxy adding that round trip. */
  constructor(
    readonly processes: Processes,
    readonly dbLatencyMs: number | undefined,
  ) {}

  /**
   * node's arguments for the server of the checkout in `cwd`, as its `npm start` runs it: its
   * `start` script after its `prestart` (the build of dist/). An older checkout without a build
   * ran TypeScript through tsx.
   */
  #command(cwd: string): Promise<string[]> {
    let command = this.#commands.get(cwd);
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
      this.#commands.set(cwd, command);
    }
    return command;
  }

  /** A server, ready (GET /health/ready answers 200). */
  async server(label: string, { nodeFlags = [], dataDir, cwd = ROOT, env = {} }: ServerOptions = {}): Promise<Proc> {
    let remote: Proc | undefined;
    if (this.dbLatencyMs !== undefined && !dataDir) {
      // Its own PostgreSQL behind a delaying proxy, reached through DATABASE_URL.
      remote = await this.script(`${label}-db`, 'scripts/bench/remote-db.ts', { DB_LATENCY_MS: String(this.dbLatencyMs) });
      const url = /ready \d+ (\S+)/.exec(remote.stdoutText())![1]!;
      env = { ...env, DATABASE_URL: url, DCR_SECRET_KEY: randomBytes(32).toString('base64') };
    }
    if (env.DCR_APIM_NOTIFY_URL === 'receiver') {
      // --ab-env DCR_APIM_NOTIFY_URL=receiver: revocation events pushed to a local receiver of its own.
      const receiver = await this.script(`${label}-notify`, 'scripts/bench/notify-receiver.ts');
      env = { ...env, DCR_APIM_NOTIFY_URL: `${receiver.base}/internal/data/v1/notify` };
    }
    const proc = await this.processes.spawn(
      label,
      [...nodeFlags, ...(await this.#command(cwd))],
      // `warn` logs (neither ceiling nor peer logs a line per request); RS256 set explicitly, so that
      // the token rows stay what they say if the default moves. --ab-env's settings come after and win.
      { DCR_ADMIN_PASSWORD: ADMIN_PASSWORD, LOG_LEVEL: 'warn', DCR_JWT_ALG: SERVER_JWT_ALG, ...env, ...(dataDir ? { DCR_DATA_DIR: dataDir } : {}) },
      cwd,
    );
    if (remote) proc.pgDataDir = remote.dataDir;
    if (dataDir) {
      // spawn made a fresh folder; this server uses the given (seeded) one instead.
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
  async instance(label: string, first: Proc): Promise<Proc> {
    const pgDir = first.pgDataDir ?? first.dataDir;
    const secretKey = (await fs.readFile(path.join(first.dataDir, 'secret.key'), 'utf8')).trim();
    const proc = await this.server(label, { env: { DATABASE_URL: await embeddedDatabaseUrl(pgDir), DCR_SECRET_KEY: secretKey } });
    proc.pgDataDir = pgDir;
    return proc;
  }

  /** A script of scripts/ that prints `ready …` on stdout once it listens. */
  async script(label: string, script: string, env: Record<string, string> = {}, nodeFlags: string[] = []): Promise<Proc> {
    const proc = await this.processes.spawn(label, [...nodeFlags, '--import', 'tsx', script], env);
    await waitFor(proc, async () => proc.stdoutText().includes('ready '));
    return proc;
  }

  /** The bare Fastify app of scripts/bench/ceiling.ts, with the server's default pool size. */
  ceiling(nodeFlags: string[] = []): Promise<Proc> {
    return this.script('ceiling', 'scripts/bench/ceiling.ts', { DCR_DB_POOL_SIZE: '10' }, nodeFlags);
  }

  /** The bare Fastify RS256 signer of scripts/bench/sign-ceiling.ts. */
  signCeiling(nodeFlags: string[] = []): Promise<Proc> {
    return this.script('sign-ceiling', 'scripts/bench/sign-ceiling.ts', {}, nodeFlags);
  }

  /** oidc-provider (scripts/bench/peer.ts), its clients' secret and initial access token ours. */
  peer(): Promise<Proc> {
    return this.script('peer', 'scripts/bench/peer.ts', { PEER_IAT, PEER_CLIENT_SECRET });
  }
}

/** The connection string of the embedded cluster in `pgDir` (its postmaster.pid and pg-password). */
async function embeddedDatabaseUrl(pgDir: string): Promise<string> {
  const port = (await fs.readFile(path.join(pgDir, 'pg', 'postmaster.pid'), 'utf8')).split('\n')[3]!.trim();
  const password = (await fs.readFile(path.join(pgDir, 'pg-password'), 'utf8')).trim();
  return `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/dcr`;
}

/** What scripts/seed.ts reports (its --json line), and the seeding's wall time with initdb. */
export interface Seeded {
  dir: string;
  seed: Record<string, number>;
  wallMs: number;
}

/** `n` apps seeded by scripts/seed.ts into a fresh data folder; the folder is removed if it fails. */
export async function seedDatabase(n: number, log: Log): Promise<Seeded> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-bench-seeded-'));
  log(`seeding ${n.toLocaleString('en')} apps into ${dir} (scripts/seed.ts)`);
  const started = Date.now();
  let seedOut: string;
  try {
    seedOut = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/seed.ts', String(n), '--json'], {
        cwd: ROOT,
        env: cleanEnv({ DCR_DATA_DIR: dir }),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const out = capture(child.stdout);
      child.once('exit', (code) => (code === 0 ? resolve(out()) : reject(new Error(`seed exited ${code}: ${out()}`))));
    });
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  }
  const seed = JSON.parse(seedOut.trim().split('\n').pop()!) as Record<string, number>;
  return { dir, seed, wallMs: Date.now() - started };
}

export interface DatabaseSizes {
  databaseBytes: number;
  applications: number;
}

/** pg_database_size and the app count of a running server's embedded database (read via psql-free pg). */
export async function databaseSizes(proc: Proc, log: Log): Promise<DatabaseSizes | undefined> {
  try {
    const { default: pg } = await import('pg');
    const client = new pg.Client({ connectionString: await embeddedDatabaseUrl(proc.dataDir) });
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

/** A tenant's JWT app as scripts/bench/seed-tenants.ts seeded it. */
export interface TenantClient {
  tenant: number;
  domain: string;
  clientId: string;
  clientSecret: string;
}

/** What scripts/bench/seed-tenants.ts did: its data folder, its summary line, its apps. */
export interface SeededTenants {
  dir: string;
  seed: Record<string, number>;
  /** The super tenant's app first, then tenants 1..n in order. */
  clients: TenantClient[];
  wallMs: number;
}

/**
 * `n` tenants seeded by scripts/bench/seed-tenants.ts (an admin, a JWT app and an RS256 key each)
 * into a fresh data folder, with the benchmark's admin password; the folder is removed if it fails.
 */
export async function seedTenants(n: number, log: Log): Promise<SeededTenants> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), `dcr-bench-tenants${n}-`));
  const clientsFile = `${dir}.clients.json`;
  log(`seeding ${n.toLocaleString('en')} tenant(s) into ${dir} (scripts/bench/seed-tenants.ts)`);
  const started = Date.now();
  try {
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/bench/seed-tenants.ts', String(n), clientsFile], {
        cwd: ROOT,
        env: cleanEnv({ DCR_DATA_DIR: dir, DCR_ADMIN_PASSWORD: ADMIN_PASSWORD }),
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      const text = capture(child.stdout);
      child.once('exit', (code) => (code === 0 ? resolve(text()) : reject(new Error(`seed-tenants exited ${code}: ${text()}`))));
    });
    const clients = JSON.parse(await fs.readFile(clientsFile, 'utf8')) as TenantClient[];
    const seed = JSON.parse(out.trim().split('\n').pop()!) as Record<string, number>;
    return { dir, seed, clients, wallMs: Date.now() - started };
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    throw err;
  } finally {
    await fs.rm(clientsFile, { force: true });
  }
}
