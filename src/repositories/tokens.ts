import type { Database, NamedStatement, Queryable } from '../db/database.js';
import { DatabaseUnavailable, ForeignKeyViolation } from '../db/errors.js';

/** An access token as the resource side sees it: who, for which client, with what scopes. */
export interface ActiveAccessToken {
  id: string;
  tenantId: number;
  userId: string;
  username: string;
  appId: string;
  clientId: string;
  scopes: string[];
  grantType: string;
  issuedAt: Date;
  expiresAt: Date;
}

export interface NewAccessToken {
  /** A JWT's jti, or an opaque token's opaqueTokenId (src/services/tokens.ts): how the row is found. */
  id: string;
  /** The tenant of its application (and of its user, unless `subject` is set). */
  tenantId: number;
  /** A SaaS app's user of another tenant: the name it acts for (`bob@b.com`); absent otherwise. */
  subject?: string;
  appId: string;
  userId: string;
  scopes: string[];
  grantType: string;
  familyId: string | null;
  /** The issuing instant the expiry (and a JWT's iat) was computed from; the database clock if absent. */
  issuedAt?: Date;
  expiresAt: Date;
}

export interface NewRefreshToken {
  id: string;
  tenantId: number;
  /** As NewAccessToken.subject. */
  subject?: string;
  tokenHash: Buffer;
  familyId: string;
  appId: string;
  userId: string;
  scopes: string[];
  /** As NewAccessToken.issuedAt. */
  issuedAt?: Date;
  expiresAt: Date;
}

export interface RefreshTokenRecord {
  id: string;
  tenantId: number;
  /** Set for a user of another tenant (NewAccessToken.subject); `username` is then that name. */
  subject: string | null;
  familyId: string;
  appId: string;
  userId: string;
  username: string;
  clientId: string;
  scopes: string[];
  issuedAt: Date;
  expiresAt: Date;
}

export type RefreshConsumption =
  | { outcome: 'consumed'; token: RefreshTokenRecord }
  /** The token was already used: a replay, so its whole family is now revoked. */
  | { outcome: 'reused'; familyId: string }
  | { outcome: 'invalid' };

/** Every method works within one tenant: `tenant` (its id), or the new token's own `tenantId`. */
export interface TokenRepository {
  insertAccess(token: NewAccessToken): Promise<void>;
  /**
   * Inserts an access token (no refresh family) for the user of this exact name, found by the
   * INSERT itself; false when no such user exists (nothing inserted).
   */
  insertAccessForUsername(token: Omit<NewAccessToken, 'userId' | 'familyId'> & { username: string }): Promise<boolean>;
  insertRefresh(token: NewRefreshToken): Promise<void>;
  /**
   * The access and refresh token of one grant of a refresh family, in one transaction: both or
   * neither (a request that fails leaves no half of its grant).
   */
  insertGrant(access: NewAccessToken & { familyId: string }, refresh: NewRefreshToken): Promise<void>;
  findActiveAccessById(tenant: number, id: string): Promise<ActiveAccessToken | undefined>;
  findActiveRefreshByHash(tenant: number, hash: Buffer): Promise<RefreshTokenRecord | undefined>;
  /** Marks a refresh token used, atomically: of concurrent attempts exactly one is 'consumed'. */
  consumeRefresh(tenant: number, hash: Buffer, appId: string): Promise<RefreshConsumption>;
  revokeFamily(tenant: number, familyId: string): Promise<void>;
  /** `jwt`: the token presented was a JWT, whose revocation is announced (revocation events). */
  revokeAccess(tenant: number, id: string, appId: string, jwt: boolean): Promise<boolean>;
  revokeRefresh(tenant: number, hash: Buffer, appId: string): Promise<boolean>;
  /**
   * Deletes up to `limit` access tokens and up to `limit` refresh tokens that can no longer be
   * used (see PURGE_ACCESS and PURGE_REFRESH), of every tenant; how many of each went. Upkeep:
   * over the maintenance connection (the login role, member of dcr_maintenance, migration 012).
   */
  purgeExpired(limit: number): Promise<PurgedTokens>;
}

