/**
 * `dcr`: the operator's command line (bin/dcr.js, or `npm run dcr -- <args>`).
 *
 * Commands that touch the database reach it as the server would (src/db/open.ts): DATABASE_URL,
 * else the embedded cluster in DCR_DATA_DIR, attached to when a server runs there, started for
 * the command's duration otherwise. Passwords are read from standard input or a no-echo prompt,
 * never from the command line; secrets are printed only on request (`--show-secret`).
 * Any failure is one line on stderr and exit code 1. The commands are in src/cli/commands.ts.
 */
import { Command, type Help } from 'commander';
import { settingsMarkdown, settingsText, SETTINGS } from './config.js';
import { DatabaseUnavailable } from './db/errors.js';
import { isEntryPoint } from './entry-point.js';
import { ApiError } from './errors.js';

/** Set by `serve`: the process then lives on after the command returns. */
let serving = false;

const out = (text: string) => process.stdout.write(`${text}\n`);
const commands = () => import('./cli/commands.js');

// ---------------------------------------------------------------------------------------------
// Help: every command (subcommands flattened) and every setting with its default.

function argumentsTerm(cmd: Command): string {
  return cmd.registeredArguments
    .map((arg) => {
      const name = `${arg.name()}${arg.variadic ? '...' : ''}`;
      return arg.required ? `<${name}>` : `[${name}]`;
    })
    .join(' ');
}

/** The commands under `cmd` that run something, groups replaced by their members. */
function leafCommands(cmd: Command): Command[] {
  return cmd.commands.flatMap((sub) => (sub.commands.length > 0 ? leafCommands(sub) : [sub]));
}

function pathFrom(ancestor: Command, cmd: Command): string {
  const names: string[] = [];
  for (let at: Command | null = cmd; at && at !== ancestor; at = at.parent) names.unshift(at.name());
  return names.join(' ');
}

export function buildProgram(): Command {
  const program = new Command('dcr');
  let helpRoot: Command = program;
  program
    .description('WSO2-compatible DCR server and key manager: run it, and manage its users, apps and keys.')
    .helpCommand(false)
    .configureHelp({
      visibleCommands: (cmd: Command) => {
        helpRoot = cmd;
        return leafCommands(cmd);
      },
      subcommandTerm: (cmd: Command) =>
        [pathFrom(helpRoot, cmd), cmd.options.length > 0 ? '[options]' : '', argumentsTerm(cmd)].filter(Boolean).join(' '),
    } satisfies Partial<Help>)
    .addHelpText(
      'after',
      '\nEnvironment (read by `serve` and by every command that opens the database):\n' +
        `${settingsText('  ')}\n\n` +
        'Database: DATABASE_URL when set (with DCR_SECRET_KEY); else the embedded PostgreSQL in\n' +
        'DCR_DATA_DIR, shared with the server running there, or started for the command.\n',
    );

  program
    .command('serve')
    .description('run the server (the same as npm start)')
    .action(async () => {
      serving = true;
      const { main } = await import('./server.js');
      await main();
    });

  program
    .command('migrate')
    .description('apply pending database migrations (the server also does at start-up)')
    .action(async () => (await commands()).migrateCommand());

  const user = program.command('user').description('manage users');
  user
    .command('add')
    .description('create a user; the password comes from stdin or a no-echo prompt')
    .argument('<name>', 'user name (3 to 64 characters, no white space or colon)')
    .option('--password-stdin', 'read the password from standard input (the default when stdin is not a terminal)')
    .action(async (name: string, options: { passwordStdin?: boolean }) => (await commands()).userAdd(name, options));
  user
    .command('list')
    .description('list the users')
    .option('--json', 'output JSON')
    .action(async (options: { json?: boolean }) => (await commands()).userList(options));
  user
    .command('remove')
    .description('delete a user (their apps remain, as in WSO2)')
    .argument('<name>', 'user name')
    .action(async (name: string) => (await commands()).userRemove(name));
  user
    .command('passwd')
    .description("set a user's password; it comes from stdin or a no-echo prompt")
    .argument('<name>', 'user name')
    .option('--password-stdin', 'read the password from standard input (the default when stdin is not a terminal)')
    .action(async (name: string, options: { passwordStdin?: boolean }) => (await commands()).userPasswd(name, options));

  const app = program.command('app').description('inspect registered applications');
  app
    .command('list')
    .description('list the applications (no secrets)')
    .option('--json', 'output JSON')
    .action(async (options: { json?: boolean }) => (await commands()).appList(options));
  app
    .command('show')
    .description('show one application; its secret only with --show-secret')
    .argument('<clientName>', "the application's clientName")
    .option('--show-secret', 'also print the client secret')
    .option('--json', 'output JSON')
    .action(async (clientName: string, options: { json?: boolean; showSecret?: boolean }) =>
      (await commands()).appShow(clientName, options),
    );

  const keys = program.command('keys').description('manage the JWT signing keys');
  keys
    .command('rotate')
    .description('make a new signing key current and print its kid (the old one verifies until its tokens expire)')
    .action(async () => (await commands()).keysRotate());

  const secrets = program.command('secrets').description('manage the secret key that encrypts stored secrets');
  secrets
    .command('reencrypt')
    .description('re-encrypt every stored secret under the current key (after a key change; safe while servers run)')
    .option('--batch-size <rows>', 'rows read per batch (default 200)')
    .action(async (options: { batchSize?: string }) => (await commands()).secretsReencrypt(options));
  secrets
    .command('rotate-key')
    .description('embedded default: generate a new DCR_DATA_DIR/secret.key (the old one kept in secret.key.previous), then re-encrypt')
    .option('--batch-size <rows>', 'rows read per batch (default 200)')
    .action(async (options: { batchSize?: string }) => (await commands()).secretsRotateKey(options));

  program
    .command('settings')
    .description('list the environment settings with their defaults')
    .option('--markdown', "output the README's table")
    .option('--json', 'output JSON')
    .action((options: { markdown?: boolean; json?: boolean }) => {
      if (options.json) out(JSON.stringify(SETTINGS, null, 2));
      else out(options.markdown ? settingsMarkdown() : settingsText(''));
    });

  return program;
}

function messageOf(err: unknown): string {
  if (err instanceof ApiError) return err.description;
  if (err instanceof DatabaseUnavailable) {
    return `cannot reach the database${err.cause instanceof Error && err.cause.message ? `: ${err.cause.message}` : ''}`;
  }
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}

/**
 * Resolves once everything written to `stream` so far has been handed to the OS. On a pipe, Node
 * writes asynchronously once the pipe is full (64 KiB), and process.exit() drops what is still
 * queued: `dcr app list --json | jq` got a JSON document cut at about 200 KiB.
 */
function flushed(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (stream.destroyed || !stream.writable) resolve();
    else stream.write('', () => resolve());
  });
}

async function exit(code: number): Promise<never> {
  await Promise.all([flushed(process.stdout), flushed(process.stderr)]);
  process.exit(code);
}

/** Runs the CLI on `argv` (process.argv's shape); exits 1 with one line on stderr on failure. */
export async function run(argv: readonly string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync([...argv]);
  } catch (err) {
    process.stderr.write(`dcr: ${messageOf(err)}\n`);
    await exit(1);
  }
  // `serve` keeps running; every other command is done, even if a library left a handle open.
  if (!serving) await exit(Number(process.exitCode ?? 0));
}

if (isEntryPoint(import.meta.url)) await run(process.argv);
