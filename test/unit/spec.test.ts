/**
 * spec/wso2-dcr-api.yaml is WSO2's published document (the seed) corrected, never cut down: every
 * path, method, status, schema and property of the seed is still there. Then the corrections this
 * server depends on, and both spec files going through
 * fastify-openapi-glue's own parser (which validates them against the OpenAPI schema).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import openapiGlue from 'fastify-openapi-glue';
import t from 'tap';
import { parse } from 'yaml';
import { ANY_REQUEST_HEADING, combinedDocument, descriptionSection, mountPrefix, type OpenApiDocument } from '../../src/http/spec.js';

const ROOT = new URL('../../', import.meta.url);
const SEED_FILE = fileURLToPath(new URL('../shared/seed/wso2-dcr-api.yaml', ROOT));
const DCR_FILE = fileURLToPath(new URL('spec/wso2-dcr-api.yaml', ROOT));
const PLATFORM_FILE = fileURLToPath(new URL('spec/platform-api.yaml', ROOT));

interface Schema {
  type?: string;
  $ref?: string;
  readOnly?: boolean;
  nullable?: boolean;
  properties?: Record<string, Schema>;
  items?: Schema;
  [key: string]: unknown;
}
interface Response {
  $ref?: string;
  content?: Record<string, { schema?: Schema }>;
}
interface Operation {
  operationId?: string;
  responses: Record<string, Response>;
  requestBody?: { content: Record<string, { schema: Schema }> };
  security?: Record<string, string[]>[];
}
interface Document extends OpenApiDocument {
  paths: Record<string, Record<string, Operation>>;
  components: {
    schemas: Record<string, Schema>;
    responses: Record<string, Response>;
    securitySchemes: Record<string, unknown>;
  };
}

const HTTP_METHODS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

function load(file: string): Document {
  return parse(readFileSync(file, 'utf8')) as Document;
}

function operationsOf(doc: Document): [string, string, Operation][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item)
      .filter(([method]) => HTTP_METHODS.has(method))
      .map(([method, operation]): [string, string, Operation] => [path, method, operation]),
  );
}

/** Follows one local `#/components/...` reference. */
function deref<T>(doc: Document, value: T & { $ref?: string }): T {
  if (!value.$ref) return value;
  const [hash, ...segments] = value.$ref.split('/');
  if (hash !== '#') throw new Error(`not a local reference: ${value.$ref}`);
  let node: unknown = doc;
  for (const segment of segments) node = (node as Record<string, unknown>)[segment];
  if (node === undefined) throw new Error(`dangling reference: ${value.$ref}`);
  return deref(doc, node as T & { $ref?: string });
}

const seed = load(SEED_FILE);
const spec = load(DCR_FILE);
const platform = load(PLATFORM_FILE);

t.test('the seed parses as the document we compare against', async (t) => {
  t.equal(seed.openapi, '3.0.1');
  // The published file's e-mail line went through an address obfuscator: `[email protected]`
  // (with a no-break space) is a YAML flow sequence. Accept what YAML makes of it; the contact is
  // not part of the contract.
  const contact = seed.info as { contact: { email: unknown } };
  t.same(contact.contact.email, ['email\u00a0protected']);
  t.ok(Object.keys(seed.paths).length > 0);
});

t.test('every seed path and method is still in the spec', async (t) => {
  const seedOperations = operationsOf(seed);
  t.ok(seedOperations.length > 0);
  for (const [path, method] of seedOperations) {
    t.ok(spec.paths[path]?.[method], `${method.toUpperCase()} ${path}`);
  }
  t.same(spec.servers?.[0], seed.servers?.[0], 'same servers[0].url: the mount prefix');
  // The second: the same paths in a tenant (WSO2's tenant-qualified URLs, issue 21).
  t.equal(spec.servers?.[1]?.url, 'https://apis.wso2.com/t/{tenantDomain}/client-registration/v0.17');
  t.equal(mountPrefix(spec), '/client-registration/v0.17');
});

