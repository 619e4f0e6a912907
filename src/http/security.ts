import type { FastifyReply, FastifyRequest } from 'fastify';
import { unauthorized } from '../errors.js';
import type { Authenticator } from '../services/auth.js';

/**
 * fastify-openapi-glue security handlers, one method per scheme in spec/ (`securitySchemes`).
 * Glue calls them in the order of the operation's `security` list (OR across entries): returning
 * passes, throwing tries the next. They run as preHandler, after body validation.
 */
/**
 * Glue tries the schemes in the spec's order, Bearer first: a Basic request always fails
 * OAuth2Security before it reaches BasicAuth. It fails with this one error (never sent: glue
 * collects the failures and the error handler answers a fresh 401) rather than a new one with a
 * stack trace, after a prefix test only.
 */
const NOT_BEARER = Object.freeze(unauthorized());

export class SecurityHandlers {
  constructor(private readonly auth: Authenticator) {}

  async BasicAuth(request: FastifyRequest): Promise<void> {
    request.caller = await this.auth.authenticateBasic(request.headers.authorization, request.ip);
  }

  /**
   * RFC 6750 Bearer tokens issued by /oauth2/token, carrying the scopes the operation lists
   * (apim:dcr:app_manage on /register). Anything else is the same 401 as a bad password.
   */
  async OAuth2Security(request: FastifyRequest, _reply: FastifyReply, scopes: readonly string[]): Promise<void> {
    const header = request.headers.authorization;
    if (header === undefined || !/^Bearer /i.test(header)) throw NOT_BEARER;
    request.caller = await this.auth.authenticateBearer(header, scopes);
  }

  /**
   * The OAuth2 endpoints' client authentication. It decides nothing here: those endpoints verify
   * the client themselves, so that a failure is RFC 6749's invalid_client rather than a glue 401.
   */
  async ClientBasic(): Promise<void> {}
}
