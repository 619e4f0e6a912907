/**
 * The deployment files, linted without Docker: docker-compose.yml (PostgreSQL with a healthcheck,
 * the service built from here, started once PostgreSQL is healthy, wired by DATABASE_URL, its
 * secrets required from the environment, a readiness healthcheck), the Dockerfile (multi-stage,
 * production dependencies only, non-root, WSO2's port, `npm start`'s command, compose's healthcheck,
 * the files of every npm script the README has image users run, a Node that `engines` allows),
 * package.json's `engines` (which no installed package's own `engines` contradicts) and
 * .env.example (exactly the settings of src/config/settings.ts, each with its comment).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import semver from 'semver';
import t from 'tap';
import { parse } from 'yaml';
import { SETTINGS } from '../../src/config/settings.js';
import { PROJECT_ROOT } from '../fixtures/dcr-process.js';

const read = (file: string) => readFileSync(path.join(PROJECT_ROOT, file), 'utf8');

interface ComposeService {
  image?: string;
  build?: string | { context?: string };
  depends_on?: string[] | Record<string, { condition?: string }>;
  environment?: string[] | Record<string, string | number | boolean | null>;
  healthcheck?: { test?: string | string[]; interval?: string; retries?: number };
  ports?: (string | number | { target?: number; published?: number | string })[];
  profiles?: string[];
}

/** A service's environment as a map, whichever of the two compose forms it uses. */
function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(env.map((entry) => [entry.split('=')[0]!, entry.slice(entry.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, value === null ? '' : String(value)]));
}

function healthcheckText(service: ComposeService): string {
  const test = service.healthcheck?.test;
  return Array.isArray(test) ? test.join(' ') : (test ?? '');
}

t.test('docker-compose.yml: postgres and dcr, wired and health-checked', async (t) => {
  const compose = parse(read('docker-compose.yml')) as { services?: Record<string, ComposeService> };
  const services = compose.services ?? {};
  const always = Object.entries(services).filter(([, service]) => !service.profiles);
  t.strictSame(always.map(([name]) => name).sort(), ['dcr', 'postgres'], 'two services start by default: postgres and dcr');

  const postgres = services.postgres!;
  t.match(postgres.image, /^postgres:\S+$/, 'postgres runs the official postgres image, with a tag');
  t.match(healthcheckText(postgres), /pg_isready/, 'postgres has a healthcheck (pg_isready)');
  const pgEnv = environmentOf(postgres);

  const dcr = services.dcr!;
  const context = typeof dcr.build === 'string' ? dcr.build : dcr.build?.context;
  t.equal(context, '.', 'dcr is built from this folder (the Dockerfile)');
  const depends = dcr.depends_on;
  t.ok(depends && !Array.isArray(depends), 'depends_on in the long form, with a condition');
  t.equal((depends as Record<string, { condition?: string }>).postgres?.condition, 'service_healthy', 'dcr starts once postgres is healthy');

  const env = environmentOf(dcr);
  const url = new URL(env.DATABASE_URL ?? 'invalid:');
  t.match(url.protocol, /^postgres(ql)?:$/, 'DATABASE_URL is a postgres URL');
  t.equal(url.hostname, 'postgres', 'DATABASE_URL points at the postgres service');
  t.equal(url.port || '5432', '5432');
  if (pgEnv.POSTGRES_USER) t.equal(decodeURIComponent(url.username), pgEnv.POSTGRES_USER, "the postgres service's user");
  if (pgEnv.POSTGRES_PASSWORD) t.equal(decodeURIComponent(url.password), pgEnv.POSTGRES_PASSWORD, 'and its password');
  if (pgEnv.POSTGRES_DB) t.equal(url.pathname, `/${pgEnv.POSTGRES_DB}`, 'and its database');

  // `${VAR:?message}` (or `${VAR?message}`): compose refuses to start when VAR is unset (or empty).
  for (const name of ['DCR_SECRET_KEY', 'DCR_ADMIN_PASSWORD']) {
    t.match(env[name], new RegExp(`^\\$\\{${name}:?\\?[^}]*\\}$`), `${name} is required from the environment, never a value in the file`);
  }
  t.equal(env.HOST, '0.0.0.0', 'binds every interface inside the container');
  const port = Number(env.PORT ?? 9763);
  t.ok(
    (dcr.ports ?? []).some((p) => (typeof p === 'object' ? p.target === port : String(p).endsWith(`:${port}`))),
    `the container port ${port} is published`,
  );

  const check = healthcheckText(dcr);
  t.match(check, /\/health\/ready/, 'the dcr healthcheck hits /health/ready');
  t.match(check, new RegExp(`:${port}/health/ready`), 'on the port the server listens on');
  t.notMatch(check, /\b(curl|wget)\b/, 'with node itself: the slim image has no curl or wget');
  t.match(env.DCR_PUBLIC_URL, /^\$\{DCR_PUBLIC_URL:-http:\/\/localhost:\d+\}$/, 'DCR_PUBLIC_URL from the environment, the published address by default');
});

