/**
 * A setting that cannot be used, with a message that names it: server.ts prints the message alone
 * and exits 78 (EX_CONFIG), so that a typo in the environment reads as one line, not a stack trace.
 */
export class ConfigError extends Error {
  override name = 'ConfigError';
}