t.test('every seed response status is still declared', async (t) => {
  for (const [path, method, operation] of operationsOf(seed)) {
    for (const status of Object.keys(operation.responses)) {
      t.ok(spec.paths[path]?.[method]?.responses[status], `${method.toUpperCase()} ${path} ${status}`);
    }
  }
});

t.test('every seed component is still there, with every property of every schema', async (t) => {
  for (const [name, schema] of Object.entries(seed.components.schemas)) {
    t.test(`schema ${name}`, async (t) => {
      const ours = spec.components.schemas[name];
      t.ok(ours, 'present');
      for (const property of Object.keys(schema.properties ?? {})) {
        t.ok(ours?.properties?.[property], `property ${property}`);
      }
      for (const required of (schema.required as string[] | undefined) ?? []) {
        t.ok(((ours?.required as string[] | undefined) ?? []).includes(required), `still requires ${required}`);
      }
    });
  }
  for (const name of Object.keys(seed.components.responses)) {
    t.ok(spec.components.responses[name], `response ${name}`);
  }
  for (const name of Object.keys(seed.components.securitySchemes)) {
    t.same(spec.components.securitySchemes[name], seed.components.securitySchemes[name], `security scheme ${name} unchanged`);
  }
});

t.test('the seed security requirement is still accepted', async (t) => {
  for (const [path, method, operation] of operationsOf(seed)) {
    const ours = spec.paths[path]![method]!;
    for (const requirement of operation.security ?? []) {
      t.ok(
        ours.security?.some((alternative) => JSON.stringify(alternative) === JSON.stringify(requirement)),
        `${method.toUpperCase()} ${path}: ${JSON.stringify(requirement)}`,
      );
    }
  }
});

t.test('the corrections the server relies on', async (t) => {
  const register = spec.paths['/register']?.post;
  t.ok(register, 'POST /register');
  if (!register) return;

  t.equal(register.operationId, 'registerApplication');

  const requestSchema = deref(spec, register.requestBody!.content['application/json']!.schema);
  t.equal(requestSchema, spec.components.schemas.DCR, 'the request body is the DCR schema');
  const dcr = spec.components.schemas.DCR!;
  for (const [name, property] of Object.entries(dcr.properties ?? {})) {
    t.notOk('readOnly' in property, `DCR.${name} is not readOnly (it is request data)`);
  }
  t.equal(dcr.additionalProperties, false, 'unknown keys are rejected');

  // Request booleans are read leniently, as WSO2 reads them (LenientBoolean declares every
  // spelling); the answer's boolean is a plain one.
  for (const property of ['saasApp', 'userStoreDomainInSubject', 'userstoreDomainInSubject']) {
    t.equal(dcr.properties?.[property]?.$ref, '#/components/schemas/LenientBoolean', `DCR.${property} is a LenientBoolean`);
  }
  t.equal(spec.components.schemas.LenientBoolean?.['x-read-as'], 'boolean', 'LenientBoolean is read as a boolean');
  t.equal(spec.components.schemas.DCRResult?.properties?.isSaasApplication?.type, 'boolean', 'DCRResult.isSaasApplication is boolean');

  const result = spec.components.schemas.DCRResult!;
  t.match(result.properties?.callBackURL, { type: 'string', nullable: true }, 'DCRResult.callBackURL');
  t.match(result.properties?.callbackUrl, { type: 'string', nullable: true }, 'DCRResult.callbackUrl (seed spelling)');
  t.ok((result.required as string[]).includes('callBackURL'));
  const success = deref(spec, register.responses['200']!);
  t.equal(deref(spec, success.content!['application/json']!.schema!), result, '200 answers DCRResult');
  t.notOk(register.responses['201'], 'never 201');
});

