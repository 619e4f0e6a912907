import { randomUUID } from 'node:crypto';
import type { PasswordHasher } from '../crypto/passwords.js';
import { forbidden } from '../domain/errors.js';
import {
  checkDomain,
  mayManageTenants,
  normalizeDomain,
  parseTenantFilter,
  SUPER_TENANT,
  tenantErrors,
  type TenantOwner,
  type TenantRecord,
  type TenantView,
} from '../domain/tenants.js';
import type { Caller } from '../domain/types.js';
import { DuplicateTenantDomain, type TenantRepository } from '../repositories/tenants.js';
import type { TenantDirectory } from './tenant-directory.js';
import { checkNewUser } from './users.js';

export interface NewTenantInput {
  domain: string;
  /** The one owner IS requires, created in the new tenant with its password. */
  owner: { username: string; password: string };
}

export interface TenantQuery {
  limit?: number | undefined;
  offset?: number | undefined;
  filter?: string | undefined;
}

export interface TenantListPage {
  offset: number;
  limit: number;
  total: number;
  tenants: TenantView[];
}

/** IS's page size when `limit` is absent, and the most one page holds (a larger `limit` is read as this). */
export const TENANT_PAGE_DEFAULT = 10;
export const TENANT_PAGE_MAX = 1000;

/**
 * The tenant registry behind /api/server/v1/tenants (WSO2 IS 7's tenant management API, which API
 * Manager's tenant sync calls) and `dcr tenant`: one method per operation, each for the super
 * admin only. The request path's lookup of a tenant by domain is the TenantDirectory's
 * (src/services/tenant-directory.ts, remembered for 5 s); what this service changes it makes the
 * directory forget at once, so this instance never serves a tenant from before the change.
 */
export class TenantService {
  constructor(
    private readonly tenants: TenantRepository,
    private readonly hasher: PasswordHasher,
    private readonly directory: Pick<TenantDirectory, 'forget'>,
  ) {}

  private authorize(caller: Caller): void {
    if (!mayManageTenants(caller)) throw forbidden('Only the super admin manages tenants');
  }

  private async withOwners(tenants: readonly TenantRecord[]): Promise<TenantView[]> {
    const owners = await this.tenants.owners(tenants);
    return tenants.map((tenant) => ({ ...tenant, owners: owners.get(tenant.id) ?? [] }));
  }

  private async view(tenant: TenantRecord): Promise<TenantView> {
    return (await this.withOwners([tenant]))[0]!;
  }

  /** By the management API's id. The super tenant is not on that API: its UUID names no tenant there. */
  private async find(uuid: string): Promise<TenantRecord> {
    const tenant = await this.tenants.findByUuid(uuid);
    if (!tenant || tenant.id === SUPER_TENANT.id) throw tenantErrors.notFound(uuid);
    return tenant;
  }

  /** A tenant and its owner, both or neither (the repository's one transaction). */
  async create(caller: Caller, input: NewTenantInput): Promise<TenantView> {
    this.authorize(caller);
    const domain = checkDomain(input.domain);
    checkNewUser(input.owner.username, input.owner.password);
    const owner = { id: randomUUID(), username: input.owner.username, passwordHash: await this.hasher.hash(input.owner.password) };
    let tenant: TenantRecord;
    try {
      tenant = await this.tenants.create({ domain, owner });
    } catch (err) {
      if (err instanceof DuplicateTenantDomain) throw tenantErrors.domainTaken(domain);
      throw err;
    }
    // This instance knows at once (an unknown domain is remembered too); others within their TTL.
    this.directory.forget(domain);
    return { ...tenant, owners: [{ id: owner.id, username: owner.username }] };
  }

  async list(caller: Caller, query: TenantQuery): Promise<TenantListPage> {
    this.authorize(caller);
    const filter = query.filter === undefined ? undefined : parseTenantFilter(query.filter);
    const limit = Math.min(query.limit ?? TENANT_PAGE_DEFAULT, TENANT_PAGE_MAX);
    const offset = query.offset ?? 0;
    const page = limit === 0 ? { total: (await this.tenants.list(0, 0, filter)).total, tenants: [] } : await this.tenants.list(offset, limit, filter);
    return { offset, limit, total: page.total, tenants: await this.withOwners(page.tenants) };
  }

  async get(caller: Caller, uuid: string): Promise<TenantView> {
    this.authorize(caller);
    return this.view(await this.find(uuid));
  }

  /** By domain, in any case. The super tenant's is not on the management API (404). */
  async getByDomain(caller: Caller, domain: string): Promise<TenantView> {
    this.authorize(caller);
    const normalized = normalizeDomain(domain);
    const tenant = normalized === SUPER_TENANT.domain ? undefined : await this.tenants.findByDomain(normalized);
    if (!tenant) throw tenantErrors.domainNotFound(domain);
    return this.view(tenant);
  }

  /** Activates or deactivates a tenant; the same state again changes nothing. */
  async setLifecycle(caller: Caller, uuid: string, activated: boolean): Promise<TenantView> {
    this.authorize(caller);
    const tenant = await this.tenants.setActive(uuid, activated);
    if (!tenant) throw tenantErrors.notFound(uuid);
    this.directory.forget(tenant.domain);
    return this.view(tenant);
  }

  async owners(caller: Caller, uuid: string): Promise<TenantOwner[]> {
    this.authorize(caller);
    return (await this.view(await this.find(uuid))).owners;
  }
}