t.test("docker-compose.yml: the apim profile, WSO2 API Manager 4.5+ to try the Key Manager against", async (t) => {
  const compose = parse(read('docker-compose.yml')) as { services?: Record<string, ComposeService> };
  const apim = compose.services?.apim;
  if (!apim) return t.fail('an apim service');
  t.strictSame(apim.profiles, ['apim'], 'only with --profile apim');
  const tag = /^wso2\/wso2am:(\d+\.\d+\.\d+)$/.exec(apim.image ?? '')?.[1];
  t.ok(tag && semver.gte(tag, '4.5.0'), `WSO2's API Manager image, 4.5 or later (${apim.image})`);
  t.equal((apim.depends_on as Record<string, { condition?: string }> | undefined)?.dcr?.condition, 'service_healthy', 'starts once this server is ready');
  const published = (apim.ports ?? []).map((p) => String(p));
  t.ok(published.includes('9443:9443'), 'its portals and REST APIs on 9443, where scripts/apim-key-manager.ts is pointed');
  t.ok(existsSync(path.join(PROJECT_ROOT, 'scripts/apim-key-manager.ts')), 'the script the recipe runs');
  t.match(read('docker-compose.yml'), /npm run apim:key-manager -- --apim-url https:\/\/localhost:9443/, "the file names the script's command");
});

interface Instruction {
  keyword: string;
  args: string;
}

/** The Dockerfile's instructions (continuations joined, comments dropped), and those of its final stage. */
function dockerfile(): { all: Instruction[]; final: Instruction[] } {
  const all = read('Dockerfile')
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
    });
  const lastFrom = all.map((i) => i.keyword).lastIndexOf('FROM');
  return { all, final: all.slice(lastFrom) };
}

/** HEALTHCHECK [--option=value …] CMD …: the options and the command's argv (exec form). */
function healthcheckOf(instructions: Instruction[]): { options: Record<string, string>; argv: string[] } | undefined {
  const check = instructions.filter((i) => i.keyword === 'HEALTHCHECK').at(-1);
  if (!check) return undefined;
  const options: Record<string, string> = {};
  let rest = check.args;
  for (let match = /^--([\w-]+)=(\S+)\s+/.exec(rest); match; match = /^--([\w-]+)=(\S+)\s+/.exec(rest)) {
    options[match[1]!] = match[2]!;
    rest = rest.slice(match[0].length);
  }
  const cmd = /^CMD\s+(.*)$/.exec(rest)?.[1] ?? '';
  return { options, argv: cmd.startsWith('[') ? (JSON.parse(cmd) as string[]) : ['/bin/sh', '-c', cmd] };
}

