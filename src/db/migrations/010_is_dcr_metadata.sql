-- Up Migration

-- WSO2 IS DCR v1.1 (/api/identity/oauth2/dcr/v1.1/register) registers into the same applications
-- table as v0.17: one app, one id, one secret on both surfaces. What v1.1 adds:
--
-- The per-app token lifetimes (ext_application_token_lifetime for client_credentials,
-- ext_user_token_lifetime for password and refresh_token, ext_refresh_token_lifetime), in
-- seconds; NULL means the server's default. Plain integer columns rather than keys of the jsonb
-- below: they are read with the app's row on every token request (the client cache holds them),
-- and that path must not parse JSON.
ALTER TABLE applications
  ADD COLUMN application_token_lifetime integer,
  ADD COLUMN user_token_lifetime integer,
  ADD COLUMN refresh_token_lifetime integer,
  -- 0 is "the server default" on the wire and stored as NULL: a stored lifetime is positive.
  ADD CONSTRAINT applications_application_token_lifetime_positive CHECK (application_token_lifetime > 0),
  ADD CONSTRAINT applications_user_token_lifetime_positive CHECK (user_token_lifetime > 0),
  ADD CONSTRAINT applications_refresh_token_lifetime_positive CHECK (refresh_token_lifetime > 0);

-- Every other IS client metadata field the server keeps but does not act on (display name, PKCE
-- flags, logout URIs, ...), returned as registered. Read by the v1.1 operations only, never on
-- the token path. An app registered through v0.17 has none.
ALTER TABLE applications ADD COLUMN is_metadata jsonb NOT NULL DEFAULT '{}'::jsonb;

-- Down Migration

ALTER TABLE applications
  DROP COLUMN is_metadata,
  DROP COLUMN refresh_token_lifetime,
  DROP COLUMN user_token_lifetime,
  DROP COLUMN application_token_lifetime;
