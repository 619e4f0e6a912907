/**
 * SCIM 2 roles (/scim2/v2/Roles) as pure rules: what a role's name and permissions may be, the one
 * filter the role searches take, and a PatchOp (RFC 7644 §3.5.2) read into the ordered changes it
 * makes. No I/O: members are still the references the client sent (a user id or a user name),
 * which the service resolves.
 */
import { badRequest } from './errors.js';

export const ROLE_SCHEMA = 'urn:ietf:params:scim:schemas:extension:2.0:Role';

/** A user holding a role. */
export interface RoleMember {
  id: string;
  username: string;
}

export interface Role {
  id: string;
  displayName: string;
  /** Ordered by user name. */
  users: RoleMember[];
  /** Scope names, ordered. */
  permissions: string[];
  createdAt: Date;
  updatedAt: Date;
}

export type RoleAttribute = 'users' | 'permissions';

/**
 * One change of a role, in the order the PatchOp lists it. `Member` is how users are named: the
 * client's reference (id or name) until the service has resolved it into a user id.
 */
export type RoleChange<Member = string> =
  | { attribute: 'displayName'; value: string }
  | { attribute: 'users'; action: 'set' | 'add' | 'remove'; values: Member[] }
  | { attribute: 'permissions'; action: 'set' | 'add' | 'remove'; values: string[] };

/** The PatchOp operation as the spec reads it (ScimRolePatchOperation). */
export interface PatchOperation {
  op: string;
  path?: string;
  value?: unknown;
}

function invalidValue(description: string, code: string): Error {
  return badRequest(description, [{ code, message: description }], 'invalidValue');
}

/**
 * A role's name: what API Manager's connector finds it by (`displayName eq <name>`, unquoted, so
 * the rest of the filter with its ends trimmed). A name with white space at an end could not be
 * found that way, and control characters (NUL included, which PostgreSQL text cannot hold) name
 * nothing anyone types.
 */
export function checkDisplayName(name: string): string {
  if (/^\s|\s$/u.test(name)) throw invalidValue('displayName must not begin or end with white space', 'displayName');
  if (/\p{Cc}/u.test(name)) throw invalidValue('displayName must not hold control characters', 'displayName');
  return name;
}

/**
 * RFC 6749 §3.3 scope-token: printable ASCII but space, `"` and `\`. A permission names a scope;
 * anything else could never be requested, or granted, as one.
 */
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

export function checkPermission(scope: string): string {
  if (!SCOPE_TOKEN.test(scope)) {
    throw invalidValue(`permission '${scope}' is not a scope name (RFC 6749 §3.3: printable ASCII but space, '"' and '\\')`, 'permissions');
  }
  return scope;
}

/**
 * The value of a SCIM attribute filter, `"quoted"` (a JSON string) or as sent: API Manager's
 * connector sends `displayName eq creator`, unquoted; the rest of the expression is the value.
 */
function filterValue(text: string): string | undefined {
  if (text.startsWith('"')) {
    try {
      const value: unknown = JSON.parse(text);
      return typeof value === 'string' ? value : undefined;
    } catch {
      return undefined;
    }
  }
  return text === '' ? undefined : text;
}

/** `displayName eq <name>` (RFC 7644 §3.4.2.2; attribute and operator in any case): the name. */
export function parseDisplayNameFilter(filter: string): string {
  const match = /^\s*displayName\s+eq\s+(.*?)\s*$/is.exec(filter);
  const value = match ? filterValue(match[1]!) : undefined;
  if (value === undefined) {
    throw badRequest('Only the filter displayName eq <name> is supported', [{ code: 'filter', message: filter }], 'invalidFilter');
  }
  return value;
}

type Target = { attribute: 'displayName' } | { attribute: RoleAttribute; only?: string };

/** The Role schema's URN, which a path may carry as its prefix (RFC 7644 §3.10). */
const URN_PREFIX = `${ROLE_SCHEMA.toLowerCase()}:`;

