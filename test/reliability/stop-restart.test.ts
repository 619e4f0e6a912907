/**
 * Stopping and restarting the server the way users and supervisors do it: `npm start`, SIGTERM,
 * Ctrl-C, kill -9 of the group or of node alone, and a parent that never reaps the exited server.
 *
 * - `npm start` stays until the server has finished and passes SIGTERM/SIGINT on (its script
 *   execs node: npm then waits for node, instead of exiting while node drains, or never telling it).
 * - A stop answers every request it meets with its normal answer, a 503 in the spec's Error shape
 *   with Connection: close, or a refused connection: never a 500, never a reset.
 * - A restart on the same data folder after any way of ending is ready within 10 s and has every
 *   registration the server acknowledged; none is refused (src/embedded/data-dir-lock.ts).
 *
 * The soak's delays come from a fixed seed (DCR_STOP_SEED), so a failing round can be replayed;
 * DCR_SOAK=1 runs more rounds. Figures go to the TAP output as comments.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import t, { type Test } from 'tap';
import { processLiveness } from '../../src/embedded/data-dir-lock.js';
import { REGISTER_PATH, registerRequest, tally, verifyAcknowledged, type Credentials, type Outcome } from '../fixtures/load.js';
import { SERVER_ARGS } from '../fixtures/server-command.js';
import {
  E2E_ADMIN,
  E2E_ADMIN_PASSWORD,
  eventually,
  freePort,
  freshDataDir,
  isAlive,
  PROJECT_ROOT,
  killGroup,
  postmasterPid,
  serverPid,
  startReady,
  stopGracefully,
  waitExit,
  waitReady,
  type ServerProcess,
} from '../fixtures/server-process.js';

const SOAK = process.env.DCR_SOAK === '1';
const SEED = Number(process.env.DCR_STOP_SEED ?? 20261203);
const SOAK_ROUNDS = SOAK ? 25 : 5;
const BURST = 30;
/** The restart bound the issue sets for every way a server can end. */
const RESTART_BOUND_MS = 10_000;
if (SOAK) t.setTimeout(30 * 60_000);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** mulberry32: a small seeded generator, so the soak's timings are reproducible. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = Math.imul(a ^ (a >>> 15), 1 | a);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const DCR_RESULT_KEYS = [
  'appOwner',
  'applicationUUID',
  'callBackURL',
  'callbackUrl',
  'clientId',
  'clientName',
  'clientSecret',
  'isSaasApplication',
  'jsonAppAttribute',
  'jsonString',
  'tokenType',
];

/** Why an outcome is not one a stop may give, or undefined when it is: a 200, the spec's 503, or a refusal. */
function unacceptable(outcome: Outcome): string | undefined {
  if (outcome.kind === 'refused') return undefined;
  if (outcome.kind !== 'response') return `${outcome.kind}${'code' in outcome ? `:${outcome.code}` : ''}`;
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(outcome.body) as Record<string, unknown>;
  } catch {
    return `${outcome.status} with a body that is not JSON: ${outcome.body.slice(0, 200)}`;
  }
  if (outcome.status === 200) {
    const keys = Object.keys(body).sort();
    return JSON.stringify(keys) === JSON.stringify(DCR_RESULT_KEYS) ? undefined : `200 with keys ${JSON.stringify(keys)}`;
  }
  if (outcome.status === 503) {
    const expected = { code: 503, message: 'Service Unavailable', description: 'The server is shutting down; retry later', moreInfo: '', error: [] };
    if (JSON.stringify(body) !== JSON.stringify(expected)) return `503 with ${outcome.body}`;
    if (outcome.headers.connection !== 'close') return `503 without Connection: close (${outcome.headers.connection})`;
    if (!/^application\/json/.test(String(outcome.headers['content-type']))) return `503 as ${outcome.headers['content-type']}`;
    return undefined;
  }
  return `${outcome.status} ${outcome.body.slice(0, 300)}`;
}

/** Every app acknowledged on one data folder since the start, checked after each restart. */
class Ledger {
  readonly acknowledged = new Map<string, Credentials>();

  record(name: string, outcome: Outcome): void {
    if (outcome.kind === 'response' && outcome.status === 200) {
      const body = JSON.parse(outcome.body) as Credentials;
      this.acknowledged.set(name, { clientId: body.clientId, clientSecret: body.clientSecret });
    }
  }

  async verify(t: Test, server: ServerProcess, what: string): Promise<void> {
    const verified = await verifyAcknowledged(server.baseUrl, E2E_ADMIN, this.acknowledged);
    t.strictSame(verified.mismatches.slice(0, 5), [], `${what}: all ${verified.checked} apps acknowledged so far are there, with the same credentials`);
  }
}

/** Registers `count` apps one after another, each acknowledged. */
async function registerSome(t: Test, server: ServerProcess, ledger: Ledger, prefix: string, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const name = `${prefix}${i}`;
    const outcome = await registerRequest(server.baseUrl, E2E_ADMIN, name);
    t.equal(unacceptable(outcome), undefined, `${name} registered`);
    ledger.record(name, outcome);
  }
}

