import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { notFound } from '../domain/errors.js';
import { splitTenantPath, SUPER_TENANT } from '../domain/tenants.js';
import type { TenantDirectory } from '../services/tenant-directory.js';

/**
 * WSO2's tenant-qualified URLs (reference §8): every surface is also served under `/t/{domain}/`.
 * The prefix is taken off before routing (Fastify's rewriteUrl), so one route serves both, and
 * the tenant it named becomes the request's (`request.tenant`); a request without it is the
 * super tenant's (v0.17's callers then name their tenant in `user@domain`, see signInTarget).
 * The served document says so once, as a server URL with a variable (spec/*.yaml, `servers`).
 */
const pathTenants = new WeakMap<IncomingMessage, string>();

/** Fastify's rewriteUrl: the URL without its `/t/{domain}` prefix, the domain kept for the request. */
export function rewriteTenantUrl(raw: IncomingMessage): string {
  const url = raw.url ?? '/';
  const split = url.startsWith('/t/') ? splitTenantPath(url) : undefined;
  if (!split) return url;
  pathTenants.set(raw, split.domain);
  return split.rest;
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The request came under `/t/{domain}/` (its tenant is the path's, not a sign-in name's). */
    pathTenant: boolean;
    /** The request's tenant is deactivated: nothing signs in, no token of it is active. */
    tenantInactive: boolean;
  }
}

/**
 * Sets every request's tenant before anything reads it (the first onRequest hook). An unknown
 * domain is 404 in the route's error shape; a deactivated tenant is served, but its sign-ins and
 * tokens fail (src/http/security.ts, src/http/handlers/oauth.ts).
 */
export function resolveRequestTenants(app: FastifyInstance, directory: TenantDirectory): void {
  app.decorateRequest('pathTenant', false);
  app.decorateRequest('tenantInactive', false);
  app.addHook('onRequest', (request, _reply, done) => {
    const domain = pathTenants.get(request.raw);
    if (domain === undefined) {
      request.tenant = SUPER_TENANT;
      done();
      return;
    }
    request.pathTenant = true;
    directory.resolve(domain).then(
      (found) => {
        if (!found) {
          done(notFound(`No tenant '${domain}'`));
          return;
        }
        request.tenant = { id: found.id, domain: found.domain };
        request.tenantInactive = !found.active;
        done();
      },
      (err: unknown) => done(err as Error),
    );
  });
}
