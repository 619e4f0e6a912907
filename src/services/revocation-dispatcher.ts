import http from 'node:http';
import https from 'node:https';
import type { ApimNotifyConfig } from '../config/config.js';
import { outcomeOf, renderEvent, retryDelayMs, urlLabel } from '../domain/revocation-events.js';
import type { ClaimedEvent, DeliveryResult, PgRevocationOutbox, QueueStats } from '../repositories/revocation-outbox.js';

/** How the dispatcher delivers: the DCR_APIM_NOTIFY_* settings but the credentials (the Sender holds them). */
export interface DispatcherSettings extends Omit<ApimNotifyConfig, 'credentials'> {
  /** DCR_ACCESS_TOKEN_TTL: a rule event refuses nothing once this long has passed since it. */
  accessTokenTtlSeconds: number;
  /** Time between two rounds of the bounds (expiry, overflow) and of the queue's counts. */
  maintenanceIntervalMs?: number;
}

/** One POST of one event's JSON to one URL: the status answered; throws when none came (refused, reset, timeout). */
export type Sender = (url: string, body: string) => Promise<number>;

/** The log lines of the dispatcher (pino's shape). Never given token material: ids, types, URLs, statuses. */
export interface DispatcherLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/** What the dispatcher counts (src/observability/metrics.ts). */
export interface DispatcherMetrics {
  revocationDelivery(url: string, outcome: 'delivered' | 'failed' | 'rejected', count?: number): void;
  revocationEventsDropped(url: string, reason: 'overflow' | 'expired' | 'rejected' | 'unconfigured', count: number): void;
}

/** /health/ready's detail (spec/platform-api.yaml, Health.revocationEvents). */
export interface RevocationHealth {
  status: 'UP' | 'DELAYED';
  pending: number;
  oldestAgeSeconds: number;
}

/** Clock skew allowed to the gateways before an event is judged to refuse nothing any more. */
const EXPIRY_MARGIN_SECONDS = 300;
/** Events of different consumer keys sent to one URL at once, by one instance. */
const CONCURRENCY = 8;

const silent: DispatcherLog = { info() {}, warn() {}, error() {} };

/**
 * The sender of the outbox's events: POST with `Content-Type: application/json`, `X-WSO2-KEY-MANAGER:
 * WSO2-IS` and the Basic credentials, bounded by `timeoutMs` (connecting, sending and the whole
 * answer); redirects are not followed (the credentials go to the configured URL only). Node's
 * http/https clients over keep-alive agents rather than fetch: a busy revocation path sends one
 * POST per event, and fetch's machinery cost several times as much CPU per request.
 */
