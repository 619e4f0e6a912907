-- Up Migration

-- An application belongs to its owner's account, not to a name. `owner` held only the user name
-- (as WSO2's APP_OWNER does), so an app outlived its owner's account, and a new user created later
-- under the same name inherited it: re-registering its name handed out the old client secret, and
-- its client_credentials tokens acted as the new user. Now the owner's row is referenced, and
-- deleting a user deletes the apps they own, in the same statement, with their tokens (which
-- cascade from the apps). The foreign key also settles a registration racing its owner's deletion:
-- one of them waits for the other's row lock, and the app never outlives the user.
ALTER TABLE applications ADD COLUMN owner_id uuid REFERENCES users (id) ON DELETE CASCADE;

-- Owners match their user exactly (WSO2 compares owners case-sensitively)...
UPDATE applications a SET owner_id = u.id FROM users u WHERE u.username = a.owner;
-- ...or, for an owner stored with other capitals, the one user of that name (names are unique
-- regardless of case, migration 001).
UPDATE applications a SET owner_id = u.id FROM users u WHERE a.owner_id IS NULL AND lower(u.username) = lower(a.owner);

-- What is left belongs to an account that no longer exists: exactly the apps a new user of that
-- name would have inherited. They are deleted with their tokens; no request could use them
-- safely. (Their names become free to register again, with new credentials.)
DELETE FROM applications WHERE owner_id IS NULL;

ALTER TABLE applications ALTER COLUMN owner_id SET NOT NULL;
-- The cascade finds a deleted user's apps by this index, not by scanning the table.
CREATE INDEX applications_owner_id_idx ON applications (owner_id);

-- Down Migration

DROP INDEX applications_owner_id_idx;
ALTER TABLE applications DROP COLUMN owner_id;
