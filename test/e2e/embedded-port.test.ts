/**
 * The embedded cluster's TCP port is a kernel pick made a moment before postgres binds it
 * (src/embedded/cluster.ts). When something takes the port in between, start-up picks another instead
 * of failing, up to three ports; then it fails with postgres's own output.
 */
import net from 'node:net';
import pg from 'pg';
import t, { type Test } from 'tap';
import { startEmbeddedPostgres } from '../../src/embedded/cluster.js';
import { kernelPickedPort } from '../../src/embedded/ports.js';
import { freshDataDir } from '../fixtures/server-process.js';

async function holdPort(t: Test): Promise<number> {
  const holder = net.createServer();
  await new Promise<void>((resolve) => holder.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => holder.close(() => resolve())));
  return (holder.address() as net.AddressInfo).port;
}

t.test('a port taken before postgres binds it: start-up tries another', async (t) => {
  const dataDir = await freshDataDir(t);
  const taken = await holdPort(t);
  const picks: number[] = [];
  const messages: string[] = [];
  const handle = await startEmbeddedPostgres({
    dataDir,
    log: (message) => messages.push(message),
    pickPort: async () => {
      const port = picks.length === 0 ? taken : await kernelPickedPort();
      picks.push(port);
      return port;
    },
  });
  t.teardown(() => handle.stop());
  t.equal(picks.length, 2, `one retry (${picks.join(', ')})`);
  t.equal(picks[0], taken);
  t.match(messages, [/initialising/, `port ${taken} was taken before the embedded PostgreSQL could listen on it; trying another`]);
  t.equal(new URL(handle.serverUrl).port, String(picks[1]), 'the cluster listens on the second pick');
  const client = new pg.Client({ connectionString: handle.connectionString });
  await client.connect();
  t.same((await client.query('SELECT 1 AS one')).rows, [{ one: 1 }]);
  await client.end();
});

t.test('taken three times in a row: start-up gives up with postgres output', async (t) => {
  const dataDir = await freshDataDir(t);
  const taken = await holdPort(t);
  let picks = 0;
  await t.rejects(
    startEmbeddedPostgres({
      dataDir,
      pickPort: async () => {
        picks++;
        return taken;
      },
    }),
    /The embedded PostgreSQL did not start\. The end of its log \(.*postgres\.log\):\n[^]*could not bind/,
  );
  t.equal(picks, 3, 'three attempts, then the error');
});
