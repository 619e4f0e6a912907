import type { FastifyReply, FastifyRequest } from 'fastify';
import { unauthorized } from '../errors.js';
import type { Authenticator } from '../services/auth.js';

/**
 * fastify-openapi-glue security handlers, one method per scheme in spec/ (`securitySchemes`).
 * Glue calls them in the order of the operation's `security` list (OR across entries): returning
 * passes, throwing tries the next. They run as preHandler, after body validation.
 */
export class SecurityHandlers {
  constructor(private readonly auth: Authenticator) {}

  async BasicAuth(request: FastifyRequest): Promise<void> {
    request.caller = await this.auth.authenticateBasic(request.headers.authorization);
  }

  /**
   * Bearer tokens with scope apim:dcr:app_manage, issued by /oauth2/token. That endpoint does not
   * exist yet, so no token can be valid: every Bearer attempt is the same 401 as a bad password.
   */
  async OAuth2Security(_request: FastifyRequest, _reply: FastifyReply, _scopes: readonly string[]): Promise<void> {
    throw unauthorized();
  }
}
