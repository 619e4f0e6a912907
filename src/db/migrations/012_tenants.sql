-- Up Migration
-- Tenants (issue 21, reference §8). Every row that belongs to someone belongs to a tenant, and
-- PostgreSQL itself keeps tenants apart: row-level security on every tenant-owned table, the
-- tenants a statement may touch set per transaction by the repository layer (src/db/tenant-scope.ts),
-- and the server's statements run as `dcr_app`, a role that neither owns the tables nor bypasses
-- row security. Everything that exists before this migration is the super tenant's.

-- The tenant registry. Not tenant-owned (a tenant's row is its name, not its data): no row security.
CREATE TABLE tenants (
  id          integer     PRIMARY KEY,
  domain      text        NOT NULL,
  active      boolean     NOT NULL DEFAULT true,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  -- WSO2 compares tenant domains without case; stored as given, lower case (src/domain/tenants.ts).
  CONSTRAINT tenants_domain_lower CHECK (domain = lower(domain)),
  CONSTRAINT tenants_domain_key UNIQUE (domain)
);
-- WSO2's super tenant; new tenants are numbered from 1, as WSO2 numbers them.
INSERT INTO tenants (id, domain) VALUES (-1234, 'carbon.super');
CREATE SEQUENCE tenants_id_seq AS integer START 1 OWNED BY tenants.id;

-- The tenants in scope of this transaction: the setting `dcr.tenants` ("-1234" or "3,17"), set
-- only with set_config(..., is_local => true), so it ends with the transaction and a pooled
-- connection never carries it to the next. Unset (or empty): NULL, which matches no row.
CREATE FUNCTION dcr_tenants() RETURNS integer[] LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT string_to_array(nullif(current_setting('dcr.tenants', true), ''), ',')::integer[]
$$;
-- The one tenant in scope, for a row inserted without naming its tenant; the super tenant for a
-- role that bypasses row security and set none (migrations, the operator's psql, test fixtures).
-- With several tenants in scope (a coalesced statement) NULL: such statements name each row's tenant.
CREATE FUNCTION dcr_row_tenant() RETURNS integer LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN t IS NULL THEN -1234 WHEN cardinality(t) = 1 THEN t[1] END FROM dcr_tenants() AS t
$$;

ALTER TABLE users ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
ALTER TABLE applications ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
ALTER TABLE signing_keys ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
ALTER TABLE access_tokens ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
ALTER TABLE refresh_tokens ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
ALTER TABLE api_resources ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
ALTER TABLE api_scopes ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
ALTER TABLE roles ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
ALTER TABLE role_users ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
ALTER TABLE role_permissions ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
ALTER TABLE revocation_outbox ADD COLUMN tenant_id integer NOT NULL DEFAULT -1234;
-- Existing rows got -1234 above (a constant default: no table rewrite); new rows take the tenant in scope.
ALTER TABLE users ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();
ALTER TABLE applications ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();
ALTER TABLE signing_keys ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();
ALTER TABLE access_tokens ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();
ALTER TABLE refresh_tokens ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();
ALTER TABLE api_resources ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();
ALTER TABLE api_scopes ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();
ALTER TABLE roles ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();
ALTER TABLE role_users ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();
ALTER TABLE role_permissions ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();
ALTER TABLE revocation_outbox ALTER COLUMN tenant_id SET DEFAULT dcr_row_tenant();

-- Names are unique per tenant (reference §8). The constraint names stay: the code maps them.
-- The tenant comes second: every lookup is by name within the tenant in scope.
DROP INDEX users_username_ci_key;
CREATE UNIQUE INDEX users_username_ci_key ON users (lower(username), tenant_id);
ALTER TABLE applications DROP CONSTRAINT applications_client_name_key,
  ADD CONSTRAINT applications_client_name_key UNIQUE (client_name, tenant_id);
ALTER TABLE applications DROP CONSTRAINT applications_client_id_key,
  ADD CONSTRAINT applications_client_id_key UNIQUE (client_id, tenant_id);
DROP INDEX roles_display_name_key;
CREATE UNIQUE INDEX roles_display_name_key ON roles (display_name, tenant_id);
ALTER TABLE api_resources DROP CONSTRAINT api_resources_identifier_key,
  ADD CONSTRAINT api_resources_identifier_key UNIQUE (identifier, tenant_id);
ALTER TABLE api_scopes DROP CONSTRAINT api_scopes_pkey, ADD CONSTRAINT api_scopes_pkey PRIMARY KEY (name, tenant_id);
-- A tenant's apps in creation order (v0.17's and SCIM-style listings).
CREATE INDEX applications_tenant_created_idx ON applications (tenant_id, created_at, id);

-- Revocation events carry their tenant (reference §9: tenantId, tenantDomain).
CREATE OR REPLACE FUNCTION queue_revocation_event(p_tenant integer, p_kind text, p_order_key text, p_consumer_key text, p_subject text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_event uuid := gen_random_uuid();
BEGIN
  INSERT INTO revocation_outbox (event_id, tenant_id, target, kind, order_key, consumer_key, subject)
  SELECT v_event, p_tenant, t.url, p_kind, p_order_key, p_consumer_key, p_subject FROM revocation_targets t;
END $$;
DROP FUNCTION queue_revocation_event(text, text, text, text);

CREATE OR REPLACE FUNCTION revocation_event_application() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND coalesce(current_setting('dcr.resealing', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  PERFORM queue_revocation_event(OLD.tenant_id, 'consumer_app', OLD.client_id, OLD.client_id, NULL);
  RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION revocation_event_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM queue_revocation_event(OLD.tenant_id, 'subject', 'subject:' || OLD.username, NULL, OLD.username);
  RETURN NULL;
END $$;

-- The roles. Cluster-wide objects: created once per cluster (several databases of one cluster,
-- the test suite's, share them), tolerating a concurrent migration of another database.
DO $$
BEGIN
  -- The server's statements run as dcr_app (SET ROLE at connection, src/db/database.ts).
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dcr_app') THEN
    BEGIN
      CREATE ROLE dcr_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
  -- The cross-tenant upkeep (expired-token purge, revocation delivery, re-encryption of secrets)
  -- runs as the login role that migrates; that role is a member of dcr_maintenance, which the
  -- policies below let through on exactly the tables that upkeep touches.
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'dcr_maintenance') THEN
    BEGIN
      CREATE ROLE dcr_maintenance NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
    EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
    END;
  END IF;
END $$;
GRANT dcr_app TO CURRENT_USER;
GRANT dcr_maintenance TO CURRENT_USER;

GRANT USAGE ON SCHEMA public TO dcr_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON
  users, applications, signing_keys, access_tokens, refresh_tokens, api_resources, api_scopes,
  roles, role_users, role_permissions, revocation_outbox, revocation_targets, tenants
  TO dcr_app;
GRANT USAGE ON SEQUENCE revocation_outbox_id_seq, tenants_id_seq TO dcr_app;
-- Tables of later migrations are granted there, each by name: nothing reaches dcr_app by default.

DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['users', 'applications', 'signing_keys', 'access_tokens', 'refresh_tokens', 'api_resources',
    'api_scopes', 'roles', 'role_users', 'role_permissions', 'revocation_outbox']
  LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    -- FORCE: the owner is held to the policies too; only a superuser or a BYPASSRLS role is not.
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    -- (SELECT dcr_tenants()): evaluated once per statement (an InitPlan), not once per row; the
    -- cast makes it the array itself (ANY over a bare subquery would compare with its rows).
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = ANY ((SELECT dcr_tenants())::integer[])) '
      'WITH CHECK (tenant_id = ANY ((SELECT dcr_tenants())::integer[]))', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['applications', 'signing_keys', 'access_tokens', 'refresh_tokens', 'revocation_outbox']
  LOOP
    EXECUTE format('CREATE POLICY maintenance ON %I TO dcr_maintenance USING (true) WITH CHECK (true)', t);
  END LOOP;
END $$;
-- The upkeep reads users (a token's subject for its revocation event) but never writes them.
CREATE POLICY maintenance ON users FOR SELECT TO dcr_maintenance USING (true);

-- Down Migration
DROP POLICY maintenance ON users;
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['applications', 'signing_keys', 'access_tokens', 'refresh_tokens', 'revocation_outbox']
  LOOP
    EXECUTE format('DROP POLICY maintenance ON %I', t);
  END LOOP;
  FOREACH t IN ARRAY ARRAY['users', 'applications', 'signing_keys', 'access_tokens', 'refresh_tokens', 'api_resources',
    'api_scopes', 'roles', 'role_users', 'role_permissions', 'revocation_outbox']
  LOOP
    EXECUTE format('DROP POLICY tenant_isolation ON %I', t);
    EXECUTE format('ALTER TABLE %I NO FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('ALTER TABLE %I DISABLE ROW LEVEL SECURITY', t);
  END LOOP;
END $$;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM dcr_app;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM dcr_app;
REVOKE USAGE ON SCHEMA public FROM dcr_app;
CREATE OR REPLACE FUNCTION queue_revocation_event(p_kind text, p_order_key text, p_consumer_key text, p_subject text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  v_event uuid := gen_random_uuid();
BEGIN
  INSERT INTO revocation_outbox (event_id, target, kind, order_key, consumer_key, subject)
  SELECT v_event, t.url, p_kind, p_order_key, p_consumer_key, p_subject FROM revocation_targets t;
END $$;
CREATE OR REPLACE FUNCTION revocation_event_application() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'UPDATE' AND coalesce(current_setting('dcr.resealing', true), '') = 'on' THEN
    RETURN NULL;
  END IF;
  PERFORM queue_revocation_event('consumer_app', OLD.client_id, OLD.client_id, NULL);
  RETURN NULL;
END $$;
CREATE OR REPLACE FUNCTION revocation_event_user() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM queue_revocation_event('subject', 'subject:' || OLD.username, NULL, OLD.username);
  RETURN NULL;
END $$;
DROP FUNCTION queue_revocation_event(integer, text, text, text, text);
DROP INDEX applications_tenant_created_idx;
ALTER TABLE api_scopes DROP CONSTRAINT api_scopes_pkey, ADD CONSTRAINT api_scopes_pkey PRIMARY KEY (name);
ALTER TABLE api_resources DROP CONSTRAINT api_resources_identifier_key, ADD CONSTRAINT api_resources_identifier_key UNIQUE (identifier);
DROP INDEX roles_display_name_key;
CREATE UNIQUE INDEX roles_display_name_key ON roles (display_name);
ALTER TABLE applications DROP CONSTRAINT applications_client_id_key, ADD CONSTRAINT applications_client_id_key UNIQUE (client_id);
ALTER TABLE applications DROP CONSTRAINT applications_client_name_key, ADD CONSTRAINT applications_client_name_key UNIQUE (client_name);
DROP INDEX users_username_ci_key;
CREATE UNIQUE INDEX users_username_ci_key ON users (lower(username));
ALTER TABLE revocation_outbox DROP COLUMN tenant_id;
ALTER TABLE role_permissions DROP COLUMN tenant_id;
ALTER TABLE role_users DROP COLUMN tenant_id;
ALTER TABLE roles DROP COLUMN tenant_id;
ALTER TABLE api_scopes DROP COLUMN tenant_id;
ALTER TABLE api_resources DROP COLUMN tenant_id;
ALTER TABLE refresh_tokens DROP COLUMN tenant_id;
ALTER TABLE access_tokens DROP COLUMN tenant_id;
ALTER TABLE signing_keys DROP COLUMN tenant_id;
ALTER TABLE applications DROP COLUMN tenant_id;
ALTER TABLE users DROP COLUMN tenant_id;
DROP FUNCTION dcr_row_tenant();
DROP FUNCTION dcr_tenants();
DROP TABLE tenants;
