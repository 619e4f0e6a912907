import type { SecretBox } from '../crypto/secret-box.js';
import type { Database, NamedStatement } from '../db/database.js';
import type { Application, NewApplication } from '../domain/types.js';

export interface ApplicationRepository {
  findByName(clientName: string): Promise<Application | undefined>;
  findByClientId(clientId: string): Promise<Application | undefined>;
  /**
   * Inserts the app unless its name is taken; undefined when it was (the caller then reads the
   * winner). One statement, so concurrent first registrations of a name cannot both insert.
   */
  insertIfNameFree(app: NewApplication): Promise<Application | undefined>;
  /**
   * The registration's one round trip: inserts the app unless its name is taken, else returns the
   * app stored under that name (`created` says which). Undefined only when the name was taken by
   * a transaction that committed after this statement's snapshot (a concurrent first
   * registration): the caller then reads the winner with a new statement.
   */
  insertOrFind(app: NewApplication): Promise<{ application: Application; created: boolean } | undefined>;
  count(): Promise<number>;
  /** Ordered by creation; `offset` is 0-based. */
  list(offset: number, limit: number): Promise<ApplicationPage>;
}

export interface ApplicationPage {
  total: number;
  applications: Application[];
}

interface ApplicationRow {
  id: string;
  client_id: string;
  client_secret_enc: string;
  client_name: string;
  owner: string;
  grant_types: string[];
  callback_url: string | null;
  saas_app: boolean;
  token_type: string;
  user_store_domain_in_subject: boolean;
  created_at: Date;
}

const COLUMNS = `id, client_id, client_secret_enc, client_name, owner, grant_types, callback_url, saas_app,
  token_type, user_store_domain_in_subject, created_at`;

// The statements of /register and of every client authentication: prepared once per connection.
const BY_NAME: NamedStatement = { name: 'application_by_name', text: `SELECT ${COLUMNS} FROM applications WHERE client_name = $1` };
const BY_CLIENT_ID: NamedStatement = { name: 'application_by_client_id', text: `SELECT ${COLUMNS} FROM applications WHERE client_id = $1` };
// One statement, two outcomes. ON CONFLICT DO NOTHING checks the name's unique index first, so a
// taken name writes nothing; the second branch then reads the stored app. Both branches see the
// statement's snapshot: a name committed by another transaction after it started (the INSERT
// waited for that transaction, then skipped) is in neither, hence no row.
const INSERT_OR_FIND: NamedStatement = {
  name: 'application_insert_or_find',
  text: `WITH inserted AS (
      INSERT INTO applications (id, client_id, client_secret_enc, client_name, owner, grant_types, callback_url,
        saas_app, token_type, user_store_domain_in_subject)
      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
      ON CONFLICT ON CONSTRAINT applications_client_name_key DO NOTHING
      RETURNING ${COLUMNS}
    )
    SELECT ${COLUMNS}, true AS created FROM inserted
    UNION ALL
    SELECT ${COLUMNS}, false AS created FROM applications WHERE client_name = $4`,
};

export class PgApplicationRepository implements ApplicationRepository {
  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox,
  ) {}

  async findByName(clientName: string): Promise<Application | undefined> {
    // No stored value holds NUL (PostgreSQL text cannot); asking would only fail with 22021.
    if (clientName.includes('\u0000')) return undefined;
    const { rows } = await this.db.query<ApplicationRow>(BY_NAME, [clientName]);
    return rows[0] && this.toApplication(rows[0]);
  }

  async findByClientId(clientId: string): Promise<Application | undefined> {
    if (clientId.includes('\u0000')) return undefined;
    const { rows } = await this.db.query<ApplicationRow>(BY_CLIENT_ID, [clientId]);
    return rows[0] && this.toApplication(rows[0]);
  }

  async insertIfNameFree(app: NewApplication): Promise<Application | undefined> {
    const { rows } = await this.db.query<ApplicationRow>(
      `INSERT INTO applications (id, client_id, client_secret_enc, client_name, owner, grant_types, callback_url,
         saas_app, token_type, user_store_domain_in_subject)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
       ON CONFLICT ON CONSTRAINT applications_client_name_key DO NOTHING
       RETURNING ${COLUMNS}`,
      [
        app.id,
        app.clientId,
        this.secrets.seal(app.clientSecret, app.clientId),
        app.clientName,
        app.owner,
        app.grantTypes,
        app.callbackUrl,
        app.saasApp,
        app.tokenType,
        app.userStoreDomainInSubject,
      ],
    );
    return rows[0] && this.toApplication(rows[0]);
  }

  async insertOrFind(app: NewApplication): Promise<{ application: Application; created: boolean } | undefined> {
    const { rows } = await this.db.query<ApplicationRow & { created: boolean }>(
      INSERT_OR_FIND,
      [
        app.id,
        app.clientId,
        this.secrets.seal(app.clientSecret, app.clientId),
        app.clientName,
        app.owner,
        app.grantTypes,
        app.callbackUrl,
        app.saasApp,
        app.tokenType,
        app.userStoreDomainInSubject,
      ],
    );
    const row = rows[0];
    if (!row) return undefined;
    // The row just inserted holds what `app` says: no need to decrypt the secret sealed above.
    if (row.created) return { application: { ...app, createdAt: row.created_at }, created: true };
    return { application: this.toApplication(row), created: false };
  }

  async count(): Promise<number> {
    const { rows } = await this.db.query<{ n: string }>('SELECT count(*) AS n FROM applications');
    return Number(rows[0]!.n);
  }

  async list(offset: number, limit: number): Promise<ApplicationPage> {
    const { rows } = await this.db.query<ApplicationRow & { total: string }>(
      `SELECT ${COLUMNS}, count(*) OVER () AS total FROM applications ORDER BY created_at, id OFFSET $1 LIMIT $2`,
      [offset, limit],
    );
    // An empty page carries no window count.
    const total = rows[0] ? Number(rows[0].total) : rows.length === 0 && (offset > 0 || limit === 0) ? await this.count() : 0;
    return { total, applications: rows.map((row) => this.toApplication(row)) };
  }

  private toApplication(row: ApplicationRow): Application {
    return {
      id: row.id,
      clientId: row.client_id,
      // The client id is the additional authenticated data: an envelope moved to another row fails.
      clientSecret: this.secrets.open(row.client_secret_enc, row.client_id),
      clientName: row.client_name,
      owner: row.owner,
      grantTypes: row.grant_types,
      callbackUrl: row.callback_url,
      saasApp: row.saas_app,
      tokenType: row.token_type,
      userStoreDomainInSubject: row.user_store_domain_in_subject,
      createdAt: row.created_at,
    };
  }
}
