import type { SecretBox } from '../crypto/secret-box.js';
import { ItemFailure } from '../db/batcher.js';
import type { Database, NamedStatement } from '../db/database.js';
import { DatabaseUnavailable } from '../db/errors.js';
import { YoungTableAnalyzer } from '../db/young-table.js';
import { DEFAULT_LIFETIMES, type Application, type IsApplication, type IsMetadata, type NewApplication, type NewIsApplication } from '../domain/types.js';

/**
 * Every method works within one tenant: `tenant` (its id), or the new app's own `tenantId`. Names
 * and client ids are unique per tenant (migration 012).
 */
export interface ApplicationRepository {
  findByName(tenant: number, clientName: string): Promise<Application | undefined>;
  findByClientId(tenant: number, clientId: string): Promise<Application | undefined>;
  /**
   * The registration's one round trip: inserts the app unless its name is taken, else returns the
   * app stored under that name (`created` says which). Undefined only when the name was taken by
   * a transaction that committed after this statement's snapshot (a concurrent first
   * registration): the caller then reads the winner with a new statement.
   */
  insertOrFind(app: NewApplication): Promise<{ application: Application; created: boolean } | undefined>;
  count(tenant: number): Promise<number>;
  /** Ordered by creation; `offset` is 0-based. */
  list(tenant: number, offset: number, limit: number): Promise<ApplicationPage>;
  /** IS DCR v1.1: the app with its IS metadata, by client id or by name. */
  findIsByClientId(tenant: number, clientId: string): Promise<IsApplication | undefined>;
  findIsByName(tenant: number, clientName: string): Promise<IsApplication | undefined>;
  /**
   * IS DCR v1.1's create: one INSERT, so a refused one leaves nothing. A taken name or client id
   * throws UniqueViolation (applications_client_name_key, applications_client_id_key), an owner
   * whose account is gone ForeignKeyViolation (applications_owner_id_fkey).
   */
  createIs(app: NewIsApplication): Promise<IsApplication>;
  /**
   * IS DCR v1.1's update of the app with this row id: everything but its ids, its secret and its
   * creation. Undefined when no such app exists (any more); a name taken by another app throws
   * UniqueViolation, as createIs.
   */
  updateIs(app: Omit<NewIsApplication, 'clientSecret' | 'clientId'>): Promise<IsApplication | undefined>;
  /** Deletes the app; its tokens go with it (ON DELETE CASCADE, migration 002). False when there was none. */
  deleteById(tenant: number, id: string): Promise<boolean>;
}

export interface ApplicationPage {
  total: number;
  applications: Application[];
}

interface ApplicationRow {
  id: string;
  tenant_id: number;
  client_id: string;
  client_secret_enc: string;
  client_name: string;
  owner: string;
  owner_id: string;
  grant_types: string[];
  callback_url: string | null;
  saas_app: boolean;
  token_type: string;
  user_store_domain_in_subject: boolean;
  application_token_lifetime: number | null;
  user_token_lifetime: number | null;
  refresh_token_lifetime: number | null;
  created_at: Date;
}

interface IsApplicationRow extends ApplicationRow {
  is_metadata: IsMetadata;
}

// The lifetimes are part of every read, the token path's included (three integers); the jsonb
// metadata only of the IS DCR operations' reads (IS_COLUMNS).
const COLUMNS = `id, tenant_id, client_id, client_secret_enc, client_name, owner, owner_id, grant_types, callback_url, saas_app,
  token_type, user_store_domain_in_subject, application_token_lifetime, user_token_lifetime, refresh_token_lifetime, created_at`;
const IS_COLUMNS = `${COLUMNS}, is_metadata`;

