import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

/** The contract files in spec/, read once per process. */
export const SPEC_DIR = fileURLToPath(new URL('../spec/', import.meta.url));

export interface OpenApiDocument {
  openapi: string;
  servers?: { url: string }[];
  paths: Record<string, Record<string, unknown>>;
  components?: Record<string, unknown>;
  [key: string]: unknown;
}

const cache = new Map<string, OpenApiDocument>();

/** A fresh deep copy each call: glue and @fastify/swagger annotate the objects they are given. */
export function loadSpec(file: 'wso2-dcr-api.yaml' | 'platform-api.yaml'): OpenApiDocument {
  let doc = cache.get(file);
  if (!doc) {
    doc = parse(readFileSync(new URL(file, `file://${SPEC_DIR}`), 'utf8')) as OpenApiDocument;
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
