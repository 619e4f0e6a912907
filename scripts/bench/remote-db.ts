/**
 * `--db-latency MS` of scripts/bench.ts: a PostgreSQL "across a network". The embedded cluster
 * (src/embedded/cluster.ts) in CEILING_DATA_DIR, behind a TCP proxy on 127.0.0.1:PORT that holds every
 * chunk for DB_LATENCY_MS / 2 in each direction, so that each round trip to the database costs
 * DB_LATENCY_MS more, as with a database on another host. The server under test reaches it
 * through DATABASE_URL.
 *
 * Prints `ready <port> <connection string through the proxy>` on stdout once listening.
 */
import net from 'node:net';
import { startEmbeddedPostgres } from '../../src/embedded/cluster.js';

const port = Number(process.env.PORT);
const dataDir = process.env.CEILING_DATA_DIR;
const latencyMs = Number(process.env.DB_LATENCY_MS ?? 1);
if (!Number.isInteger(port) || port <= 0 || !dataDir) throw new Error('PORT and CEILING_DATA_DIR are required');
const oneWay = latencyMs / 2;

const embedded = await startEmbeddedPostgres({ dataDir, log: (m) => process.stderr.write(`[remote-db] ${m}\n`) });
// The proxy forwards TCP: the cluster's loopback address, not its socket.
const upstream = new URL(`${embedded.serverUrl}/dcr`);

/** Forwards `from` to `to`, each chunk `oneWay` ms late; equal delays keep the chunks in order. */
function delayed(from: net.Socket, to: net.Socket): void {
  from.on('data', (chunk) => {
    setTimeout(() => {
      if (!to.destroyed) to.write(chunk);
    }, oneWay);
  });
  from.on('end', () => setTimeout(() => to.end(), oneWay));
  from.on('error', () => to.destroy());
  from.on('close', () => setTimeout(() => to.destroy(), oneWay));
}

const server = net.createServer((client) => {
  client.setNoDelay(true);
  const db = net.connect(Number(upstream.port), upstream.hostname);
  db.setNoDelay(true);
  delayed(client, db);
  delayed(db, client);
});

const stop = async () => {
  server.close();
  await embedded.stop().catch(() => {});
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

server.listen(port, '127.0.0.1', () => {
  const proxied = new URL(upstream);
  proxied.port = String(port);
  process.stdout.write(`ready ${port} ${proxied.toString()}\n`);
});
