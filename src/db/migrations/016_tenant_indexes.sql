-- Up Migration
-- Lookups within a tenant, by index with the tenant first: under row security a query's own
-- conditions become index conditions only when their operators are leakproof (= on text and
-- integers is), and the policy's tenant_id = ANY(...) is one too, so (tenant_id, key) serves both.
-- A tenant's keys (KeyStore loads, ensureActive, activate's UPDATE): signing_keys' key is kid alone,
-- so each load read every tenant's keys.
CREATE INDEX signing_keys_tenant_idx ON signing_keys (tenant_id, created_at DESC);
-- A user by name in a tenant (every Basic sign-in, every client_credentials token's INSERT): every
-- tenant has its `admin`, so (username) alone narrows nothing at 10,000 tenants.
CREATE INDEX users_tenant_username_idx ON users (tenant_id, username);
DROP INDEX users_username_idx;

-- Down Migration
CREATE INDEX users_username_idx ON users (username);
DROP INDEX users_tenant_username_idx;
DROP INDEX signing_keys_tenant_idx;