t.test('every declared status of /register; errors use the Error schema', async (t) => {
  const register = spec.paths['/register']!.post!;
  const expected = ['200', '400', '401', '403', '405', '408', '413', '415', '429', '500', '503'];
  t.same(Object.keys(register.responses).sort(), expected);
  for (const status of expected.filter((s) => s !== '200')) {
    const response = deref(spec, register.responses[status]!);
    const media = Object.keys(response.content ?? {});
    t.same(media, ['application/json'], `${status}: JSON only`);
    t.equal(response.content?.['application/json']?.schema?.$ref, '#/components/schemas/Error', `${status} uses Error`);
  }
  const error = spec.components.schemas.Error!;
  t.same(error.required, ['code', 'message']);
  t.same(Object.keys(error.properties!).sort(), ['code', 'description', 'error', 'message', 'moreInfo']);
});

t.test('every $ref in both specs resolves', async (t) => {
  for (const [label, doc] of [['dcr', spec], ['platform', platform]] as const) {
    const refs = new Set<string>();
    const walk = (node: unknown): void => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === 'object') {
        for (const [key, value] of Object.entries(node)) {
          if (key === '$ref' && typeof value === 'string') refs.add(value);
          else walk(value);
        }
      }
    };
    walk(doc);
    for (const ref of refs) {
      t.doesNotThrow(() => deref(doc, { $ref: ref }), `${label}: ${ref}`);
    }
  }
});

/** A service answering every operationId and a security handler for every scheme, recording what glue asked for. */
function stubs() {
  const asked = new Set<string>();
  const handler = (name: string) => {
    asked.add(name);
    return async () => ({});
  };
  const proxy = (record: (name: string) => unknown) =>
    new Proxy(
      {},
      {
        has: (_target, prop) => typeof prop === 'string' && prop !== 'initialize',
        get: (_target, prop) => (typeof prop === 'string' && prop !== 'initialize' && prop !== 'then' ? record(prop) : undefined),
      },
    );
  return { asked, serviceHandlers: proxy(handler), securityHandlers: proxy(() => async () => {}) };
}

for (const [label, file, doc, keyRoute] of [
  ['spec/wso2-dcr-api.yaml', DCR_FILE, spec, '/client-registration/v0.17/register'],
  ['spec/platform-api.yaml', PLATFORM_FILE, platform, '/scim2/Users'],
] as const) {
  t.test(`${label} loads with fastify-openapi-glue's parser, from the file`, async (t) => {
    const app = Fastify({ logger: false, ajv: { customOptions: { keywords: ['example', 'x-read-as'] } } });
    t.teardown(() => app.close());
    const { asked, serviceHandlers, securityHandlers } = stubs();
    const registered = new Set<string>();
    app.addHook('onRoute', (route) => void registered.add(route.url));
    await app.register(openapiGlue, { specification: file, serviceHandlers, securityHandlers, prefix: mountPrefix(doc) });
    await app.ready();

    const operations = operationsOf(doc);
    const operationIds = operations.map(([, , operation]) => operation.operationId);
    t.ok(operationIds.every((id) => typeof id === 'string' && id.length > 0), 'every operation has an operationId');
    t.equal(new Set(operationIds).size, operationIds.length, 'operationIds are unique');
    t.same([...asked].sort(), [...operationIds].sort(), 'glue asked for a handler for each operationId, and only those');

    for (const [path, method] of operations) {
      const url = `${mountPrefix(doc)}${path.replace(/\{([^}]+)\}/g, ':$1')}`;
      t.ok(app.hasRoute({ method: method.toUpperCase() as 'GET', url }), `${method.toUpperCase()} ${url}`);
      t.ok(registered.has(url), `a route is registered at ${url}`);
    }
    // The route this document exists for, spelled out (a POST under the mount prefix).
    t.ok(app.hasRoute({ method: 'POST', url: keyRoute }), `${keyRoute} (POST)`);
  });
}