export interface PurgedTokens {
  access: number;
  refresh: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface AccessRow {
  id: string;
  tenant_id: number;
  user_id: string;
  username: string;
  app_id: string;
  client_id: string;
  scopes: string[];
  grant_type: string;
  issued_at: Date;
  expires_at: Date;
}

interface RefreshRow {
  id: string;
  tenant_id: number;
  subject: string | null;
  family_id: string;
  app_id: string;
  user_id: string;
  username: string;
  client_id: string;
  scopes: string[];
  issued_at: Date;
  expires_at: Date;
}

// The user's name from its row, or, for a SaaS app's user of another tenant (a row this tenant's
// statements cannot see), the name the token was issued for (migration 014). A deleted user's
// tokens go with the account (ON DELETE CASCADE), so the LEFT JOIN lets no such token through.
const ACCESS_SELECT = `SELECT t.id, t.tenant_id, t.user_id, COALESCE(t.subject, u.username) AS username, t.app_id, a.client_id, t.scopes,
    t.grant_type, t.issued_at, t.expires_at
  FROM access_tokens t LEFT JOIN users u ON u.id = t.user_id JOIN applications a ON a.id = t.app_id`;
// "Active" is judged by the database clock, the same for every instance.
const ACTIVE = 't.revoked_at IS NULL AND t.expires_at > now()';

// Every authenticated request runs it: prepared once per connection (the three-table join costs
// PostgreSQL more to plan than to run), coalesced (Database.lookup).
// Database.lookup's pairs: token ids ($1) and their tenants ($2).
const ACCESS_BY_IDS: NamedStatement = {
  name: 'access_tokens_by_id',
  text: `${ACCESS_SELECT} WHERE (t.id, t.tenant_id) IN (SELECT * FROM unnest($1::uuid[], $2::int[])) AND ${ACTIVE}`,
};
const INSERT_ACCESS: NamedStatement = {
  name: 'access_token_insert',
  text: `INSERT INTO access_tokens (id, app_id, user_id, scopes, grant_type, family_id, expires_at, issued_at, subject)
         VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, now()), $9)`,
};
/**
 * The client_credentials tokens' INSERT (one row per token of a burst, Database.coalesce: one array per
 * column, scopes as one space-separated string per row, a scope holding no space, RFC 6749 §3.3).
 * `asyncCommit`: the statement's own transaction commits without waiting for the WAL flush
 * (set_config(..., is_local) lasts until that transaction ends, and PostgreSQL reads
 * synchronous_commit when it commits, before resetting it): the answer no longer waits for a
 * disk write, at the price that a crash of the database (not of this server) may lose the tokens
 * of its last moments (DCR_TOKEN_COMMIT, docs/performance.md). The setting goes in the WHERE
 * clause so that it runs within the statement, only when there is a row to write.
 */
export function insertAccessForUsername(asyncCommit: boolean): NamedStatement {
  return {
    name: `access_tokens_insert_for_username${asyncCommit ? '_async' : ''}`,
    text: `INSERT INTO access_tokens (id, tenant_id, app_id, user_id, scopes, grant_type, family_id, expires_at, issued_at)
         SELECT i.id, i.tenant_id, i.app_id, u.id, string_to_array(i.scopes, ' '), i.grant_type, NULL, i.expires_at,
           COALESCE(i.issued_at, now())
         FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[], $8::int[])
           AS i(id, app_id, username, scopes, grant_type, expires_at, issued_at, tenant_id)
         JOIN users u ON u.username = i.username AND u.tenant_id = i.tenant_id
         ${asyncCommit ? "WHERE set_config('synchronous_commit', 'off', true) IS NOT NULL" : ''}
         RETURNING id`,
  };
}

// Expired tokens, oldest first, by the expiry indexes (migration 002), judged by the database clock
// as ACTIVE is. A row another session is deleting (another instance's purge, over the same
// database) is skipped, not waited for: SKIP LOCKED.
const PURGE_ACCESS = `DELETE FROM access_tokens WHERE id IN (
    SELECT id FROM access_tokens WHERE expires_at <= now() ORDER BY expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)`;
// A refresh token goes only with its whole family: an expired but used token still proves a replay
// (and revokes the family, RFC 6819 §5.2.2.3) for as long as a token of that family can be used.
const PURGE_REFRESH = `DELETE FROM refresh_tokens WHERE id IN (
    SELECT r.id FROM refresh_tokens r
    WHERE r.expires_at <= now()
      AND NOT EXISTS (SELECT 1 FROM refresh_tokens live WHERE live.family_id = r.family_id AND live.expires_at > now())
    ORDER BY r.expires_at LIMIT $1 FOR UPDATE SKIP LOCKED)`;

/**
 * A family's revocation and the issuing of tokens into that family take this advisory lock
 * (key: constant, hash of the family id), so a token issued while a replay revokes its family
 * (concurrent refreshes of one token) is either seen by the revocation or born revoked; without
 * it, tokens inserted after the revocation's snapshot survived it.
 */
const FAMILY_LOCK = 727_002;

function lockFamily(tx: Queryable, familyId: string) {
  return tx.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [FAMILY_LOCK, familyId]);
}

