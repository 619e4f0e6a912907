import { SUPER_TENANT, type Tenant } from './tenants.js';
/**
 * Scope rules of the key manager, as WSO2 applies them: only known scopes are granted, the
 * result is sorted, and an empty result is WSO2's `default`. Known means built in (below, each
 * with its own rule) or defined in an API resource (`/api/server/v1/api-resources`, as API
 * Manager publishes its APIs' scopes), the latter granted by WSO2 IS 7's role-based rule
 * (roleScopeGranted).
 */
export const APP_MANAGE_SCOPE = 'apim:dcr:app_manage';
export const OPENID_SCOPE = 'openid';
export const DEFAULT_SCOPE = 'default';

/**
 * WSO2 IS's scopes of its DCR v1.1 API (/api/identity/oauth2/dcr/v1.1/register), one per kind of
 * operation: a Bearer token with the matching one (or apim:dcr:app_manage) may call it. They
 * manage apps as apim:dcr:app_manage does, so they are granted by its rule (mayHoldScope).
 */
export const DCR_SCOPES = {
  create: 'internal_dcr_create',
  view: 'internal_dcr_view',
  update: 'internal_dcr_update',
  delete: 'internal_dcr_delete',
} as const;

/** The scopes granted by apim:dcr:app_manage's rule: who may manage apps. */
export const APP_MANAGE_RULE_SCOPES: readonly string[] = [APP_MANAGE_SCOPE, ...Object.values(DCR_SCOPES)];

export const KNOWN_SCOPES: readonly string[] = [...APP_MANAGE_RULE_SCOPES, OPENID_SCOPE];

/** Whether `scope` is granted by who may manage apps (apim:dcr:app_manage, internal_dcr_*). */
export function followsAppManageRule(scope: string): boolean {
  return APP_MANAGE_RULE_SCOPES.includes(scope);
}

/**
 * Who may hold apim:dcr:app_manage: everyone (WSO2's default), or listed users and the super admin;
 * and whether an application's own token (client_credentials: the app acting for its owner) may
 * hold it too (default true, as in WSO2: DCR_APP_TOKENS_MANAGE_APPS).
 */
export type AppManagePolicy = ({ anyone: true } | { anyone: false; users: ReadonlySet<string> }) & { applicationTokens?: boolean };

/** Who a scope is granted to: a user, or an application acting for its owner (`application`). */
export interface ScopeHolder {
  /** The tenant the holder acts in: DCR_APP_MANAGE_USERS names users of the super tenant. */
  tenant: Tenant;
  username: string;
  isSuperAdmin: boolean;
  application?: boolean;
}

/**
 * Whether DCR_APP_MANAGE_USERS lists this user: a plain name is the super tenant's user, a tenant's
 * user is listed as `name@domain` (so `alice` of a.com is not the super tenant's `alice`).
 */
function listed(policy: { users: ReadonlySet<string> }, user: { tenant: Tenant; username: string }): boolean {
  return policy.users.has(user.tenant.id === SUPER_TENANT.id ? user.username : `${user.username}@${user.tenant.domain}`);
}

export function parseScopeParameter(scope: string | undefined): string[] {
  return (scope ?? '').split(' ').filter(Boolean);
}

/**
 * What the database knows of a requested scope that is not built in: whether an API resource
 * defines it, whether any role names it as a permission, and whether one of those roles is the
 * subject's (the user; for client_credentials, the application's owner).
 */
export interface ScopeBinding {
  boundToRoles: boolean;
  heldBySubject: boolean;
}

/** Scope facts by name, for the requested scopes an API resource defines (an undefined one is absent). */
export type ScopeBindings = ReadonlyMap<string, ScopeBinding>;

/**
 * The built-in scopes, each granted by its own rule (mayHoldScope), never by roles: a request for
 * them alone asks the database nothing (roleBoundCandidates).
 */
export function isBuiltInScope(scope: string): boolean {
  return KNOWN_SCOPES.includes(scope);
}

/**
 * WSO2 IS 7's role-based scope issuer (wso2-key-manager.md §6): a scope no API resource defines
 * is dropped; a defined one is granted when no role names it, or when one of the subject's roles
 * does; one only other roles name is dropped.
 */
export function roleScopeGranted(binding: ScopeBinding | undefined): boolean {
  if (!binding) return false;
  return !binding.boundToRoles || binding.heldBySubject;
}

export function mayHoldScope(scope: string, holder: ScopeHolder, policy: AppManagePolicy, bindings?: ScopeBindings): boolean {
  if (scope === OPENID_SCOPE) return true;
  if (followsAppManageRule(scope)) {
    if (holder.application && policy.applicationTokens === false) return false;
    return policy.anyone || holder.isSuperAdmin || listed(policy, holder);
  }
  if (isBuiltInScope(scope)) return false;
  return roleScopeGranted(bindings?.get(scope));
}

/** The requested scopes whose grant depends on API resources and roles: the database is asked only for them. */
export function roleBoundCandidates(requested: readonly string[]): string[] {
  return [...new Set(requested)].filter((scope) => !isBuiltInScope(scope));
}

/**
 * Who may introspect every token, not only their own (RFC 7662 §4: the endpoint says nothing of a
 * token to a caller that is not entitled to it). The super admin (how API Manager's Key Manager
 * connector calls it), and the users DCR_APP_MANAGE_USERS lists when it is a list: with its
 * default `*` anyone may manage their own apps, which is no reason to read everyone's tokens.
 */
export function mayIntrospectAll(user: { tenant: Tenant; username: string; isSuperAdmin: boolean }, policy: AppManagePolicy): boolean {
  return user.isSuperAdmin || (!policy.anyone && listed(policy, user));
}

/**
 * The scopes granted for a request: unknown or not-allowed ones are dropped, never an error.
 * `bindings` holds what the database says of roleBoundCandidates(requested).
 */
export function grantScopes(requested: readonly string[], holder: ScopeHolder, policy: AppManagePolicy, bindings?: ScopeBindings): string[] {
  const granted = [...new Set(requested)].filter((scope) => mayHoldScope(scope, holder, policy, bindings)).sort();
  return granted.length > 0 ? granted : [DEFAULT_SCOPE];
}

/**
 * A refresh may narrow the original grant but never widen it (RFC 6749 §6): no `scope` keeps it;
 * a scope outside the original grant is invalid_scope (returned as undefined here).
 */
export function narrowScopes(original: readonly string[], requested: readonly string[]): string[] | undefined {
  if (requested.length === 0) return [...original];
  const unique = [...new Set(requested)];
  if (!unique.every((scope) => original.includes(scope))) return undefined;
  return unique.sort();
}
