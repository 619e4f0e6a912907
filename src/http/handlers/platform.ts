import type { operations } from '../../../generated/platform-api.js';
import type { ApiResourceHandlers } from './api-resources.js';
import type { HealthHandlers } from './health.js';
import type { IsDcrHandlers } from './is-dcr.js';
import type { OAuthHandlers } from './oauth.js';
import type { OperationHandlers } from './operations.js';
import type { RoleHandlers } from './roles.js';
import type { ScimHandlers } from './scim.js';
import type { TenantHandlers } from './tenants.js';

/**
 * The glue service for spec/platform-api.yaml: every operationId mapped to its handler. Typed
 * against the generated operations, so an operation added to the spec without a line here
 * fails `tsc`.
 */
export function platformService(
  scim: ScimHandlers,
  oauth: OAuthHandlers,
  health: HealthHandlers,
  roles: RoleHandlers,
  apiResources: ApiResourceHandlers,
  isDcr: IsDcrHandlers,
  tenants: TenantHandlers,
): OperationHandlers<operations> {
  return {
    createUser: (request, reply) => scim.createUser(request, reply),
    listUsers: (request, reply) => scim.listUsers(request, reply),
    getUser: (request, reply) => scim.getUser(request, reply),
    deleteUser: (request, reply) => scim.deleteUser(request, reply),
    issueToken: (request, reply) => oauth.issueToken(request, reply),
    introspectToken: (request, reply) => oauth.introspectToken(request, reply),
    revokeToken: (request, reply) => oauth.revokeToken(request, reply),
    getJwks: (request, reply) => oauth.getJwks(request, reply),
    getAuthorizationServerMetadata: (request) => oauth.getAuthorizationServerMetadata(request),
    getOpenIdConfiguration: (request) => oauth.getOpenIdConfiguration(request),
    getIssuerOpenIdConfiguration: (request) => oauth.getIssuerOpenIdConfiguration(request),
    getIssuerAuthorizationServerMetadata: (request) => oauth.getIssuerAuthorizationServerMetadata(request),
    healthLive: () => health.healthLive(),
    healthReady: (request, reply) => health.healthReady(request, reply),
    getMetrics: (request, reply) => health.getMetrics(request, reply),
    getMe: (request, reply) => scim.getMe(request, reply),
    listSchemas: (request, reply) => scim.listSchemas(request, reply),
    createRole: (request, reply) => roles.createRole(request, reply),
    listRoles: (request, reply) => roles.listRoles(request, reply),
    searchRoles: (request, reply) => roles.searchRoles(request, reply),
    getRole: (request, reply) => roles.getRole(request, reply),
    patchRole: (request, reply) => roles.patchRole(request, reply),
    deleteRole: (request, reply) => roles.deleteRole(request, reply),
    listApiResources: (request) => apiResources.listApiResources(request),
    createApiResource: (request, reply) => apiResources.createApiResource(request, reply),
    getApiResource: (request) => apiResources.getApiResource(request),
    patchApiResource: (request, reply) => apiResources.patchApiResource(request, reply),
    deleteApiResource: (request, reply) => apiResources.deleteApiResource(request, reply),
    listApiResourceScopes: (request) => apiResources.listApiResourceScopes(request),
    updateApiResourceScope: (request, reply) => apiResources.updateApiResourceScope(request, reply),
    deleteApiResourceScope: (request, reply) => apiResources.deleteApiResourceScope(request, reply),
    registerIsApplication: (request, reply) => isDcr.registerIsApplication(request, reply),
    getIsApplicationByName: (request, reply) => isDcr.getIsApplicationByName(request, reply),
    getIsApplication: (request, reply) => isDcr.getIsApplication(request, reply),
    updateIsApplication: (request, reply) => isDcr.updateIsApplication(request, reply),
    deleteIsApplication: (request, reply) => isDcr.deleteIsApplication(request, reply),
    listTenants: (request) => tenants.listTenants(request),
    createTenant: (request, reply) => tenants.createTenant(request, reply),
    getTenant: (request) => tenants.getTenant(request),
    getTenantByDomain: (request) => tenants.getTenantByDomain(request),
    updateTenantLifecycleStatus: (request, reply) => tenants.updateTenantLifecycleStatus(request, reply),
    listTenantOwners: (request) => tenants.listTenantOwners(request),
  };
}
