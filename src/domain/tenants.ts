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