// The statements of /register and of every client authentication: prepared once per connection.
const BY_NAME: NamedStatement = { name: 'application_by_name', text: `SELECT ${COLUMNS} FROM applications WHERE client_name = $1 AND tenant_id = $2` };
// Database.lookup's pairs: client ids ($1) and their tenants ($2), of a burst's tenants.
const BY_CLIENT_IDS: NamedStatement = {
  name: 'applications_by_client_id',
  text: `SELECT ${COLUMNS} FROM applications WHERE (client_id, tenant_id) IN (SELECT * FROM unnest($1::text[], $2::int[]))`,
};
// The registrations of a burst in one statement (Database.coalesce), whatever their tenants (each
// row names its own, and a name is taken only within its tenant), two outcomes per name: the
// stored app under the name if the statement's snapshot has one (then nothing is inserted for it),
// else the row inserted. ON CONFLICT DO NOTHING covers a name another transaction inserts
// concurrently: the INSERT waits for it and, if it commits, skips; being newer than this
// statement's snapshot, that row is in neither branch, hence no row at all for that name (the
// caller re-reads with a new statement). The names are distinct (the caller folds repeats of a
// name into one item) and sorted, and rows are inserted in that order: a statement waits at a
// name another uncommitted statement inserted, so two statements taking the same names in different orders could each wait
// for the other (deadlock, 40P01); in one order, one of them simply goes first.
const INSERT_OR_FIND: NamedStatement = {
  name: 'applications_insert_or_find',
  text: `WITH input AS (
      SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
        $8::boolean[], $9::text[], $10::boolean[], $11::uuid[], $12::int[]) WITH ORDINALITY
        AS i(id, client_id, client_secret_enc, client_name, owner, grant_types, callback_url, saas_app, token_type,
          user_store_domain_in_subject, owner_id, tenant_id, position)
    ),
    existing AS (
      SELECT ${COLUMNS} FROM applications WHERE (client_name, tenant_id) IN (SELECT client_name, tenant_id FROM input)
    ),
    inserted AS (
      INSERT INTO applications (id, tenant_id, client_id, client_secret_enc, client_name, owner, grant_types, callback_url,
        saas_app, token_type, user_store_domain_in_subject, owner_id)
      SELECT id, tenant_id, client_id, client_secret_enc, client_name, owner, string_to_array(grant_types, ' '), callback_url,
        saas_app, token_type, user_store_domain_in_subject, owner_id
      FROM input WHERE (client_name, tenant_id) NOT IN (SELECT client_name, tenant_id FROM existing)
      ORDER BY position
      ON CONFLICT ON CONSTRAINT applications_client_name_key DO NOTHING
      RETURNING ${COLUMNS}
    )
    SELECT ${COLUMNS}, false AS created FROM existing
    UNION ALL
    SELECT ${COLUMNS}, true AS created FROM inserted`,
};

/** IS DCR v1.1 creations of a burst (createIsMany): plain INSERTs, a taken name or client id fails. */
const CREATE_IS: NamedStatement = {
  name: 'applications_create_is',
  text: `INSERT INTO applications (id, tenant_id, client_id, client_secret_enc, client_name, owner, owner_id, grant_types, callback_url,
      saas_app, token_type, user_store_domain_in_subject, application_token_lifetime, user_token_lifetime,
      refresh_token_lifetime, is_metadata)
    SELECT id, tenant_id, client_id, client_secret_enc, client_name, owner, owner_id, string_to_array(grant_types, ' '), callback_url,
      saas_app, token_type, user_store_domain_in_subject, application_token_lifetime, user_token_lifetime,
      refresh_token_lifetime, is_metadata::jsonb
    FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::uuid[], $7::text[], $8::text[],
      $9::boolean[], $10::text[], $11::boolean[], $12::int[], $13::int[], $14::int[], $15::text[], $16::int[]) WITH ORDINALITY
      AS i(id, client_id, client_secret_enc, client_name, owner, owner_id, grant_types, callback_url, saas_app, token_type,
        user_store_domain_in_subject, application_token_lifetime, user_token_lifetime, refresh_token_lifetime, is_metadata,
        tenant_id, position)
    ORDER BY position
    RETURNING ${IS_COLUMNS}`,
};

type InsertOrFindResult = { application: Application; created: boolean } | undefined;