/**
 * The revocation events of the access tokens a statement's `revoked` CTE revoked (id, app_id,
 * user_id, expires_at), in that statement (so in the revocation's transaction): one event per
 * token still unexpired, each with one event id, one row per notify URL (migration 011). Only
 * JWTs are announced (spec/CHANGES.md, "Revocation events (issue 22)"): `jwtCondition` is the SQL
 * condition on the token's application `a` (or a parameter) that says the token is one.
 */
const queueTokenEvents = (jwtCondition: string) => `,
  token_events AS MATERIALIZED (
    SELECT r.id, r.tenant_id, r.expires_at, a.client_id, COALESCE(r.subject, u.username) AS username, gen_random_uuid() AS event_id
    FROM revoked r JOIN applications a ON a.id = r.app_id LEFT JOIN users u ON u.id = r.user_id
    WHERE r.expires_at > now() AND ${jwtCondition}
  ),
  queued AS (
    INSERT INTO revocation_outbox (event_id, tenant_id, target, kind, order_key, consumer_key, subject, token_id, token_expires_at)
    SELECT e.event_id, e.tenant_id, t.url, 'token', e.client_id, e.client_id, e.username, e.id, e.expires_at
    FROM token_events e CROSS JOIN revocation_targets t
    ORDER BY e.expires_at, e.id
  )`;

/** An app's tokens are JWTs (src/services/tokens.ts makes them for `tokenType` JWT). */
const JWT_APP = "upper(a.token_type) = 'JWT'";

/** `revoked_at` of a token joining family `param`: now() if that family is revoked, else NULL. */
const familyRevokedAt = (param: string) =>
  `(SELECT now() WHERE EXISTS (SELECT 1 FROM refresh_tokens r WHERE r.family_id = ${param} AND r.revoked_at IS NOT NULL))`;

/** A token joining a refresh family: revoked from the start if the family is (its lock held). */
const INSERT_FAMILY_ACCESS = `INSERT INTO access_tokens (id, app_id, user_id, scopes, grant_type, family_id, expires_at, issued_at, subject, revoked_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, now()), $9, ${familyRevokedAt('$6')})`;
const INSERT_FAMILY_REFRESH = `INSERT INTO refresh_tokens (id, token_hash, family_id, app_id, user_id, scopes, expires_at, issued_at, subject, revoked_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, COALESCE($8, now()), $9, ${familyRevokedAt('$3')})`;

const accessValues = (token: NewAccessToken) => [
  token.id,
  token.appId,
  token.userId,
  token.scopes,
  token.grantType,
  token.familyId,
  token.expiresAt,
  token.issuedAt ?? null,
  token.subject ?? null,
];
const refreshValues = (token: NewRefreshToken) => [
  token.id,
  token.tokenHash,
  token.familyId,
  token.appId,
  token.userId,
  token.scopes,
  token.expiresAt,
  token.issuedAt ?? null,
  token.subject ?? null,
];

