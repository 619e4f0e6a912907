/**
 * Start-up after a crash needs no manual step (src/embedded/cluster.ts): a server killed with its
 * postgres left running, a server killed together with its postgres (stale postmaster.pid and
 * dcr.pid), and a second server pointed at a data folder in use, which must refuse.
 * test/reliability/stop-restart.test.ts starts through `npm start` and adds Ctrl-C, SIGKILL of the
 * group and a holder left as a zombie.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import {
  E2E_ADMIN,
  E2E_ADMIN_PASSWORD,
  WSO2_DOC_BODY,
  eventually,
  freePort,
  freshDataDir,
  isAlive,
  killCluster,
  killGroup,
  postmasterPid,
  register,
  startReady,
  startServer,
  stopGracefully,
  waitExit,
} from '../fixtures/server-process.js';

t.test('the node process killed, its postgres orphaned: the next start stops the orphan', async (t) => {
  const dataDir = await freshDataDir(t);
  const first = await startReady(t, dataDir);
  const created = await register(first, E2E_ADMIN, { ...WSO2_DOC_BODY, clientName: 'crash_orphan_app' });
  t.equal(created.status, 200, JSON.stringify(created.body));
  const orphan = await postmasterPid(dataDir);
  if (orphan === undefined) throw new Error('no postmaster.pid while the server runs');

  process.kill(first.pid, 'SIGKILL'); // the node process only, not its group
  const exit = await waitExit(first, 10_000);
  t.equal(exit.signal, 'SIGKILL');
  t.ok(isAlive(orphan), `the postmaster (PID ${orphan}) outlives the killed server`);
  t.ok(existsSync(path.join(dataDir, 'dcr.pid')), 'a stale dcr.pid is left behind');

  const second = await startReady(t, dataDir);
  t.match(second.stderr(), new RegExp(`stopped an orphaned embedded postgres \\(PID ${orphan}\\)`), 'the start-up says what it did');
  t.notOk(isAlive(orphan), 'the orphan is gone');
  const fresh = await postmasterPid(dataDir);
  t.not(fresh, orphan, 'a new postmaster runs');

  const again = await register(second, E2E_ADMIN, { ...WSO2_DOC_BODY, clientName: 'crash_orphan_app' });
  t.equal(again.status, 200, JSON.stringify(again.body));
  t.equal(again.body.clientId, created.body.clientId, 'the same clientId');
  t.equal(again.body.clientSecret, created.body.clientSecret, 'the same clientSecret');
  await stopGracefully(t, second);
});

t.test('the server and its postgres killed at once while serving: stale postmaster.pid and dcr.pid are handled', async (t) => {
  const dataDir = await freshDataDir(t);
  const first = await startReady(t, dataDir);
  const created = await register(first, E2E_ADMIN, { ...WSO2_DOC_BODY, clientName: 'crash_group_app' });
  t.equal(created.status, 200, JSON.stringify(created.body));
  const postgres = await postmasterPid(dataDir);
  if (postgres === undefined) throw new Error('no postmaster.pid while the server runs');

  // In flight while the group dies: a registration that may or may not have committed.
  const inFlight = register(first, E2E_ADMIN, { ...WSO2_DOC_BODY, clientName: 'crash_in_flight_app' }).catch(() => undefined);
  // The postmaster runs in a session of its own (src/embedded/pg-ctl.ts): a group kill leaves it
  // running (the first test's case); here both die at once, as in a power cut.
  t.ok(killGroup(first.pid, 'SIGKILL'), "the server's group is killed");
  killCluster(dataDir);
  const exit = await waitExit(first, 10_000);
  t.equal(exit.signal, 'SIGKILL');
  await inFlight;
  t.ok(await eventually(() => !isAlive(postgres), 10_000), 'the postmaster died with it');
  t.equal(await postmasterPid(dataDir), postgres, 'a stale postmaster.pid is left behind');
  t.ok(existsSync(path.join(dataDir, 'dcr.pid')), 'a stale dcr.pid is left behind');

  const second = await startReady(t, dataDir);
  t.notMatch(second.stderr(), /orphaned/, 'no orphan to stop this time');
  const again = await register(second, E2E_ADMIN, { ...WSO2_DOC_BODY, clientName: 'crash_group_app' });
  t.equal(again.status, 200, JSON.stringify(again.body));
  t.equal(again.body.clientId, created.body.clientId, 'the same clientId');
  t.equal(again.body.clientSecret, created.body.clientSecret, 'the same clientSecret');

  // Whatever the in-flight request did, the name now stands for exactly one working app.
  const inFlightApp = await register(second, E2E_ADMIN, { ...WSO2_DOC_BODY, clientName: 'crash_in_flight_app' });
  t.equal(inFlightApp.status, 200, JSON.stringify(inFlightApp.body));
  const inFlightAgain = await register(second, E2E_ADMIN, { ...WSO2_DOC_BODY, clientName: 'crash_in_flight_app' });
  t.equal(inFlightAgain.body.clientSecret, inFlightApp.body.clientSecret);
  await stopGracefully(t, second);
});

t.test('a second server on a data folder in use refuses to start, and leaves the first alone', async (t) => {
  const dataDir = await freshDataDir(t);
  const first = await startReady(t, dataDir);
  const created = await register(first, E2E_ADMIN, { ...WSO2_DOC_BODY, clientName: 'in_use_app' });
  t.equal(created.status, 200);
  const postgres = await postmasterPid(dataDir);

  const second = startServer(t, {
    PORT: String(await freePort()),
    HOST: '127.0.0.1',
    DCR_DATA_DIR: dataDir,
    DCR_ADMIN_PASSWORD: E2E_ADMIN_PASSWORD,
    LOG_LEVEL: 'warn',
  });
  const exit = await waitExit(second, 30_000);
  t.not(exit.code, 0, `a non-zero exit code (${exit.code})`);
  t.equal(exit.signal, null);
  t.match(second.stderr(), /data folder .* is in use/i, 'stderr says the data folder is in use');
  t.match(second.stderr(), new RegExp(`PID ${first.pid}\\b`), 'and names the server holding it');

  t.ok(first.isRunning(), 'the first server still runs');
  t.equal(await postmasterPid(dataDir), postgres, 'with the same postmaster');
  t.ok(postgres !== undefined && isAlive(postgres));
  const ready = await fetch(`${first.baseUrl}/health/ready`);
  t.equal(ready.status, 200, 'and is still ready');
  const again = await register(first, E2E_ADMIN, { ...WSO2_DOC_BODY, clientName: 'in_use_app' });
  t.equal(again.body.clientSecret, created.body.clientSecret);
  await stopGracefully(t, first);
});