t.test('every operation has a tag the document declares, so Swagger UI groups it', async (t) => {
  for (const [label, doc] of [['dcr', spec], ['platform', platform]] as const) {
    const declared = new Set(((doc.tags as { name: string }[] | undefined) ?? []).map((tag) => tag.name));
    for (const [path, method, operation] of operationsOf(doc)) {
      const tags = (operation as { tags?: string[] }).tags ?? [];
      t.ok(tags.length > 0, `${label}: ${method.toUpperCase()} ${path} has a tag`);
      for (const tag of tags) t.ok(declared.has(tag), `${label}: tag ${tag} is declared`);
    }
  }
});

t.test('every operation documents 405 (any other method on its path), 408 (too slow), 500 and 503 (a drain)', async (t) => {
  for (const [label, doc] of [['dcr', spec], ['platform', platform]] as const) {
    for (const [path, method, operation] of operationsOf(doc)) {
      for (const status of ['405', '408', '500', '503']) {
        t.ok(operation.responses[status], `${label}: ${method.toUpperCase()} ${path} documents ${status}`);
      }
      const allow = deref(doc, operation.responses['405']!) as Response & { headers?: Record<string, unknown> };
      t.ok(allow.headers?.Allow, `${label}: ${method.toUpperCase()} ${path}: its 405 documents Allow`);
    }
  }
});

t.test('both documents, and the served one, say what any request can be answered before its operation', async (t) => {
  const sections = [spec, platform].map((doc) =>
    descriptionSection(String((doc.info as { description?: string }).description ?? ''), ANY_REQUEST_HEADING),
  );
  t.ok(sections[0], 'the DCR document has the section');
  t.equal(sections[1], sections[0], 'the platform document has the same one');
  for (const status of ['400', '404', '405', '408', '431', '501', '503']) t.match(sections[0], `**${status}**`, `it names ${status}`);
  // Which shape a parser refusal takes: the Error before the head is read, the route's after.
  t.match(sections[0], /chunked body/, 'it names the malformed chunked body');
  t.match(sections[0], /Content-Length with Transfer-Encoding/, 'and the ambiguous length');
  t.match(sections[0], /RFC 6749's `\{"error","error_description"\}` on the token/, 'and the OAuth2 shape once the route is known');
  const served = combinedDocument('test');
  t.match(String((served.info as { description: string }).description), sections[0]!, 'the served document carries it');
  t.same(
    ((served.tags as { name: string }[]) ?? []).map((tag) => tag.name),
    ['Dynamic Client Registration', 'Users', 'API Resources', 'OAuth2', 'IS DCR', 'Health', 'Roles', 'Tenants'],
    'and both documents’ tags',
  );
});

t.test('the 400s name the causes a client meets (they were answered, but not documented)', async (t) => {
  const described = (doc: Document, path: string, method: string) =>
    (deref(doc, doc.paths[path]![method]!.responses['400']!) as { description: string }).description;
  t.match(described(spec, '/register', 'post'), /`owner` empty/, 'register: an empty owner');
  t.match(described(platform, '/scim2/Users', 'get'), /not `userName eq "<name>"`/, 'listUsers: a filter other than eq');
  t.match(described(platform, '/scim2/Users', 'get'), /startIndex/, 'listUsers: paging values');
  for (const path of ['/oauth2/token', '/oauth2/introspect', '/oauth2/revoke']) {
    t.match(described(platform, path, 'post'), /authenticated twice/, `${path}: a client that authenticates twice`);
  }
  // An over-long id is a 404 (no user has it), not a 400 of a maxLength: getUser's one 400 is a
  // request with two Authorization headers (test/http/auth-order.test.ts).
  t.match(
    (deref(platform, platform.paths['/scim2/Users/{id}']!.get!.responses['400']!) as { description: string }).description,
    /^Bad Request\. More than one `Authorization` header\.$/,
    "getUser's 400 is only the duplicate Authorization header",
  );
  t.notOk(JSON.stringify(platform.paths['/scim2/Users/{id}']).includes('maxLength'), 'the id has no maxLength');
});
