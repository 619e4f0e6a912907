import { ExpiringCache } from '../cache/expiring-cache.js';
import { SUPER_TENANT, splitQualifiedName, type Tenant, type TenantRecord } from '../domain/tenants.js';
import type { TenantRepository } from '../repositories/tenants.js';

/** A tenant as requests meet it: its id and domain, and whether it is active. */
export interface TenantState extends Tenant {
  active: boolean;
  /** The tenant's owner (its admin, as WSO2's tenant admin); null once that account is gone. */
  ownerId: string | null;
}

/** The tenants an instance remembers at once (the oldest looked up go first). */
export const TENANT_CACHE_ENTRIES = 50_000;

/**
 * How far back each poll looks beyond the previous one's clock: a change committed after that poll
 * but stamped before it (a transaction that ran for a while) is still seen. Transactions on
 * `tenants` are short; every statement is bounded by DCR_DB_TIMEOUT.
 */
const POLL_OVERLAP_MS = 30_000;

/**
 * The tenant a domain names, for every `/t/{domain}/` request and every `user@domain` sign-in:
 * the `tenants` registry (migration 012; no row security, it holds names, not data), remembered,
 * so that a request costs no round trip for it, for up to `maxEntries` domains (unknown ones too,
 * as absent, so junk domains cost one lookup each within that bound).
 *
 * Kept fresh by asking, at most every `refreshMs` and without holding up the request that
 * triggers it, which tenants changed since the last time (TenantRepository.changedSince): one
 * small indexed query per period whatever the number of tenants, where a time-to-live per entry
 * would cost one lookup per tenant per period (10,000 tenants in turn: a query on most requests).
 * Another instance's change (a deactivation, a new tenant under a domain remembered as unknown) is
 * therefore seen here within about `refreshMs`; this instance's own at once (forget).
 */
export class TenantDirectory {
  private readonly cache: ExpiringCache<TenantState | null>;
  /** The clock of the last poll's database, less the overlap: the next poll's `since`. */
  private since: Date | undefined;
  private lastPoll = Number.NEGATIVE_INFINITY;
  private polling = false;

  constructor(
    private readonly tenants: Pick<TenantRepository, 'findByDomain' | 'changedSince'>,
    private readonly refreshMs = 5_000,
    maxEntries = TENANT_CACHE_ENTRIES,
    private readonly now: () => number = Date.now,
  ) {
    this.cache = new ExpiringCache({ maxEntries, now });
  }

  async resolve(domain: string): Promise<TenantState | undefined> {
    const key = domain.toLowerCase();
    if (key === SUPER_TENANT.domain) return { ...SUPER_TENANT, active: true, ownerId: null };
    this.refresh();
    const cached = this.cache.get(key);
    if (cached !== undefined) return cached ?? undefined;
    // NUL cannot be in a stored domain (PostgreSQL text cannot hold it); asking would fail with 22021.
    const found = key.includes('\u0000') ? undefined : await this.tenants.findByDomain(key);
    const state = found ? toState(found) : null;
    this.remember(key, state);
    return state ?? undefined;
  }

  /** Drops what this instance remembers of `domain` (after it changed the tenant itself). */
  forget(domain: string): void {
    this.cache.delete(domain.toLowerCase());
  }

  private remember(key: string, state: TenantState | null): void {
    // Fresh through the polls, not through a lifetime: an entry stays until evicted or changed.
    this.cache.setUntil(key, state, Number.MAX_SAFE_INTEGER);
  }

  /** Starts a poll for changes when the last one is `refreshMs` old; a failed poll is retried by the next request after that. */
  private refresh(): void {
    const now = this.now();
    if (this.polling || now - this.lastPoll < this.refreshMs) return;
    this.polling = true;
    this.lastPoll = now;
    void this.tenants
      .changedSince(this.since)
      .then(({ at, tenants }) => {
        for (const tenant of tenants) {
          // Only what this instance remembers: a tenant it never met is read when first met.
          if (this.cache.get(tenant.domain) !== undefined) this.remember(tenant.domain, toState(tenant));
        }
        this.since = new Date(at.getTime() - POLL_OVERLAP_MS);
      })
      .catch(() => {
        // The database is unreachable: requests fail on their own statements; the entries stay.
      })
      .finally(() => {
        this.polling = false;
      });
  }
}

const toState = (tenant: Pick<TenantRecord, 'id' | 'domain' | 'active' | 'ownerId'>): TenantState => ({
  id: tenant.id,
  domain: tenant.domain,
  active: tenant.active,
  ownerId: tenant.ownerId,
});

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
