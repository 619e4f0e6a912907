/**
 * How a `dcr` command fails: one `dcr: <message>` line on stderr (src/cli.ts prints it) and an exit
 * code scripts can branch on. Kept apart from the commands so that src/cli.ts can tell the codes
 * without loading them.
 */
export const EXIT = {
  /** A local failure: bad arguments, no password, a database error, a broken rule. */
  failure: 1,
  /** The server refused the request (HTTP 4xx): fix the input or the credentials; retrying will not help. */
  refused: 2,
  /** The server could not be reached, did not answer in time, failed (5xx) or did not speak its API: retry later. */
  unavailable: 3,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A failure to report as one line, with its exit code. */
export class CliError extends Error {
  override name = 'CliError';

  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.failure,
  ) {
    super(message);
  }
}
