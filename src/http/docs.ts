import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import { combinedDocument } from './spec.js';

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
 * merged, with `servers` (and the OAuth2 token URL) set to the configured public URL, so that
 * "Try it out" calls this server and not apis.wso2.com. Not the Host header of the request: a
 * client chooses it, and it came back verbatim in the document (`Host: evil.example"><script>`).
 * The document itself is at /docs/json and /docs/yaml.
 */
export async function registerDocs(app: FastifyInstance, version: string, publicUrl: string): Promise<void> {
  const document = combinedDocument(version) as {
    servers?: { url: string }[];
    components?: { securitySchemes?: Record<string, { flows?: { password?: { tokenUrl: string } } }> };
  };
  document.servers = [
    { url: publicUrl },
    {
      url: `${publicUrl}/t/{tenantDomain}`,
      description: 'The same paths in a tenant (carbon.super is the super tenant, the first server\'s)',
      variables: { tenantDomain: { default: 'carbon.super' } },
    },
  ] as { url: string }[];
  const password = document.components?.securitySchemes?.OAuth2Security?.flows?.password;
  if (password) password.tokenUrl = `${publicUrl}/oauth2/token`;
  await app.register(swagger, { mode: 'static', specification: { document: document as never } });
  await app.register(swaggerUi, {
    routePrefix: '/docs',
    staticCSP: true,
    transformStaticCSP: docsCsp,
    uiConfig: { docExpansion: 'list', deepLinking: true, persistAuthorization: false },
  });
}
