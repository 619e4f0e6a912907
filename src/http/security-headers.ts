import { ServerResponse, type IncomingMessage } from 'node:http';
import helmet from 'helmet';

/**
 * The security headers of helmet's defaults (CSP, HSTS, X-Frame-Options, nosniff, ...), computed
 * once at start-up: none depends on the request (@fastify/helmet ran helmet's middleware chain on
 * every request for the same answer, docs/performance.md). helmet is run once, against a
 * recording response, so that its defaults stay helmet's to maintain. These go on
 * the documents a browser renders: Swagger UI under /docs (which sets its own CSP on top).
 */
export function documentSecurityHeaders(): Record<string, string> {
  const headers: Record<string, string> = {};
  const response = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value);
    },
    removeHeader() {},
  };
  helmet()({} as IncomingMessage, response as unknown as ServerResponse, () => {});
  return headers;
}

/**
 * The security headers of every API answer (JSON, SCIM, forms, metrics), as the OWASP REST
 * Security Cheat Sheet lists them: a CSP that allows nothing and no framing (stricter than the
 * document one, since an API answer is never a page), HSTS, nosniff, X-Frame-Options DENY, plus
 * no referrer and same-origin resource policy. helmet's other defaults (COOP, Origin-Agent-Cluster,
 * X-DNS-Prefetch-Control, X-Download-Options, X-Permitted-Cross-Domain-Policies, X-XSS-Protection)
 * only act on documents a browser renders, so they are left off (docs/performance.md has what
 * that saves).
 */
export function apiSecurityHeaders(documentHeaders: Record<string, string>): Record<string, string> {
  return {
    'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
    'strict-transport-security': documentHeaders['strict-transport-security'] ?? 'max-age=31536000; includeSubDomains',
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'cross-origin-resource-policy': 'same-origin',
  };
}
