-- Up Migration
-- Every instance keeps the tenants its requests meet in memory, and asks only which tenants changed
-- since it last asked (src/services/tenant-directory.ts): one small query every few seconds,
-- whatever the number of tenants, instead of one lookup per tenant per cache period. So every
-- change to a tenant row moves its updated_at, however it is made (the API, `dcr tenant`, SQL by
-- hand, the owner's deletion setting owner_id NULL), and the changed rows are found by index.
CREATE FUNCTION tenants_touch() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- An UPDATE that changes nothing (the same lifecycle state again) is no change.
  IF (NEW.domain, NEW.active, NEW.owner_id, NEW.uuid) IS DISTINCT FROM (OLD.domain, OLD.active, OLD.owner_id, OLD.uuid) THEN
    NEW.updated_at := clock_timestamp();
  ELSE
    NEW.updated_at := OLD.updated_at;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER tenants_touch BEFORE UPDATE ON tenants FOR EACH ROW EXECUTE FUNCTION tenants_touch();
CREATE INDEX tenants_updated_at_idx ON tenants (updated_at);

-- Down Migration
DROP INDEX tenants_updated_at_idx;
DROP TRIGGER tenants_touch ON tenants;
DROP FUNCTION tenants_touch();
