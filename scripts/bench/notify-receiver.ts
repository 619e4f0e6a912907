/**
 * A stand-in for WSO2 API Manager's notify endpoint for the benchmark (`--ab-env
 * DCR_APIM_NOTIFY_URL=receiver`): answers every POST 200 `{}` at once, so that an @ab server's
 * revocation events are delivered as fast as it sends them, and the rows measure what pushing
 * events costs the revoke and refresh paths. Counts what it received (logged at exit).
 *
 * Environment: PORT (required). Prints `ready <port>` on stdout once listening.
 */
import http from 'node:http';

const port = Number(process.env.PORT);
if (!Number.isInteger(port) || port <= 0) throw new Error('PORT is required');

let received = 0;
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    received++;
    res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
server.keepAliveTimeout = 60_000;
server.listen(port, '127.0.0.1', () => process.stdout.write(`ready ${port}\n`));
process.on('SIGTERM', () => {
  process.stderr.write(`notify-receiver: ${received} events received\n`);
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
