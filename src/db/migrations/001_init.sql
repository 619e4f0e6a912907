-- Up Migration
-- Users of the service: the super admin (bootstrapped from DCR_ADMIN_USER) and SCIM-created users.
CREATE TABLE users (
  id            uuid        PRIMARY KEY,
  username      text        NOT NULL,
  -- scrypt, PHC-style string (src/crypto/passwords.ts); never the password itself.
  password_hash text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT users_username_not_blank CHECK (length(username) > 0)
);
-- Lookups are exact (WSO2 compares owners case-sensitively), but two names differing only in
-- case could not be told apart by people, so uniqueness ignores case.
CREATE UNIQUE INDEX users_username_ci_key ON users (lower(username));
CREATE INDEX users_username_idx ON users (username);

-- Registered OAuth2 client applications (WSO2's IDN_OAUTH_CONSUMER_APPS).
CREATE TABLE applications (
  id                            uuid        PRIMARY KEY,
  client_id                     text        NOT NULL,
  -- AES-256-GCM envelope (src/crypto/secret-box.ts), keyed outside the database.
  client_secret_enc             text        NOT NULL,
  client_name                   text        NOT NULL,
  -- The owner's username, as WSO2 stores APP_OWNER: an app outlives its owner's account.
  owner                         text        NOT NULL,
  grant_types                   text[]      NOT NULL,
  callback_url                  text,
  saas_app                      boolean     NOT NULL DEFAULT false,
  token_type                    text        NOT NULL DEFAULT 'DEFAULT',
  user_store_domain_in_subject  boolean     NOT NULL DEFAULT false,
  created_at                    timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT applications_client_id_key UNIQUE (client_id),
  -- The registration path relies on this for "exactly one app per name" under concurrency.
  CONSTRAINT applications_client_name_key UNIQUE (client_name)
);
CREATE INDEX applications_owner_idx ON applications (owner);

-- Down Migration
DROP TABLE applications;
DROP TABLE users;
