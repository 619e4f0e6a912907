import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Authenticator } from '../services/auth.js';

/**
 * fastify-openapi-glue security handlers, one method per scheme in spec/ (`securitySchemes`).
 * Glue calls them in the order of the operation's `security` list (OR across entries): returning
 * passes, throwing tries the next. They run as preHandler, after body validation.
 */
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
    request.caller = await this.auth.authenticateBearer(request.headers.authorization, scopes);
  }

  /**
   * The OAuth2 endpoints' client authentication. It decides nothing here: those endpoints verify
   * the client themselves, so that a failure is RFC 6749's invalid_client rather than a glue 401.
   */
  async ClientBasic(): Promise<void> {}
}
