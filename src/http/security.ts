import type { FastifyReply, FastifyRequest } from 'fastify';
import { unauthorized } from '../domain/errors.js';
import type { ClientAuthentication } from '../services/client-authentication.js';
import { signInTarget, type TenantDirectory } from '../services/tenant-directory.js';
import type { Authenticator } from '../services/user-authentication.js';

/**
 * fastify-openapi-glue security handlers, one method per scheme in spec/ (`securitySchemes`).
 * Glue calls them in the order of the operation's `security` list (OR across entries): returning
 * passes, throwing tries the next. They run before the body is read (src/app.ts, mountSpec).
 *
 * Every failure is a new error object. Glue collects them into the request's SecurityError, and
 * the error handler logs that with its causes when one of them is a 5xx; pino's serializer tags
 * each error it visits. One frozen error shared by every request made that log call throw, and
 * the request answered Fastify's own 500 (FST_ERR_FAILED_ERROR_SERIALIZATION) instead of a 503.
 */
/**
 * The 401 of a scheme the request does not use (a Basic request at the Bearer scheme): thrown on
 * every such request, once per Bearer entry of the operation's `security` list (IS DCR v1.1 lists
 * two before Basic), and read by nobody when a later scheme passes. Without a stack trace: V8
 * captures one when an Error is constructed, which cost more than the rest of the check
 * (docs/performance.md). Still a new object each time (above).
 */
function notThisScheme(): ReturnType<typeof unauthorized> {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return unauthorized();
  } finally {
    Error.stackTraceLimit = limit;
  }
}

export class SecurityHandlers {
  constructor(
    private readonly auth: Authenticator,
    private readonly clients: ClientAuthentication,
    private readonly tenants: TenantDirectory,
  ) {}

  /** Basic of `user` or `user@domain` (signInTarget); nobody of a deactivated tenant signs in. */
  async BasicAuth(request: FastifyRequest): Promise<void> {
    if (request.tenantInactive) throw unauthorized();
    const context = { tenant: request.tenant, pathTenant: request.pathTenant };
    request.caller = await this.auth.authenticateBasic((name) => signInTarget(this.tenants, context, name), request.headers.authorization, request.ip);
  }

  /**
   * RFC 6750 Bearer tokens issued by /oauth2/token, carrying the scopes the operation lists
   * (apim:dcr:app_manage on /register). Anything else is the same 401 as a bad password.
   */
  async OAuth2Security(request: FastifyRequest, _reply: FastifyReply, scopes: readonly string[]): Promise<void> {
    const header = request.headers.authorization;
    // Glue tries the schemes in the spec's order, Bearer first: a Basic request fails here after a
    // prefix test only.
    if (header === undefined || !/^Bearer /i.test(header)) throw notThisScheme();
    if (request.tenantInactive) throw unauthorized();
    request.caller = await this.auth.authenticateBearer(request.tenant, header, scopes);
  }

  /**
   * The OAuth2 endpoints' client authentication (client_secret_basic): the header's credential is
   * verified from here, while the body is read. It never refuses a request itself: the operation
   * judges it together with the body's client_secret_post fields (RFC 6749 §2.3: one method, not
   * both), so that every failure is RFC 6749's invalid_client rather than a glue 401.
   */
  async ClientBasic(request: FastifyRequest): Promise<void> {
    // A deactivated tenant's client is refused by its operation (src/http/handlers/oauth.ts).
    if (request.tenantInactive) return;
    request.clientBasic = this.clients.startBasic(request.tenant, request.headers.authorization) ?? null;
  }
}
