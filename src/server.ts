import closeWithGrace from 'close-with-grace';
import { isEntryPoint } from './runtime/entry-point.js';
import { buildApp } from './app.js';
import { loadConfig } from './config/config.js';
import { ConfigError } from './config/config-error.js';
import { createTokenPurger, stopQueueingRevocationEvents } from './runtime/composition.js';
import { startRuntime, StartupError } from './runtime/runtime.js';
import { loadTls, loggerOptions } from './runtime/server-options.js';
import { VERSION } from './config/version.js';

/** How long in-flight requests get to finish after SIGINT/SIGTERM before their connections are cut. */
const DRAIN_MS = 10_000;
/** Then the bound on closing the pool and stopping the embedded Postgres, before a forced exit 1. */
const STOP_MS = 10_000;
/** The signals that ask for a graceful stop. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/**
 * A second stop signal within this time of the first is the same request, delivered twice: Ctrl-C
 * in a terminal signals the whole foreground process group, and `npm start` passes the SIGINT it
 * got on to node, which already got its own. Only a later one forces the exit.
 */
const REPEAT_MS = 1_000;

/**
 * Calls `stop` on the first SIGINT/SIGTERM, ignores a repeat within REPEAT_MS, and calls `force`
 * on any later one (a user pressing Ctrl-C again because the shutdown takes too long).
 */
function onStopSignal(handlers: { stop(signal: NodeJS.Signals): void; force(signal: NodeJS.Signals): void }): void {
  let first: number | undefined;
  for (const signal of STOP_SIGNALS) {
    process.on(signal, () => {
      if (first === undefined) {
        first = Date.now();
        handlers.stop(signal);
      } else if (Date.now() - first >= REPEAT_MS) {
        handlers.force(signal);
      }
    });
  }
}

/**
 * The process entry point (`npm start`): reads the environment once, starts the runtime, listens,
 * and shuts down gracefully on SIGINT/SIGTERM (stop accepting, finish in-flight requests, close
 * the pool, stop the embedded Postgres, exit 0).
 */
export async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }

  const startupLog = (message: string) => process.stderr.write(`[dcr] ${message}\n`);
  let runtime;
  try {
    runtime = await startRuntime(config, startupLog);
  } catch (err) {
    const known = err instanceof StartupError || (err as Error).name === 'DataDirInUseError';
    process.stderr.write(`[dcr] start-up failed: ${known ? (err as Error).message : (err as Error).stack}\n`);
    process.exit(1);
  }

  if (runtime.generatedAdminPassword) {
    // Shown once, on the terminal, never in a log line: the operator must keep it now
    // (or set DCR_ADMIN_PASSWORD, which resets it on the next start). Shown as soon as the admin
    // exists: a start that fails later (port taken, bad TLS files) must not lose it.
    process.stdout.write(
      `\n  The super admin '${config.adminUser}' was created with this generated password:\n\n` +
        `      ${runtime.generatedAdminPassword}\n\n` +
        '  It is shown only this once. Set DCR_ADMIN_PASSWORD to choose another.\n\n',
    );
  }

  let https;
  try {
    https = await loadTls(config);
  } catch (err) {
    process.stderr.write(`[dcr] start-up failed: ${(err as Error).message}\n`);
    await runtime.close();
    process.exit(1);
  }
  const app = await buildApp(runtime.services, {
    bodyLimit: config.bodyLimit,
    logger: loggerOptions(config),
    metrics: config.metricsEnabled,
    version: VERSION,
    publicUrl: config.publicUrl,
    trustProxy: config.trustProxy,
    ...(https ? { https } : {}),
  });

  const { metrics, revocationEvents } = runtime.services;
  const purger = createTokenPurger(runtime.maintenance, {
    intervalMs: config.tokenPurgeIntervalSeconds * 1000,
    onPurged: (purged) => {
      metrics.tokensPurged(purged);
      app.log.info({ purged }, 'deleted expired tokens');
    },
    onError: (err) => app.log.warn({ err }, 'could not delete expired tokens; trying again at the next interval'),
  });

  // Shutdown order: mark the data folder's lock as stopping (a restart meanwhile waits for this
  // shutdown instead of failing); stop accepting once connections stop arriving and drain the
  // requests in flight (app.close) while the token purge finishes its current DELETE
  // (purger.stop) and the revocation events' dispatcher records its current batch; then close the pool and stop the embedded Postgres (runtime.close). Draining is
  // bounded: connections still open after DRAIN_MS (a stuck request, a client that never reads its
  // answer) are cut, so that the pool and Postgres are always closed by this code, well inside
  // close-with-grace's hard limit. Past that limit the process exits 1, and the embedded Postgres
  // is told to shut down by itself rather than live on as an orphan.
  const grace = closeWithGrace(
    {
      delay: DRAIN_MS + STOP_MS,
      skip: [...STOP_SIGNALS],
      onTimeout: (delay) => {
        app.log.error({ delayMs: delay }, 'the shutdown did not finish in time: exiting');
        runtime.abandon();
      },
    },
    async ({ err }) => {
      if (err) app.log.error({ err }, 'shutting down after an error');
      await runtime.beginShutdown().catch((markErr: unknown) => app.log.warn({ err: markErr }, 'could not mark the data folder as stopping'));
      const cut = setTimeout(() => {
        app.log.warn({ drainMs: DRAIN_MS }, 'requests still open after the drain bound: closing their connections');
        app.server.closeAllConnections();
      }, DRAIN_MS);
      try {
        await Promise.all([app.close(), purger.stop(), revocationEvents?.stop()]);
      } finally {
        clearTimeout(cut);
      }
      await runtime.close();
    },
  );
  onStopSignal({
    stop: (signal) => {
      app.log.info({ signal }, 'shutting down');
      void grace.close();
    },
    force: (signal) => {
      app.log.warn({ signal }, 'a second stop signal: exiting now, without finishing the shutdown');
      runtime.abandon();
      process.exit(1);
    },
  });

  // Before the first request: the notify URLs the database queues revocation events for are this
  // instance's (none when DCR_APIM_NOTIFY_URL is unset), so no revocation it serves is announced
  // to an older list; then the dispatcher delivers in the background.
  try {
    if (revocationEvents) await revocationEvents.start(app.log);
    else await stopQueueingRevocationEvents(runtime.maintenance, app.log);
  } catch (err) {
    app.log.error({ err }, 'could not set up the revocation events');
    await runtime.close();
    process.exit(1);
  }

  try {
    await app.listen({ port: config.port, host: config.host });
  } catch (err) {
    app.log.error({ err }, 'could not listen');
    await runtime.close();
    process.exit(1);
  }
  purger.start();
}

// Runs when started as a program (`npm start`); `dcr serve` imports main() and runs it itself.
if (isEntryPoint(import.meta.url)) await main();
