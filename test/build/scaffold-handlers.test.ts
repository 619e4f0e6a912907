/**
 * scripts/scaffold-handlers.ts, as `npm run generate` runs it, in a copy of the project (spec/,
 * src/, generated/, scripts/, test fixtures) with two operations added to the spec that no
 * service handles: createThing on the DCR document (errors in the `Error` shape) and listGroups
 * on the platform document (SCIM errors). Checked:
 * - generate writes a stub and a TODO test for each, and the index, and changes nothing else;
 * - run again it writes nothing, and keeps a stub and a test that were edited as they are;
 * - `--check` writes nothing, passes then, and fails naming an operation added without a handler;
 * - `tsc` passes with the stubs (the generated tests and test/types/missing-handler.ts included);
 * - on the wire, each stub answers 501 in its route's error shape, with a body that matches the
 *   501 the served document now lists for that operation, and only for it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { appendFileSync, cpSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type net from 'node:net';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { FastifyInstance, InjectOptions } from 'fastify';
import t from 'tap';
import { parseDocument } from 'yaml';
import { closed, dereference, operationsOf, problemsOf, type Document, type Operation, type Schema } from '../fixtures/openapi.js';
import { documentScaffolds, notImplemented } from '../../src/http/handlers/scaffolding.js';
import type { OpenApiDocument } from '../../src/http/spec.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSC = path.join(ROOT, 'node_modules/typescript/bin/tsc');
const COPIED = ['src', 'spec', 'generated', 'scripts', 'test/fixtures', 'test/types', 'package.json', 'tsconfig.json'];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], cwd: string): Promise<Run> {
  // Without tap's loader options: the commands run as a developer runs them.
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return new Promise((resolve) => {
    execFile(command, args, { cwd, env, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr });
    });
  });
}

/** Every file under `dir` (relative path → SHA-256), for "nothing else changed". */
function snapshot(dir: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (relative: string) => {
    for (const name of readdirSync(path.join(dir, relative))) {
      const file = path.posix.join(relative, name);
      if (statSync(path.join(dir, file)).isDirectory()) walk(file);
      else files.set(file, createHash('sha256').update(readFileSync(path.join(dir, file))).digest('hex'));
    }
  };
  for (const top of ['src', 'test', 'generated', 'spec', 'scripts']) walk(top);
  return files;
}

function changes(before: Map<string, string>, after: Map<string, string>): { added: string[]; changed: string[]; removed: string[] } {
  return {
    added: [...after.keys()].filter((file) => !before.has(file)).sort(),
    changed: [...after.keys()].filter((file) => before.has(file) && before.get(file) !== after.get(file)).sort(),
    removed: [...before.keys()].filter((file) => !after.has(file)).sort(),
  };
}

/** Adds `item` at `route` to a spec/ file of the copy (comments and the rest kept). */
function addPath(dir: string, file: string, route: string, item: object): void {
  const full = path.join(dir, 'spec', file);
  const doc = parseDocument(readFileSync(full, 'utf8'));
  doc.setIn(['paths', route], doc.createNode(item));
  writeFileSync(full, doc.toString());
}

const THING = {
  post: {
    operationId: 'createThing',
    tags: ['Dynamic Client Registration'],
    summary: 'Create a thing',
    requestBody: {
      required: true,
      content: {
        'application/json': {
          schema: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 20 } } },
        },
      },
    },
    responses: {
      200: { description: 'Created.', content: { 'application/json': { schema: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } } } },
      400: { $ref: '#/components/responses/BadRequest' },
      401: { $ref: '#/components/responses/Unauthorized' },
      405: { $ref: '#/components/responses/MethodNotAllowed' },
      500: { $ref: '#/components/responses/InternalServerError' },
    },
    security: [{ BasicAuth: [] }],
  },
};

const GROUPS = {
  get: {
    operationId: 'listGroups',
    tags: ['Users'],
    summary: 'List groups',
    responses: {
      200: { description: 'The groups.', content: { 'application/scim+json': { schema: { $ref: '#/components/schemas/ScimListResponse' } } } },
      401: { $ref: '#/components/responses/ScimUnauthorized' },
      405: { $ref: '#/components/responses/ScimMethodNotAllowed' },
      500: { $ref: '#/components/responses/ScimInternalServerError' },
    },
    security: [{ BasicAuth: [] }],
  },
};

const STUBS = {
  createThing: { spec: 'wso2-dcr-api.yaml', types: 'dcr-api', path: '/client-registration/v0.17/things' },
  listGroups: { spec: 'platform-api.yaml', types: 'platform-api', path: '/scim2/Groups' },
} as const;

