import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { combinedDocument } from '../spec.js';

/** The base URL the caller reached this server at: what "Try it out" must call. */
function baseUrlOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/**
 * Swagger UI at /docs (assets served from the package: works offline), over the spec/ documents
 * merged, with `servers` (and the OAuth2 token URL) rewritten per request to the server the
 * browser reached, so that "Try it out" calls this server and not apis.wso2.com.
 * The document itself is at /docs/json and /docs/yaml.
 */
export async function registerDocs(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, { mode: 'static', specification: { document: combinedDocument(version) as never } });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    // The UI is often reached over plain http on localhost: upgrading its calls to https would
    // break "Try it out" there. Everything else of the strict static CSP stays.
    transformStaticCSP: (header) => header.replace(/\s*upgrade-insecure-requests;?/g, ''),
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: false },
    transformSpecification: (document, request) => {
      const base = baseUrlOf(request);
      const spec = document as {
        servers?: { url: string }[];
        components?: { securitySchemes?: Record<string, { flows?: { password?: { tokenUrl: string } } }> };
      };
      spec.servers = [{ url: base }];
      const password = spec.components?.securitySchemes?.OAuth2Security?.flows?.password;
      if (password) password.tokenUrl = `${base}/oauth2/token`;
      return spec;
    },
  });
}
