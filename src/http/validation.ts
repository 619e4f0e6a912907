import AjvCompiler from '@fastify/ajv-compiler';
import type { FastifySchemaCompiler } from 'fastify';
import type { FastifyValidationResult } from 'fastify/types/schema.js';

/**
 * AJV's options for request validation, chosen on purpose: numbers and
 * booleans become strings where the spec says string (Jackson does the same for WSO2's DCR body;
 * query and path parameters are text anyway), but arrays and objects never do; unknown keys are
 * kept so that additionalProperties: false rejects them.
 */
export const AJV_OPTIONS: AjvCompiler.Options = {
  coerceTypes: true,
  removeAdditional: false,
  useDefaults: true,
  allErrors: true,
  // Annotations of spec/: examples, and the type a lenient value is read as (readLeniently).
  keywords: ['example', 'x-read-as'],
};

/**
 * The validators of spec/platform-api.yaml's routes. No client of SCIM or of the OAuth2 forms needs
 * WSO2's leniency, so a body is read as typed (a boolean userName is a 400, not a user named
 * "false"); query and path parameters, which are text on the wire, are still read as the type
 * their schema names. The same compiler Fastify uses, with two option sets.
 */
export function platformValidatorCompiler(): FastifySchemaCompiler<unknown> {
  const build = AjvCompiler();
  const bodies = build({}, { customOptions: { ...AJV_OPTIONS, coerceTypes: false } });
  const parameters = build({}, { customOptions: AJV_OPTIONS });
  return (route) => (route.httpPart === 'body' ? bodies : parameters)(route as AjvCompiler.RouteDefinition) as FastifyValidationResult;
}

/** The log levels at which the one line per request is written (info and below). */
