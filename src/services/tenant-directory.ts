import { ExpiringCache } from '../cache/expiring-cache.js';
import type { Database } from '../db/database.js';
import { SUPER_TENANT, splitQualifiedName, type Tenant } from '../domain/tenants.js';

/** A tenant as requests meet it: its id and domain, and whether it is active. */
export interface TenantState extends Tenant {
  active: boolean;
  /** The tenant's owner (its admin, as WSO2's tenant admin); null once that account is gone. */
  ownerId: string | null;
}

/** The tenants an instance remembers at once (the oldest looked up go first). */
export const TENANT_CACHE_ENTRIES = 10_000;

/**
 * The tenant a domain names, for every `/t/{domain}/` request and every `user@domain` sign-in:
 * a lookup in the `tenants` registry (migration 012; no row security, it holds names, not data),
 * remembered for `ttlMs` so that a request costs no round trip for it. Another instance's
 * deactivation is therefore seen here within `ttlMs`; this instance's own at once (forget).
 * Unknown domains are remembered too (as absent), so junk domains cost one lookup per `ttlMs`
 * each, within the cache's bound.
 */
export class TenantDirectory {
  private readonly cache: ExpiringCache<TenantState | null>;

  constructor(
    private readonly db: Database,
    private readonly ttlMs = 5_000,
    maxEntries = TENANT_CACHE_ENTRIES,
  ) {
    this.cache = new ExpiringCache({ maxEntries });
  }

  async resolve(domain: string): Promise<TenantState | undefined> {
    const key = domain.toLowerCase();
    if (key === SUPER_TENANT.domain) return { ...SUPER_TENANT, active: true, ownerId: null };
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    // NUL cannot be in a stored domain (PostgreSQL text cannot hold it); asking would fail with 22021.
    const { rows } = key.includes('\u0000')
      ? { rows: [] }
      : await this.db.query<{ id: number; domain: string; active: boolean; owner_id: string | null }>(
          { name: 'tenant_by_domain', text: 'SELECT id, domain, active, owner_id FROM tenants WHERE domain = $1' },
          [key],
        );
    const row = rows[0];
    const found = row ? { id: row.id, domain: row.domain, active: row.active, ownerId: row.owner_id } : null;
    this.cache.set(key, found, this.ttlMs);
    return found ?? undefined;
  }

  /** Drops what this instance remembers of `domain` (after it changed the tenant itself). */
  forget(domain: string): void {
    this.cache.delete(domain.toLowerCase());
  }
}

/** Where a request signs its user in: the tenant it is served in, and whether its path named it. */
export interface SignInContext {
  tenant: Tenant;
  /** The request came under `/t/{domain}/`: a name of another tenant is then refused, not followed. */
  pathTenant: boolean;
}

/**
 * The tenant and local name a sign-in name stands for (WSO2's `user@domain`, reference §8):
 * - `alice@a.com` where a.com is a tenant: user alice of a.com. Under a `/t/{domain}/` path it must
 *   be that path's tenant (undefined otherwise: never a cross-tenant sign-in); without one (v0.17,
 *   whose clients never prefix their calls) the name decides, and only an active tenant signs in;
 * - a name whose suffix is no tenant (`bob@gmail.com`), or with no '@': a user of the request's tenant.
 */
export async function signInTarget(
  directory: Pick<TenantDirectory, 'resolve'>,
  context: SignInContext,
  name: string,
): Promise<{ tenant: Tenant; username: string } | undefined> {
  const home = await userTenant(directory, context.tenant, name);
  return home && (home.tenant.id === context.tenant.id || !context.pathTenant) ? home : undefined;
}

/**
 * The tenant a password grant's user name belongs to, seen from `tenant` (the app's): `bob` or
 * `bob@<tenant>` is the app's tenant's; `bob@b.com`, b.com's when b.com is an active tenant (the
 * caller then decides whether the app admits it: SaaS apps only); a suffix that is no tenant is
 * part of a name of the app's tenant. Undefined for a deactivated tenant's user.
 */
export async function userTenant(
  directory: Pick<TenantDirectory, 'resolve'>,
  tenant: Tenant,
  name: string,
): Promise<{ tenant: Tenant; username: string } | undefined> {
  const qualified = splitQualifiedName(name);
  const named = qualified && (await directory.resolve(qualified.domain));
  if (!qualified || !named) return { tenant, username: name };
  if (named.id === tenant.id) return { tenant, username: qualified.username };
  return named.active ? { tenant: { id: named.id, domain: named.domain }, username: qualified.username } : undefined;
}
