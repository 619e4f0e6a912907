/**
 * Swagger UI at /docs, driven by a real browser against the real server process: authorise with
 * Basic, "Try it out" on POST /client-registration/v0.17/register, and see the live 200 with a
 * clientId. Proves the UI works end to end (CSP, `servers` rewritten to the address the browser
 * reached, the Authorization header sent by the UI), and that the page's static CSP refuses
 * nothing it needs: no "Content Security Policy" error in the browser console.
 *
 * Needs Debian's Chromium at /usr/bin/chromium (.ci/run installs it). Without it the test is
 * skipped locally, and fails in CI (CI set), where a missing browser is a broken environment.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import t, { type Test } from 'tap';
import { assertBuiltForThisRun, SERVER_ARGS } from '../fixtures/server-command.js';
import { freePort, killCluster } from '../fixtures/server-process.js';

const CHROMIUM = '/usr/bin/chromium';
const REPO_ROOT = fileURLToPath(new URL('../../', import.meta.url));
const ARTIFACTS_DIR = path.join(REPO_ROOT, 'test-artifacts');
const SCREENSHOT = path.join(ARTIFACTS_DIR, 'docs-try-it-out.png');
const REGISTER = '/client-registration/v0.17/register';
const TITLE = 'WSO2-compatible DCR server and key manager';
const ADMIN_USER = 'admin';

// Generous for a loaded CI runner (initdb + migrations + a 1.5 MB UI bundle); an idle machine
// needs a fraction of each.
const READY_TIMEOUT_MS = 45_000;
const NAVIGATION_TIMEOUT_MS = 30_000;
const UI_TIMEOUT_MS = 15_000;

function alive(child: ChildProcess): boolean {
  return child.exitCode === null && child.signalCode === null;
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  try {
    process.kill(-child.pid!, signal);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ESRCH') throw err;
  }
}

/** Resolves when the child exits, or after `ms` (false then). */
function exited(child: ChildProcess, ms: number): Promise<boolean> {
  if (!alive(child)) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/**
 * `node dist/server.js` (as `npm start`) in its own process group, over a fresh data folder; resolves
 * once GET /health/ready answers 200. Teardown stops the group (SIGTERM, then SIGKILL if still
 * alive) and removes the data folder.
 */
async function startServer(t: Test, adminPassword: string): Promise<{ baseUrl: string; output: () => string }> {
  assertBuiltForThisRun();
  const dataDir = await fs.mkdtemp(path.join(os.tmpdir(), 'dcr-docs-e2e-'));
  const port = await freePort();
  let output = '';
  const child = spawn(process.execPath, [...SERVER_ARGS], {
    cwd: REPO_ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      DCR_DATA_DIR: dataDir,
      DCR_ADMIN_PASSWORD: adminPassword,
      LOG_LEVEL: 'warn',
    },
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

  t.teardown(async () => {
    if (alive(child)) {
      // Graceful first, so the embedded PostgreSQL stops cleanly; then no mercy.
      killGroup(child, 'SIGTERM');
      if (!(await exited(child, 5_000))) killGroup(child, 'SIGKILL');
      await exited(child, 5_000);
    }
    // Whatever is left of the group, and the postmaster of a server that died early (it runs in
    // a session of its own).
    killGroup(child, 'SIGKILL');
    killCluster(dataDir);
    await fs.rm(dataDir, { recursive: true, force: true, maxRetries: 3 });
  });

  const baseUrl = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  for (;;) {
    if (!alive(child)) throw new Error(`the server exited (${child.exitCode ?? child.signalCode}) before ready:\n${output}`);
    try {
      const res = await fetch(`${baseUrl}/health/ready`, { signal: AbortSignal.timeout(2_000) });
      await res.arrayBuffer();
      if (res.status === 200) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`the server was not ready within ${READY_TIMEOUT_MS} ms:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return { baseUrl, output: () => output };
}

async function launchBrowser(t: Test): Promise<Browser> {
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 30_000,
    // Playwright gives the browser a fresh temporary profile and removes it on close.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-quic',
      '--no-first-run',
    ],
  });
  t.teardown(() => browser.close());
  return browser;
}

async function textOf(page: Page, selector: string): Promise<string> {
  const locator = page.locator(selector).first();
  await locator.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  return (await locator.textContent({ timeout: UI_TIMEOUT_MS })) ?? '';
}

if (!existsSync(CHROMIUM)) {
  if (process.env.CI) {
    t.fail(`${CHROMIUM} is missing in CI: .ci/run installs Debian's chromium before npm test`);
  } else {
    t.plan(0, `${CHROMIUM} not found: install Debian's chromium (apt-get install chromium) to run the Swagger UI browser test`);
  }
} else {
  t.test('Swagger UI: authorise with Basic and "Try it out" the register call', async (t) => {
    t.setTimeout(150_000);
    const adminPassword = `docs-${randomBytes(9).toString('base64url')}`;
    const started = Date.now();
    const [{ baseUrl, output }, browser] = await Promise.all([startServer(t, adminPassword), launchBrowser(t)]);
    t.comment(`server ready and browser up in ${Date.now() - started} ms`);

    const context = await browser.newContext({ viewport: { width: 1280, height: 1000 } });
    const page = await context.newPage();
    page.setDefaultTimeout(UI_TIMEOUT_MS);
    page.setDefaultNavigationTimeout(NAVIGATION_TIMEOUT_MS);
    // Browser-side trouble (CSP violations, script errors), shown when an assertion fails.
    const problems: string[] = [];
    // Content Security Policy refusals: Chromium reports each as a console error.
    const cspViolations: string[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error' || message.type() === 'warning') problems.push(`console ${message.type()}: ${message.text()}`);
      if (message.type() === 'error' && message.text().includes('Content Security Policy')) cspViolations.push(message.text());
    });
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    const diagnostics = () => ({ browser: problems, server: output().slice(-4000) });

    try {
      const response = await page.goto(`${baseUrl}/docs/`, { waitUntil: 'load' });
      t.equal(response?.status(), 200, 'GET /docs/ is 200');

      // The document is loaded and rendered: title and the register operation.
      t.match(await textOf(page, '.information-container .title'), TITLE, 'the title is shown', diagnostics());
      const operation = page.locator('.opblock').filter({
        has: page.locator(`.opblock-summary-path[data-path="${REGISTER}"]`),
      });
      await operation.first().waitFor({ state: 'visible' });
      t.equal(await operation.count(), 1, 'the register path is shown, once');
      t.match(await operation.getAttribute('class'), /opblock-post/, 'as a POST');

      // Authorize → BasicAuth (http, Basic) → username/password → Authorize → Close.
      await page.locator('.scheme-container .btn.authorize').first().click();
      const modal = page.locator('.dialog-ux .modal-ux');
      await modal.waitFor({ state: 'visible' });
      const basicAuth = modal.locator('.auth-container').filter({ hasText: 'BasicAuth' });
      await basicAuth.waitFor({ state: 'visible' });
      t.match(await basicAuth.textContent(), /http, Basic/, 'the BasicAuth scheme is offered');
      await basicAuth.locator('input[type="text"]').fill(ADMIN_USER);
      await basicAuth.locator('input[type="password"]').fill(adminPassword);
      await basicAuth.locator('button.authorize').click();
      await basicAuth.locator('button', { hasText: 'Logout' }).waitFor({ state: 'visible' });
      t.pass('authorised with BasicAuth');
      await modal.locator('button.btn-done, button.close-modal').first().click();
      await modal.waitFor({ state: 'hidden' });

      // Expand the operation, Try it out, a valid body, Execute.
      await operation.locator('.opblock-summary').first().click();
      await operation.locator('.try-out__btn').click();
      const clientName = `docs_app_${randomBytes(4).toString('hex')}`;
      const body = {
        clientName,
        owner: ADMIN_USER,
        grantType: 'client_credentials password refresh_token',
        saasApp: true,
      };
      const textarea = operation.locator('textarea.body-param__text');
      await textarea.waitFor({ state: 'visible' });
      await textarea.fill(JSON.stringify(body, null, 2));
      await operation.locator('button.execute').click();

      // The live response: 200 with a clientId, from the server the browser reached.
      const live = operation.locator('.live-responses-table');
      const status = live.locator('tbody .response-col_status').first();
      await status.waitFor({ state: 'visible' });
      t.equal((await status.textContent())?.trim(), '200', 'the live response is 200', diagnostics());
      const responseBody = (await live.locator('.response-col_description pre').first().textContent()) ?? '';
      t.match(responseBody, /"clientId"/, 'the response body has a clientId', { responseBody });
      t.match(responseBody, clientName, 'for the application just registered');

      const requestUrl = (await operation.locator('.request-url pre').first().textContent())?.trim() ?? '';
      t.ok(
        requestUrl.startsWith(`${baseUrl}${REGISTER}`),
        'Swagger UI called the server it was served from (servers rewritten)',
        { requestUrl, expected: `${baseUrl}${REGISTER}` },
      );

      t.strictSame(cspViolations, [], 'the page ran without a Content Security Policy violation', diagnostics());

      await fs.mkdir(ARTIFACTS_DIR, { recursive: true });
      await operation.locator('.responses-wrapper').scrollIntoViewIfNeeded();
      await page.screenshot({ path: SCREENSHOT, timeout: UI_TIMEOUT_MS });
      t.pass(`screenshot saved to ${path.relative(REPO_ROOT, SCREENSHOT)}`);
      t.comment(`browser steps done in ${Date.now() - started} ms`);
    } catch (err) {
      // Keep what the browser showed when it went wrong, next to the diagnostics.
      await fs.mkdir(ARTIFACTS_DIR, { recursive: true });
      const failure = path.join(ARTIFACTS_DIR, 'docs-try-it-out-failure.png');
      await page.screenshot({ path: failure, fullPage: true, timeout: UI_TIMEOUT_MS }).catch(() => undefined);
      t.comment(JSON.stringify(diagnostics(), null, 2));
      throw err;
    }
  });
}
