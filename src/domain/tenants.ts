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
