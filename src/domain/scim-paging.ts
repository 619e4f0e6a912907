/**
 * RFC 7644 §3.4.2.4 paging of SCIM list answers, as a pure rule. The spec declares both
 * parameters as integers (query strings coerced by validation); what validation cannot express
 * is decided here:
 * - `startIndex` below 1 is read as 1; above SCIM_MAX_START_INDEX it is a 400 (no page starts
 *   there, and the answer echoes it: it must stay an integer a client can hold in 32 bits);
 * - `count` below 0 is read as 0, above SCIM_MAX_COUNT as SCIM_MAX_COUNT (the RFC's "maxResults");
 * - a value that is not a finite integer (`1e400` passes the schema's integer check as Infinity)
 *   is a 400.
 */
import { badRequest } from './errors.js';

export const SCIM_MAX_COUNT = 1000;
export const SCIM_DEFAULT_COUNT = 100;
/** The largest 32-bit signed integer. */
export const SCIM_MAX_START_INDEX = 2_147_483_647;

export interface ScimPage {
  /** 1-based, as RFC 7644 counts. */
  startIndex: number;
  count: number;
}

function invalid(name: string, why: string) {
  return badRequest(`'${name}' ${why}`, [{ code: name, message: `'${name}' ${why}` }], 'invalidValue');
}

export function scimPage(startIndex: number = 1, count: number = SCIM_DEFAULT_COUNT): ScimPage {
  if (!Number.isFinite(startIndex) || !Number.isInteger(startIndex)) throw invalid('startIndex', 'must be integer');
  if (!Number.isFinite(count) || !Number.isInteger(count)) throw invalid('count', 'must be integer');
  if (startIndex > SCIM_MAX_START_INDEX) throw invalid('startIndex', `must be <= ${SCIM_MAX_START_INDEX}`);
  return {
    startIndex: Math.max(1, startIndex),
    count: Math.min(SCIM_MAX_COUNT, Math.max(0, count)),
  };
}
