import closeWithGrace from 'close-with-grace';
import { isEntryPoint } from './entry-point.js';
import { buildApp } from './app.js';
import { ConfigError, loadConfig } from './config.js';
import { createTokenPurger, loadTls, loggerOptions, startRuntime, StartupError } from './runtime.js';
import { VERSION } from './version.js';

/** How long in-flight requests get to finish after SIGINT/SIGTERM before their connections are cut. */
const DRAIN_MS = 10_000;
/** Then the bound on closing the pool and stopping the embedded Postgres, before a forced exit 1. */
const STOP_MS = 10_000;

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
    ...(https ? { https } : {}),
  });

  const purger = createTokenPurger(runtime.db, config, runtime.services.metrics, app.log);

  // Shutdown order: stop accepting and drain in-flight requests (app.close) while the token purge
  // finishes its current DELETE (purger.stop), then close the pool,
  // then stop the embedded Postgres (runtime.close). Draining is bounded: connections still open
  // after DRAIN_MS (a stuck request, a client that never reads its answer) are cut, so that the
  // pool and Postgres are always closed by this code, well inside close-with-grace's hard limit,
  // which exits 1 without them (and used to leave the embedded postgres running).
  closeWithGrace({ delay: DRAIN_MS + STOP_MS }, async ({ signal, err }) => {
    if (err) app.log.error({ err }, 'shutting down after an error');
    else app.log.info({ signal }, 'shutting down');
    const cut = setTimeout(() => {
      app.log.warn({ drainMs: DRAIN_MS }, 'requests still open after the drain bound: closing their connections');
      app.server.closeAllConnections();
    }, DRAIN_MS);
    try {
      await Promise.all([app.close(), purger.stop()]);
    } finally {
      clearTimeout(cut);
    }
    await runtime.close();
  });

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
