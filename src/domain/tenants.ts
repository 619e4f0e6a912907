import { IsApiError } from './errors.js';

/**
 * The tenant everything belongs to until tenants exist (reference §8: WSO2's super tenant,
 * `carbon.super`, id -1234). The one place that says so: what is per tenant later (the revocation
 * events' tenantId and tenantDomain today) reads it from here.
 */
export interface Tenant {
  id: number;
  domain: string;
}

export const SUPER_TENANT: Readonly<Tenant> = Object.freeze({ id: -1234, domain: 'carbon.super' });

/**
 * A tenant's issuer (reference §8): the super tenant's is DCR_ISSUER (by default
 * `<publicUrl>/oauth2/token`); every other tenant's is `<publicUrl>/t/<domain>/oauth2/token`, derived
 * from the public URL, not from DCR_ISSUER (spec/CHANGES.md, "Tenants").
 */
export function tenantIssuer(tenant: Tenant, superIssuer: string, publicUrl: string): string {
  return tenant.id === SUPER_TENANT.id ? superIssuer : `${publicUrl}/t/${tenant.domain}/oauth2/token`;
}

/** `/t/{domain}/rest`: the domain (lower case) and the rest of the URL; undefined for any other URL. */
export function splitTenantPath(url: string): { domain: string; rest: string } | undefined {
  const match = /^\/t\/([^/?#]+)(.*)$/.exec(url);
  if (!match) return undefined;
  let domain: string;
  try {
    domain = decodeURIComponent(match[1]!).toLowerCase();
  } catch {
    return undefined;
  }
  const rest = match[2]!;
  return { domain, rest: rest === '' || rest.startsWith('?') ? `/${rest}` : rest };
}

/**
 * WSO2's `user@domain`: the domain part of a sign-in name, when there is one (after the last '@').
 * Whether it names a tenant is for the caller to find out: `alice@example.com` may just as well
 * be an e-mail-style user name of the tenant in the path.
 */
export function splitQualifiedName(name: string): { username: string; domain: string } | undefined {
  const at = name.lastIndexOf('@');
  if (at <= 0 || at === name.length - 1) return undefined;
  return { username: name.slice(0, at), domain: name.slice(at + 1).toLowerCase() };
}

/**
 * A name as stored in `tenant`: `alice@<its domain>` (how API Manager writes a tenant user, in
 * v0.17's `owner` say) is alice there; any other name stays as written (an e-mail-style name, or a
 * name of another tenant, which names no one here).
 */
export function localName(name: string, tenant: Tenant): string {
  const qualified = splitQualifiedName(name);
  return qualified && qualified.domain === tenant.domain ? qualified.username : name;
}

/** A tenant as the request path needs it: who it is, and whether it may be used now. */
export type ResolvedTenant = Tenant & { active: boolean };

/** A row of the tenant registry (migrations 012, 013). */
export interface TenantRecord extends ResolvedTenant {
  /** The tenant's id on the tenant management API (IS 7's `tenant-id` is a UUID). */
  uuid: string;
  /** The user created with the tenant, in it; null for the super tenant (its admin is DCR_ADMIN_USER). */
  ownerId: string | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A tenant owner as the API shows one (IS's OwnerResponse). */
export interface TenantOwner {
  id: string;
  username: string;
}

/** What the tenant management API answers about a tenant: its row and its owners. */
export interface TenantView extends TenantRecord {
  owners: TenantOwner[];
}

// ---------------------------------------------------------------------------------------------
// Tenant domains.

/** The longest DNS name (RFC 1035 §2.3.4), and the longest label. */
const DOMAIN_MAX = 253;
const LABEL_MAX = 63;

/**
 * WSO2 compares tenant domains without case and stores them in lower case (TenantMgtUtil): the
 * form every comparison and every stored row uses. Surrounding white space is not trimmed: a
 * domain with it is refused rather than silently changed.
 */
export function normalizeDomain(domain: string): string {
  return domain.toLowerCase();
}

/** A broken domain rule, with IS's code for it (carbon-multitenancy's TenantConstants). */
export interface DomainProblem {
  code: string;
  description: string;
}

/**
 * What is wrong with a new tenant's domain, after normalizeDomain; undefined when nothing is.
 * WSO2's rules (TenantMgtUtil.validateDomain): not empty (TM-60004), with an extension, i.e. at
 * least one dot (TM-60005, `example.com`), not starting with a dot (TM-60006), of lower-case
 * letters, digits, `.` and `-` (TM-60007; WSO2 also allows `_`, which no host name may hold, so
 * this server does not: spec/CHANGES.md). Beyond WSO2, the shape of a DNS name (TM-60017, IS's
 * "does not match the pattern"): no empty label, none above 63 characters or starting or ending
 * with `-`, 253 characters in all. `carbon.super` is the super tenant's, never a new one's (TM-60003,
 * WSO2's "reserved word").
 */
export function domainProblem(domain: string): DomainProblem | undefined {
  if (domain === '') return { code: 'TM-60004', description: 'Provided domain name is empty.' };
  if (domain === SUPER_TENANT.domain) {
    return { code: 'TM-60003', description: `${SUPER_TENANT.domain} is the super tenant's domain. Please choose a different one.` };
  }
  if (!/^[a-z0-9.-]+$/.test(domain)) {
    return {
      code: 'TM-60007',
      description: `The tenant domain ${domain} contains one or more illegal characters. The valid characters are lowercase letters, numbers, '.' and '-'.`,
    };
  }
  if (domain.startsWith('.')) return { code: 'TM-60006', description: "Invalid domain. Domain should not start with '.'" };
  if (!domain.includes('.')) return { code: 'TM-60005', description: 'You should have an extension to your domain.' };
  const labels = domain.split('.');
  if (domain.length > DOMAIN_MAX || labels.some((label) => label === '' || label.length > LABEL_MAX || label.startsWith('-') || label.endsWith('-'))) {
    return {
      code: 'TM-60017',
      description:
        `Invalid tenant domain: ${domain}. Domain should be a DNS name: labels of 1 to ${LABEL_MAX} characters separated by single dots, ` +
        `none starting or ending with '-', ${DOMAIN_MAX} characters at most.`,
    };
  }
  return undefined;
}

/** A new tenant's domain, normalised; 400 with IS's code when it breaks a rule. */
export function checkDomain(domain: string): string {
  const normalized = normalizeDomain(domain);
  const problem = domainProblem(normalized);
  if (problem) throw new IsApiError(400, problem.code, 'Invalid tenant domain.', problem.description);
  return normalized;
}

// ---------------------------------------------------------------------------------------------
// `user@domain`: which tenant a user name names.

/** A user name split into the user and the tenant it names; `domain` undefined: the tenant of the path (or the super tenant). */
export interface TenantUser {
  username: string;
  domain: string | undefined;
}

/**
 * WSO2's tenant-aware user names (MultitenantUtils), as a pure rule over splitQualifiedName:
 * `alice@a.com` is `alice` of tenant `a.com` when `a.com` is a tenant domain. A name whose suffix
 * names no tenant (`bob@gmail.com`, an e-mail used as a user name) is the whole user name, of the
 * tenant the request is for. `x@carbon.super` is `x` of the super tenant. The split is at the last
 * `@`, so a tenant user's own name may hold one (`kim@mail.com@a.com`). `isKnownDomain` is asked
 * the lower-cased domain (signInTarget in src/services/tenant-directory.ts is the request path's
 * asynchronous form of this rule).
 */
export function splitTenantUser(name: string, isKnownDomain: (domain: string) => boolean): TenantUser {
  const qualified = splitQualifiedName(name);
  if (qualified && (qualified.domain === SUPER_TENANT.domain || isKnownDomain(qualified.domain))) return qualified;
  return { username: name, domain: undefined };
}

// ---------------------------------------------------------------------------------------------
// Who administers what.

/** The tenant's owner is its admin: the user created with the tenant (migration 013's owner_id). */
export function isTenantAdmin(tenant: Pick<TenantRecord, 'id' | 'ownerId'>, user: { id: string; tenantId: number }): boolean {
  return tenant.ownerId !== null && tenant.ownerId === user.id && tenant.id === user.tenantId;
}

/**
 * Who manages tenants (/api/server/v1/tenants): the super tenant's super admin (DCR_ADMIN_USER)
 * only, as in WSO2 (a tenant's own admin cannot create or deactivate tenants, also under
 * `/t/{its domain}/api/server/v1/tenants`).
 */
export function mayManageTenants(caller: { isSuperAdmin: boolean; tenant: Tenant }): boolean {
  return caller.isSuperAdmin && caller.tenant.id === SUPER_TENANT.id;
}

// ---------------------------------------------------------------------------------------------
// The list's filter.

export type TenantFilterOperator = 'eq' | 'sw' | 'ew' | 'co';

export interface TenantFilter {
  operator: TenantFilterOperator;
  /** Lower-cased: domains are. */
  value: string;
}

/**
 * IS's filter syntax for the tenant list, on the one attribute there is: `domain <op> <value>`
 * (`domainName` too, IS's sort attribute), `op` one of `eq`, `sw`, `ew`, `co` in any case, the
 * value bare or in double quotes. IS documents this and answers 501 to any filter
 * (TM-65006); this server does it, and answers 400 TM-65006 to any other expression.
 */
export function parseTenantFilter(filter: string): TenantFilter {
  const match = /^\s*(domain|domainname)\s+(eq|sw|ew|co)\s+(?:"([^"]*)"|(\S+))\s*$/i.exec(filter);
  if (!match) {
    throw new IsApiError(
      400,
      'TM-65006',
      'Filtering not supported.',
      `The filter '${filter}' is not supported: use domain eq, sw, ew or co <value>.`,
    );
  }
  return { operator: match[2]!.toLowerCase() as TenantFilterOperator, value: normalizeDomain(match[3] ?? match[4]!) };
}

// ---------------------------------------------------------------------------------------------
// Errors, with IS's codes.

export const tenantErrors = {
  notFound: (id: string) => new IsApiError(404, 'TM-60014', 'Tenant not found.', `Tenant cannot be found for the provided id: ${id}.`),
  domainNotFound: (domain: string) =>
    new IsApiError(404, 'TM-60015', 'Tenant not found.', `Tenant cannot be found for the provided domain: ${domain}.`),
  domainTaken: (domain: string) =>
    new IsApiError(409, 'TM-60009', 'Unable to add tenant.', `A tenant with same domain ${domain} already exist. Please use a different domain name.`),
};
