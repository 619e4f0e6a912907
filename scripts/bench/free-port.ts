/**
 * Ports for child servers the benchmark and the tests start. Shared by scripts/bench.ts and
 * test/fixtures, which both pick a port here and pass it to a process that listens a moment later.
 */
import { readFileSync } from 'node:fs';
import { canListen } from '../../src/embedded/ports.js';

/**
 * The kernel's ephemeral range: where it picks a port for `listen(0)` and for every outgoing
 * connection. Each embedded Postgres in the suite takes its port from there (src/embedded/cluster.ts).
 */
function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 2048 ? low : 32768;
  } catch {
    return 32768;
  }
}

const PORT_RANGE_TOP = ephemeralLow();
const PORT_RANGE_BOTTOM = Math.max(1024, PORT_RANGE_TOP - 16384);
const handedOut = new Set<number>();

/**
 * A port nobody listens on right now, for a child server to listen on a moment later. It comes
 * from just below the ephemeral range, never from it: a kernel pick (port 0) can be handed again,
 * in the seconds a server takes to start, to another test's embedded Postgres or to an outgoing
 * connection, and the server then fails with EADDRINUSE (it did once in CI). Below the range only
 * another test's random pick can collide, about one chance in 16,000.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = PORT_RANGE_BOTTOM + Math.floor(Math.random() * (PORT_RANGE_TOP - PORT_RANGE_BOTTOM));
    if (handedOut.has(port) || !(await canListen(port))) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error(`no free port in ${PORT_RANGE_BOTTOM}-${PORT_RANGE_TOP - 1} after 100 tries`);
}
