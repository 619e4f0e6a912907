import type { Database } from '../db/database.js';
import type { Tenant } from '../domain/tenants.js';
import type { RevocationFacts } from '../domain/revocation-events.js';

/**
 * The revocation events' outbox (migration 011): the notify URLs events are queued for, the claims
 * of a dispatcher, and the outbox's bounds. Rows are written by the revocations themselves, in
 * their own transactions: the token statements (src/repositories/tokens.ts, queueTokenEvents)
 * and the triggers on applications and users.
 */

/** An outbox row a dispatcher claimed: the event's facts, and its delivery state for one URL. */
export interface ClaimedEvent extends RevocationFacts {
  /** The row (one per event and URL). */
  id: string;
  /** The tenant the revocation happened in (the event's tenantId and tenantDomain). */
  tenant: Tenant;
  target: string;
  orderKey: string;
  /** Failed attempts before this one. */
  attempts: number;
}

/** What happened to one claimed row. */
export type DeliveryResult =
  | { id: string; outcome: 'delivered' | 'rejected'; status?: number }
  | { id: string; outcome: 'retry'; status?: number; delayMs: number }
  /** Not attempted (an earlier event of its key failed first): back to the queue as it was. */
  | { id: string; outcome: 'released' };

export interface QueueStats {
  target: string;
  pending: number;
  /** Seconds since the oldest waiting event was queued (0 when none waits). */
  oldestAgeSeconds: number;
}

interface OutboxRow {
  id: string;
  tenant_id: number;
  tenant_domain: string;
  event_id: string;
  target: string;
  kind: RevocationFacts['kind'];
  order_key: string;
  consumer_key: string | null;
  subject: string | null;
  token_id: string | null;
  token_expires_at: Date | null;
  created_at: Date;
  attempts: number;
}

/**
 * Advisory lock key (constant, hash of the URL): one delivering transaction per URL at a time, over
 * every instance. The lock is the transaction's, so an instance that dies mid-delivery releases it
 * (and its row locks) with its connection; another instance that finds it taken tries again at
 * its next poll.
 */
const DELIVERY_LOCK = 727_011;

/**
 * Rows of `$1` (a URL) due now, oldest first, none of whose earlier events of the same key for
 * that URL waits for a retry: a later event of a key never goes out before an earlier one was
 * delivered (or given up). Locked FOR UPDATE for the delivering transaction; SKIP LOCKED passes
 * over a row another session holds (the bounds' DELETEs) instead of waiting for it.
 */
const CLAIM = `
  SELECT o.id, o.tenant_id, tn.domain AS tenant_domain, o.event_id, o.target, o.kind, o.order_key, o.consumer_key, o.subject,
    o.token_id, o.token_expires_at, o.created_at, o.attempts
  FROM revocation_outbox o JOIN tenants tn ON tn.id = o.tenant_id
  WHERE o.target = $1 AND o.next_attempt_at <= now()
    AND NOT EXISTS (
      SELECT 1 FROM revocation_outbox b
      WHERE b.target = o.target AND b.order_key = o.order_key AND b.id < o.id AND b.attempts > 0 AND b.next_attempt_at > now())
  ORDER BY o.id
  LIMIT $2
  FOR UPDATE OF o SKIP LOCKED`;

const toClaimed = (row: OutboxRow): ClaimedEvent => ({
  id: row.id,
  tenant: { id: row.tenant_id, domain: row.tenant_domain },
  eventId: row.event_id,
  target: row.target,
  kind: row.kind,
  orderKey: row.order_key,
  consumerKey: row.consumer_key,
  subject: row.subject,
  tokenId: row.token_id,
  tokenExpiresAt: row.token_expires_at,
  createdAt: row.created_at,
  attempts: row.attempts,
});

export class PgRevocationOutbox {
  constructor(private readonly db: Database) {}

  /**
   * Makes `urls` the list events are queued for, and drops the events waiting for a URL no longer
   * in it (how many, per URL). Each server start calls it: the instance started last decides.
   */
  async syncTargets(urls: readonly string[]): Promise<Map<string, number>> {
    return this.db.transaction(async (tx) => {
      // One start at a time: two instances starting together leave one list, not a merge.
      await tx.query('SELECT pg_advisory_xact_lock($1, 0)', [DELIVERY_LOCK]);
      await tx.query('DELETE FROM revocation_targets WHERE NOT (url = ANY($1::text[]))', [urls]);
      await tx.query('INSERT INTO revocation_targets (url) SELECT unnest($1::text[]) ON CONFLICT DO NOTHING', [urls]);
      const { rows } = await tx.query<{ target: string; n: number }>(
        `WITH gone AS (DELETE FROM revocation_outbox WHERE NOT (target = ANY($1::text[])) RETURNING target)
         SELECT target, count(*)::int AS n FROM gone GROUP BY target`,
        [urls],
      );
      return new Map(rows.map((row) => [row.target, row.n]));
    });
  }

