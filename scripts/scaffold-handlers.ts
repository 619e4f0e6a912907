/**
 * `npm run generate`, after openapi-typescript: a handler for every operation of spec/ that has
 * none yet, so that the spec can change first and the code follow.
 *
 * An operation has a handler when the glue service of its document has a method of its name
 * (SERVICES below: the handler classes, imported and asked), or when
 * src/http/handlers/scaffold/<operationId>.ts exists. For every other operation this writes:
 * - src/http/handlers/scaffold/<operationId>.ts, a typed stub that answers 501 Not Implemented in
 *   the route's error shape. That file is where the handler is then written: src/app.ts mounts
 *   every file of that folder beside the services, and the served document lists the 501 for as
 *   long as the file holds the stub (src/http/handlers/scaffolding.ts);
 * - test/http/<operationId>.test.ts, labelled TODO, which fails while the operation answers 501.
 * Then src/http/handlers/scaffold/index.ts, the list of that folder's files (src/app.ts and
 * OperationHandlers read it), is written again if it no longer matches them.
 *
 * Nothing that exists is ever overwritten: a stub or a test already there, edited or not, is left
 * as it is (files are created with the `wx` flag), and nothing is deleted. Run twice, the second
 * run writes nothing.
 *
 * `--check` (npm run generate:check) writes nothing and exits 1 when this would write something
 * (an operation without a handler, a stale index.ts), or when the folder holds a file that handles
 * no operation of spec/ or one whose operation a service also has a method for (the file answers;
 * the method would be dead code).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { DcrService } from '../src/http/handlers/dcr.js';
import { platformService } from '../src/http/handlers/platform.js';
import { handlerNames, type SpecFile } from '../src/http/handlers/scaffolding.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCAFFOLD_DIR = 'src/http/handlers/scaffold';
const INDEX = `${SCAFFOLD_DIR}/index.ts`;
const TEST_DIR = 'test/http';

/** Collaborators the services only store: asking them for their methods calls none of them. */
const NONE = undefined as never;

/** Each spec/ document: its generated types, and the glue service src/app.ts mounts for it. */
const SERVICES: readonly { spec: SpecFile; types: string; service: string; elsewhere: string; methods: () => string[] }[] = [
  {
    spec: 'wso2-dcr-api.yaml',
    types: 'generated/dcr-api.ts',
    service: 'DcrService',
    elsewhere: 'as a method of DcrService (src/http/handlers/dcr.ts)',
    methods: () => handlerNames(new DcrService(NONE, NONE)),
  },
  {
    spec: 'platform-api.yaml',
    types: 'generated/platform-api.ts',
    service: 'platformService',
    elsewhere: "in its tag's handler class, with a line in platformService (src/http/handlers/platform.ts)",
    methods: () => handlerNames(platformService(NONE, NONE, NONE, NONE, NONE, NONE, NONE)),
  },
];

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

interface Operation {
  operationId: string;
  spec: SpecFile;
  types: string;
  service: string;
  elsewhere: string;
  method: string;
  /** The path as served: under the document's mount prefix (servers[0].url). */
  path: string;
  summary: string | undefined;
}

interface SpecDocument {
  servers?: { url: string }[];
  paths?: Record<string, Record<string, { operationId?: string; summary?: string } | undefined>>;
}

/** As src/http/spec.ts mountPrefix (not imported: that module loads the scaffolded files). */
function mountPrefix(doc: SpecDocument): string {
  const url = doc.servers?.[0]?.url;
  if (!url) return '';
  const pathname = new URL(url, 'http://localhost').pathname.replace(/\/+$/, '');
  return pathname === '/' ? '' : pathname;
}

function fail(message: string): never {
  console.error(`scaffold-handlers: ${message}`);
  process.exit(1);
}