/** Starts `npm start` on the folder and measures how long until it is ready. */
async function restart(t: Test, dataDir: string): Promise<{ server: ServerProcess; ms: number }> {
  const started = performance.now();
  const server = await startReady(t, dataDir, {}, 'npm');
  return { server, ms: Math.round(performance.now() - started) };
}

/** A raw HTTP/1.1 connection, for a request written in two parts around a signal. */
async function rawConnection(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
  let received = '';
  socket.setEncoding('utf8').on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => {});
  return { socket, received: () => received };
}

t.test('npm start stays until the server has finished, and passes SIGTERM on to it', async (t) => {
  const dataDir = await freshDataDir(t);
  const npm = await startReady(t, dataDir, {}, 'npm');
  const node = await serverPid(npm);
  t.not(node, npm.pid, `npm (PID ${npm.pid}) runs node (PID ${node})`);

  // A registration whose body is half sent when the signal comes: the drain must wait for it.
  const body = JSON.stringify({ clientName: 'npm_in_flight', owner: 'admin', grantType: 'client_credentials' });
  const half = Math.floor(body.length / 2);
  const conn = await rawConnection(npm.port);
  conn.socket.write(
    `POST ${REGISTER_PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${E2E_ADMIN}\r\n` +
      `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body.slice(0, half)}`,
  );
  await sleep(200);
  npm.child.kill('SIGTERM');
  await sleep(500);
  t.ok(npm.isRunning(), 'npm is still there half a second after SIGTERM');
  t.ok(isAlive(node), 'and so is node, draining');
  conn.socket.write(body.slice(half));
  t.ok(await eventually(() => conn.received().includes('\r\n\r\n{'), 5_000), 'the request in flight is answered');
  t.match(conn.received(), /^HTTP\/1\.1 200 OK\r\n/, '200');
  t.match(conn.received(), /\r\nconnection: close\r\n/i, 'with Connection: close');

  const exit = await waitExit(npm, 20_000);
  t.strictSame({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `npm exits 0 (${exit.ms} ms after the request was answered)`);
  t.equal(processLiveness(node), 'absent', 'node had exited (and been reaped) by the time npm exited');
  t.notOk(existsSync(path.join(dataDir, 'dcr.pid')), 'the data folder lock is released');
  conn.socket.destroy();
});

t.test('Ctrl-C (SIGINT to the whole foreground group) is one graceful stop, not a forced one', async (t) => {
  const dataDir = await freshDataDir(t);
  const npm = await startReady(t, dataDir, {}, 'npm');
  const postgres = await postmasterPid(dataDir);
  // npm and node both get the terminal's SIGINT, and npm passes its copy on: node sees two.
  t.ok(killGroup(npm.pid, 'SIGINT'), 'SIGINT to the group');
  const exit = await waitExit(npm, 20_000);
  t.strictSame({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `exit code 0 (${exit.ms} ms)`);
  t.notMatch(npm.stdout(), /second stop signal/, 'the repeated SIGINT did not force the exit');
  t.ok(postgres === undefined || (await eventually(() => !isAlive(postgres), 5_000)), 'the embedded postgres stopped');
  t.notOk(existsSync(path.join(dataDir, 'dcr.pid')), 'the data folder lock is released');
});

/**
 * The server as the child of a parent that never reaps it (`sh` that execs `sleep`): once node
 * exits it stays a zombie, which signal 0 still reaches, with an empty /proc/<pid>/cmdline.
 */
async function startUnderNonReapingParent(t: Test, dataDir: string): Promise<{ server: ServerProcess; node: number }> {
  const port = await freePort();
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !/^(NODE_OPTIONS|NODE_V8_COVERAGE|TAP|_TAPJS|DCR_|DATABASE_URL$|PORT$|HOST$|npm_)/i.test(key)) env[key] = value;
  }
  Object.assign(env, { PORT: String(port), HOST: '127.0.0.1', DCR_DATA_DIR: dataDir, DCR_ADMIN_PASSWORD: E2E_ADMIN_PASSWORD, LOG_LEVEL: 'warn' });
  const script = `${JSON.stringify(process.execPath)} ${SERVER_ARGS.map((arg) => JSON.stringify(arg)).join(' ')} >/dev/null 2>&1 & echo $!; exec sleep 600`;
  const parent = spawn('sh', ['-c', script], { cwd: PROJECT_ROOT, env, detached: true, stdio: ['ignore', 'pipe', 'ignore'] });
  t.teardown(() => killGroup(parent.pid!, 'SIGKILL'));
  const node = Number((await new Promise<Buffer>((resolve) => parent.stdout!.once('data', resolve))).toString().trim());
  const server: ServerProcess = {
    child: parent,
    pid: node,
    port,
    baseUrl: `http://127.0.0.1:${port}`,
    dataDir,
    stdout: () => '',
    stderr: () => '',
    exited: new Promise(() => {}),
    isRunning: () => isAlive(node),
  };
  await waitReady(server);
  return { server, node };
}

