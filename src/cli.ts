/**
 * `dcr`: the operator's command line (bin/dcr.js, or `npm run dcr -- <args>`).
 *
 * Commands that touch the database reach it as the server would (src/runtime/resources.ts): DATABASE_URL,
 * else the embedded cluster in DCR_DATA_DIR, attached to when a server runs there, started for
 * the command's duration otherwise. Passwords are read from standard input or a no-echo prompt,
 * never from the command line; secrets are printed only on request (`--show-secret`).
 * Any failure is one line on stderr and exit code 1; the commands that call a running server
 * (src/cli/remote.ts, through the typed client) tell a refusal (2) from an unreachable server (3).
 * The database commands are in src/cli/commands.ts.
 */
import { Command, Option, type Help } from 'commander';
import { SETTINGS } from './config/settings.js';
import { settingsMarkdown, settingsText } from './config/settings-docs.js';
import { DatabaseUnavailable } from './db/errors.js';
import { isEntryPoint } from './runtime/entry-point.js';
import { ApiError } from './domain/errors.js';
import { CliError, EXIT } from './cli/errors.js';
import { DEFAULT_GRANT_TYPES, DEFAULT_URL, type RegisterOptions, type TokenOptions } from './cli/remote.js';

/** Set by `serve`: the process then lives on after the command returns. */
let serving = false;

const out = (text: string) => process.stdout.write(`${text}\n`);
const commands = () => import('./cli/commands.js');
const remote = () => import('./cli/remote.js');

/** --url of the commands that call a running server. */
const urlOption = () =>
  new Option('--url <baseUrl>', "the server's root URL").env('DCR_URL').default(DEFAULT_URL);

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
        'DCR_DATA_DIR, shared with the server running there, or started for the command.\n\n' +
        'Over HTTP (app register, status, token): DCR_URL, the server (default http://127.0.0.1:9763);\n' +
        'DCR_TOKEN, a Bearer token for app register. Exit codes: 1 a local failure, 2 the server refused\n' +
        '(4xx), 3 the server is unavailable (unreachable, 5xx); status: 0 ready, 1 not.\n',
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
    .argument('<name>', 'user name (3 to 64 ASCII letters, digits, ".", "_", "-" and "@")')
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

  const tenant = program.command('tenant').description('manage tenants (as /api/server/v1/tenants does)');
  tenant
    .command('add')
    .description("create a tenant with its owner, its admin; the owner's password comes from stdin or a no-echo prompt")
    .argument('<domain>', 'the tenant domain, e.g. example.com (letters, digits, "." and "-", at least one dot)')
    .requiredOption('--owner <name>', "the owner's user name in the tenant (it signs in as <name>@<domain>)")
    .option('--password-stdin', 'read the password from standard input (the default when stdin is not a terminal)')
    .action(async (domain: string, options: { owner: string; passwordStdin?: boolean }) => (await commands()).tenantAdd(domain, options));
  tenant
    .command('list')
    .description('list the tenants (not the super tenant, carbon.super)')
    .option('--json', 'output JSON')
    .action(async (options: { json?: boolean }) => (await commands()).tenantList(options));
  tenant
    .command('show')
    .description('show one tenant')
    .argument('<domain>', 'the tenant domain')
    .option('--json', 'output JSON')
    .action(async (domain: string, options: { json?: boolean }) => (await commands()).tenantShow(domain, options));
  tenant
    .command('deactivate')
    .description('deactivate a tenant (activate undoes it)')
    .argument('<domain>', 'the tenant domain')
    .action(async (domain: string) => (await commands()).tenantSetActive(domain, false));
  tenant
    .command('activate')
    .description('activate a deactivated tenant')
    .argument('<domain>', 'the tenant domain')
    .action(async (domain: string) => (await commands()).tenantSetActive(domain, true));

  const app = program.command('app').description('inspect registered applications, or register one on a running server');
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

  app
    .command('register')
    .description(
      "register an application on a running server, over HTTP (the caller's own app of that name is answered again, as in WSO2)",
    )
    .argument('<clientName>', "the application's clientName")
    .addOption(urlOption())
    .option('--user <name>', 'authenticate with Basic as this user; the password comes from stdin or a no-echo prompt')
    .option('--password-stdin', 'read the password from standard input (the default when stdin is not a terminal)')
    .addOption(new Option('--bearer-file <file>', "authenticate with the access token in this file ('-': stdin); else DCR_TOKEN").conflicts('user'))
    .option('--owner <user>', 'the user who owns the application (default: --user; required with a token)')
    .option('--grant-types <list>', 'grant types, space or comma separated', DEFAULT_GRANT_TYPES)
    .option('--callback-url <url>', "the callback URL (or WSO2's regexp=(...) form)")
    .option('--token-type <type>', 'JWT for JWT access tokens; default: DEFAULT (opaque)')
    .option('--saas', 'a SaaS application (saasApp: true)')
    .option('--user-store-domain-in-subject', 'userStoreDomainInSubject: true')
    .option('--show-secret', 'also print the client secret')
    .option('--json', 'output the whole answer as JSON (the secret still only with --show-secret)')
    .action(async (clientName: string, options: Omit<RegisterOptions, 'envToken'>) =>
      (await remote()).appRegister(clientName, { ...options, envToken: process.env.DCR_TOKEN }),
    );

  program
    .command('status')
    .description("a running server's liveness, readiness and issuer, in one line; exit 0 when ready, 1 otherwise")
    .addOption(urlOption())
    .action(async (options: { url: string }) => (await remote()).status(options));

  program
    .command('token')
    .description("an app's access token by the client_credentials grant; the client secret comes from stdin or a no-echo prompt")
    .addOption(urlOption())
    .requiredOption('--client-id <id>', "the application's clientId")
    .option('--scope <scopes>', 'scopes to ask for, space separated (e.g. apim:dcr:app_manage)')
    .option('--secret-stdin', 'read the client secret from standard input (the default when stdin is not a terminal)')
    .option('--json', 'output the whole token answer as JSON')
    .action(async (options: TokenOptions) => (await remote()).token(options));

  const keys = program.command('keys').description('manage the JWT signing keys');
  keys
    .command('rotate')
    .description('make a new signing key current and print its kid (the old one verifies until its tokens expire)')
    .option('--tenant <domain>', "a tenant's keys (each tenant signs with its own); the super tenant's by default")
    .action(async (options: { tenant?: string }) => (await commands()).keysRotate(options));

  const tokens = program.command('tokens').description('maintain the token tables');
  tokens
    .command('purge')
    .description('delete the expired tokens now, as servers do every DCR_TOKEN_PURGE_INTERVAL (for a job of your own when that is 0)')
    .action(async () => (await commands()).tokensPurge());

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
    await exit(err instanceof CliError ? err.exitCode : EXIT.failure);
  }
  // `serve` keeps running; every other command is done, even if a library left a handle open.
  if (!serving) await exit(Number(process.exitCode ?? 0));
}

if (isEntryPoint(import.meta.url)) await run(process.argv);
