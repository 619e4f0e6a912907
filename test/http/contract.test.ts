/**
 * The served document is the contract, checked on the wire with cases it generates itself.
 *
 * The document is what GET /docs/json serves. For every operation in it, fast-check builds
 * requests from the operation's parameter and body schemas (values that satisfy them and values
 * that do not), with credentials that are sometimes right, content types that are sometimes
 * wrong, bodies that are sometimes too large, and sends them to a real listening server, so that
 * what Fastify and Node answer on their own is on the wire too. Every answer must:
 * - have a status the operation documents (405, with an Allow header naming the path's methods,
 *   for a method the path does not declare);
 * - carry a body that validates against the documented schema for that status and content type,
 *   with no undocumented key (error bodies are exactly the documented error shape);
 * - not be a success when the request broke the document (a value outside its schema, a
 *   content type it does not list, no credentials where it requires them), and never a 500.
 * Requests outside every operation (unknown paths, malformed URLs and request lines, oversized
 * headers, methods no parser knows) get the document-level answers of the document's description.
 *
 * Seeded (CONTRACT_SEED) and bounded (CONTRACT_RUNS per operation); both are printed.
 */
import http from 'node:http';
import net from 'node:net';
import fc from 'fast-check';
import t, { type Test } from 'tap';
import { ADMIN, ADMIN_AUTH, basic, buildTestApp, createUser } from '../fixtures/app.js';
import {
  closed,
  dereference,
  invalidValue,
  oddString,
  operationsOf,
  problemsOf,
  queryText,
  satisfies,
  validValue,
  type Document,
  type MediaType,
  type OperationEntry,
  type Response,
  type Schema,
  type Verdict,
} from '../fixtures/openapi.js';

const SEED = Number(process.env.CONTRACT_SEED ?? 1616);
const RUNS = Number(process.env.CONTRACT_RUNS ?? 100);
const BODY_LIMIT = 65536;
const FORM = 'application/x-www-form-urlencoded';
const SCIM_ERROR_URN = 'urn:ietf:params:scim:api:messages:2.0:Error';
/** Every method Node's parser and Fastify's router know; CONNECT goes over a raw socket. */
const METHODS = http.METHODS;

t.comment(`contract test: seed ${SEED}, ${RUNS} runs per operation (CONTRACT_SEED, CONTRACT_RUNS)`);

