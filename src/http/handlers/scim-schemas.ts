import type { components } from '../../../generated/platform-api.js';
import { ROLE_SCHEMA } from '../../domain/roles.js';

type SchemaDefinition = components['schemas']['ScimSchemaDefinition'];
type SubAttribute = components['schemas']['ScimSchemaSubAttribute'];

const SCHEMA_URN = 'urn:ietf:params:scim:schemas:core:2.0:Schema';
export const SCIM_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';

/** A `{value, display}` pair of a multi-valued reference (RFC 7643 §2.4), as the Role's users and permissions are. */
function valueAndDisplay(value: string, display: string): SubAttribute[] {
  return [
    {
      name: 'value',
      type: 'string',
      multiValued: false,
      description: value,
      required: true,
      caseExact: true,
      mutability: 'readWrite',
      returned: 'default',
      uniqueness: 'none',
    },
    {
      name: 'display',
      type: 'string',
      multiValued: false,
      description: display,
      required: false,
      caseExact: false,
      mutability: 'readOnly',
      returned: 'default',
      uniqueness: 'none',
    },
  ];
}

/**
 * GET /scim2/Schemas (RFC 7643 §7, RFC 7644 §4): what this server's resources hold, and nothing
 * more. API Manager maps these attribute names to its local claims, so a listed attribute the
 * server never returns would map a claim that is always empty. The common attributes (`id`,
 * `meta`) belong to no schema (RFC 7643 §3.1); the enterprise User extension is accepted on
 * creation but none of its attributes are kept, so it is not listed.
 */
export const SCIM_SCHEMAS: readonly SchemaDefinition[] = [
  {
    schemas: [SCHEMA_URN],
    id: SCIM_USER_SCHEMA,
    name: 'User',
    description: 'User Account',
    attributes: [
      {
        name: 'userName',
        type: 'string',
        multiValued: false,
        description:
          "Unique identifier for the User, used to log in: 3 to 64 ASCII letters, digits, '.', '_', '-' and '@'. Unique regardless of case.",
        required: true,
        caseExact: false,
        // Set at creation only: there is no rename.
        mutability: 'immutable',
        returned: 'default',
        uniqueness: 'server',
      },
      {
        name: 'password',
        type: 'string',
        multiValued: false,
        description: 'The password, 5 to 1024 characters: stored as a salted slow hash, never returned.',
        required: true,
        caseExact: true,
        mutability: 'writeOnly',
        returned: 'never',
        uniqueness: 'none',
      },
    ],
  },
  {
    schemas: [SCHEMA_URN],
    id: ROLE_SCHEMA,
    name: 'Role',
    description: 'Role: the users who hold it and the scopes (permissions) it binds.',
    attributes: [
      {
        name: 'displayName',
        type: 'string',
        multiValued: false,
        description: "The role's name, unique as written.",
        required: true,
        caseExact: true,
        mutability: 'readWrite',
        returned: 'always',
        uniqueness: 'server',
      },
      {
        name: 'users',
        type: 'complex',
        multiValued: true,
        description: 'The users who hold the role.',
        required: false,
        caseExact: false,
        mutability: 'readWrite',
        returned: 'default',
        uniqueness: 'none',
        subAttributes: valueAndDisplay("The user's id (a user name is accepted on input).", "The user's name."),
      },
      {
        name: 'permissions',
        type: 'complex',
        multiValued: true,
        description: 'The scopes the role binds, by name.',
        required: false,
        caseExact: true,
        mutability: 'readWrite',
        returned: 'default',
        uniqueness: 'none',
        subAttributes: valueAndDisplay("The scope's name.", "The scope's name."),
      },
    ],
  },
];
