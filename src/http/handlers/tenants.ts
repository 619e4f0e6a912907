import type { FastifyReply } from 'fastify';
import type { components, operations } from '../../../generated/platform-api.js';
import type { TenantOwner, TenantView } from '../../domain/tenants.js';
import type { TenantService } from '../../services/tenants.js';
import { callerOf } from '../caller.js';
import type { OperationHandlers, OperationRequest } from './operations.js';

type Schemas = components['schemas'];

/** The path every tenant's URL is built on, under the server root. */
export const TENANTS_PATH = '/api/server/v1/tenants';

function toOwner(owner: TenantOwner): Schemas['TenantOwner'] {
  return { id: owner.id, username: owner.username };
}

/** IS's TenantResponseModel: the UUID as `id` (WSO2's numeric tenantId is not on this API, as in IS). */
function toTenant(tenant: TenantView): Schemas['Tenant'] {
  return {
    id: tenant.uuid,
    domain: tenant.domain,
    owners: tenant.owners.map(toOwner),
    createdDate: tenant.createdAt.toISOString(),
    lifecycleStatus: { activated: tenant.active },
  };
}

type TenantOperations = Pick<
  operations,
  'listTenants' | 'createTenant' | 'getTenant' | 'getTenantByDomain' | 'updateTenantLifecycleStatus' | 'listTenantOwners'
>;

/** /api/server/v1/tenants: WSO2 IS 7's tenant management API, as API Manager's tenant sync calls it. */
export class TenantHandlers implements OperationHandlers<TenantOperations> {
  constructor(
    private readonly tenants: TenantService,
    /** DCR_PUBLIC_URL, that `Location` and the page links are built from (never the request's Host). */
    private readonly publicUrl: string,
  ) {}

  private location(tenant: TenantView): string {
    return `${this.publicUrl}${TENANTS_PATH}/${tenant.uuid}`;
  }

  async listTenants(request: OperationRequest<operations['listTenants']>): Promise<Schemas['TenantList']> {
    const { limit, offset, filter } = request.query;
    const page = await this.tenants.list(callerOf(request), { limit, offset, filter });
    // IS's links: `?offset=<n>&limit=<n>`, the filter after them when there is one.
    const link = (rel: 'next' | 'previous', at: number) => {
      const query = new URLSearchParams({ offset: String(at), limit: String(page.limit) });
      if (filter !== undefined) query.set('filter', filter);
      return { href: `${this.publicUrl}${TENANTS_PATH}?${query.toString()}`, rel };
    };
    const hasNext = page.limit > 0 && page.offset + page.tenants.length < page.total;
    const hasPrevious = page.limit > 0 && page.offset > 0 && page.total > 0;
    return {
      totalResults: page.total,
      startIndex: page.offset + 1,
      count: page.tenants.length,
      tenants: page.tenants.map(toTenant),
      links: [
        ...(hasNext ? [link('next', page.offset + page.limit)] : []),
        ...(hasPrevious ? [link('previous', Math.max(0, Math.min(page.offset, page.total) - page.limit))] : []),
      ],
    };
  }

  /** 201 without a body, `Location` the new tenant's URL, as IS answers. */
  async createTenant(request: OperationRequest<operations['createTenant']>, reply: FastifyReply): Promise<undefined> {
    const { domain, owners } = request.body;
    const owner = owners[0]!;
    const tenant = await this.tenants.create(callerOf(request), { domain, owner: { username: owner.username, password: owner.password } });
    reply.code(201).header('location', this.location(tenant));
    return undefined;
  }

  async getTenant(request: OperationRequest<operations['getTenant']>): Promise<Schemas['Tenant']> {
    return toTenant(await this.tenants.get(callerOf(request), request.params.tenantId));
  }

  async getTenantByDomain(request: OperationRequest<operations['getTenantByDomain']>): Promise<Schemas['Tenant']> {
    return toTenant(await this.tenants.getByDomain(callerOf(request), request.params.tenantDomain));
  }

  /** 200 without a body, `Location` the tenant's URL, as IS answers. */
  async updateTenantLifecycleStatus(request: OperationRequest<operations['updateTenantLifecycleStatus']>, reply: FastifyReply): Promise<undefined> {
    const tenant = await this.tenants.setLifecycle(callerOf(request), request.params.tenantId, request.body.activated);
    reply.code(200).header('location', this.location(tenant));
    return undefined;
  }

  async listTenantOwners(request: OperationRequest<operations['listTenantOwners']>): Promise<Schemas['TenantOwner'][]> {
    return (await this.tenants.owners(callerOf(request), request.params.tenantId)).map(toOwner);
  }
}
