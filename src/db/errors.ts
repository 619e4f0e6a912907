/**
 * Database failures as domain errors, classified by SQLSTATE and by the phase they happened in,
 * never by message text (PostgreSQL error codes, Appendix A).
 */
export class UniqueViolation extends Error {
  override name = 'UniqueViolation';
  constructor(readonly constraint: string | undefined) {
    super(`unique constraint ${constraint ?? '(unknown)'} violated`);
  }
}

/** A row refers to one that does not exist (or no longer does). */
export class ForeignKeyViolation extends Error {
  override name = 'ForeignKeyViolation';
  constructor(readonly constraint: string | undefined) {
    super(`foreign key ${constraint ?? '(unknown)'} violated`);
  }
}

/** The database cannot be reached or cannot serve now: rendered as 503, never as 500. */
export class DatabaseUnavailable extends Error {
  override name = 'DatabaseUnavailable';
  constructor(override readonly cause: unknown) {
    super('database unavailable');
  }
}

/** Node's socket-level failures: the database went away under a connection. */
const CONNECTION_ERRNOS = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
]);

/** SQLSTATEs that mean "not now": connection exceptions, shutdowns, overload, timeouts. */
function isTransientSqlState(code: string): boolean {
  return (
    code.startsWith('08') || // connection_exception
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now
    code === '57014' || // query_canceled (statement_timeout)
    code === '53300' || // too_many_connections
    code === '53400' || // configuration_limit_exceeded
    code === '40001' || // serialization_failure
    code === '40P01' // deadlock_detected
  );
}

function sqlState(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/**
 * Maps an error thrown while running a statement. pg's DatabaseError carries a 5-character
 * SQLSTATE; a plain Error without one comes from the client itself (connection terminated,
 * query read timeout) and means the connection is gone.
 */
export function mapQueryError(err: unknown): unknown {
  const code = sqlState(err);
  if (code === '23505') return new UniqueViolation((err as { constraint?: string }).constraint);
  if (code === '23503') return new ForeignKeyViolation((err as { constraint?: string }).constraint);
  if (code !== undefined && (isTransientSqlState(code) || CONNECTION_ERRNOS.has(code))) {
    return new DatabaseUnavailable(err);
  }
  if (code === undefined && err instanceof Error && err.constructor === Error) return new DatabaseUnavailable(err);
  return err;
}

/** Any failure to obtain a connection is an outage from the caller's point of view. */
export function mapConnectError(err: unknown): DatabaseUnavailable {
  return new DatabaseUnavailable(err);
}
