/**
 * `dcr app list --json` into a pipe whose reader is slow (`| jq` on a busy machine): the whole JSON
 * document arrives. The CLI used to call process.exit() as soon as the command was done, and on a
 * pipe Node writes asynchronously once the pipe is full: everything still queued was dropped, and
 * the document was cut at about 214 KiB (found by `npm run test:soak`,
 * test/reliability/crash-durability.test.ts, with thousands of apps). src/cli.ts now flushes
 * stdout and stderr before it exits.
 */
import { randomBytes } from 'node:crypto';
import t from 'tap';
import { SecretBox } from '../../src/crypto/secret-box.js';
import { createServices } from '../../src/runtime/composition.js';
import { ADMIN, ADMIN_PASSWORD, FAST_HASHER, testKeyPairs, TEST_SERVICE_CONFIG, basic, superTenantSignIn } from '../fixtures/app.js';
import { testDatabase } from '../fixtures/db.js';
import { runCli } from '../fixtures/dcr-process.js';

const APPS = 1_200; // about 400 KiB of JSON: far past a pipe's 64 KiB and the reader's own buffers

t.test('dcr app list --json through a slow pipe: the whole document', async (t) => {
  const { db, appDb, url } = await testDatabase(t);
  const key = randomBytes(32);
  const services = createServices(TEST_SERVICE_CONFIG, { db: appDb, maintenance: db, secrets: new SecretBox(key), hasher: FAST_HASHER, newKeyPair: testKeyPairs() });
  await services.users.bootstrapAdmin(ADMIN_PASSWORD, undefined);
  const caller = await services.auth.authenticateBasic(superTenantSignIn, basic(ADMIN, ADMIN_PASSWORD));
  for (let start = 0; start < APPS; start += 50) {
    await Promise.all(
      Array.from({ length: Math.min(50, APPS - start) }, (_, i) =>
        services.registration.register(caller, {
          clientName: `pipe_app_${String(start + i).padStart(5, '0')}_${'x'.repeat(100)}`,
          owner: ADMIN,
          grantType: 'client_credentials password refresh_token',
          callbackUrl: 'https://example.com/callback',
        }),
      ),
    );
  }

  // After the first chunk, nothing is read for a second: the command finishes meanwhile, its output queued.
  const { code, stdout, stderr } = await runCli(
    ['app', 'list', '--json'],
    { DATABASE_URL: url, DCR_SECRET_KEY: key.toString('base64'), LOG_LEVEL: 'warn' },
    undefined,
    { stallAfterFirstChunkMs: 1_000 },
  );
  t.equal(code, 0, `exit code 0${code === 0 ? '' : `: ${stderr}`}`);
  let listed: Array<{ clientName: string }> = [];
  try {
    listed = JSON.parse(stdout) as Array<{ clientName: string }>;
    t.pass(`${Buffer.byteLength(stdout)} bytes of JSON, complete`);
  } catch (err) {
    t.fail(`the JSON is cut: ${Buffer.byteLength(stdout)} bytes, ${(err as Error).message}`);
  }
  t.equal(listed.length, APPS, `all ${APPS} apps listed`);
});
