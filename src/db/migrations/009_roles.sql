-- Up Migration

-- SCIM 2 roles (/scim2/v2/Roles), as WSO2 Identity Server 7 keeps them for API Manager: a role
-- names the users who hold it and the scopes ("permissions") it grants. The role-based scope
-- rule joins these three tables (a scope bound to a role is granted only to the role's users).
CREATE TABLE roles (
  id            uuid        PRIMARY KEY,
  display_name  text        NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  updated_at    timestamptz NOT NULL DEFAULT now()
);
-- The connector finds a role by its name (`displayName eq X`) and creates it when none is found:
-- two roles of one name would make that lookup ambiguous. Exact, as the filter matches.
CREATE UNIQUE INDEX roles_display_name_key ON roles (display_name);

-- Deleting a user or a role takes the memberships with it.
CREATE TABLE role_users (
  role_id  uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  user_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  PRIMARY KEY (role_id, user_id)
);
-- A user's roles (the scope rule, and the cascade of a user's deletion) without a scan.
CREATE INDEX role_users_user_id_idx ON role_users (user_id);

-- Scope names, not references: API Manager binds a scope to roles and defines the scope in an API
-- resource in either order, so a role may name a scope that does not exist yet.
CREATE TABLE role_permissions (
  role_id     uuid NOT NULL REFERENCES roles (id) ON DELETE CASCADE,
  scope_name  text NOT NULL,
  PRIMARY KEY (role_id, scope_name)
);
-- The roles that bind a scope: what the scope rule asks for each requested scope.
CREATE INDEX role_permissions_scope_name_idx ON role_permissions (scope_name);

-- Down Migration

DROP TABLE role_permissions;
DROP TABLE role_users;
DROP TABLE roles;