t.test('Dockerfile: multi-stage, production dependencies, non-root, port 9763, npm start', async (t) => {
  const instructions = dockerfile().all;
  const of = (keyword: string) => instructions.filter((i) => i.keyword === keyword);

  const froms = of('FROM');
  t.ok(froms.length >= 2, `at least two FROM stages (${froms.length})`);
  const stages: string[] = [];
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  for (const from of froms) {
    const [image, , name] = from.args.split(/\s+/);
    // A stage starts from an official Node image or from an earlier stage (itself one). The tag
    // names a major line only, so whichever of its releases the tag brings must satisfy engines.
    if (!stages.includes(image!)) {
      const major = /^node:(\d+)(?:-[\w.-]+)?$/.exec(image!)?.[1];
      t.ok(major, `an official Node image, tagged by its major version: ${from.args}`);
      if (major) t.ok(semver.subset(`${major}.x`, engines), `every Node ${major} satisfies engines (${engines}): ${from.args}`);
    }
    if (name) stages.push(name);
  }
  t.ok(of('COPY').some((copy) => /--from=/.test(copy.args)), 'the final stage copies from an earlier one');

  t.ok(of('RUN').some((run) => /\bnpm ci\b.*--omit=dev\b/.test(run.args)), 'npm ci --omit=dev');
  t.notOk(of('RUN').some((run) => /\bnpm (install|i)\b/.test(run.args)), 'no npm install (not reproducible)');

  const users = of('USER');
  t.ok(users.length > 0, 'a USER instruction');
  const user = users.at(-1)?.args ?? 'root';
  t.notMatch(user, /^(root|0)(:|$)/, `the image runs as a non-root user (${user})`);
  const lastFrom = instructions.lastIndexOf(froms.at(-1)!);
  t.ok(instructions.indexOf(users.at(-1)!) > lastFrom, 'USER is set in the final stage');

  t.ok(of('EXPOSE').some((expose) => expose.args.split(/\s+/).includes('9763')), 'EXPOSE 9763');

  const cmd = of('CMD').at(-1)?.args ?? '';
  const argv = cmd.startsWith('[') ? (JSON.parse(cmd) as string[]) : cmd.split(/\s+/);
  const pkg = JSON.parse(read('package.json')) as { dependencies: Record<string, string>; scripts: Record<string, string> };
  // npm start's script is `exec node …` (npm's shell replaces itself with node); the image runs
  // the same node command as PID 1, in exec form, so that SIGTERM reaches node itself.
  t.strictSame(['exec', ...argv], pkg.scripts.start!.split(/\s+/), "npm start's command, in exec form (signals reach node)");
  t.equal(of('STOPSIGNAL').at(-1)?.args ?? 'SIGTERM', 'SIGTERM', 'docker stop sends SIGTERM, which starts the graceful shutdown');
  // dist/ is built in the final stage, after its sources are copied there: its build stamp then
  // names the files and times the image ships, and `npm start`'s prestart finds it up to date
  // instead of rewriting it as the runtime user, who cannot.
  const final = dockerfile().final;
  const build = final.findIndex((i) => i.keyword === 'RUN' && i.args.includes('scripts/build.ts'));
  t.ok(build >= 0, "the final stage builds dist/ as npm start's prestart does (scripts/build.ts)");
  for (const sources of ['src', 'scripts']) {
    const copy = final.findIndex((i) => i.keyword === 'COPY' && new RegExp(`(^|\\s)${sources}(\\s|$)`).test(i.args));
    t.ok(copy >= 0 && copy < build, `${sources}/ is copied before the build`);
  }

  // What the command (and the dcr CLI, through tsx) needs at run time is in the image.
  const copied = of('COPY').map((copy) => copy.args).join('\n');
  for (const needed of ['src', 'spec', 'package.json', 'bin']) {
    t.match(copied, new RegExp(`(^|\\s)${needed}(\\s|$)`), `the image has ${needed}`);
  }
  t.ok(pkg.dependencies.tsx, 'tsx is a production dependency (the dcr CLI and the build need it after --omit=dev)');
  t.ok(pkg.dependencies.esbuild, 'esbuild is a production dependency (npm start builds dist/ first)');
});