t.test('npm run generate scaffolds a stub and a failing test for an operation without a handler', async (t) => {
  const started = Date.now();
  const dir = t.testdir({});
  for (const entry of COPIED) cpSync(path.join(ROOT, entry), path.join(dir, entry), { recursive: true });
  addPath(dir, 'wso2-dcr-api.yaml', '/things', THING);
  addPath(dir, 'platform-api.yaml', '/scim2/Groups', GROUPS);
  const read = (file: string) => readFileSync(path.join(dir, file), 'utf8');
  const scaffold = (...args: string[]) => run(process.execPath, ['--import', 'tsx', 'scripts/scaffold-handlers.ts', ...args], dir);

  // 1. generate: the types, then a stub and a TODO test per operation, and the index; nothing else.
  const before = snapshot(dir);
  const generated = await run('npm', ['run', '--silent', 'generate'], dir);
  if (!t.equal(generated.code, 0, 'npm run generate succeeds', generated)) return;
  const first = changes(before, snapshot(dir));
  t.same(
    first,
    {
      added: ['src/http/handlers/scaffold/createThing.ts', 'src/http/handlers/scaffold/listGroups.ts', 'test/http/createThing.test.ts', 'test/http/listGroups.test.ts'],
      changed: ['generated/dcr-api.ts', 'generated/platform-api.ts', 'src/http/handlers/scaffold/index.ts'],
      removed: [],
    },
    'it adds the stubs and tests, and rewrites only generated/ and the index',
  );
  for (const [operationId, { spec, types, path: route }] of Object.entries(STUBS)) {
    t.match(generated.stdout, `${operationId} (${operationId === 'createThing' ? 'POST' : 'GET'} ${route}, spec/${spec}) has no handler`, `it says ${operationId} has no handler`);
    const stub = read(`src/http/handlers/scaffold/${operationId}.ts`);
    t.match(stub, `import type { operations } from '../../../../generated/${types}.js';`, `${operationId}'s stub is typed by its document's operations`);
    t.match(stub, `export const ${operationId}: OperationFactory<operations, '${operationId}'> = notImplemented('${operationId}');`);
    t.match(stub, /TODO: write this handler/);
    const test = read(`test/http/${operationId}.test.ts`);
    t.match(test, new RegExp(`^/\\*\\*\\n \\* TODO ${operationId} `), `${operationId}'s test says TODO first`);
    t.match(test, `t.test('${operationId}: `, 'and is named for the operation');
    t.match(test, `await app.inject(await requestFor(app, '${operationId}'))`);
    t.match(test, `t.not(res.statusCode, 501, 'TODO: write ${operationId} in src/http/handlers/scaffold/${operationId}.ts`, 'it fails while the stub answers');
    t.match(read('src/http/handlers/scaffold/index.ts'), `  ${operationId}: { spec: '${spec}', factory: ${operationId} },`);
  }

  // 2. Again, after a developer edited a stub and a test: nothing written, the edits kept.
  appendFileSync(path.join(dir, 'src/http/handlers/scaffold/createThing.ts'), '// edited by hand\n');
  writeFileSync(path.join(dir, 'test/http/listGroups.test.ts'), "import t from 'tap';\nt.pass('rewritten by hand');\n");
  const edited = snapshot(dir);
  const again = await scaffold();
  t.equal(again.code, 0, 'the second run succeeds', again);
  // Every operation of the copy's two documents: the project's, and the two added above.
  const operationCount = ['wso2-dcr-api.yaml', 'platform-api.yaml']
    .map((file) => operationsOf(parseDocument(read(`spec/${file}`)).toJS() as Document).length)
    .reduce((a, b) => a + b, 0);
  t.match(
    again.stdout,
    `every operation has a handler (${operationCount} in spec/; 2 in src/http/handlers/scaffold/, of which 2 still the stub answering 501: createThing, listGroups)`,
  );
  t.same(changes(edited, snapshot(dir)), { added: [], changed: [], removed: [] }, 'the second run writes nothing: idempotent, and edits are kept');
  const checked = await scaffold('--check');
  t.equal(checked.code, 0, '--check passes with every operation handled', checked);

  // 3. --check is a check: an operation without a handler fails it, and nothing is written.
  const spec = read('spec/wso2-dcr-api.yaml');
  const { requestBody: _none, ...thing } = THING.post;
  addPath(dir, 'wso2-dcr-api.yaml', '/things/{id}', { get: { ...thing, operationId: 'getThing' } });
  const unchecked = snapshot(dir);
  const failing = await scaffold('--check');
  t.equal(failing.code, 1, '--check fails for an operation without a handler');
  t.match(failing.stderr, 'getThing (GET /client-registration/v0.17/things/{id}, spec/wso2-dcr-api.yaml) has no handler: run npm run generate');
  t.same(changes(unchecked, snapshot(dir)), { added: [], changed: [], removed: [] }, '--check writes nothing');
  writeFileSync(path.join(dir, 'spec/wso2-dcr-api.yaml'), spec);

  // 4. tsc passes with the stubs (in a child process, while the wire is checked below).
  writeFileSync(
    path.join(dir, 'tsconfig.scaffold.json'),
    JSON.stringify({
      extends: './tsconfig.json',
      include: [],
      files: ['src/app.ts', 'src/http/handlers/scaffold/index.ts', 'test/http/createThing.test.ts', 'test/types/missing-handler.ts'],
    }),
  );
  const typecheck = run(process.execPath, [TSC, '--noEmit', '--pretty', 'false', '-p', 'tsconfig.scaffold.json'], dir);

  // 5. On the wire: the copy's app, over collaborators the stubs never call.
  const { buildApp } = (await import(pathToFileURL(path.join(dir, 'src/app.ts')).href)) as typeof import('../../src/app.js');
  const { Metrics } = (await import(pathToFileURL(path.join(dir, 'src/observability/metrics.ts')).href)) as typeof import('../../src/observability/metrics.js');
  const { requestFor } = (await import(pathToFileURL(path.join(dir, 'test/fixtures/operation-request.ts')).href)) as typeof import('../fixtures/operation-request.js');
  const admin = { userId: '00000000-0000-4000-8000-000000000000', username: 'admin', isSuperAdmin: true };
  const services = { auth: { authenticateBasic: async () => admin }, metrics: new Metrics(), issuer: 'http://dcr.test' };
  const app: FastifyInstance = await buildApp(services as never, { bodyLimit: 65536, logger: false, publicUrl: 'http://dcr.test' });
  t.teardown(() => app.close());
  await app.listen({ port: 0, host: '127.0.0.1' });
  const base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
  const served = (await (await fetch(`${base}/docs/json`)).json()) as Document & OpenApiDocument;
  const doc = dereference(served);
  const operation = (route: string, method: string) => doc.paths[route]![method] as Operation;

  t.notOk(operation('/client-registration/v0.17/register', 'post').responses['501'], 'an implemented operation documents no 501');
  const expected = {
    createThing: { method: 'post', response: 'NotImplemented', type: 'application/json; charset=utf-8' },
    listGroups: { method: 'get', response: 'ScimNotImplemented', type: 'application/scim+json; charset=utf-8' },
  } as const;
  for (const [operationId, { path: route }] of Object.entries(STUBS)) {
    const { method, response, type } = expected[operationId as keyof typeof expected];
    const raw = served.paths[route]![method] as { responses: Record<string, unknown> };
    t.same(raw.responses['501'], { $ref: `#/components/responses/${response}` }, `${operationId}: the served document lists its 501 (${response})`);
    const request: InjectOptions = await requestFor(app, operationId);
    const res = await fetch(`${base}${String(request.url)}`, {
      method: request.method as string,
      headers: request.headers as Record<string, string>,
      ...(request.payload === undefined ? {} : { body: request.payload as string }),
    });
    const body = (await res.json()) as Record<string, unknown>;
    t.equal(res.status, 501, `${operationId}: the stub answers 501 to a request the document accepts`);
    t.equal(res.headers.get('content-type'), type, `${operationId}: in its route's error shape`);
    const schema = operation(route, method).responses['501']!.content![type.split(';')[0]!]!.schema as Schema;
    t.same(problemsOf(closed(schema), body), [], `${operationId}: the body is exactly the documented 501`, { body });
    if (operationId === 'createThing') {
      t.same(body, { code: 501, message: 'Not Implemented', description: 'The operation createThing is not implemented yet', moreInfo: '', error: [] }, 'the Error body names the operation');
    } else {
      t.same(body, { schemas: ['urn:ietf:params:scim:api:messages:2.0:Error'], status: '501', detail: 'The operation listGroups is not implemented yet' });
      t.equal(res.headers.get('cache-control'), 'no-store', 'a SCIM answer, not cached');
    }
  }

  const typed = await typecheck;
  t.equal(typed.code, 0, 'tsc passes with the stubs', { output: `${typed.stdout}${typed.stderr}` });
  t.comment(`scaffold test took ${Date.now() - started} ms`);
});

t.test('the served document lists a 501 only while the scaffolded file holds the stub', async (t) => {
  const doc = (): OpenApiDocument => ({
    openapi: '3.0.1',
    paths: { '/things': { post: { operationId: 'createThing', responses: { 200: { description: 'ok' } } } } },
    components: { responses: { NotImplemented: { description: 'Not Implemented' } } },
  });
  const responses = (document: OpenApiDocument) => Object.keys((document.paths['/things']!.post as { responses: object }).responses);
  const stub = { createThing: { spec: 'wso2-dcr-api.yaml', factory: notImplemented('createThing') } } as const;
  const written = { createThing: { spec: 'wso2-dcr-api.yaml', factory: () => async () => ({ id: 'x' }) } } as const;
  t.same(responses(documentScaffolds(stub, 'wso2-dcr-api.yaml', doc())), ['200', '501'], 'the stub: 501 listed');
  t.same(responses(documentScaffolds(written, 'wso2-dcr-api.yaml', doc())), ['200'], 'the handler written in its place: no 501');
  t.same(responses(documentScaffolds(stub, 'platform-api.yaml', doc())), ['200'], 'only in its own document');
});