function operationsOf(entry: (typeof SERVICES)[number]): Operation[] {
  const doc = parse(readFileSync(path.join(ROOT, 'spec', entry.spec), 'utf8')) as SpecDocument;
  const prefix = mountPrefix(doc);
  const operations: Operation[] = [];
  for (const [route, item] of Object.entries(doc.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item[method];
      if (!operation) continue;
      const where = `${method.toUpperCase()} ${route} in spec/${entry.spec}`;
      if (!operation.operationId) fail(`${where} has no operationId (glue would invent one; handlers are named by it)`);
      if (!/^[A-Za-z_$][\w$]*$/.test(operation.operationId)) {
        fail(`${where}: operationId ${JSON.stringify(operation.operationId)} is not a JavaScript identifier (its handler is named by it)`);
      }
      operations.push({
        operationId: operation.operationId,
        spec: entry.spec,
        types: entry.types,
        service: entry.service,
        elsewhere: entry.elsewhere,
        method: method.toUpperCase(),
        path: `${prefix}${route}`,
        summary: operation.summary?.trim().split('\n')[0],
      });
    }
  }
  return operations;
}

function stubFile(op: Operation): string {
  const types = path.posix.relative(SCAFFOLD_DIR, op.types).replace(/\.ts$/, '.js');
  return `import type { operations } from '${types}';
import { notImplemented, type OperationFactory } from '../scaffolding.js';

/**
 * ${op.method} ${op.path}: ${op.operationId} of spec/${op.spec}${op.summary ? `\n * (${op.summary})` : ''}.
 *
 * TODO: write this handler. \`npm run generate\` (scripts/scaffold-handlers.ts) put this stub here
 * because no service had a method for the operation; until it is replaced the operation answers
 * 501 Not Implemented and test/http/${op.operationId}.test.ts fails.
 *
 * This file is the operation's handler (src/app.ts mounts it beside ${op.service}): replace the
 * stub below with it, in place:
 *
 *   export const ${op.operationId}: OperationFactory<operations, '${op.operationId}'> = (services) => async (request, reply) => {
 *     ...
 *   };
 *
 * \`services\` are the app's collaborators (AppServices in src/app.ts); \`request\` and the body it
 * resolves to are typed from the spec; other answers are thrown (src/domain/errors.ts). To write
 * it ${op.elsewhere} instead: write it there, then delete this file and run \`npm run generate\`.
 */
export const ${op.operationId}: OperationFactory<operations, '${op.operationId}'> = notImplemented('${op.operationId}');
`;
}

function testFile(op: Operation): string {
  return `/**
 * TODO ${op.operationId} (${op.method} ${op.path}, spec/${op.spec}): its behaviour is still to be
 * written. \`npm run generate\` (scripts/scaffold-handlers.ts) wrote this test with the stub
 * src/http/handlers/scaffold/${op.operationId}.ts, which answers 501 Not Implemented: it fails until
 * the handler is written. Then replace it with tests of what the operation does.
 */
import t from 'tap';
import { buildTestApp } from '../fixtures/app.js';
import { requestFor } from '../fixtures/operation-request.js';

t.test('${op.operationId}: ${op.method} ${op.path} (TODO: the handler is not written yet)', async (t) => {
  const { app } = await buildTestApp(t);
  // A request the served document accepts (credentials, parameters, body): it reaches the handler.
  const res = await app.inject(await requestFor(app, '${op.operationId}'));
  t.not(res.statusCode, 501, 'TODO: write ${op.operationId} in src/http/handlers/scaffold/${op.operationId}.ts; it still answers 501 Not Implemented', {
    body: res.body,
  });
});
`;
}

function indexFile(entries: readonly Operation[]): string {
  const imports = entries.map((op) => `import { ${op.operationId} } from './${op.operationId}.js';\n`).join('');
  const lines = entries.map((op) => `  ${op.operationId}: { spec: '${op.spec}', factory: ${op.operationId} },\n`).join('');
  return `/**
 * The operations whose handler is a file of this folder, with their spec/ document. Written by
 * scripts/scaffold-handlers.ts (\`npm run generate\`) from the files here: do not edit; add or delete
 * a file and run it again. src/app.ts mounts them beside the services (src/http/handlers/scaffolding.ts).
 */
import type { Scaffolds } from '../scaffolding.js';
${imports}
export const scaffolds = {${lines ? `\n${lines}` : ''}} as const satisfies Scaffolds;
`;
}

const check = process.argv.includes('--check');
const unknown = process.argv.slice(2).filter((arg) => arg !== '--check');
if (unknown.length > 0) fail(`unknown arguments ${unknown.join(' ')} (usage: scaffold-handlers.ts [--check])`);

