-- Up Migration

-- API resources and their scopes, as WSO2 Identity Server 7 keeps them behind
-- /api/server/v1/api-resources. API Manager's WSO2-IS-7 connector defines every scope of a
-- published API under one resource (identifier `User-defined-oauth2-resource`); which scopes are
-- defined at all is read from api_scopes.name.
CREATE TABLE api_resources (
  id uuid PRIMARY KEY,
  identifier text NOT NULL,
  name text NOT NULL,
  description text,
  requires_authorization boolean NOT NULL DEFAULT true,
  type text,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  -- Named, so that the repository tells a taken identifier by its constraint (SQLSTATE 23505).
  CONSTRAINT api_resources_identifier_key UNIQUE (identifier)
);

-- A scope name is unique across resources, as in IS (scope names are unique within a tenant): a
-- token's `scope` names scopes, not resources, so two resources defining one name could not be
-- told apart when it is granted.
CREATE TABLE api_scopes (
  name text PRIMARY KEY,
  resource_id uuid NOT NULL REFERENCES api_resources (id) ON DELETE CASCADE,
  display_name text,
  description text,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- A resource's scopes are read by it (GET /{id}, /{id}/scopes), and the cascade of a resource's
-- deletion finds them by it rather than by scanning the table.
CREATE INDEX api_scopes_resource_id_idx ON api_scopes (resource_id);

-- Down Migration

DROP TABLE api_scopes;
DROP TABLE api_resources;