/** `displayName`, `users`, `permissions`, `users[value eq <x>]` or `permissions[value eq <x>]`. */
function parsePath(path: string): Target {
  const bare = path.trim().toLowerCase().startsWith(URN_PREFIX) ? path.trim().slice(URN_PREFIX.length) : path.trim();
  if (/^displayName$/i.test(bare)) return { attribute: 'displayName' };
  const match = /^(users|permissions)(?:\[\s*value\s+eq\s+(.*?)\s*\])?$/is.exec(bare);
  if (match) {
    const attribute = match[1]!.toLowerCase() as RoleAttribute;
    if (match[2] === undefined) return { attribute };
    const only = filterValue(match[2]);
    if (only !== undefined) return { attribute, only };
  }
  throw badRequest(`Unsupported path '${path}': displayName, users, permissions, or users[value eq <x>] and permissions[value eq <x>]`, [{ code: 'path', message: path }], 'invalidPath');
}

/** The `value`s of an array of `{value}` (members or permissions), as strings. */
function referenceValues(attribute: RoleAttribute, value: unknown): string[] {
  if (!Array.isArray(value)) throw invalidValue(`${attribute} takes an array of {"value": ...}`, attribute);
  return value.map((item: unknown) => {
    const text = (item as { value?: unknown } | null)?.value;
    if (typeof text !== 'string' || text === '') throw invalidValue(`every item of ${attribute} needs a non-empty string value`, attribute);
    return attribute === 'permissions' ? checkPermission(text) : text;
  });
}

function displayNameValue(value: unknown): string {
  if (typeof value !== 'string' || value === '') throw invalidValue('displayName takes a non-empty string', 'displayName');
  return checkDisplayName(value);
}

/** Attribute names are case-insensitive (RFC 7643 §2.1): the value of `name` in `object`, in any case. */
function attributeOf(object: Record<string, unknown>, name: string): unknown {
  const key = Object.keys(object).find((candidate) => candidate.toLowerCase() === name.toLowerCase());
  return key === undefined ? undefined : object[key];
}

function listChange(attribute: RoleAttribute, action: 'set' | 'add' | 'remove', values: string[]): RoleChange {
  return { attribute, action, values };
}

/**
 * A PatchOp's operations as the changes they make, in order. `add` adds members or permissions
 * (and renames: displayName is single-valued, §3.5.2.1), `replace` sets them, `remove` removes the
 * values given, every value without one, or the one a `[value eq <x>]` path names. Without a path,
 * `value` is an object of attributes, each treated as that operation on its path: API Manager's
 * connector sends `{"op":"replace","value":{"permissions":[...]}}`, the full new list.
 */
export function roleChanges(operations: readonly PatchOperation[]): RoleChange[] {
  const changes: RoleChange[] = [];
  for (const operation of operations) {
    const op = operation.op.toLowerCase();
    if (op !== 'add' && op !== 'remove' && op !== 'replace') {
      throw invalidValue(`Unsupported op '${operation.op}': add, remove or replace`, 'op');
    }
    const { path, value } = operation;
    if (path === undefined) {
      if (op === 'remove') throw badRequest('remove needs a path (RFC 7644 §3.5.2.2)', [{ code: 'path', message: 'missing' }], 'noTarget');
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        throw invalidValue(`${op} without a path takes an object of attributes as its value`, 'value');
      }
      const attributes = value as Record<string, unknown>;
      const displayName = attributeOf(attributes, 'displayName');
      if (displayName !== undefined) changes.push({ attribute: 'displayName', value: displayNameValue(displayName) });
      for (const attribute of ['users', 'permissions'] as const) {
        const values = attributeOf(attributes, attribute);
        if (values !== undefined) changes.push(listChange(attribute, op === 'add' ? 'add' : 'set', referenceValues(attribute, values)));
      }
      continue;
    }
    const target = parsePath(path);
    if (target.attribute === 'displayName') {
      if (op === 'remove') throw invalidValue('displayName is required: it cannot be removed', 'displayName');
      changes.push({ attribute: 'displayName', value: displayNameValue(value) });
      continue;
    }
    if (target.only !== undefined) {
      if (op !== 'remove') throw badRequest(`A value filter in the path is supported for remove only, not ${operation.op}`, [{ code: 'path', message: path }], 'invalidPath');
      changes.push(listChange(target.attribute, 'remove', [target.only]));
      continue;
    }
    if (op === 'remove') {
      changes.push(value === undefined ? listChange(target.attribute, 'set', []) : listChange(target.attribute, 'remove', referenceValues(target.attribute, value)));
      continue;
    }
    if (value === undefined) throw invalidValue(`${op} on ${target.attribute} needs a value`, target.attribute);
    changes.push(listChange(target.attribute, op === 'add' ? 'add' : 'set', referenceValues(target.attribute, value)));
  }
  return changes;
}
