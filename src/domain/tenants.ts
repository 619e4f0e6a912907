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
