/**
 * The revocation events' pure rules (src/domain/revocation-events.ts): WSO2's JSON of each kind,
 * which statuses are final, the backoff's bounds, the URL as labels show it; and the
 * DCR_APIM_NOTIFY_* settings as loadConfig reads them (credentials both or neither, URLs checked
 * without echoing them).
 */
import t from 'tap';
import { loadConfig } from '../../src/config/config.js';
import { SETTINGS } from '../../src/config/settings.js';
import { outcomeOf, renderEvent, retryDelayMs, urlLabel, type RevocationFacts } from '../../src/domain/revocation-events.js';
import { SUPER_TENANT } from '../../src/domain/tenants.js';

const at = new Date('2026-03-01T10:00:00.123Z');
const facts = (kind: RevocationFacts['kind'], extra: Partial<RevocationFacts> = {}): RevocationFacts => ({
  eventId: '6f1c0a56-1b0e-4c43-9e39-6a1f0e0c7f11',
  kind,
  createdAt: at,
  consumerKey: null,
  subject: null,
  tokenId: null,
  tokenExpiresAt: null,
  ...extra,
});

t.test('renderEvent: WSO2 IS notifier shapes, super tenant, ms timestamps', async (t) => {
  t.strictSame(
    renderEvent(facts('token', { consumerKey: 'ck', subject: 'alice', tokenId: 'a1b2c3d4-0000-4000-8000-000000000001', tokenExpiresAt: new Date(at.getTime() + 3_600_000) }), SUPER_TENANT),
    {
      eventId: '6f1c0a56-1b0e-4c43-9e39-6a1f0e0c7f11',
      timeStamp: at.getTime(),
      type: 'token_revocation',
      tenantId: -1234,
      tenantDomain: 'carbon.super',
      accessToken: 'a1b2c3d4-0000-4000-8000-000000000001',
      expiryTime: at.getTime() + 3_600_000,
      user: 'alice',
      consumerKey: 'ck',
      tokenType: 'JWT',
    },
  );
  t.strictSame(renderEvent(facts('consumer_app', { consumerKey: 'ck' }), SUPER_TENANT), {
    eventId: '6f1c0a56-1b0e-4c43-9e39-6a1f0e0c7f11',
    timeStamp: at.getTime(),
    type: 'consumer_app_revocation_event',
    tenantId: -1234,
    tenantDomain: 'carbon.super',
    consumerKey: 'ck',
    revocationTime: at.getTime(),
  });
  t.strictSame(renderEvent(facts('subject', { subject: 'bob' }), SUPER_TENANT), {
    eventId: '6f1c0a56-1b0e-4c43-9e39-6a1f0e0c7f11',
    timeStamp: at.getTime(),
    type: 'subject_entity_revocation_event',
    tenantId: -1234,
    tenantDomain: 'carbon.super',
    entityId: 'bob',
    entityType: 'USER_ID',
    revocationTime: at.getTime(),
  });
  t.strictSame(SUPER_TENANT, { id: -1234, domain: 'carbon.super' });
  t.match(renderEvent(facts('subject', { subject: 'bob' }), { id: 7, domain: 'example.com' }), { tenantId: 7, tenantDomain: 'example.com' }, 'the tenant is a parameter');
  const one = facts('token', { consumerKey: 'ck', subject: 'a', tokenId: 'x', tokenExpiresAt: at });
  t.equal(JSON.stringify(renderEvent(one, SUPER_TENANT)), JSON.stringify(renderEvent(one, SUPER_TENANT)), 'deterministic: the same bytes every attempt');
});

t.test('outcomeOf: 2xx delivered, 400/413/422 final, the rest retried', async (t) => {
  for (const status of [200, 201, 202, 204, 299]) t.equal(outcomeOf(status), 'delivered', String(status));
  for (const status of [400, 413, 422]) t.equal(outcomeOf(status), 'rejected', String(status));
  for (const status of [301, 302, 307, 401, 403, 404, 405, 408, 409, 429, 500, 502, 503, 504]) t.equal(outcomeOf(status), 'retry', String(status));
});

t.test('retryDelayMs: exponential from 1 s, capped, jitter in the upper half', async (t) => {
  t.equal(retryDelayMs(1, 60_000, () => 0), 500);
  t.equal(retryDelayMs(1, 60_000, () => 1), 1_000);
  t.equal(retryDelayMs(3, 60_000, () => 1), 4_000);
  t.equal(retryDelayMs(7, 60_000, () => 1), 60_000, 'capped');
  t.equal(retryDelayMs(1_000, 60_000, () => 0), 30_000, 'capped, however many attempts');
  for (let attempts = 1; attempts < 40; attempts++) {
    const delay = retryDelayMs(attempts, 10_000);
    t.ok(delay >= 500 && delay <= 10_000, `${attempts}: ${delay}`);
  }
});

t.test('urlLabel: origin and path only', async (t) => {
  t.equal(urlLabel('https://apim.example.com:9443/internal/data/v1/notify?x=1'), 'https://apim.example.com:9443/internal/data/v1/notify');
});

t.test('DCR_APIM_NOTIFY_* settings', async (t) => {
  t.equal(loadConfig({}).apimNotify, undefined, 'unset: no push');
  const config = loadConfig({
    DCR_APIM_NOTIFY_URL: 'https://apim-1:9443/internal/data/v1/notify, https://apim-2:9443/internal/data/v1/notify,https://apim-1:9443/internal/data/v1/notify',
    DCR_APIM_NOTIFY_USER: 'admin',
    DCR_APIM_NOTIFY_PASSWORD: 's3cret',
  });
  t.strictSame(config.apimNotify, {
    urls: ['https://apim-1:9443/internal/data/v1/notify', 'https://apim-2:9443/internal/data/v1/notify'],
    credentials: { user: 'admin', password: 's3cret' },
    batchSize: 100,
    pollIntervalMs: 500,
    timeoutMs: 5000,
    retryMaxDelayMs: 60_000,
    maxEvents: 100_000,
    staleAfterSeconds: 60,
  });
  t.throws(() => loadConfig({ DCR_APIM_NOTIFY_URL: 'https://a/n', DCR_APIM_NOTIFY_USER: 'admin' }), /both DCR_APIM_NOTIFY_USER and DCR_APIM_NOTIFY_PASSWORD/);
  t.throws(() => loadConfig({ DCR_APIM_NOTIFY_URL: 'ftp://a/n' }), /entry 1 must be an http or https URL/);
  t.throws(() => loadConfig({ DCR_APIM_NOTIFY_URL: ' , ' }), /names no URL/);
  let message = '';
  try {
    loadConfig({ DCR_APIM_NOTIFY_URL: 'https://a/n,https://admin:hunter2@b/n' });
  } catch (err) {
    message = (err as Error).message;
  }
  t.match(message, /entry 2 holds user info/);
  t.notMatch(message, /hunter2/, 'the error never echoes the URL');
  t.throws(() => loadConfig({ DCR_APIM_NOTIFY_URL: 'https://a/n', DCR_APIM_NOTIFY_BATCH_SIZE: '0' }), /DCR_APIM_NOTIFY_BATCH_SIZE/);
  t.ok(SETTINGS.find((s) => s.name === 'DCR_APIM_NOTIFY_PASSWORD')?.secret, 'the password is a secret setting');
  t.notOk(SETTINGS.find((s) => s.name === 'DCR_APIM_NOTIFY_USER')?.secret);
});
