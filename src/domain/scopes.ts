/**
 * Scope rules of the key manager, as WSO2 applies them: only known scopes are granted, the
 * result is sorted, and an empty result is WSO2's `default`.
 */
export const APP_MANAGE_SCOPE = 'apim:dcr:app_manage';
export const OPENID_SCOPE = 'openid';
export const DEFAULT_SCOPE = 'default';
export const KNOWN_SCOPES: readonly string[] = [APP_MANAGE_SCOPE, OPENID_SCOPE];

/**
 * Who may hold apim:dcr:app_manage: everyone (WSO2's default), or listed users and the super admin;
 * and whether an application's own token (client_credentials: the app acting for its owner) may
 * hold it too (default true, as in WSO2: DCR_APP_TOKENS_MANAGE_APPS).
 */
export type AppManagePolicy = ({ anyone: true } | { anyone: false; users: ReadonlySet<string> }) & { applicationTokens?: boolean };

/** Who a scope is granted to: a user, or an application acting for its owner (`application`). */
export interface ScopeHolder {
  username: string;
  isSuperAdmin: boolean;
  application?: boolean;
}

export function parseScopeParameter(scope: string | undefined): string[] {
  return (scope ?? '').split(' ').filter(Boolean);
}

export function mayHoldScope(scope: string, holder: ScopeHolder, policy: AppManagePolicy): boolean {
  if (scope === OPENID_SCOPE) return true;
  if (scope === APP_MANAGE_SCOPE) {
    if (holder.application && policy.applicationTokens === false) return false;
    return policy.anyone || holder.isSuperAdmin || policy.users.has(holder.username);
  }
  return false;
}

/**
 * Who may introspect every token, not only their own (RFC 7662 §4: the endpoint says nothing of a
 * token to a caller that is not entitled to it). The super admin (how API Manager's Key Manager
 * connector calls it), and the users DCR_APP_MANAGE_USERS lists when it is a list: with its
 * default `*` anyone may manage their own apps, which is no reason to read everyone's tokens.
 */
export function mayIntrospectAll(user: { username: string; isSuperAdmin: boolean }, policy: AppManagePolicy): boolean {
  return user.isSuperAdmin || (!policy.anyone && policy.users.has(user.username));
}

/** The scopes granted for a request: unknown or not-allowed ones are dropped, never an error. */
export function grantScopes(requested: readonly string[], holder: ScopeHolder, policy: AppManagePolicy): string[] {
  const granted = [...new Set(requested)].filter((scope) => mayHoldScope(scope, holder, policy)).sort();
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
