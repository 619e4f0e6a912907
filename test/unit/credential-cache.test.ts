/**
 * CredentialCache (src/cache/credential-cache.ts) with an injected clock, then the Authenticator
 * through the app: a remembered Basic credential must stop working at once when the password
 * changes or the user is deleted.
 */
import t from 'tap';
import { ClientCache } from '../../src/cache/client-cache.js';
import { CredentialCache } from '../../src/cache/credential-cache.js';
import { SUPER_TENANT } from '../../src/domain/tenants.js';
import type { Client } from '../../src/domain/types.js';
import { ADMIN_AUTH, FAST_HASHER, basic, buildTestApp, createUser, superTenantSignIn } from '../fixtures/app.js';

function clock(start = 1_000_000) {
  let now = start;
  return {
    now: () => now,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

t.test('CredentialCache', async (t) => {
  t.test('miss before add, hit after add', async (t) => {
    const c = clock();
    const cache = new CredentialCache(10_000, 100, c.now);
    t.equal(cache.has('alice', 'pw', 'hash-1'), false);
    t.equal(cache.size, 0);
    cache.add('alice', 'pw', 'hash-1');
    t.equal(cache.size, 1);
    t.equal(cache.has('alice', 'pw', 'hash-1'), true);
    t.equal(cache.has('alice', 'pw', 'hash-1'), true, 'a hit does not consume the entry');
  });

  t.test('miss after the TTL, hit just before it', async (t) => {
    const c = clock();
    const cache = new CredentialCache(10_000, 100, c.now);
    cache.add('alice', 'pw', 'hash-1');
    c.advance(9_999);
    t.equal(cache.has('alice', 'pw', 'hash-1'), true, '1 ms before expiry');
    c.advance(1);
    t.equal(cache.has('alice', 'pw', 'hash-1'), false, 'at expiry');
    t.equal(cache.size, 0, 'the expired entry is dropped');
    c.advance(-5_000);
    t.equal(cache.has('alice', 'pw', 'hash-1'), false, 'still gone when the clock goes back');
  });

  t.test('adding again restarts the TTL', async (t) => {
    const c = clock();
    const cache = new CredentialCache(10_000, 100, c.now);
    cache.add('alice', 'pw', 'hash-1');
    c.advance(8_000);
    cache.add('alice', 'pw', 'hash-1');
    t.equal(cache.size, 1, 'one entry, not two');
    c.advance(8_000);
    t.equal(cache.has('alice', 'pw', 'hash-1'), true);
    c.advance(2_000);
    t.equal(cache.has('alice', 'pw', 'hash-1'), false);
  });

  t.test('every part of the triple matters', async (t) => {
    const cache = new CredentialCache(10_000, 100, clock().now);
    cache.add('alice', 'pw', 'hash-1');
    t.equal(cache.has('alice', 'pw', 'hash-2'), false, 'the stored hash changed (password change)');
    t.equal(cache.has('alice', 'other', 'hash-1'), false, 'another password');
    t.equal(cache.has('bob', 'pw', 'hash-1'), false, 'another user');
    t.equal(cache.has('Alice', 'pw', 'hash-1'), false, 'user names are case-sensitive');
    t.equal(cache.has('alice', 'PW', 'hash-1'), false, 'passwords are case-sensitive');
    t.equal(cache.has('alice', 'pw', 'hash-1'), true);
  });

  t.test('the parts cannot be shifted into each other', async (t) => {
    const cache = new CredentialCache(10_000, 100, clock().now);
    cache.add('ab', 'c', 'h');
    t.equal(cache.has('a', 'bc', 'h'), false);
    t.equal(cache.has('abc', '', 'h'), false);
    cache.add('x', 'y:z', 'h');
    t.equal(cache.has('x:y', 'z', 'h'), false);
  });

  t.test('ttl 0 (or less) disables the cache', async (t) => {
    for (const ttl of [0, -1]) {
      const cache = new CredentialCache(ttl, 100, clock().now);
      cache.add('alice', 'pw', 'hash-1');
      t.equal(cache.size, 0, `ttl ${ttl}: nothing stored`);
      t.equal(cache.has('alice', 'pw', 'hash-1'), false, `ttl ${ttl}: never a hit`);
    }
  });

  t.test('max entries evicts the oldest', async (t) => {
    const c = clock();
    const cache = new CredentialCache(60_000, 3, c.now);
    for (const user of ['u1', 'u2', 'u3']) {
      cache.add(user, 'pw', 'h');
      c.advance(1);
    }
    t.equal(cache.size, 3);
    cache.add('u4', 'pw', 'h');
    t.equal(cache.size, 3, 'bounded');
    t.equal(cache.has('u1', 'pw', 'h'), false, 'the oldest went');
    t.equal(cache.has('u2', 'pw', 'h'), true);
    t.equal(cache.has('u3', 'pw', 'h'), true);
    t.equal(cache.has('u4', 'pw', 'h'), true);

    // Re-adding an entry makes it the newest.
    cache.add('u2', 'pw', 'h');
    cache.add('u5', 'pw', 'h');
    t.equal(cache.size, 3);
    t.equal(cache.has('u3', 'pw', 'h'), false, 'u3 is now the oldest and went');
    t.equal(cache.has('u2', 'pw', 'h'), true);
    t.equal(cache.has('u4', 'pw', 'h'), true);
    t.equal(cache.has('u5', 'pw', 'h'), true);
  });

  t.test('separate caches do not share entries (per-process key)', async (t) => {
    const a = new CredentialCache(10_000, 100, clock().now);
    const b = new CredentialCache(10_000, 100, clock().now);
    a.add('alice', 'pw', 'hash-1');
    t.equal(b.has('alice', 'pw', 'hash-1'), false);
  });

  t.test('entries hold no password or hash text', async (t) => {
    const cache = new CredentialCache(10_000, 100, clock().now);
    cache.add('alice', 'Sup3r-secret-pw', '$scrypt$hash');
    const entries = (cache as unknown as { entries: Map<string, number> }).entries;
    for (const key of entries.keys()) {
      t.notMatch(key, /Sup3r-secret-pw|alice|scrypt/);
      t.match(key, /^[A-Za-z0-9_-]{43}$/, 'an HMAC-SHA256 digest');
    }
  });
});

const REGISTER = '/client-registration/v0.17/register';
const UNAUTHORIZED = {
  code: 401,
  message: 'Unauthorized',
  description: 'The user is not authorized',
  moreInfo: '',
  error: [],
};

t.test('ClientCache: a verified (client id, secret) pair, and nothing else', async (t) => {
  const client: Client = {
    id: 'a1',
    tenantId: SUPER_TENANT.id,
    clientId: 'ab',
    clientName: 'n',
    owner: 'o',
    ownerId: 'u1',
    grantTypes: [],
    callbackUrl: null,
    saasApp: false,
    tokenType: 'DEFAULT',
    userStoreDomainInSubject: false,
    lifetimes: { applicationToken: null, userToken: null, refreshToken: null },
    createdAt: new Date(0),
  };
  const c = clock();
  const cache = new ClientCache(10_000, 2, c.now);
  cache.set(['ab', 'secret'], client);
  t.equal(cache.get(['ab', 'secret']), client);
  t.equal(cache.get(['ab', 'Secret']), undefined, 'another secret');
  t.equal(cache.get(['ab', 'secre']), undefined, 'a prefix of the secret');
  t.equal(cache.get(['a', 'bsecret']), undefined, 'the id and secret cannot be shifted into each other');
  t.equal(cache.get(['abs', 'ecret']), undefined);
  cache.delete(['ab', 'secret']);
  t.equal(cache.get(['ab', 'secret']), undefined, 'deleted');
  cache.set(['ab', 'secret'], client);
  c.advance(10_000);
  t.equal(cache.get(['ab', 'secret']), undefined, 'expired after the TTL');
  for (const id of ['x', 'y', 'z']) cache.set([id, 's'], client);
  t.equal(cache.size, 2, 'at most maxEntries');
  t.equal(cache.get(['x', 's']), undefined, 'the oldest went first');
  const off = new ClientCache(0);
  off.set(['ab', 'secret'], client);
  t.equal(off.get(['ab', 'secret']), undefined, 'TTL 0 remembers nothing');
});

t.test('ClientCache: keyed as ClientAuthentication keys it, (tenant, client id, secret), every part counts', async (t) => {
  const client = { id: 'a1', tenantId: SUPER_TENANT.id, clientId: 'ab' } as Client;
  const cache = new ClientCache(10_000, 10, clock().now);
  const tenant = String(SUPER_TENANT.id);
  cache.set([tenant, 'ab', 'secret'], client);
  t.equal(cache.get([tenant, 'ab', 'secret']), client);
  t.equal(cache.get([tenant, 'ab', 'wrong']), undefined, 'another secret misses: the secret is part of the key');
  t.equal(cache.get([tenant, 'ab', '']), undefined, 'no secret misses');
  t.equal(cache.get([tenant, 'ab']), undefined, 'the tenant and id alone miss');
  t.equal(cache.get(['1', 'ab', 'secret']), undefined, 'another tenant misses');
  t.equal(cache.get([`${tenant}a`, 'b', 'secret']), undefined, 'the parts cannot be shifted into each other');
});

t.test('Authenticator with the cache on: password change and deletion take effect at once', async (t) => {
  // A long TTL: only the stored hash in the digest can make the old entry unreachable.
  const { app, db, services } = await buildTestApp(t, { authCacheTtlSeconds: 3600 });
  const userId = await createUser(app, 'alice', 'alice-Pa55word');
  let n = 0;
  const register = (authorization: string) =>
    app.inject({
      method: 'POST',
      url: REGISTER,
      headers: { authorization },
      payload: { clientName: `cache-app-${++n}`, owner: 'alice', grantType: 'password' },
    });

  const oldAuth = basic('alice', 'alice-Pa55word');
  const first = await register(oldAuth);
  t.equal(first.statusCode, 200, first.body);
  const second = await register(oldAuth);
  t.equal(second.statusCode, 200, 'served from the cache');
  t.equal((await services.auth.authenticateBasic(superTenantSignIn, oldAuth)).username, 'alice');

  // Password change: a new hash in the database (no route for it yet).
  await db.query('UPDATE users SET password_hash = $2, updated_at = now() WHERE id = $1', [
    userId,
    await FAST_HASHER.hash('alice-New-Pa55word'),
  ]);
  const stale = await register(oldAuth);
  t.equal(stale.statusCode, 401, 'the old password fails at once');
  t.same(stale.json(), UNAUTHORIZED);
  t.ok(stale.headers['www-authenticate']);
  const fresh = await register(basic('alice', 'alice-New-Pa55word'));
  t.equal(fresh.statusCode, 200, fresh.body);

  // Deletion: the new password was just cached, and must fail at once too.
  const del = await app.inject({ method: 'DELETE', url: `/scim2/Users/${userId}`, headers: { authorization: ADMIN_AUTH } });
  t.equal(del.statusCode, 204, del.body);
  const gone = await register(basic('alice', 'alice-New-Pa55word'));
  t.equal(gone.statusCode, 401);
  t.same(gone.json(), UNAUTHORIZED);

  // A user re-created under the same name with the same password is a new credential, and works.
  await createUser(app, 'alice', 'alice-New-Pa55word');
  const recreated = await register(basic('alice', 'alice-New-Pa55word'));
  t.equal(recreated.statusCode, 200, recreated.body);
});

t.test('Authenticator: the cache survives other users and a wrong password does not poison it', async (t) => {
  const { app, services } = await buildTestApp(t, { authCacheTtlSeconds: 3600 });
  await createUser(app, 'bob', 'bob-Pa55word');
  t.equal(await services.auth.verifyPassword(SUPER_TENANT, 'bob', 'wrong-password'), undefined);
  t.equal((await services.auth.verifyPassword(SUPER_TENANT, 'bob', 'bob-Pa55word'))?.username, 'bob');
  t.equal((await services.auth.verifyPassword(SUPER_TENANT, 'bob', 'bob-Pa55word'))?.username, 'bob', 'cached');
  t.equal(await services.auth.verifyPassword(SUPER_TENANT, 'bob', 'wrong-password'), undefined, 'still wrong after a cached success');
  t.equal(await services.auth.verifyPassword(SUPER_TENANT, 'nobody', 'bob-Pa55word'), undefined);
});
