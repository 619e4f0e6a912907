-- Up Migration

-- Keys that sign JWT access tokens. Kept in the database so that every instance signs and
-- verifies with the same keys; the private half is sealed with the server's secret key.
CREATE TABLE signing_keys (
  kid              text        PRIMARY KEY,
  alg              text        NOT NULL,
  public_jwk       jsonb       NOT NULL,
  private_jwk_enc  text        NOT NULL,
  created_at       timestamptz NOT NULL DEFAULT now(),
  -- Set when a newer key took over: the key stops signing but is still published (and still
  -- verifies) until the tokens it signed have expired.
  retired_at       timestamptz
);

-- Access tokens: opaque ones by the SHA-256 of the token (never the token), JWTs by their jti
-- (= id). Rows go with their user or app, so a deleted user's tokens stop working at once.
CREATE TABLE access_tokens (
  id           uuid        PRIMARY KEY,
  token_hash   bytea       UNIQUE,
  app_id       uuid        NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  scopes       text[]      NOT NULL,
  grant_type   text        NOT NULL,
  -- The refresh-token family this token was issued with (RFC 6819 §5.2.2.3), if any.
  family_id    uuid,
  issued_at    timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  revoked_at   timestamptz
);
CREATE INDEX access_tokens_family_idx ON access_tokens (family_id) WHERE family_id IS NOT NULL;
CREATE INDEX access_tokens_expires_idx ON access_tokens (expires_at);

-- Refresh tokens, only as SHA-256 hashes. A used one is kept (used_at) to detect its reuse.
CREATE TABLE refresh_tokens (
  id           uuid        PRIMARY KEY,
  token_hash   bytea       NOT NULL UNIQUE,
  family_id    uuid        NOT NULL,
  app_id       uuid        NOT NULL REFERENCES applications (id) ON DELETE CASCADE,
  user_id      uuid        NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  scopes       text[]      NOT NULL,
  issued_at    timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  used_at      timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Down Migration
DROP TABLE refresh_tokens;
DROP TABLE access_tokens;
DROP TABLE signing_keys;
