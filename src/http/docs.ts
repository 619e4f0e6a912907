import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { combinedDocument } from '../spec.js';

/** The base URL the caller reached this server at: what "Try it out" must call. */
function baseUrlOf(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`;
}

/**
 * The one inline style Swagger UI inserts: the `<style>` of the Swagger logo in its top bar
 * (swagger-ui-standalone-preset.js of swagger-ui-dist 5.34, under @fastify/swagger-ui 6.1), as the
 * SHA-256 of its text. Allowing exactly that text keeps style-src free of 'unsafe-inline'. If an
 * upgrade changes the logo, the browser reports the new hash and test/e2e/docs-browser.test.ts
 * (no CSP violation in the console) fails until it is updated here.
 */
const SWAGGER_LOGO_STYLE = "'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='";

/**
 * @fastify/swagger-ui's strict static CSP for /docs, with two changes:
 * - no upgrade-insecure-requests: the UI is often reached over plain http on localhost, and
 *   upgrading its calls to https would break "Try it out" there;
 * - style-src also allows the logo's inline style by its hash (script-src is untouched).
 */
export function docsCsp(header: string): string {
  return header
    .replace(/\s*upgrade-insecure-requests;?/g, '')
    .replace(/(^|;\s*)style-src ([^;]*)/, (_, start: string, sources: string) => `${start}style-src ${sources.trim()} ${SWAGGER_LOGO_STYLE}`);
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
    transformStaticCSP: docsCsp,
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