export function httpSender(credentials: { user: string; password: string } | undefined, timeoutMs: number): Sender {
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-wso2-key-manager': 'WSO2-IS' };
  if (credentials) headers.authorization = `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`).toString('base64')}`;
  const agents = { 'http:': new http.Agent({ keepAlive: true, maxSockets: 16 }), 'https:': new https.Agent({ keepAlive: true, maxSockets: 16 }) };
  return (url, body) =>
    new Promise<number>((resolve, reject) => {
      const target = new URL(url);
      const secure = target.protocol === 'https:';
      const request = (secure ? https : http).request(
        target,
        { method: 'POST', agent: agents[secure ? 'https:' : 'http:'], headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: timeoutMs },
        (res) => {
          // The body is not needed: read it off so that the connection can be reused.
          res.resume();
          res.once('end', () => resolve(res.statusCode ?? 0));
          res.once('error', reject);
        },
      );
      const deadline = setTimeout(() => request.destroy(Object.assign(new Error('notify request timed out'), { code: 'ETIMEDOUT' })), timeoutMs);
      request.once('close', () => clearTimeout(deadline));
      request.once('timeout', () => request.destroy(Object.assign(new Error('notify request timed out'), { code: 'ETIMEDOUT' })));
      request.once('error', reject);
      request.end(body);
    });
}

/**
 * Delivers the revocation events of the outbox (migration 011) to every notify URL, from any
 * number of instances over one database: each delivers a batch of a URL's events in one
 * transaction (rows locked FOR UPDATE SKIP LOCKED, under a per-URL advisory lock), POSTs them,
 * and deletes each only after a 2xx, before that transaction commits. Events of one consumer key
 * go to a URL one after the other, in the order they were queued; a failed one is retried with
 * capped exponential backoff and jitter, and holds back the later events of its key for that URL
 * only. An instance killed mid-delivery loses its connection, so its transaction rolls back and
 * its locks go: another instance (or the same after its restart) sends those events again, with
 * the same eventId. At-least-once: a receiver may see an event twice, never a later one first.
 */
export class RevocationDispatcher {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;
  private started = false;
  private log: DispatcherLog = silent;
  /** A URL that failed a whole batch is not asked again before this (ms since epoch). */
  private readonly pausedUntil = new Map<string, number>();
  private lastMaintenance = 0;
  private queue: QueueStats[];
  /** How long one delivering transaction may go on sending (its rows stay locked meanwhile). */
  private readonly batchMs: number;
  private readonly maintenanceIntervalMs: number;

  constructor(
    private readonly outbox: Pick<PgRevocationOutbox, 'syncTargets' | 'deliverBatch' | 'dropExpired' | 'dropOverflow' | 'stats'>,
    private readonly send: Sender,
    readonly settings: DispatcherSettings,
    private readonly metrics: DispatcherMetrics,
    private readonly random: () => number = Math.random,
  ) {
    this.queue = settings.urls.map((target) => ({ target, pending: 0, oldestAgeSeconds: 0 }));
    // A batch stops sending after this (the rest waits for the next batch), so that its
    // transaction, and the rows it locks, stay short even when every send takes its timeout.
    this.batchMs = Math.max(5_000, 4 * settings.timeoutMs);
    this.maintenanceIntervalMs = settings.maintenanceIntervalMs ?? 5_000;
  }

  /** The queue per URL as last counted, labelled for metrics. */
  queueStats(): { url: string; pending: number; oldestAgeSeconds: number }[] {
    return this.queue.map((q) => ({ url: urlLabel(q.target), pending: q.pending, oldestAgeSeconds: q.oldestAgeSeconds }));
  }

  /** /health/ready's detail: DELAYED once the oldest waiting event is older than DCR_APIM_NOTIFY_STALE_AFTER. */
  health(): RevocationHealth {
    const pending = this.queue.reduce((sum, q) => sum + q.pending, 0);
    const oldest = Math.max(0, ...this.queue.map((q) => q.oldestAgeSeconds));
    return { status: oldest > this.settings.staleAfterSeconds ? 'DELAYED' : 'UP', pending, oldestAgeSeconds: Math.round(oldest * 10) / 10 };
  }

  /**
   * Makes this instance's URLs the ones events are queued for (the events of URLs no longer
   * listed are dropped, counted and logged), then delivers in the background until stop().
   */
  async start(log: DispatcherLog = silent): Promise<void> {
    if (this.started || this.stopped) return;
    this.started = true;
    this.log = log;
    const dropped = await this.outbox.syncTargets(this.settings.urls);
    for (const [target, count] of dropped) {
      this.metrics.revocationEventsDropped(urlLabel(target), 'unconfigured', count);
      this.log.warn({ url: urlLabel(target), dropped: count }, 'dropped the revocation events waiting for a notify URL no longer in DCR_APIM_NOTIFY_URL');
    }
    this.schedule(0);
  }

  /** Stops polling and waits for a pass under way (its batch is recorded before it returns). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass now (the bounds if due, then one batch per URL); joins a pass under way. Events claimed. */
  runOnce(): Promise<number> {
    this.running ??= this.pass().finally(() => {
      this.running = undefined;
    });
    return this.running;
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.runOnce().then((claimed) => {
        // A full batch somewhere: more may wait, go on at once; otherwise wait for the poll.
        const full = claimed >= this.settings.batchSize;
        this.schedule(full ? 0 : this.settings.pollIntervalMs);
      });
    }, delayMs);
    // Delivery never keeps the process alive on its own.
    this.timer.unref();
  }

  private async pass(): Promise<number> {
    let claimed = 0;
    try {
      if (Date.now() - this.lastMaintenance >= this.maintenanceIntervalMs) await this.maintain();
      const counts = await Promise.all(this.settings.urls.map((url) => this.dispatch(url)));
      claimed = Math.max(0, ...counts);
    } catch (err) {
      // A database outage: nothing was lost (the batch's transaction rolled back, its events are due
      // again, some perhaps sent already: at-least-once); the next poll tries again.
      this.log.warn({ err }, 'revocation events: could not reach the database; trying again at the next poll');
    }
    return claimed;
  }

  /** The bounds (events that can refuse nothing any more, the per-URL maximum) and the queue's counts. */
  async maintain(): Promise<void> {
    this.lastMaintenance = Date.now();
    const expired = await this.outbox.dropExpired(this.settings.accessTokenTtlSeconds, EXPIRY_MARGIN_SECONDS);
    for (const [target, count] of expired) {
      this.metrics.revocationEventsDropped(urlLabel(target), 'expired', count);
      this.log.info({ url: urlLabel(target), dropped: count }, 'dropped revocation events whose tokens have all expired');
    }
    for (const target of this.settings.urls) {
      const overflow = await this.outbox.dropOverflow(target, this.settings.maxEvents);
      if (overflow > 0) {
        this.metrics.revocationEventsDropped(urlLabel(target), 'overflow', overflow);
        this.log.warn(
          { url: urlLabel(target), dropped: overflow, max: this.settings.maxEvents },
          'dropped the oldest revocation events: more were waiting than DCR_APIM_NOTIFY_MAX_EVENTS',
        );
      }
    }
    this.queue = await this.outbox.stats(this.settings.urls);
  }

  /** One batch for one URL: claimed, sent, recorded. How many events were claimed. */
  private async dispatch(target: string): Promise<number> {
    if ((this.pausedUntil.get(target) ?? 0) > Date.now()) return 0;
    let results: DeliveryResult[] = [];
    const claimed = await this.outbox.deliverBatch(target, this.settings.batchSize, async (events) => (results = await this.deliver(target, events)));
    if (claimed === 0) return 0;
    const retries = results.filter((r) => r.outcome === 'retry');
    const attempted = results.filter((r) => r.outcome !== 'released');
    if (retries.length > 0 && retries.length === attempted.length) {
      // Every attempt failed: the receiver is down. Leave it alone until the earliest retry.
      this.pausedUntil.set(target, Date.now() + Math.min(...retries.map((r) => (r.outcome === 'retry' ? r.delayMs : 0))));
    } else {
      this.pausedUntil.delete(target);
    }
    return claimed;
  }

  /** Sends a batch: each key's events in order, one after the other; keys side by side. */
  private async deliver(target: string, events: ClaimedEvent[]): Promise<DeliveryResult[]> {
    const url = urlLabel(target);
    const byKey = new Map<string, ClaimedEvent[]>();
    for (const event of events) byKey.set(event.orderKey, [...(byKey.get(event.orderKey) ?? []), event]);
    const deadline = Date.now() + this.batchMs - this.settings.timeoutMs;
    const results: DeliveryResult[] = [];
    const runs = [...byKey.values()];
    const worker = async () => {
      for (let run = runs.shift(); run; run = runs.shift()) {
        let blocked = false;
        for (const event of run) {
          if (blocked || this.stopped || Date.now() > deadline) {
            results.push({ id: event.id, outcome: 'released' });
            continue;
          }
          const result = await this.attempt(target, url, event);
          results.push(result);
          // A later event of this key must not overtake the one that failed.
          if (result.outcome === 'retry') blocked = true;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, runs.length) }, worker));
    return results;
  }

  private async attempt(target: string, url: string, event: ClaimedEvent): Promise<DeliveryResult> {
    const rendered = renderEvent(event, event.tenant);
    const about = { url, eventId: event.eventId, type: rendered.type, attempt: event.attempts + 1 };
    let status: number | undefined;
    let failure: string | undefined;
    try {
      status = await this.send(target, JSON.stringify(rendered));
    } catch (err) {
      // Only the error's name and code: a message could quote the request.
      const e = err as { name?: string; code?: string; cause?: { code?: string } };
      failure = e.cause?.code ?? e.code ?? e.name ?? 'Error';
    }
    const outcome = status === undefined ? 'retry' : outcomeOf(status);
    if (outcome === 'delivered') {
      this.metrics.revocationDelivery(url, 'delivered');
      return { id: event.id, outcome, status };
    }
    if (outcome === 'rejected') {
      this.metrics.revocationDelivery(url, 'rejected');
      this.metrics.revocationEventsDropped(url, 'rejected', 1);
      this.log.error({ ...about, status }, 'API Manager refused a revocation event for good: it is dropped');
      return { id: event.id, outcome, status: status! };
    }
    const delayMs = retryDelayMs(event.attempts + 1, this.settings.retryMaxDelayMs, this.random);
    this.metrics.revocationDelivery(url, 'failed');
    this.log.warn({ ...about, ...(status === undefined ? { error: failure } : { status }), retryInMs: delayMs }, 'a revocation event was not delivered; it will be tried again');
    return { id: event.id, outcome, ...(status === undefined ? {} : { status }), delayMs };
  }
}