const operations = SERVICES.flatMap(operationsOf);
const byId = new Map<string, Operation>();
for (const op of operations) {
  const other = byId.get(op.operationId);
  if (other) fail(`operationId ${op.operationId} is in spec/${other.spec} and spec/${op.spec}: handlers are named by it, it must be unique`);
  byId.set(op.operationId, op);
}
const methods = new Map(SERVICES.map((entry) => [entry.spec, new Set(entry.methods())]));
const files = existsSync(path.join(ROOT, SCAFFOLD_DIR))
  ? readdirSync(path.join(ROOT, SCAFFOLD_DIR)).filter((name) => name.endsWith('.ts') && name !== 'index.ts').map((name) => name.slice(0, -3))
  : [];

const problems: string[] = [];
const written: string[] = [];

function write(file: string, text: string, flag: 'wx' | 'w'): void {
  try {
    mkdirSync(path.dirname(path.join(ROOT, file)), { recursive: true });
    writeFileSync(path.join(ROOT, file), text, { flag });
    written.push(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    console.log(`  ${file} exists: left as it is`);
  }
}

// Files of the folder that handle nothing, or an operation a service handles too.
for (const name of files) {
  const op = byId.get(name);
  if (!op) {
    problems.push(`${SCAFFOLD_DIR}/${name}.ts: no operation ${name} in spec/; delete or rename the file (it is not mounted)`);
  } else if (methods.get(op.spec)!.has(name)) {
    problems.push(
      `${SCAFFOLD_DIR}/${name}.ts and ${op.service} both handle ${name}; the file answers. ` +
        'If the method is the handler, delete the file and run npm run generate',
    );
  }
}

// Operations without a handler: a stub and a failing test each.
const missing = operations.filter((op) => !methods.get(op.spec)!.has(op.operationId) && !files.includes(op.operationId));
for (const op of missing) {
  const stub = `${SCAFFOLD_DIR}/${op.operationId}.ts`;
  const test = `${TEST_DIR}/${op.operationId}.test.ts`;
  if (check) {
    problems.push(`${op.operationId} (${op.method} ${op.path}, spec/${op.spec}) has no handler: run npm run generate to scaffold ${stub}`);
    continue;
  }
  console.log(`scaffold-handlers: ${op.operationId} (${op.method} ${op.path}, spec/${op.spec}) has no handler in ${op.service}`);
  write(stub, stubFile(op), 'wx');
  if (written.includes(stub)) console.log(`  wrote ${stub}: the stub, which answers 501 Not Implemented; write the handler there`);
  write(test, testFile(op), 'wx');
  if (written.includes(test)) console.log(`  wrote ${test}: TODO, fails until the handler is written`);
}

// The index: what is in the folder now (the stubs just written included), by operationId.
const scaffolded = operations
  .filter((op) => files.includes(op.operationId) || missing.includes(op))
  .sort((a, b) => a.operationId.localeCompare(b.operationId));
const index = indexFile(scaffolded);
const current = existsSync(path.join(ROOT, INDEX)) ? readFileSync(path.join(ROOT, INDEX), 'utf8') : undefined;
if (current !== index) {
  if (check) problems.push(`${INDEX} does not list the files of ${SCAFFOLD_DIR}: run npm run generate`);
  else {
    write(INDEX, index, 'w');
    console.log(`scaffold-handlers: wrote ${INDEX} (${scaffolded.length} scaffolded handler${scaffolded.length === 1 ? '' : 's'})`);
  }
}

const stubs = scaffolded.filter((op) => {
  const file = path.join(ROOT, SCAFFOLD_DIR, `${op.operationId}.ts`);
  return existsSync(file) && /=\s*notImplemented\(/.test(readFileSync(file, 'utf8'));
});
for (const problem of problems) console.error(`scaffold-handlers: ${problem}`);
if (written.length === 0 && problems.length === 0) {
  console.log(
    `scaffold-handlers: every operation has a handler (${operations.length} in spec/; ${scaffolded.length} in ${SCAFFOLD_DIR}/` +
      `${stubs.length > 0 ? `, of which ${stubs.length} still the stub answering 501: ${stubs.map((op) => op.operationId).join(', ')}` : ''})`,
  );
}
if (problems.length > 0) process.exit(1);