// One app for the file, inside a test: tap ends a root test that has nothing queued, and its
// teardown (the app, the database) would run under the requests.
t.test('the served document, on the wire', async (t) => {
  const { app } = await buildTestApp(t);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as net.AddressInfo;
  /** A fresh connection per request: a server that closes one after an error never races a reuse. */
  const agent = new http.Agent({ keepAlive: false });

  interface Wire {
    status: number;
    headers: http.IncomingHttpHeaders;
    body: string;
  }

  function send(method: string, path: string, headers: Record<string, string>, body?: string): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const request = http.request({ host: '127.0.0.1', port, method, path, headers, agent, timeout: 10_000 }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      });
      request.on('timeout', () => request.destroy(new Error(`no answer to ${method} ${path} within 10 s`)));
      request.on('error', reject);
      request.end(body);
    });
  }

  /** Writes `text` on a new connection and reads the answer until the server closes it. */
  function sendRaw(text: string | Buffer): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
      socket.on('data', (chunk: Buffer) => chunks.push(chunk));
      socket.on('error', (err: NodeJS.ErrnoException) => (err.code === 'ECONNRESET' || err.code === 'EPIPE' ? undefined : reject(err)));
      socket.on('close', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const split = raw.indexOf('\r\n\r\n');
        const [statusLine = '', ...lines] = raw.slice(0, split < 0 ? raw.length : split).split('\r\n');
        const headers: http.IncomingHttpHeaders = {};
        for (const line of lines) {
          const colon = line.indexOf(':');
          if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
        }
        resolve({ status: Number(statusLine.split(' ')[1] ?? 0), headers, body: split < 0 ? '' : raw.slice(split + 4) });
      });
      socket.write(text);
    });
  }

  // ---------------------------------------------------------------------------------------------
  // The served document, and the identities requests are made with.

  const served = await send('GET', '/docs/json', {});
  t.equal(served.status, 200, 'the document is served');
  const rawDocument = JSON.parse(served.body) as Document;
  const doc = dereference(rawDocument);
  const operations = operationsOf(doc);

  const CAROL_PASSWORD = 'carol-Secret-1';
  await createUser(app, 'carol', CAROL_PASSWORD);
  const poolIds: string[] = [];
  for (let i = 0; i < 12; i++) poolIds.push(await createUser(app, `pool-${i}`, `pool-${i}-Secret`));
  const adminList = await app.inject({
    method: 'GET',
    url: `/scim2/Users?filter=${encodeURIComponent(`userName eq "${ADMIN}"`)}`,
    headers: { authorization: ADMIN_AUTH },
  });
  const adminId = (adminList.json() as { Resources: { id: string }[] }).Resources[0]!.id;
  const registered = await app.inject({
    method: 'POST',
    url: '/client-registration/v0.17/register',
    headers: { authorization: ADMIN_AUTH },
    payload: { clientName: 'contract_client', owner: ADMIN, grantType: 'client_credentials password refresh_token' },
  });
  const client = registered.json() as { clientId: string; clientSecret: string };
  const issued = await app.inject({
    method: 'POST',
    url: '/oauth2/token',
    headers: { authorization: basic(client.clientId, client.clientSecret), 'content-type': FORM },
    payload: `grant_type=client_credentials&scope=${encodeURIComponent('apim:dcr:app_manage')}`,
  });
  const bearer = (issued.json() as { access_token: string }).access_token;

  /**
   * API resources with scopes, for the operations on one (`apiResourceId`, `scopeName`): the
   * DELETE operations get resources of their own to delete, so that the operations after them in
   * the document (PATCH comes after DELETE) still find theirs.
   */
  interface KnownResource {
    id: string;
    scopes: string[];
  }
  async function apiResources(prefix: string, count: number): Promise<KnownResource[]> {
    const made: KnownResource[] = [];
    for (let i = 0; i < count; i++) {
      const scopes = [`contract:${prefix}:${i}:read`, `contract:${prefix}:${i}:write`];
      const res = await app.inject({
        method: 'POST',
        url: '/api/server/v1/api-resources',
        headers: { authorization: ADMIN_AUTH },
        payload: { identifier: `contract-${prefix}-${i}`, name: `contract ${prefix} ${i}`, scopes: scopes.map((name) => ({ name })) },
      });
      if (res.statusCode !== 201) throw new Error(`creating an API resource: ${res.statusCode} ${res.body}`);
      made.push({ id: (res.json() as { id: string }).id, scopes });
    }
    return made;
  }
  const keptResources = await apiResources('kept', 4);
  const doomedResources = await apiResources('doomed', 12);

  /**
   * IS DCR v1.1 apps, for the operations on one (`client_id`): the DELETE gets apps of its own to
   * delete, the reads and the PUT the client id the create example presets (an app once the
   * create operation made it) and the one of the app the find-by-name example names.
   */
  async function isDcrApps(names: readonly string[]): Promise<string[]> {
    const ids: string[] = [];
    for (const name of names) {
      const res = await app.inject({
        method: 'POST',
        url: '/api/identity/oauth2/dcr/v1.1/register',
        headers: { authorization: ADMIN_AUTH },
        payload: { client_name: name, grant_types: ['client_credentials'] },
      });
      if (res.statusCode !== 201) throw new Error(`registering an IS DCR app: ${res.statusCode} ${res.body}`);
      ids.push((res.json() as { client_id: string }).client_id);
    }
    return ids;
  }
  const isDcrRequestExample = rawDocument.components.schemas.IsDcrRequest!.example as { ext_param_client_id: string };
  const byNameExample = String(
    (rawDocument.paths['/api/identity/oauth2/dcr/v1.1/register']!.get as { parameters: { example?: unknown }[] }).parameters[0]!.example,
  );
  const keptIsDcrIds = [isDcrRequestExample.ext_param_client_id, ...(await isDcrApps([byNameExample]))];
  const doomedIsDcrIds = await isDcrApps(Array.from({ length: 12 }, (_, i) => `contract_doomed_${i}`));

  /** Tenants, for the operations on one: by its id (a UUID, from `Location`) and by its domain. */
  const tenantIds: string[] = [];
  const tenantDomains: string[] = [];
  for (let i = 0; i < 3; i++) {
    const domain = `contract-${i}.example.com`;
    const res = await app.inject({
      method: 'POST',
      url: '/api/server/v1/tenants',
      headers: { authorization: ADMIN_AUTH },
      payload: { domain, owners: [{ username: 'owner', password: 'owner-Pa55word', email: 'owner@example.com', firstname: 'O', lastname: 'W' }] },
    });
    if (res.statusCode !== 201) throw new Error(`creating a tenant: ${res.statusCode} ${res.body}`);
    tenantIds.push(String(res.headers.location).split('/').pop()!);
    tenantDomains.push(domain);
  }

  interface Credential {
    name: string;
    header: string | undefined;
    /** The security schemes this credential passes. */
    passes: readonly string[];
  }

  const CREDENTIALS: Credential[] = [
    { name: 'the super admin', header: ADMIN_AUTH, passes: ['BasicAuth'] },
    { name: 'another user', header: basic('carol', CAROL_PASSWORD), passes: ['BasicAuth'] },
    { name: 'a Bearer token with apim:dcr:app_manage', header: `Bearer ${bearer}`, passes: ['OAuth2Security'] },
    { name: "a client's id and secret", header: basic(client.clientId, client.clientSecret), passes: ['ClientBasic'] },
    { name: 'a wrong password', header: basic(ADMIN, 'wrong-password'), passes: [] },
    { name: 'a wrong client secret', header: basic(client.clientId, 'wrong-secret'), passes: [] },
    { name: 'an unknown Bearer token', header: 'Bearer 0123456789abcdef0123456789abcdef', passes: [] },
    { name: 'a malformed header', header: 'Basic !!!', passes: [] },
    { name: 'no credentials', header: undefined, passes: [] },
  ];

  /** Ids for path parameters: existing ones (of `pool`), unknown ones, odd text. */
  const idsFrom = (pool: readonly string[]) =>
    fc.oneof(
      { weight: 2, arbitrary: fc.constantFrom(...pool) },
      { weight: 1, arbitrary: fc.uuid() },
      { weight: 1, arbitrary: oddString(300).filter((text) => text.length > 0) },
      { weight: 1, arbitrary: fc.string({ minLength: 101, maxLength: 400 }) },
    );
  /** Users: the super admin, users to delete. */
  const idText = idsFrom([adminId, ...poolIds]);
  // Roles: deleteRole runs before patchRole and gets roles of its own, so that the others still
  // find roles to read and change after it.
  const newRoles = async (prefix: string) => {
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const role = await app.inject({ method: 'POST', url: '/scim2/v2/Roles', headers: { authorization: ADMIN_AUTH }, payload: { displayName: `${prefix}-${i}` } });
      ids.push((role.json() as { id: string }).id);
    }
    return ids;
  };
  const roleIdText = idsFrom(await newRoles('kept-role'));
  const doomedRoleIdText = idsFrom(await newRoles('doomed-role'));
  const isDcrIdText = (pool: readonly string[]) =>
    fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...pool) }, { weight: 2, arbitrary: idsFrom(pool) });
  const keptIsDcrIdText = isDcrIdText(keptIsDcrIds);
  const doomedIsDcrIdText = isDcrIdText(doomedIsDcrIds);
  const tenantIdText = idsFrom(tenantIds);
  const tenantDomainText = idsFrom(tenantDomains);
  const idTextFor = (entry: OperationEntry) => {
    if (entry.path.startsWith('/api/server/v1/tenants/domain/')) return tenantDomainText;
    if (entry.path.startsWith('/api/server/v1/tenants/')) return tenantIdText;
    if (entry.path.startsWith('/api/identity/oauth2/dcr/v1.1/register/')) return entry.method === 'delete' ? doomedIsDcrIdText : keptIsDcrIdText;
    return !entry.path.startsWith('/scim2/v2/Roles/') ? idText : entry.operation.operationId === 'deleteRole' ? doomedRoleIdText : roleIdText;
  };

  /**
   * Values for an operation's path parameters: ids as for users, and for an API resource's
   * operations often an existing resource with one of its own scope names.
   */
  function pathArbitrary(entry: OperationEntry, parameters: readonly { name: string }[]): fc.Arbitrary<string[]> {
    const any = fc.tuple(...parameters.map(() => idTextFor(entry)));
    if (!parameters.some((parameter) => parameter.name === 'apiResourceId')) return any;
    const pool = entry.method === 'delete' ? doomedResources : keptResources;
    const known = fc
      .constantFrom(...pool)
      .chain((resource) => fc.tuple(...parameters.map((parameter) => (parameter.name === 'apiResourceId' ? fc.constant(resource.id) : fc.constantFrom(...resource.scopes)))));
    return fc.oneof({ weight: 3, arbitrary: known }, { weight: 2, arbitrary: any });
  }

  // ---------------------------------------------------------------------------------------------
  // Requests for one operation, with the verdict: does the request break the document?

  interface Generated {
    method: string;
    path: string;
    headers: Record<string, string>;
    body: string | undefined;
    /** Why the document says this request cannot succeed, if it does. */
    breaks: string[];
    credential: string;
  }

  function formEncode(value: unknown): string {
    if (!value || typeof value !== 'object' || Array.isArray(value)) return JSON.stringify(value) ?? '';
    const form = new URLSearchParams();
    for (const [key, item] of Object.entries(value)) {
      for (const one of Array.isArray(item) ? item : [item]) form.append(key, typeof one === 'string' ? one : JSON.stringify(one) ?? '');
    }
    return form.toString();
  }

  /** What a form parser makes of `text`: repeated keys become arrays. */
  function formDecode(text: string): Record<string, string | string[]> {
    const result: Record<string, string | string[]> = {};
    for (const [key, value] of new URLSearchParams(text)) {
      const existing = result[key];
      result[key] = existing === undefined ? value : [...[existing].flat(), value];
    }
    return result;
  }

  function bodyArbitrary(entry: OperationEntry) {
    const content = entry.operation.requestBody?.content ?? {};
    const declared = Object.keys(content);
    const schema = content[declared[0] ?? '']?.schema ?? {};
    const invalid = invalidValue(schema);
    const value = invalid ? fc.oneof({ weight: 3, arbitrary: validValue(schema) }, { weight: 2, arbitrary: invalid }) : validValue(schema);
    const contentType = fc.oneof(
      { weight: 8, arbitrary: fc.constantFrom(...declared) },
      { weight: 1, arbitrary: fc.constantFrom('text/plain', 'application/xml', 'application/json', FORM, 'multipart/form-data; boundary=x', 'nonsense') },
      { weight: 1, arbitrary: fc.constant(undefined) },
    );
    const shape = fc.constantFrom('value', 'value', 'value', 'value', 'value', 'value', 'value', 'none', 'oversized');
    return fc.record({ contentType, value, shape }).map(({ contentType, value, shape }) => {
      const breaks: string[] = [];
      const mediaType = contentType?.split(';')[0]!.trim();
      if (shape === 'none') {
        if (entry.operation.requestBody?.required) breaks.push('no body, where one is required');
        return { contentType, body: undefined, breaks };
      }
      if (shape === 'oversized') {
        breaks.push('a body above the body limit');
        return { contentType, body: JSON.stringify({ pad: 'p'.repeat(BODY_LIMIT) }), breaks };
      }
      const body = mediaType === FORM ? formEncode(value) : JSON.stringify(value) ?? '';
      const media: MediaType | undefined = mediaType === undefined ? undefined : content[mediaType];
      if (!media) breaks.push(`content type ${String(contentType)} is not declared`);
      else if (media.schema && !satisfies(media.schema, mediaType === FORM ? formDecode(body) : value)) breaks.push('a body outside the schema');
      return { contentType, body, breaks };
    });
  }

  function requestArbitrary(entry: OperationEntry): fc.Arbitrary<Generated> {
    const pathParameters = entry.parameters.filter((p) => p.in === 'path');
    const queryParameters = entry.parameters.filter((p) => p.in === 'query');
    const security = entry.operation.security ?? doc.security ?? [];
    const anonymousAllowed = security.length === 0 || security.some((requirement) => Object.keys(requirement).length === 0);
    const method = entry.method.toUpperCase();
    // Credentials that pass one of the operation's schemes come up more often than the others.
    const schemes = new Set(security.flatMap((requirement) => Object.keys(requirement)));
    const passing = CREDENTIALS.filter((credential) => credential.passes.some((scheme) => schemes.has(scheme)));
    return fc
      .record({
        method: method === 'GET' ? fc.constantFrom('GET', 'GET', 'GET', 'HEAD') : fc.constant(method),
        path: pathArbitrary(entry, pathParameters),
        // Often only the required parameters: with several optional ones, each mostly given a
        // text outside its rules, a request that reaches the operation's success would be rare.
        query: fc.oneof(
          { weight: 3, arbitrary: fc.tuple(...queryParameters.map(queryText)) },
          { weight: 1, arbitrary: fc.tuple(...queryParameters.map((parameter) => (parameter.required ? queryText(parameter) : fc.constant({ text: undefined, verdict: 'valid' as const })))) },
        ),
        credential: passing.length > 0 ? fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...passing) }, { weight: 2, arbitrary: fc.constantFrom(...CREDENTIALS) }) : fc.constantFrom(...CREDENTIALS),
        body: entry.operation.requestBody ? bodyArbitrary(entry) : fc.constant(undefined),
      })
      .map(({ method, path, query, credential, body }) => {
        const breaks: string[] = [...(body?.breaks ?? [])];
        let url = entry.path;
        pathParameters.forEach((parameter, i) => (url = url.replace(`{${parameter.name}}`, encodeURIComponent(path[i]!))));
        const search = new URLSearchParams();
        query.forEach(({ text, verdict }, i) => {
          if (text !== undefined) search.append(queryParameters[i]!.name, text);
          if (verdict === 'invalid') breaks.push(`query ${queryParameters[i]!.name}=${JSON.stringify(text)} is outside its schema`);
        });
        if (search.size > 0) url += `?${search.toString()}`;
        if (!anonymousAllowed && !security.some((requirement) => Object.keys(requirement).every((scheme) => credential.passes.includes(scheme)))) {
          breaks.push(`${credential.name} passes none of the security requirements`);
        }
        const headers: Record<string, string> = {};
        if (credential.header) headers.authorization = credential.header;
        if (body?.contentType) headers['content-type'] = body.contentType;
        return { method, path: url, headers, body: body?.body, breaks, credential: credential.name };
      });
  }

  // ---------------------------------------------------------------------------------------------
  // The answer against the document.

  const closedSchemas = new WeakMap<Schema, Schema>();
  function closedSchema(schema: Schema): Schema {
    let result = closedSchemas.get(schema);
    if (!result) closedSchemas.set(schema, (result = closed(schema)));
    return result;
  }

  /** Why `res` is not what `response` documents, if it is not. */
  function responseProblems(response: Response, res: Wire, method: string): string[] {
    const problems: string[] = [];
    if (res.status === 405 && !res.headers.allow) problems.push('405 without an Allow header');
    if (res.status === 401 && response.headers?.['WWW-Authenticate'] && !res.headers['www-authenticate']) problems.push('401 without WWW-Authenticate');
    if (method === 'HEAD') return problems;
    const content = response.content;
    if (!content) {
      if (res.body !== '') problems.push(`a body where none is documented: ${res.body.slice(0, 200)}`);
      return problems;
    }
    const mediaType = String(res.headers['content-type'] ?? '').split(';')[0]!.trim();
    const media = content[mediaType];
    if (!media) return [...problems, `content type ${JSON.stringify(mediaType)} is not documented for ${res.status} (${Object.keys(content).join(', ')})`];
    let body: unknown = res.body;
    if (mediaType.endsWith('json')) {
      try {
        body = JSON.parse(res.body);
      } catch {
        return [...problems, `not JSON: ${res.body.slice(0, 200)}`];
      }
    }
    if (media.schema) problems.push(...problemsOf(closedSchema(media.schema), body).map((problem) => `body ${problem}`));
    // The error shapes carry the status too: it must be the one on the wire.
    const record = body as Record<string, unknown> | null;
    if (res.status >= 400 && record && typeof record === 'object') {
      if ('code' in record && 'moreInfo' in record && record.code !== res.status) problems.push(`Error.code ${String(record.code)} is not ${res.status}`);
      if (Array.isArray(record.schemas) && record.schemas.includes(SCIM_ERROR_URN) && record.status !== String(res.status)) {
        problems.push(`SCIM status ${String(record.status)} is not ${res.status}`);
      }
    }
    return problems;
  }

  function describe(request: { method: string; path: string; headers: Record<string, string>; body?: string | undefined }, res: Wire): string {
    return `${request.method} ${request.path.slice(0, 300)} ${JSON.stringify(request.headers)} ${String(request.body).slice(0, 300)}\n→ ${res.status} ${String(res.headers['content-type'])} ${res.body.slice(0, 400)}`;
  }

  /** Runs `property` with the seed and run count; a failure becomes one failed assertion naming the case. */
  async function check<T>(t: Test, name: string, arbitrary: fc.Arbitrary<T>, property: (value: T) => Promise<string[]>, runs = RUNS) {
    const result = await fc.check(
      fc.asyncProperty(arbitrary, async (value) => {
        const problems = await property(value);
        if (problems.length > 0) throw new Error(problems.join('\n'));
      }),
      { seed: SEED, numRuns: runs, endOnFailure: true },
    );
    if (!result.failed) t.pass(`${name}: ${runs} generated requests`);
    else t.fail(`${name}: run ${result.numRuns} of ${runs} (seed ${SEED})\n${result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance)}`);
  }

  // ---------------------------------------------------------------------------------------------

  t.test('every operation has a tag, an operationId and documents 405 and 500', async (t) => {
    for (const { path, method, operation } of operations) {
      t.ok(operation.tags?.length, `${method.toUpperCase()} ${path} has a tag`);
      t.ok(operation.operationId, `${method.toUpperCase()} ${path} has an operationId`);
      for (const status of ['405', '500']) t.ok(operation.responses[status], `${method.toUpperCase()} ${path} documents ${status}`);
    }
  });

  for (const entry of operations) {
    const label = `${entry.method.toUpperCase()} ${entry.path} (${entry.operation.operationId})`;
    t.test(label, async (t) => {
      const seen = new Set<number>();
      await check(t, label, requestArbitrary(entry), async (request) => {
        const res = await send(request.method, request.path, request.headers, request.body);
        seen.add(res.status);
        const documented = entry.operation.responses[String(res.status)];
        const problems = documented ? responseProblems(documented, res, request.method) : [`status ${res.status} is not documented`];
        if (res.status < 300 && request.breaks.length > 0) problems.push(`a success for a request that breaks the document: ${request.breaks.join('; ')}`);
        // Documented as "details are logged": a request that causes one has found a bug.
        if (res.status === 500) problems.push('a 500');
        return problems.length === 0 ? [] : [...problems, `${describe(request, res)} [${request.credential}]`];
      });
      // The generator reaches the operation itself, not only its rejections.
      t.ok([...seen].some((status) => status < 300), `some generated request succeeded (answers: ${[...seen].sort().join(', ')})`);
    });
  }

  t.test('a method a path does not declare: 405 with Allow and the documented body', async (t) => {
    for (const path of Object.keys(doc.paths)) {
      const entries = operations.filter((entry) => entry.path === path);
      const declared = new Set(entries.map((entry) => entry.method.toUpperCase()));
      if (declared.has('GET')) declared.add('HEAD');
      const undeclared = METHODS.filter((method) => !declared.has(method));
      const template = entries[0]!;
      const arbitrary = fc.record({
        method: fc.constantFrom(...undeclared),
        id: idText.filter((id) => id.length <= 100),
        credential: fc.constantFrom(...CREDENTIALS),
        body: fc.option(fc.record({ contentType: fc.constantFrom('application/json', 'text/xml', FORM), size: fc.constantFrom(2, 100, BODY_LIMIT + 10) }), { freq: 2 }),
      });
      await check(t, `${path}: ${undeclared.length} undeclared methods`, arbitrary, async ({ method, id, credential, body }) => {
        const url = template.path.replace(/\{[^}]+\}/, encodeURIComponent(id));
        const headers: Record<string, string> = {};
        if (credential.header) headers.authorization = credential.header;
        let payload: string | undefined;
        if (body) {
          headers['content-type'] = body.contentType;
          payload = JSON.stringify({ pad: 'p'.repeat(body.size) });
        }
        const res =
          method === 'CONNECT'
            ? await sendRaw(`CONNECT ${url} HTTP/1.1\r\nHost: 127.0.0.1\r\n${headers.authorization ? `Authorization: ${headers.authorization}\r\n` : ''}\r\n`)
            : await send(method, url, headers, payload);
        const problems: string[] = [];
        if (res.status !== 405) problems.push(`${res.status}, not 405`);
        const allow = new Set(String(res.headers.allow ?? '').split(/,\s*/).filter(Boolean));
        if ([...declared].sort().join() !== [...allow].sort().join()) problems.push(`Allow ${String(res.headers.allow)} is not ${[...declared].join(', ')}`);
        for (const entry of entries) {
          const documented = entry.operation.responses['405'];
          if (!documented) problems.push(`${entry.operation.operationId} does not document 405`);
          else if (method !== 'HEAD') problems.push(...responseProblems(documented, res, method));
        }
        return problems.length === 0 ? [] : [...problems, describe({ method, path: url, headers, body: payload }, res)];
      }, 40);
    }
  });

  // ---------------------------------------------------------------------------------------------
  // Requests outside every operation: the document's description promises these answers.

  const templates = Object.keys(doc.paths).map((path) => new RegExp(`^${path.replace(/\{[^}]+\}/g, '[^/]+')}$`));
  const ERROR = doc.components.schemas.Error!;
  const SCIM_ERROR = doc.components.schemas.ScimError!;
  const IS_ERROR = doc.components.schemas.IsError!;
  /** The error shape of an answer that no operation gives: SCIM's under /scim2, IS's under /api/server/, else the Error. */
  const DCR_ERROR = doc.components.schemas.DcrError!;
  /** ... and RFC 7591's under /api/identity/ (IS's DCR v1.1). */
  const errorSchemaFor = (path: string) =>
    /^\/scim2(\/|$)/.test(path) ? SCIM_ERROR : path.startsWith('/api/server/') ? IS_ERROR : path.startsWith('/api/identity/') ? DCR_ERROR : ERROR;
  const errorMediaFor = (path: string) => (/^\/scim2(\/|$)/.test(path) ? 'application/scim+json' : 'application/json');

  function documentLevel(res: Wire, status: number, path: string): string[] {
    const problems: string[] = [];
    if (res.status !== status) problems.push(`${res.status}, not ${status}`);
    problems.push(...responseProblems({ description: '', content: { [errorMediaFor(path)]: { schema: errorSchemaFor(path) } } }, res, 'GET'));
    return problems;
  }

  t.test('the document says what any request outside its operations gets', async (t) => {
    t.match(doc.info.description, /404/, 'the description names the answer to an unknown path');
    for (const status of ['400', '408', '431', '501']) t.match(doc.info.description, new RegExp(status), `the description names ${status}`);

    const segment = fc.oneof(fc.constantFrom('scim2', 'Users', 'oauth2', 'token', 'client-registration', 'v0.17', 'register', 'health', 'x'), fc.webSegment());
    const unknownPath = fc
      .array(segment, { minLength: 1, maxLength: 4 })
      .map((segments) => `/${segments.join('/')}`)
      .filter((path) => !templates.some((template) => template.test(path)) && !/^\/docs(\/|$)/.test(path));
    await check(t, 'unknown paths: 404', fc.tuple(unknownPath, fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'QUERY', 'PROPFIND'), fc.constantFrom(...CREDENTIALS)), async ([path, method, credential]) => {
      const headers: Record<string, string> = credential.header ? { authorization: credential.header } : {};
      const res = await send(method, path, headers);
      const problems = documentLevel(res, 404, path);
      return problems.length === 0 ? [] : [...problems, describe({ method, path, headers }, res)];
    }, 40);

    const declaredPath = fc.constantFrom(...Object.keys(doc.paths)).map((path) => path.replace(/\{[^}]+\}/, 'x'));
    await check(t, 'malformed percent-encoding in the path: 400', fc.tuple(declaredPath, fc.constantFrom('%', '%zz', '%e0%80', '%c0')), async ([path, bad]) => {
      const url = `${path}${bad}`;
      const res = await send('GET', url, { authorization: ADMIN_AUTH });
      const problems = documentLevel(res, 400, url);
      return problems.length === 0 ? [] : [...problems, describe({ method: 'GET', path: url, headers: {} }, res)];
    }, 20);

    await check(t, 'request line and headers above 16 KiB: 431', fc.tuple(declaredPath, fc.integer({ min: 17_000, max: 40_000 }), fc.boolean()), async ([path, size, inUrl]) => {
      const text = inUrl
        ? `GET ${path}?pad=${'p'.repeat(size)} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`
        : `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ${'p'.repeat(size)}\r\n\r\n`;
      return documentLevel(await sendRaw(text), 431, '/');
    }, 10);

    await check(t, 'a request line that is not HTTP: 400; a method no parser knows: 501', fc.tuple(declaredPath, fc.constantFrom('bad-line', 'FOO', 'get', 'BREW')), async ([path, kind]) => {
      const text = kind === 'bad-line' ? `GET ${path} HTTP/1.1 extra\r\n\r\n` : `${kind} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
      return documentLevel(await sendRaw(text), kind === 'bad-line' ? 400 : 501, '/');
    }, 10);
  });

  t.teardown(() => agent.destroy());
});
