-- Up Migration

-- No statement looks applications up by owner (the owner check reads the app found by name), so
-- this index only cost every registration one more B-tree insert and its WAL; with every app of a
-- large install under one owner it is also one long run of duplicates. A future query by owner
-- brings its own index with it.
DROP INDEX IF EXISTS applications_owner_idx;

-- Down Migration
CREATE INDEX IF NOT EXISTS applications_owner_idx ON applications (owner);