t.test("Dockerfile: the npm scripts the README has image users run find their files in the image", async (t) => {
  const { final } = dockerfile();
  // What the final stage holds: the destinations of its COPYs (relative to WORKDIR /app), and
  // dist/, which it builds.
  const inImage = final
    .filter((i) => i.keyword === 'COPY')
    .map((i) => i.args.split(/\s+/).at(-1)!.replace(/^\.\//, '').replace(/^\/app\//, '').replace(/\/$/, ''));
  if (final.some((i) => i.keyword === 'RUN' && i.args.includes('scripts/build.ts'))) inImage.push('dist');
  const has = (file: string) => inImage.some((dest) => dest === file || file.startsWith(`${dest}/`) || (dest === '' && file === 'package.json'));

  // `npm start` (the CMD's command), and every `npm run X` / `npm start` the README shows after a
  // `docker … exec` or `docker … run`.
  const readme = read('README.md');
  const told = new Set(['start']);
  for (const match of readme.matchAll(/docker(?: compose)? (?:exec|run)\b[^`\n]*?\bnpm (?:run(?: -s)? ([\w:-]+)|(start))/g)) {
    told.add(match[1] ?? match[2]!);
  }
  t.ok(told.has('migrate'), `the README tells image users to run npm run migrate (${[...told].join(', ')})`);

  const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string> };
  for (const script of told) {
    const commands = [pkg.scripts[`pre${script}`], pkg.scripts[script]].filter((c): c is string => c !== undefined);
    t.ok(pkg.scripts[script], `npm run ${script} exists`);
    const files = commands.flatMap((command) => command.split(/\s+/).filter((word) => /^[\w./-]+\.(?:ts|js|mjs)$/.test(word)));
    t.ok(files.length > 0, `npm run ${script} runs files of this project (${files.join(', ')})`);
    for (const file of files) {
      t.ok(has(file), `npm run ${script}: ${file} is in the image`);
      if (!file.startsWith('dist/')) t.ok(existsSync(path.join(PROJECT_ROOT, file)), `${file} exists`);
    }
  }
});

t.test("Dockerfile: a HEALTHCHECK on /health/ready, the same as docker-compose.yml's", async (t) => {
  const check = healthcheckOf(dockerfile().final);
  t.ok(check, 'the final stage has a HEALTHCHECK');
  if (!check) return;
  const text = check.argv.join(' ');
  t.match(text, /http:\/\/127\.0\.0\.1:9763\/health\/ready/, 'it asks /health/ready on the port the image exposes');
  t.equal(check.argv[0], 'node', 'with node itself: the slim image has no curl or wget');

  const compose = parse(read('docker-compose.yml')) as { services: Record<string, ComposeService> };
  const composeCheck = compose.services.dcr!.healthcheck!;
  t.strictSame(['CMD', ...check.argv], composeCheck.test, "the same command as docker-compose.yml's healthcheck");
  const composeOptions = composeCheck as { interval?: string; timeout?: string; retries?: number };
  t.strictSame(
    { interval: check.options.interval, timeout: check.options.timeout, retries: Number(check.options.retries) },
    { interval: composeOptions.interval, timeout: composeOptions.timeout, retries: composeOptions.retries },
    "and the same interval, timeout and retries",
  );
});

/** Every package.json under node_modules, nested node_modules included. */
function installedPackages(dir = path.join(PROJECT_ROOT, 'node_modules')): { name: string; version: string; engines?: { node?: string } }[] {
  const found: { name: string; version: string; engines?: { node?: string } }[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    const folder = path.join(dir, entry.name);
    if (entry.name.startsWith('@')) {
      found.push(...installedPackages(folder));
      continue;
    }
    const manifest = path.join(folder, 'package.json');
    if (existsSync(manifest)) found.push(JSON.parse(readFileSync(manifest, 'utf8')) as (typeof found)[number]);
    if (existsSync(path.join(folder, 'node_modules'))) found.push(...installedPackages(path.join(folder, 'node_modules')));
  }
  return found;
}

t.test("engines: no installed package's own engines excludes a Node version package.json allows", async (t) => {
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  t.ok(semver.validRange(engines), `engines.node is a valid range: ${engines}`);
  const packages = installedPackages();
  t.ok(packages.length > 100, `the installed tree is read (${packages.length} packages)`);
  // npm ci warns (EBADENGINE) for each of these on a Node that engines allows: either engines is
  // too wide, or the package needs an override (package.json "overrides").
  const excluding = packages
    .filter((p) => p.engines?.node && semver.validRange(p.engines.node) && !semver.subset(engines, p.engines.node))
    .map((p) => `${p.name}@${p.version} (${p.engines!.node})`);
  t.strictSame(excluding, [], `every installed package allows all of ${engines}`);
});

t.test('the README states the engines of package.json and the Node of the Dockerfile', async (t) => {
  const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
  const readme = read('README.md');
  const quickStart = readme.slice(readme.indexOf('## Quick start'), readme.indexOf('## Register an application'));
  t.ok(quickStart.includes(`\`${engines}\``), `the quick start gives engines as package.json has it (${engines})`);
  const major = /^FROM node:(\d+)/m.exec(read('Dockerfile'))?.[1];
  t.match(quickStart, new RegExp(`the Docker\\s+image runs Node ${major}\\b`), `and the Docker image's Node (${major})`);
  t.notMatch(readme, /Node(\.js)? 20\.11\b/, 'no word of Node 20.11 any more, which engines no longer allows');
});

t.test('.env.example documents exactly the settings of src/config/settings.ts, each with a comment', async (t) => {
  const lines = read('.env.example').split('\n');
  const keys: string[] = [];
  lines.forEach((line, index) => {
    const match = /^([A-Z][A-Z0-9_]*)=/.exec(line);
    if (!match) return;
    keys.push(match[1]!);
    // The comment block above a key (or above the group of keys it belongs to).
    let above = index - 1;
    while (above >= 0 && /^[A-Z][A-Z0-9_]*=/.test(lines[above]!)) above--;
    t.match(lines[above] ?? '', /^# \S/, `${match[1]} has a comment`);
  });
  const names = SETTINGS.map((s) => s.name);
  t.strictSame([...keys].sort(), [...names].sort(), 'every setting present, none extra');
  t.equal(new Set(keys).size, keys.length, 'no key twice');
  const secrets = SETTINGS.filter((s) => s.secret).map((s) => s.name);
  t.ok(secrets.includes('DCR_APIM_NOTIFY_PASSWORD') && secrets.includes('DCR_SECRET_KEY'), 'the secret settings are marked');
  t.notMatch(lines.filter((line) => !line.startsWith('#')).join('\n'), new RegExp(`^(${secrets.join('|')})=\\S`, 'm'), 'no secret value in the example');

  // Defaults shown in the file are the real ones (an empty value means "use the default").
  const values = new Map(lines.flatMap((line) => {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line);
    return match ? [[match[1]!, match[2]!] as const] : [];
  }));
  for (const setting of SETTINGS) {
    const value = values.get(setting.name);
    if (value) t.equal(value, setting.default, `${setting.name}=${value} is its default`);
  }
});
