import type { SecretBox } from '../crypto/secret-box.js';
import type { Database } from '../db/database.js';
import type { Application, NewApplication } from '../domain/types.js';

export interface ApplicationRepository {
  findByName(clientName: string): Promise<Application | undefined>;
  findByClientId(clientId: string): Promise<Application | undefined>;
  /**
   * Inserts the app unless its name is taken; undefined when it was (the caller then reads the
   * winner). One statement, so concurrent first registrations of a name cannot both insert.
   */
  insertIfNameFree(app: NewApplication): Promise<Application | undefined>;
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

export class PgApplicationRepository implements ApplicationRepository {
  constructor(
    private readonly db: Database,
    private readonly secrets: SecretBox,
  ) {}

  async findByName(clientName: string): Promise<Application | undefined> {
    const { rows } = await this.db.query<ApplicationRow>(
      `SELECT ${COLUMNS} FROM applications WHERE client_name = $1`,
      [clientName],
    );
    return rows[0] && this.toApplication(rows[0]);
  }

  async findByClientId(clientId: string): Promise<Application | undefined> {
    const { rows } = await this.db.query<ApplicationRow>(`SELECT ${COLUMNS} FROM applications WHERE client_id = $1`, [
      clientId,
    ]);
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
