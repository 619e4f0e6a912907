import type { FastifyRequest } from 'fastify';
import type { Caller } from '../domain/types.js';
import type { Tenant } from '../domain/tenants.js';
import type { BasicClient } from '../services/client-authentication.js';
import { unauthorized } from '../domain/errors.js';

declare module 'fastify' {
  interface FastifyRequest {
    /**
     * The tenant the request is served in: the one its `/t/{domain}/` prefix names, else the
     * super tenant (src/http/tenancy.ts). Every service call of the request works within it.
     */
    tenant: Tenant;
    /** Set by a security handler once the request is authenticated. */
    caller: Caller | null;
    /**
     * The verification of a client_secret_basic credential, started by the ClientBasic security
     * handler; the OAuth2 operation decides with it once the body is read (ClientAuthentication).
     */
    clientBasic: BasicClient | null;
  }
}

/** The authenticated caller; a route reaching this without one is a wiring bug, answered as 401. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw unauthorized();
  return request.caller;
}