const REVOKE_ACCESS = 'UPDATE access_tokens SET revoked_at = now() WHERE id = $1 AND app_id = $2 AND revoked_at IS NULL';
/**
 * The same, its event queued when `$3` (the token presented was a JWT). Prepared once per
 * connection: planning its CTEs cost more than running them.
 */
const REVOKE_ACCESS_QUEUED: NamedStatement = {
  name: 'access_token_revoke_queued',
  text: `WITH revoked AS (
    UPDATE access_tokens SET revoked_at = now() WHERE id = $1 AND app_id = $2 AND revoked_at IS NULL
    RETURNING id, tenant_id, app_id, user_id, subject, expires_at
  )${queueTokenEvents('$3::boolean')}
  SELECT count(*)::int AS n FROM revoked`,
};

const REVOKE_FAMILY_ACCESS = 'UPDATE access_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL';
const REVOKE_FAMILY_ACCESS_QUEUED: NamedStatement = {
  name: 'access_tokens_revoke_family_queued',
  text: `WITH revoked AS (
    UPDATE access_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL
    RETURNING id, tenant_id, app_id, user_id, subject, expires_at
  )${queueTokenEvents(JWT_APP)}
  SELECT 1`,
};

/**
 * A refresh token's rotation: marks it used and revokes the access tokens issued before in its
 * grant (the new one is issued after this statement), as WSO2 IS does on a refresh, so that the
 * old access token stops working here and, through its event, at API Manager's gateway.
 */
function consumeRefresh(queued: boolean): NamedStatement {
  return {
    name: `refresh_token_consume${queued ? '_queued' : ''}`,
    text: `WITH used AS (
         UPDATE refresh_tokens t SET used_at = now()
         WHERE t.token_hash = $1 AND t.app_id = $2 AND t.used_at IS NULL AND ${ACTIVE}
         RETURNING t.*
       ),
       revoked AS (
         UPDATE access_tokens o SET revoked_at = now() FROM used
         WHERE o.family_id = used.family_id AND o.revoked_at IS NULL
         RETURNING o.id, o.tenant_id, o.app_id, o.user_id, o.subject, o.expires_at
       )${queued ? queueTokenEvents(JWT_APP) : ''}
       SELECT used.id, used.tenant_id, used.subject, used.family_id, used.app_id, used.user_id,
              COALESCE(used.subject, u.username) AS username, a.client_id, used.scopes, used.issued_at, used.expires_at
       FROM used LEFT JOIN users u ON u.id = used.user_id JOIN applications a ON a.id = used.app_id`,
  };
}

/** What an access and a refresh token row share: who, for which client, with what scopes, when. */
function tokenFields(row: AccessRow | RefreshRow) {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    appId: row.app_id,
    userId: row.user_id,
    username: row.username,
    clientId: row.client_id,
    scopes: row.scopes,
    issuedAt: row.issued_at,
    expiresAt: row.expires_at,
  };
}

const toAccess = (row: AccessRow): ActiveAccessToken => ({ ...tokenFields(row), grantType: row.grant_type });

const toRefresh = (row: RefreshRow): RefreshTokenRecord => ({ ...tokenFields(row), familyId: row.family_id, subject: row.subject });

type NewAccessForUsername = Omit<NewAccessToken, 'userId' | 'familyId'> & { username: string };

/** Whether a token's INSERT failed because its application is not (or no longer) in the database. */
export function isUnknownApplication(err: unknown): boolean {
  return err instanceof ForeignKeyViolation && (err.constraint === 'access_tokens_app_id_fkey' || err.constraint === 'refresh_tokens_app_id_fkey');
}