t.test('a restart after every way a server can end is ready within 10 s and has every acknowledged registration', async (t) => {
  const dataDir = await freshDataDir(t);
  const ledger = new Ledger();
  let { server } = await restart(t, dataDir);
  const figures: string[] = [];

  const ways: Array<{ name: string; end(server: ServerProcess): Promise<void> }> = [
    {
      name: 'SIGTERM to npm',
      end: async (npm) => {
        npm.child.kill('SIGTERM');
        t.equal((await waitExit(npm, 20_000)).code, 0);
      },
    },
    {
      name: 'SIGINT to the group (Ctrl-C)',
      end: async (npm) => {
        killGroup(npm.pid, 'SIGINT');
        t.equal((await waitExit(npm, 20_000)).code, 0);
      },
    },
    {
      name: 'SIGKILL to the group',
      end: async (npm) => {
        killGroup(npm.pid, 'SIGKILL');
        await waitExit(npm, 10_000);
      },
    },
    {
      // npm sees its child die and exits; the embedded postgres lives on as an orphan.
      name: 'SIGKILL to node alone',
      end: async (npm) => {
        process.kill(await serverPid(npm), 'SIGKILL');
      },
    },
  ];
  for (const way of ways) {
    await registerSome(t, server, ledger, `way_${ledger.acknowledged.size}_`, 5);
    await way.end(server);
    const next = await restart(t, dataDir);
    t.ok(next.ms < RESTART_BOUND_MS, `after ${way.name}: ready in ${next.ms} ms`);
    await ledger.verify(t, next.server, `after ${way.name}`);
    figures.push(`${way.name}: ${next.ms} ms`);
    server = next.server;
  }

  // The zombie: a server whose parent never reaps it, killed. Its lock stays behind, naming a
  // process that signal 0 still reaches; that restart was refused ("in use by another server").
  server.child.kill('SIGTERM');
  await waitExit(server, 20_000);
  const orphaned = await startUnderNonReapingParent(t, dataDir);
  await registerSome(t, orphaned.server, ledger, 'zombie_', 5);
  process.kill(orphaned.node, 'SIGKILL');
  t.ok(await eventually(() => processLiveness(orphaned.node) === 'exited', 5_000), 'the killed server is a zombie');
  t.ok(existsSync(path.join(dataDir, 'dcr.pid')), 'its lock is left behind');
  const afterZombie = await restart(t, dataDir);
  t.ok(afterZombie.ms < RESTART_BOUND_MS, `after SIGKILL of a server nobody reaps: ready in ${afterZombie.ms} ms`);
  await ledger.verify(t, afterZombie.server, 'after the zombie');
  figures.push(`SIGKILL, left a zombie: ${afterZombie.ms} ms`);
  t.comment(`figure: restart until ready, by the way the last server ended: ${figures.join('; ')}`);
  await stopGracefully(t, afterZombie.server);
});

t.test(`soak: ${SOAK_ROUNDS} rounds of npm start, ${BURST} concurrent registrations, SIGTERM a few ms in, restart`, async (t) => {
  const random = seeded(SEED);
  t.comment(`seed ${SEED} (DCR_STOP_SEED)`);
  const dataDir = await freshDataDir(t);
  const ledger = new Ledger();
  const all: Outcome[] = [];
  let server = (await restart(t, dataDir)).server;
  const restarts: number[] = [];
  for (let round = 1; round <= SOAK_ROUNDS; round++) {
    const delayMs = 3 + Math.floor(random() * 15);
    // A new connection per request, as scripts and CI jobs register: the ones still in the
    // kernel's accept queue when the signal comes must be answered, not reset.
    const requests = Array.from({ length: BURST }, (_, i) => {
      const name = `soak_${round}_${i}`;
      return registerRequest(server.baseUrl, E2E_ADMIN, name, { timeoutMs: 20_000 }).then((outcome) => ({ name, outcome }));
    });
    await sleep(delayMs);
    server.child.kill('SIGTERM');
    const outcomes = await Promise.all(requests);
    const exit = await waitExit(server, 20_000);
    t.strictSame({ code: exit.code, signal: exit.signal }, { code: 0, signal: null }, `round ${round}: exit code 0`);
    const wrong = outcomes.flatMap(({ name, outcome }) => {
      const why = unacceptable(outcome);
      return why ? [`${name}: ${why}`] : [];
    });
    t.strictSame(wrong.slice(0, 5), [], `round ${round} (SIGTERM ${delayMs} ms in): ${JSON.stringify(tally(outcomes))}`);
    for (const { name, outcome } of outcomes) ledger.record(name, outcome);
    all.push(...outcomes.map(({ outcome }) => outcome));
    const next = await restart(t, dataDir);
    restarts.push(next.ms);
    server = next.server;
  }
  await ledger.verify(t, server, `after ${SOAK_ROUNDS} rounds`);
  t.comment(
    `figure: ${SOAK_ROUNDS} rounds of ${BURST}: ${JSON.stringify(tally(all.map((outcome) => ({ outcome }))))}; ` +
      `${ledger.acknowledged.size} acknowledged, all found; restarts ready in ${restarts.join(', ')} ms`,
  );
  await stopGracefully(t, server);
});
