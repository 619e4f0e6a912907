import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { scaffolds } from './handlers/scaffold/index.js';
import { documentScaffolds } from './handlers/scaffolding.js';

/** The contract files in spec/, read once per process. */
export const SPEC_DIR = fileURLToPath(new URL('../../spec/', import.meta.url));

export interface OpenApiDocument {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<string, Record<string, unknown>>;
  components?: Record<string, unknown>;
  [key: string]: unknown;
}

const cache = new Map<string, OpenApiDocument>();

/**
 * A fresh deep copy each call: glue and @fastify/swagger annotate the objects they are given. With
 * the 501 of each operation whose handler is still a scaffolded stub (src/http/handlers/scaffolding.ts).
 */
export function loadSpec(file: 'wso2-dcr-api.yaml' | 'platform-api.yaml'): OpenApiDocument {
  let doc = cache.get(file);
  if (!doc) {
    doc = documentScaffolds(scaffolds, file, parse(readFileSync(new URL(file, `file://${SPEC_DIR}`), 'utf8')) as OpenApiDocument);
    cache.set(file, doc);
  }
  return structuredClone(doc);
}

/** The path part of servers[0].url: the mount prefix of the document's paths ('' for the root). */
export function mountPrefix(doc: OpenApiDocument): string {
  const url = doc.servers?.[0]?.url;
  if (!url) return '';
  const pathname = new URL(url, 'http://localhost').pathname.replace(/\/+$/, '');
  return pathname === '/' ? '' : pathname;
}

type Components = Record<string, Record<string, unknown>>;

/** The heading, in both spec/ documents' descriptions, of the answers no single operation owns. */
export const ANY_REQUEST_HEADING = '## Answers to any request';

/** The part of a description from `heading` to the next heading of the same level (or the end). */
export function descriptionSection(description: string, heading: string): string | undefined {
  const start = description.indexOf(heading);
  if (start < 0) return undefined;
  const next = description.indexOf('\n## ', start + heading.length);
  return description.slice(start, next < 0 ? undefined : next).trim();
}

interface OAuthScheme {
  flows?: Record<string, { scopes?: Record<string, string> }>;
}

/**
 * The security schemes of both documents, the DCR document's winning as for every component, with
 * each OAuth2 flow's scopes the union of both documents' (the DCR document's description of a
 * scope both name).
 */
export function mergeSecuritySchemes(platform: OpenApiDocument, dcr: OpenApiDocument): Record<string, unknown> {
  const schemesOf = (doc: OpenApiDocument) => ((doc.components as Components | undefined)?.securitySchemes ?? {}) as Record<string, OAuthScheme>;
  const merged: Record<string, OAuthScheme> = { ...schemesOf(platform), ...schemesOf(dcr) };
  for (const [name, scheme] of Object.entries(schemesOf(platform))) {
    const winner = merged[name];
    if (!winner?.flows || !scheme.flows || winner === scheme) continue;
    const flows: NonNullable<OAuthScheme['flows']> = { ...winner.flows };
    for (const [flow, settings] of Object.entries(scheme.flows)) {
      const own = flows[flow];
      if (own) flows[flow] = { ...own, scopes: { ...settings.scopes, ...own.scopes } };
    }
    merged[name] = { ...winner, flows };
  }
  return merged;
}

/**
 * One OpenAPI document for the documentation UI: both spec/ files, with each path under the
 * prefix its own document mounts it at, and their components merged (the DCR document's `Error`
 * is the canonical one; the platform document's copy has the same shape). `servers` is left to
 * the caller, which points it at the running server.
 */
export function combinedDocument(version: string): OpenApiDocument {
  const dcr = loadSpec('wso2-dcr-api.yaml');
  const platform = loadSpec('platform-api.yaml');
  const paths: OpenApiDocument['paths'] = {};
  for (const doc of [dcr, platform]) {
    const prefix = mountPrefix(doc);
    for (const [path, item] of Object.entries(doc.paths)) paths[`${prefix}${path}`] = item;
  }
  const components: Components = {};
  for (const doc of [platform, dcr]) {
    for (const [section, entries] of Object.entries((doc.components ?? {}) as Components)) {
      components[section] = { ...components[section], ...entries };
    }
  }
  // Both documents declare OAuth2Security, each with the scopes its own operations name: the
  // served one lists them all (IS DCR's internal_dcr_* are only in the platform document's).
  components.securitySchemes = mergeSecuritySchemes(platform, dcr);
  const anyRequest = descriptionSection(String((dcr.info as { description?: unknown } | undefined)?.description ?? ''), ANY_REQUEST_HEADING);
  return {
    openapi: dcr.openapi,
    info: {
      title: 'WSO2-compatible DCR server and key manager',
      description: [
        'WSO2 API Manager DCR v0.17 (`/client-registration/v0.17/register`), WSO2 IS DCR v1.1 ' +
          '(`/api/identity/oauth2/dcr/v1.1/register`), the OAuth2 key manager ' +
          '(`/oauth2/*`), user management (`/scim2/Users`) and health probes. Authorise with Basic ' +
          '(a user of this server) to try the register call.',
        ...(anyRequest ? [anyRequest] : []),
      ].join('\n\n'),
      version,
      license: (dcr.info as { license?: unknown } | undefined)?.license,
    },
    tags: [dcr, platform].flatMap((doc) => (doc.tags as unknown[] | undefined) ?? []),
    paths,
    components,
  };
}