export class PgTokenRepository implements TokenRepository {
  // The statements of every Bearer authentication and every client_credentials token, one per
  // burst of calls rather than one per call (Database.coalesce, Database.lookup).
  private readonly accessById: (tenant: number, id: string) => Promise<AccessRow | undefined>;
  private readonly accessForUsername: (token: NewAccessForUsername) => Promise<boolean>;

  /** Whether revocations queue their events (a notify URL is configured, migration 011). */
  private readonly revocationEvents: boolean;
  private readonly consumeStatement: NamedStatement;
  private readonly revokeFamilyAccess: string | NamedStatement;

  constructor(
    private readonly db: Database,
    /**
     * `asyncCommit`: client_credentials tokens commit asynchronously (see insertAccessForUsername).
     * `revocationEvents`: revocations queue their events for API Manager; without it, the
     * statements are those of a server that announces nothing (no extra work on the token paths).
     */
    options: { asyncCommit?: boolean; revocationEvents?: boolean } = {},
  ) {
    this.revocationEvents = options.revocationEvents ?? false;
    this.consumeStatement = consumeRefresh(this.revocationEvents);
    this.revokeFamilyAccess = this.revocationEvents ? REVOKE_FAMILY_ACCESS_QUEUED : REVOKE_FAMILY_ACCESS;
    this.accessById = db.lookup<AccessRow>(ACCESS_BY_IDS, (row) => row.id);
    const insertForUsername = insertAccessForUsername(options.asyncCommit ?? false);
    this.accessForUsername = db.coalesce(
      async (tokens: NewAccessForUsername[]) => {
        const { rows } = await this.db.queryIn<{ id: string }>(tokens.map((token) => token.tenantId), insertForUsername, [
          tokens.map((token) => token.id),
          tokens.map((token) => token.appId),
          tokens.map((token) => token.username),
          tokens.map((token) => token.scopes.join(' ')),
          tokens.map((token) => token.grantType),
          tokens.map((token) => token.expiresAt),
          tokens.map((token) => token.issuedAt ?? null),
          tokens.map((token) => token.tenantId),
        ]);
        const inserted = new Set(rows.map((row) => row.id));
        return tokens.map((token) => inserted.has(token.id));
      },
      {
        // One INSERT out at a time. Each row's foreign keys take a KEY SHARE lock on its app's and
        // user's rows; two transactions holding it on the same row at once (a busy client's
        // tokens, two statements out) make PostgreSQL create a MultiXact for it. One at a time:
        // no MultiXacts, and fewer, larger statements (measured in docs/performance.md).
        maxInFlight: 1,
        // An app deleted meanwhile (a foreign key) fails its own token, not the batch's.
        isolate: (err) => !(err instanceof DatabaseUnavailable),
      },
    );
  }

  async insertAccess(token: NewAccessToken): Promise<void> {
    if (!token.familyId) {
      await this.db.queryIn(token.tenantId, INSERT_ACCESS, accessValues(token));
      return;
    }
    const familyId = token.familyId;
    await this.db.transactionIn(token.tenantId, async (tx) => {
      await lockFamily(tx, familyId);
      await tx.query(INSERT_FAMILY_ACCESS, accessValues(token));
    });
  }

  async insertGrant(access: NewAccessToken & { familyId: string }, refresh: NewRefreshToken): Promise<void> {
    // One lock and one commit for the grant (they were two transactions, each with its commit's
    // WAL flush): the family's revocation (reuse detection) waits for both or sees neither.
    await this.db.transactionIn(access.tenantId, async (tx) => {
      await lockFamily(tx, access.familyId);
      await tx.query(INSERT_FAMILY_ACCESS, accessValues(access));
      await tx.query(INSERT_FAMILY_REFRESH, refreshValues(refresh));
    });
  }

  insertAccessForUsername(token: NewAccessForUsername): Promise<boolean> {
    return this.accessForUsername(token);
  }

  async insertRefresh(token: NewRefreshToken): Promise<void> {
    await this.db.transactionIn(token.tenantId, async (tx) => {
      await lockFamily(tx, token.familyId);
      await tx.query(INSERT_FAMILY_REFRESH, refreshValues(token));
    });
  }

