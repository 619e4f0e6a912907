/**
 * `npm run bench -- [options]` (`--help` lists them): load benchmark of the real server process,
 * started as `npm start` starts it, against a bare Fastify ceiling and oidc-provider on the same
 * machine. docs/performance.md has what it found. The parts, in scripts/bench/:
 *
 * - options.ts   the command line and its defaults per mode;
 * - targets.ts   what each target measures, and which are compared (measured next to each other);
 * - servers.ts   starting the servers under test (this checkout or --ab's), the ceiling, the peer;
 * - processes.ts the child processes, and their CPU and memory read from /proc;
 * - load.ts      the load driver (autocannon): warm-up, rounds, lead-ins, slices, figures;
 * - report.ts    the table, ratios, checks against the targets, the JSON line's pieces;
 * - modes.ts     the standard, --seeded, --tenants and --profile runs, and the JSON line;
 * - seed-tenants.ts  --tenants's seeding: N tenants, an admin, a JWT app and an RS256 key each.
 */
import { runBench } from './bench/modes.js';
import { HELP, parseOptions } from './bench/options.js';
import { logger, Processes } from './bench/processes.js';
import { Servers } from './bench/servers.js';

const processes = new Processes();
process.on('SIGINT', () => {
  void processes.stopAll().finally(() => process.exit(130));
});

try {
  const options = parseOptions(process.argv.slice(2));
  if (options === 'help') process.stdout.write(HELP);
  else await runBench({ options, log: logger(), processes, servers: new Servers(processes, options.dbLatencyMs) });
  // Every target is stopped; idle keep-alive sockets of the set-up calls would hold the exit up.
  process.exit(0);
} catch (err) {
  await processes.stopAll();
  process.stderr.write(`bench: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
}
