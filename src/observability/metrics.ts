import client from 'prom-client';

/**
 * The service's Prometheus metrics (prom-client), one registry per app instance so that tests and
 * several apps in one process do not share counters. Services report through the narrow
 * methods below and never see prom-client.
 */
export class Metrics {
  readonly registry = new client.Registry();

  readonly httpRequests = new client.Counter({
    name: 'http_requests_total',
    help: 'HTTP requests answered, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    registers: [this.registry],
  });

  readonly httpDuration = new client.Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    registers: [this.registry],
  });

  readonly registrations = new client.Counter({
    name: 'dcr_registrations_total',
    help: 'Successful registrations: a new application created, or an existing one returned',
    labelNames: ['outcome'] as const,
    registers: [this.registry],
  });

  readonly tokenGrants = new client.Counter({
    name: 'dcr_token_requests_total',
    help: 'Token endpoint requests by grant type and outcome (issued, or the RFC 6749 error code)',
    labelNames: ['grant_type', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly tokensPurgedTotal = new client.Counter({
    name: 'dcr_tokens_purged_total',
    help: 'Tokens deleted because they can no longer be used, by kind (access, refresh)',
    labelNames: ['kind'] as const,
    registers: [this.registry],
  });

  readonly authFailures = new client.Counter({
    name: 'dcr_authentication_failures_total',
    help: 'Requests refused for failed authentication (401), by route template',
    labelNames: ['route'] as const,
    registers: [this.registry],
  });

  readonly revocationDeliveries = new client.Counter({
    name: 'dcr_revocation_deliveries_total',
    help: 'Revocation event deliveries to API Manager by notify URL and outcome (delivered: 2xx; failed: will be retried; rejected: a final 4xx)',
    labelNames: ['url', 'outcome'] as const,
    registers: [this.registry],
  });

  readonly revocationDropped = new client.Counter({
    name: 'dcr_revocation_events_dropped_total',
    help: 'Revocation events given up by notify URL and reason (overflow: past DCR_APIM_NOTIFY_MAX_EVENTS; expired: every token they refuse has expired; rejected: a final 4xx; unconfigured: the URL left DCR_APIM_NOTIFY_URL)',
    labelNames: ['url', 'reason'] as const,
    registers: [this.registry],
  });

  constructor(pool?: { totalCount: number; idleCount: number; waitingCount: number }) {
    client.collectDefaultMetrics({ register: this.registry });
    if (pool) {
      const gauge = (name: string, help: string, read: () => number) =>
        new client.Gauge({
          name,
          help,
          registers: [this.registry],
          collect() {
            this.set(read());
          },
        });
      gauge('dcr_db_pool_connections', 'Open PostgreSQL connections in the pool', () => pool.totalCount);
      gauge('dcr_db_pool_idle_connections', 'Idle PostgreSQL connections in the pool', () => pool.idleCount);
      gauge('dcr_db_pool_waiting_requests', 'Queries waiting for a PostgreSQL connection', () => pool.waitingCount);
    }
  }

  registration(created: boolean): void {
    this.registrations.inc({ outcome: created ? 'created' : 'existing' });
  }

  tokenRequest(grantType: string | undefined, outcome: string): void {
    // Bound the label's values: an unknown grant string must not create a new time series.
    const known = ['password', 'client_credentials', 'refresh_token'];
    this.tokenGrants.inc({ grant_type: grantType && known.includes(grantType) ? grantType : 'other', outcome });
  }

  tokensPurged(purged: { access: number; refresh: number }): void {
    this.tokensPurgedTotal.inc({ kind: 'access' }, purged.access);
    this.tokensPurgedTotal.inc({ kind: 'refresh' }, purged.refresh);
  }

  /** Revocation event deliveries to `url` (a urlLabel) with `outcome`. */
  revocationDelivery(url: string, outcome: 'delivered' | 'failed' | 'rejected', count = 1): void {
    this.revocationDeliveries.inc({ url, outcome }, count);
  }

  revocationEventsDropped(url: string, reason: 'overflow' | 'expired' | 'rejected' | 'unconfigured', count: number): void {
    this.revocationDropped.inc({ url, reason }, count);
  }

  /**
   * The outbox's queue per notify URL, read at each scrape from what the dispatcher last counted
   * (no query per scrape): events waiting, and the age of the oldest.
   */
  revocationQueue(read: () => readonly { url: string; pending: number; oldestAgeSeconds: number }[]): void {
    new client.Gauge({
      name: 'dcr_revocation_events_pending',
      help: 'Revocation events waiting for delivery, by notify URL',
      labelNames: ['url'] as const,
      registers: [this.registry],
      collect() {
        for (const queue of read()) this.set({ url: queue.url }, queue.pending);
      },
    });
    new client.Gauge({
      name: 'dcr_revocation_events_oldest_age_seconds',
      help: 'Age of the oldest revocation event waiting for delivery, by notify URL (0: none waits)',
      labelNames: ['url'] as const,
      registers: [this.registry],
      collect() {
        for (const queue of read()) this.set({ url: queue.url }, queue.oldestAgeSeconds);
      },
    });
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