  async findActiveAccessById(tenant: number, id: string): Promise<ActiveAccessToken | undefined> {
    if (!UUID.test(id)) return undefined;
    // Lower case, as PostgreSQL prints a uuid: the key the answer comes back under.
    const row = await this.accessById(tenant, id.toLowerCase());
    return row && toAccess(row);
  }

  async findActiveRefreshByHash(tenant: number, hash: Buffer): Promise<RefreshTokenRecord | undefined> {
    const { rows } = await this.db.queryIn<RefreshRow>(
      tenant,
      `SELECT t.id, t.tenant_id, t.subject, t.family_id, t.app_id, t.user_id, COALESCE(t.subject, u.username) AS username, a.client_id,
         t.scopes, t.issued_at, t.expires_at
       FROM refresh_tokens t LEFT JOIN users u ON u.id = t.user_id JOIN applications a ON a.id = t.app_id
       WHERE t.token_hash = $1 AND t.tenant_id = $2 AND t.used_at IS NULL AND ${ACTIVE}`,
      [hash, tenant],
    );
    return rows[0] && toRefresh(rows[0]);
  }

  async consumeRefresh(tenant: number, hash: Buffer, appId: string): Promise<RefreshConsumption> {
    // One UPDATE decides: concurrent refreshes of one token serialise on its row lock, and only
    // the first still finds used_at NULL. The same statement revokes the grant's earlier access
    // tokens (and queues their events): see CONSUME_REFRESH. The app id pins the tenant's row
    // (an app is in one tenant), and the scope keeps the statement in that tenant.
    const { rows } = await this.db.queryIn<RefreshRow>(tenant, this.consumeStatement, [hash, appId]);
    if (rows[0]) return { outcome: 'consumed', token: toRefresh(rows[0]) };
    const replay = await this.db.queryIn<{ family_id: string }>(
      tenant,
      'SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND app_id = $2 AND used_at IS NOT NULL',
      [hash, appId],
    );
    if (replay.rows[0]) {
      await this.revokeFamily(tenant, replay.rows[0].family_id);
      return { outcome: 'reused', familyId: replay.rows[0].family_id };
    }
    return { outcome: 'invalid' };
  }

  async revokeFamily(tenant: number, familyId: string): Promise<void> {
    await this.db.transactionIn(tenant, async (tx) => {
      // The updates below run after the lock, so they see every token issued into the family before.
      await lockFamily(tx, familyId);
      await tx.query('UPDATE refresh_tokens SET revoked_at = now() WHERE family_id = $1 AND revoked_at IS NULL', [familyId]);
      await tx.query(this.revokeFamilyAccess, [familyId]);
    });
  }

  async revokeAccess(tenant: number, id: string, appId: string, jwt: boolean): Promise<boolean> {
    if (!UUID.test(id)) return false;
    if (!this.revocationEvents) {
      const { rowCount } = await this.db.queryIn(tenant, REVOKE_ACCESS, [id, appId]);
      return rowCount === 1;
    }
    const { rows } = await this.db.queryIn<{ n: number }>(tenant, REVOKE_ACCESS_QUEUED, [id, appId, jwt]);
    return rows[0]?.n === 1;
  }

  async revokeRefresh(tenant: number, hash: Buffer, appId: string): Promise<boolean> {
    // RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens of its grant.
    const { rows } = await this.db.queryIn<{ family_id: string }>(
      tenant,
      'SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND app_id = $2',
      [hash, appId],
    );
    if (!rows[0]) return false;
    await this.revokeFamily(tenant, rows[0].family_id);
    return true;
  }

  async purgeExpired(limit: number): Promise<PurgedTokens> {
    // Two statements, each its own short transaction: a purge holds no lock for long.
    const access = await this.db.query(PURGE_ACCESS, [limit]);
    const refresh = await this.db.query(PURGE_REFRESH, [limit]);
    return { access: access.rowCount ?? 0, refresh: refresh.rowCount ?? 0 };
  }
}
