/**
 * `dcr tenant` as a subprocess over a fresh data folder (no server: each command starts the
 * embedded cluster and stops it): add a tenant with its owner (the password on stdin, never
 * printed), list and show it, deactivate and activate it, and the refusals as one `dcr:` line.
 */
import t, { type Test } from 'tap';
import { freshDataDir, runCli, type CliResult } from '../fixtures/dcr-process.js';

const OWNER_PASSWORD = 'kim-Secret-1';
const detail = (result: CliResult) => `exit ${result.code}\nstdout: ${result.stdout}\nstderr: ${result.stderr}`;

function failsWith(t: Test, result: CliResult, message: RegExp, what: string) {
  t.equal(result.code, 1, `${what}: exit code 1\n${detail(result)}`);
  t.equal(result.stdout, '', `${what}: nothing on stdout`);
  t.equal(result.stderr.match(/^dcr: /gm)?.length, 1, `${what}: one error line`);
  t.match(result.stderr, message, what);
}

t.test('dcr tenant', async (t) => {
  const dataDir = await freshDataDir(t, 'dcr-cli-tenants-');
  const env = { DCR_DATA_DIR: dataDir, DCR_ADMIN_PASSWORD: 'cli-tenants-Admin-1' };
  const cli = (args: string[], input?: string) => runCli(args, env, input);

  const help = await runCli(['--help'], {});
  for (const command of ['tenant add', 'tenant list', 'tenant show', 'tenant deactivate', 'tenant activate']) {
    t.match(help.stdout, new RegExp(`^  ${command}\\b`, 'm'), `--help lists ${command}`);
  }

  const added = await cli(['tenant', 'add', 'Example.COM', '--owner', 'kim'], `${OWNER_PASSWORD}\n`);
  t.equal(added.code, 0, detail(added));
  t.match(added.stdout, /^created tenant 'example\.com' \(tenantId 1, id [0-9a-f-]{36}\); its admin signs in as 'kim@example\.com'$/m);
  t.notMatch(`${added.stdout}${added.stderr}`, OWNER_PASSWORD, 'the password is never printed');

  const listed = await cli(['tenant', 'list', '--json']);
  t.equal(listed.code, 0, detail(listed));
  const tenants = JSON.parse(listed.stdout) as { domain: string; id: string; tenantId: number; active: boolean; owners: string[]; created: string }[];
  t.match(tenants, [{ domain: 'example.com', tenantId: 1, active: true, owners: ['kim'] }]);
  t.equal(tenants.length, 1, 'not the super tenant');

  const table = await cli(['tenant', 'list']);
  t.equal(table.code, 0, detail(table));
  t.match(table.stdout, /^DOMAIN +TENANT ID +ID +STATUS +OWNER +CREATED\nexample\.com +1 +[0-9a-f-]{36} +active +kim +\S+\n$/);

  const deactivated = await cli(['tenant', 'deactivate', 'example.com']);
  t.equal(deactivated.code, 0, detail(deactivated));
  t.match(deactivated.stdout, /^deactivated tenant 'example\.com'$/m);
  const shown = await cli(['tenant', 'show', 'EXAMPLE.com', '--json']);
  t.equal(shown.code, 0, detail(shown));
  t.match(JSON.parse(shown.stdout), { domain: 'example.com', id: tenants[0]!.id, tenantId: 1, active: false, owners: ['kim'] }, 'the domain in any case');

  const activated = await cli(['tenant', 'activate', 'example.com']);
  t.equal(activated.code, 0, detail(activated));
  const text = await cli(['tenant', 'show', 'example.com']);
  t.equal(text.code, 0, detail(text));
  t.match(text.stdout, /^domain +example\.com$/m);
  t.match(text.stdout, /^active +true$/m);

  failsWith(t, await cli(['tenant', 'add', 'example.com', '--owner', 'lee'], 'lee-Secret-1\n'), /dcr: A tenant with same domain example\.com already exist/, 'a domain taken');
  failsWith(t, await cli(['tenant', 'add', 'example', '--owner', 'lee'], 'lee-Secret-1\n'), /dcr: You should have an extension to your domain/, 'a domain without a dot');
  failsWith(t, await cli(['tenant', 'add', 'other.com', '--owner', 'lee'], ''), /dcr: no password on standard input/, 'no password');
  failsWith(t, await cli(['tenant', 'show', 'nobody.com']), /dcr: Tenant cannot be found for the provided domain: nobody\.com/, 'an unknown tenant');
  failsWith(t, await cli(['tenant', 'deactivate', 'carbon.super']), /dcr: Tenant cannot be found for the provided domain: carbon\.super/, 'the super tenant');
  const missingOwner = await cli(['tenant', 'add', 'other.com']);
  t.not(missingOwner.code, 0, '--owner is required');
  t.match(missingOwner.stderr, /--owner/);
});