  /**
   * One delivery of up to `limit` of `target`'s events, in one transaction: the rows locked (see
   * CLAIM), `deliver` given them (it sends them; the locks hold meanwhile), then its results
   * recorded before the commit: delivered and rejected rows deleted, failed ones rescheduled
   * (attempts + 1), released ones left as they were. Nothing if another transaction delivers
   * for that URL now. How many events were claimed.
   */
  async deliverBatch(target: string, limit: number, deliver: (events: ClaimedEvent[]) => Promise<readonly DeliveryResult[]>): Promise<number> {
    return this.db.transaction(async (tx) => {
      const { rows: lock } = await tx.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1, hashtext($2)) AS ok', [DELIVERY_LOCK, target]);
      if (!lock[0]?.ok) return 0;
      const { rows } = await tx.query<OutboxRow>(CLAIM, [target, limit]);
      if (rows.length === 0) return 0;
      const results = await deliver(rows.map(toClaimed).sort((a, b) => (BigInt(a.id) < BigInt(b.id) ? -1 : 1)));
      const done = results.filter((r) => r.outcome === 'delivered' || r.outcome === 'rejected').map((r) => r.id);
      const retry = results.filter((r): r is Extract<DeliveryResult, { outcome: 'retry' }> => r.outcome === 'retry');
      if (done.length > 0) await tx.query('DELETE FROM revocation_outbox WHERE id = ANY($1::bigint[])', [done]);
      if (retry.length > 0) {
        await tx.query(
          `UPDATE revocation_outbox o SET attempts = o.attempts + 1, last_status = r.status,
             next_attempt_at = now() + r.delay_ms * interval '1 millisecond'
           FROM unnest($1::bigint[], $2::int[], $3::float8[]) AS r(id, status, delay_ms) WHERE o.id = r.id`,
          [retry.map((r) => r.id), retry.map((r) => r.status ?? null), retry.map((r) => r.delayMs)],
        );
      }
      return rows.length;
    });
  }

  /**
   * Drops the events that can no longer refuse any token: a token event once its token expired,
   * a rule event once every token issued before it expired (`maxTokenTtlSeconds` after it), both
   * `marginSeconds` later (clock skew). Counts per URL.
   */
  async dropExpired(maxTokenTtlSeconds: number, marginSeconds: number): Promise<Map<string, number>> {
    const { rows } = await this.db.query<{ target: string; n: number }>(
      `WITH gone AS (
         DELETE FROM revocation_outbox WHERE id IN (
           SELECT id FROM revocation_outbox
           WHERE CASE WHEN kind = 'token' THEN token_expires_at < now() - $2 * interval '1 second'
                      ELSE created_at < now() - ($1 + $2) * interval '1 second' END
           FOR UPDATE SKIP LOCKED)
         RETURNING target)
       SELECT target, count(*)::int AS n FROM gone GROUP BY target`,
      [maxTokenTtlSeconds, marginSeconds],
    );
    return new Map(rows.map((row) => [row.target, row.n]));
  }

  /** Keeps at most `max` events waiting for `target`, dropping the oldest; how many went. */
  async dropOverflow(target: string, max: number): Promise<number> {
    const { rowCount } = await this.db.query(
      `DELETE FROM revocation_outbox WHERE id IN (
         SELECT id FROM revocation_outbox
         WHERE target = $1 AND id <= (SELECT id FROM revocation_outbox WHERE target = $1 ORDER BY id DESC OFFSET $2 LIMIT 1)
         FOR UPDATE SKIP LOCKED)`,
      [target, max],
    );
    return rowCount ?? 0;
  }

  /** Events waiting per URL of `targets`, and the age of the oldest (the database's clock). */
  async stats(targets: readonly string[]): Promise<QueueStats[]> {
    const { rows } = await this.db.query<{ target: string; pending: number; age: number | null }>(
      `SELECT t.target, count(o.id)::int AS pending, extract(epoch FROM now() - min(o.created_at))::float8 AS age
       FROM unnest($1::text[]) AS t(target) LEFT JOIN revocation_outbox o ON o.target = t.target
       GROUP BY t.target`,
      [targets],
    );
    const byTarget = new Map(rows.map((row) => [row.target, row]));
    return targets.map((target) => {
      const row = byTarget.get(target);
      return { target, pending: row?.pending ?? 0, oldestAgeSeconds: Math.max(0, row?.age ?? 0) };
    });
  }
}