/** A name within its tenant, as a map key. */
const nameKey = (tenant: number, clientName: string) => `${tenant}:${clientName}`;
const tenantsOf = (apps: readonly { tenantId: number }[]) => apps.map((app) => app.tenantId);
const byNameThenTenant = (a: { clientName: string; tenantId: number }, b: { clientName: string; tenantId: number }) =>
  a.clientName < b.clientName ? -1 : a.clientName > b.clientName ? 1 : a.tenantId - b.tenantId;

export class PgApplicationRepository implements ApplicationRepository {
  /** Registrations of a burst, one statement at a time. */
  private readonly registrations: (app: NewApplication) => Promise<InsertOrFindResult>;
  /** The client authentications of a burst, one statement at a time. Rows, not apps: each call opens its own secret. */
  private readonly byClientId: (tenant: number, clientId: string) => Promise<ApplicationRow | undefined>;
  /** IS DCR v1.1's creations of a burst, one statement at a time (createIsMany). */
  private readonly isCreations: (app: NewIsApplication) => Promise<IsApplication>;
  /** The first burst of registrations on a fresh database gets statistics, hence index plans, at once. */
  private readonly young: YoungTableAnalyzer;

  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox,
    /** The table's owner, who alone may ANALYZE it (the young table's statistics). */
    maintenance: Database = db,
  ) {
    this.young = new YoungTableAnalyzer(maintenance, 'applications');
    this.registrations = db.coalesce((apps: NewApplication[]) => this.insertOrFindMany(apps), {
      // One statement out at a time: each registration statement waits for its commit's disk
      // flush, and the calls queued meanwhile make the next one larger, so a burst costs fewer
      // statements and flushes (measured in docs/performance.md).
      maxInFlight: 1,
      // A value PostgreSQL refuses in one registration must not fail the others of its batch.
      isolate: (err) => !(err instanceof DatabaseUnavailable),
    });
    this.isCreations = db.coalesce((apps: NewIsApplication[]) => this.createIsMany(apps), {
      maxInFlight: 1,
      // A name or client id taken, or a value PostgreSQL refuses: that creation's fault, not the others'.
      isolate: (err) => !(err instanceof DatabaseUnavailable),
    });
    this.byClientId = db.lookup<ApplicationRow>(BY_CLIENT_IDS, (row) => row.client_id);
  }

  async findByName(tenant: number, clientName: string): Promise<Application | undefined> {
    // No stored value holds NUL (PostgreSQL text cannot); asking would only fail with 22021.
    if (clientName.includes('\u0000')) return undefined;
    const { rows } = await this.db.queryIn<ApplicationRow>(tenant, BY_NAME, [clientName, tenant]);
    return rows[0] && this.toApplication(rows[0]);
  }

  async findByClientId(tenant: number, clientId: string): Promise<Application | undefined> {
    if (clientId.includes('\u0000')) return undefined;
    const row = await this.byClientId(tenant, clientId);
    return row && this.toApplication(row);
  }

  insertOrFind(app: NewApplication): Promise<InsertOrFindResult> {
    return this.registrations(app);
  }

  /** insertOrFind for a batch: one statement for its distinct names, each call answered for its own. */
  private async insertOrFindMany(apps: NewApplication[]): Promise<(InsertOrFindResult | ItemFailure)[]> {
    // A name asked twice in one batch (in one tenant) is one row: the first call's app is the one
    // inserted, and the later calls get it as the stored app (what they would get one after the other).
    const first = new Map<string, NewApplication>();
    for (const app of apps) if (!first.has(nameKey(app.tenantId, app.clientName))) first.set(nameKey(app.tenantId, app.clientName), app);
    // One order for every statement over several names (see INSERT_OR_FIND): code-unit order of
    // the name, then the tenant.
    const distinct = [...first.values()].sort(byNameThenTenant);
    const byName = await this.insertOrFindDistinct(distinct);
    return apps.map((app) => {
      const key = nameKey(app.tenantId, app.clientName);
      return this.outcome(app, first.get(key)!, byName.get(key));
    });
  }

  private outcome(
    app: NewApplication,
    firstOfName: NewApplication,
    found: { row: ApplicationRow; created: boolean } | undefined,
  ): InsertOrFindResult | ItemFailure {
    if (!found) return undefined;
    if (!found.created) {
      try {
        return { application: this.toApplication(found.row), created: false };
      } catch (err) {
        // A stored secret that does not open (wrong key) fails that call, not the whole batch.
        return new ItemFailure(err);
      }
    }
    // The row just inserted holds what the first call said: no need to decrypt the secret sealed here.
    const application = { ...firstOfName, lifetimes: { ...DEFAULT_LIFETIMES }, createdAt: found.row.created_at };
    return app === firstOfName ? { application, created: true } : { application, created: false };
  }

  private async insertOrFindDistinct(apps: NewApplication[]): Promise<Map<string, { row: ApplicationRow; created: boolean }>> {
    // Each column as one array; grant types, a list per row, as one space-separated string.
    const values = [
      apps.map((app) => app.id),
      apps.map((app) => app.clientId),
      apps.map((app) => this.secrets.seal(app.clientSecret, app.clientId)),
      apps.map((app) => app.clientName),
      apps.map((app) => app.owner),
      apps.map((app) => app.grantTypes.join(' ')),
      apps.map((app) => app.callbackUrl),
      apps.map((app) => app.saasApp),
      apps.map((app) => app.tokenType),
      apps.map((app) => app.userStoreDomainInSubject),
      apps.map((app) => app.ownerId),
      apps.map((app) => app.tenantId),
    ];
    const { rows } = await this.db.queryIn<ApplicationRow & { created: boolean }>(tenantsOf(apps), INSERT_OR_FIND, values);
    this.young.recordInserts(rows.filter((row) => row.created).length);
    return new Map(rows.map((row) => [nameKey(row.tenant_id, row.client_name), { row, created: row.created }]));
  }

  async count(tenant: number): Promise<number> {
    const { rows } = await this.db.queryIn<{ n: string }>(tenant, 'SELECT count(*) AS n FROM applications WHERE tenant_id = $1', [tenant]);
    return Number(rows[0]!.n);
  }

  async list(tenant: number, offset: number, limit: number): Promise<ApplicationPage> {
    const { rows } = await this.db.queryIn<ApplicationRow & { total: string }>(
      tenant,
      `SELECT ${COLUMNS}, count(*) OVER () AS total FROM applications WHERE tenant_id = $3 ORDER BY created_at, id OFFSET $1 LIMIT $2`,
      [offset, limit, tenant],
    );
    // An empty page carries no window count.
    const total = rows[0] ? Number(rows[0].total) : rows.length === 0 && (offset > 0 || limit === 0) ? await this.count(tenant) : 0;
    return { total, applications: rows.map((row) => this.toApplication(row)) };
  }

  async findIsByClientId(tenant: number, clientId: string): Promise<IsApplication | undefined> {
    if (clientId.includes('\u0000')) return undefined;
    const { rows } = await this.db.queryIn<IsApplicationRow>(tenant, `SELECT ${IS_COLUMNS} FROM applications WHERE client_id = $1 AND tenant_id = $2`, [
      clientId,
      tenant,
    ]);
    return rows[0] && this.toIsApplication(rows[0]);
  }

  async findIsByName(tenant: number, clientName: string): Promise<IsApplication | undefined> {
    if (clientName.includes('\u0000')) return undefined;
    const { rows } = await this.db.queryIn<IsApplicationRow>(tenant, `SELECT ${IS_COLUMNS} FROM applications WHERE client_name = $1 AND tenant_id = $2`, [
      clientName,
      tenant,
    ]);
    return rows[0] && this.toIsApplication(rows[0]);
  }

  createIs(app: NewIsApplication): Promise<IsApplication> {
    return this.isCreations(app);
  }

  /**
   * The IS DCR creations of a burst in one statement (Database.coalesce), as v0.17's registrations
   * are: one INSERT of every row, one commit and one WAL flush for the burst. A name or client id
   * already taken fails the statement; the batcher then retries its items one per statement, so
   * that only the creation at fault fails (UniqueViolation), as a lone INSERT would.
   */
  private async createIsMany(apps: NewIsApplication[]): Promise<IsApplication[]> {
    // Rows in one order for every statement (client_name, code-unit order), as INSERT_OR_FIND, so
    // two statements inserting names the other holds uncommitted cannot wait for each other.
    const sorted = [...apps].sort(byNameThenTenant);
    const { rows } = await this.db.queryIn<IsApplicationRow>(tenantsOf(apps), CREATE_IS, [
      sorted.map((app) => app.id),
      sorted.map((app) => app.clientId),
      sorted.map((app) => this.secrets.seal(app.clientSecret, app.clientId)),
      sorted.map((app) => app.clientName),
      sorted.map((app) => app.owner),
      sorted.map((app) => app.ownerId),
      // A list per row, as one space-separated string (grant types hold no space).
      sorted.map((app) => app.grantTypes.join(' ')),
      sorted.map((app) => app.callbackUrl),
      sorted.map((app) => app.saasApp),
      sorted.map((app) => app.tokenType),
      sorted.map((app) => app.userStoreDomainInSubject),
      sorted.map((app) => app.lifetimes.applicationToken),
      sorted.map((app) => app.lifetimes.userToken),
      sorted.map((app) => app.lifetimes.refreshToken),
      sorted.map((app) => JSON.stringify(app.metadata)),
      sorted.map((app) => app.tenantId),
    ]);
    this.young.recordInserts(rows.length);
    const byId = new Map(rows.map((row) => [row.id, row]));
    // The secrets were given: no need to open the envelopes just sealed.
    return apps.map((app) => this.toIsApplication(byId.get(app.id)!, app.clientSecret));
  }

  async updateIs(app: Omit<NewIsApplication, 'clientSecret' | 'clientId'>): Promise<IsApplication | undefined> {
    const { rows } = await this.db.queryIn<IsApplicationRow>(
      app.tenantId,
      `UPDATE applications SET client_name = $2, owner = $3, owner_id = $4, grant_types = $5::text[], callback_url = $6,
         saas_app = $7, token_type = $8, user_store_domain_in_subject = $9, application_token_lifetime = $10,
         user_token_lifetime = $11, refresh_token_lifetime = $12, is_metadata = $13::jsonb
       WHERE id = $1 AND tenant_id = $14
       RETURNING ${IS_COLUMNS}`,
      [
        app.id,
        app.clientName,
        app.owner,
        app.ownerId,
        app.grantTypes,
        app.callbackUrl,
        app.saasApp,
        app.tokenType,
        app.userStoreDomainInSubject,
        app.lifetimes.applicationToken,
        app.lifetimes.userToken,
        app.lifetimes.refreshToken,
        JSON.stringify(app.metadata),
        app.tenantId,
      ],
    );
    return rows[0] && this.toIsApplication(rows[0]);
  }

  async deleteById(tenant: number, id: string): Promise<boolean> {
    const { rowCount } = await this.db.queryIn(tenant, 'DELETE FROM applications WHERE id = $1 AND tenant_id = $2', [id, tenant]);
    return rowCount === 1;
  }

  private toIsApplication(row: IsApplicationRow, clientSecret?: string): IsApplication {
    return { ...this.toApplication(row, clientSecret), metadata: row.is_metadata };
  }

  private toApplication(row: ApplicationRow, clientSecret?: string): Application {
    return {
      id: row.id,
      tenantId: row.tenant_id,
      clientId: row.client_id,
      // The client id is the additional authenticated data: an envelope moved to another row fails.
      clientSecret: clientSecret ?? this.secrets.open(row.client_secret_enc, row.client_id),
      clientName: row.client_name,
      owner: row.owner,
      ownerId: row.owner_id,
      grantTypes: row.grant_types,
      callbackUrl: row.callback_url,
      saasApp: row.saas_app,
      tokenType: row.token_type,
      userStoreDomainInSubject: row.user_store_domain_in_subject,
      lifetimes: {
        applicationToken: row.application_token_lifetime,
        userToken: row.user_token_lifetime,
        refreshToken: row.refresh_token_lifetime,
      },
      createdAt: row.created_at,
    };
  }
}
