-- Up Migration
-- The tenant management API (spec/platform-api.yaml, /api/server/v1/tenants): WSO2 IS 7 names a
-- tenant on that API by a UUID (its `tenant-id`), beside the numeric tenantId WSO2 uses everywhere
-- else (-1234, 1, 2, ...; the `id` every tenant-owned row carries). Both are kept: `uuid` only on
-- this API, `id` everywhere else.
ALTER TABLE tenants ADD COLUMN uuid uuid NOT NULL DEFAULT gen_random_uuid();
ALTER TABLE tenants ADD CONSTRAINT tenants_uuid_key UNIQUE (uuid);
-- The tenant's owner: the user created with it, in it, who administers it (src/domain/tenants.ts
-- isTenantAdmin). NULL for the super tenant, whose admin is DCR_ADMIN_USER. The tenant row is
-- written before its owner's, in one transaction (src/repositories/tenants.ts), hence DEFERRABLE:
-- checked at COMMIT. Referential checks bypass the users table's row security, as they must.
-- An owner deleted later leaves the tenant without one rather than blocking the deletion.
ALTER TABLE tenants ADD COLUMN owner_id uuid
  CONSTRAINT tenants_owner_id_fkey REFERENCES users (id) ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED;

-- Down Migration
ALTER TABLE tenants DROP COLUMN owner_id;
ALTER TABLE tenants DROP COLUMN uuid;
