/**
 * The revocation events pushed to WSO2 API Manager's notify endpoint (reference §9), as pure
 * functions: the JSON of each event from the facts the outbox stores, which answers are final,
 * and when to try again. The delivery machinery is src/services/revocation-dispatcher.ts.
 */
import type { Tenant } from './tenants.js';

/** What an outbox row says about its event (src/repositories/revocation-outbox.ts). */
export interface RevocationFacts {
  eventId: string;
  kind: 'token' | 'consumer_app' | 'subject';
  /** The revocation's instant: the event's timeStamp, and revocationTime of the rule events. */
  createdAt: Date;
  consumerKey: string | null;
  /** The user: the token's user, or the revoked subject (the form `sub` takes: the user name). */
  subject: string | null;
  /** A token event's jti. */
  tokenId: string | null;
  tokenExpiresAt: Date | null;
}

/** WSO2's `type` of each kind. */
export const EVENT_TYPES = {
  token: 'token_revocation',
  consumer_app: 'consumer_app_revocation_event',
  subject: 'subject_entity_revocation_event',
} as const;

/**
 * `tokenType` of a token event. Only JWTs are announced (the gateway validates JWTs itself and
 * keys its revocation map by jti; an opaque token is checked with this server on every use):
 * spec/CHANGES.md, "Revocation events (issue 22)".
 */
export const TOKEN_TYPE = 'JWT';

/** `entityType` of a subject event: the kind of identifier `entityId` is (the token's `sub`). */
export const SUBJECT_ENTITY_TYPE = 'USER_ID';

export type RevocationEvent = Record<string, string | number>;

/**
 * The event as WSO2 IS's notifier writes it: eventId, timeStamp (ms), type, tenantId, tenantDomain,
 * then the type's own fields. Deterministic: every attempt sends the same bytes.
 */
export function renderEvent(facts: RevocationFacts, tenant: Tenant): RevocationEvent {
  const base = {
    eventId: facts.eventId,
    timeStamp: facts.createdAt.getTime(),
    type: EVENT_TYPES[facts.kind],
    tenantId: tenant.id,
    tenantDomain: tenant.domain,
  };
  switch (facts.kind) {
    case 'token':
      return {
        ...base,
        accessToken: facts.tokenId ?? '',
        expiryTime: facts.tokenExpiresAt?.getTime() ?? 0,
        user: facts.subject ?? '',
        consumerKey: facts.consumerKey ?? '',
        tokenType: TOKEN_TYPE,
      };
    case 'consumer_app':
      return { ...base, consumerKey: facts.consumerKey ?? '', revocationTime: facts.createdAt.getTime() };
    case 'subject':
      return { ...base, entityId: facts.subject ?? '', entityType: SUBJECT_ENTITY_TYPE, revocationTime: facts.createdAt.getTime() };
  }
}

/** What an answer of the receiver means for the event. */
export type DeliveryOutcome = 'delivered' | 'rejected' | 'retry';

/**
 * Statuses after which sending the same event again cannot succeed: the receiver read it and
 * refused its content (400, 413, 422). Everything else that is not 2xx is tried again: 401 and
 * 403 (credentials can be fixed), 404 and 405 (a wrong URL, or API Manager's internal web app
 * not deployed yet: a misconfiguration must not discard every event), 408, 429, 5xx, and 3xx
 * (redirects are not followed: the Basic credentials must not go elsewhere).
 */
export const FINAL_STATUSES: ReadonlySet<number> = new Set([400, 413, 422]);

export function outcomeOf(status: number): DeliveryOutcome {
  if (status >= 200 && status < 300) return 'delivered';
  return FINAL_STATUSES.has(status) ? 'rejected' : 'retry';
}

/**
 * The wait before attempt `attempts + 1` after `attempts` failed ones: exponential from
 * `baseMs` (1 s, 2 s, 4 s, …), capped at `capMs`, with "equal jitter" (a random point in the
 * upper half of the step) so that instances and URLs that failed together do not retry in step.
 */
export function retryDelayMs(attempts: number, capMs: number, random: () => number = Math.random, baseMs = 1_000): number {
  const step = Math.min(capMs, baseMs * 2 ** Math.min(30, Math.max(0, attempts - 1)));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * The URL as labels and log lines show it: origin and path, never a query string or user info
 * (settings refuse user info anyway: the credentials are DCR_APIM_NOTIFY_USER/PASSWORD).
 */
export function urlLabel(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}
