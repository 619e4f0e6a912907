import type { FastifyReply } from 'fastify';
import type { AppServices } from '../../app.js';
import { ApiError } from '../../domain/errors.js';
import type { ErrorFormat } from '../error-handler.js';
import type { OpenApiDocument } from '../spec.js';
import type { OperationRequest, SuccessBody } from './operations.js';

/**
 * Handlers that live in src/http/handlers/scaffold/, one file per operationId, beside the handler
 * classes. `npm run generate` (scripts/scaffold-handlers.ts) writes such a file for every operation
 * of spec/ that has no handler yet: a stub that answers 501 Not Implemented until it is replaced
 * by the real handler, in the same file. A file there is its operation's handler: src/app.ts
 * mounts it (withScaffolds), and OperationHandlers (./operations.ts) no longer asks a handler
 * class for that operation. The served document lists the 501 on exactly the operations whose
 * file is still the stub (documentScaffolds).
 */

/** The spec/ documents (src/http/spec.ts loadSpec). */
export type SpecFile = 'wso2-dcr-api.yaml' | 'platform-api.yaml';

/** One operation's handler, typed from the generated operations as the handler classes' methods are. */
export type OperationHandler<Ops, K extends keyof Ops> = (
  request: OperationRequest<Ops[K]>,
  reply: FastifyReply,
) => Promise<SuccessBody<Ops[K]>>;

/** How a file in scaffold/ gives its handler: made once, from the app's collaborators. */
export type OperationFactory<Ops, K extends keyof Ops> = (services: AppServices) => OperationHandler<Ops, K>;

/** One entry of scaffold/index.ts: the operation's spec/ document and its file's factory. */
export interface Scaffold {
  readonly spec: SpecFile;
  readonly factory: (services: AppServices) => (request: never, reply: FastifyReply) => Promise<unknown>;
}

export type Scaffolds = Readonly<Record<string, Scaffold>>;

const NOT_IMPLEMENTED = Symbol('scaffolded stub');

type NotImplementedFactory = ((services: AppServices) => (request: unknown, reply: FastifyReply) => Promise<never>) & {
  readonly [NOT_IMPLEMENTED]: string;
};

/** What a stub answers: 501, rendered in the route's error shape like any other error. */
export function notImplementedError(operationId: string): ApiError {
  return new ApiError(501, 'Not Implemented', `The operation ${operationId} is not implemented yet`);
}

/** The stub a scaffolded file starts as: a handler for any operation that answers 501. */
export function notImplemented(operationId: string): NotImplementedFactory {
  const factory = () => async (): Promise<never> => {
    throw notImplementedError(operationId);
  };
  return Object.assign(factory, { [NOT_IMPLEMENTED]: operationId });
}

/** Whether a scaffolded file still holds the stub (its operation answers 501). */
export function isNotImplemented(factory: unknown): boolean {
  return typeof factory === 'function' && NOT_IMPLEMENTED in factory;
}

/**
 * The methods of a glue service, as glue looks them up (`operationId in service`): its own
 * function-valued properties and those of its prototypes (a class's methods).
 */
export function handlerNames(service: object): string[] {
  const names = new Set<string>();
  for (let object: object | null = service; object && object !== Object.prototype; object = Object.getPrototypeOf(object)) {
    for (const name of Object.getOwnPropertyNames(object)) {
      if (name !== 'constructor' && typeof (object as Record<string, unknown>)[name] === 'function') names.add(name);
    }
  }
  return [...names];
}

/**
 * The glue service of one spec/ document: `service` (a handler class or object) with the
 * scaffolded handlers of that document. A scaffolded file is its operation's handler, also when
 * the service has a method of that name (scripts/scaffold-handlers.ts --check refuses that state),
 * so that what answers is always what the served document describes. Without scaffolds for the
 * document, `service` itself.
 */
export function withScaffolds(scaffolds: Scaffolds, spec: SpecFile, service: object, services: AppServices): object {
  const own = Object.entries(scaffolds).filter(([, scaffold]) => scaffold.spec === spec);
  if (own.length === 0) return service;
  const composed: Record<string, unknown> = {};
  for (const name of handlerNames(service)) {
    composed[name] = ((service as Record<string, unknown>)[name] as (...args: unknown[]) => unknown).bind(service);
  }
  for (const [operationId, scaffold] of own) composed[operationId] = scaffold.factory(services);
  return composed;
}

interface DocumentResponse {
  $ref?: string;
  content?: Record<string, unknown>;
}

interface DocumentOperation {
  operationId?: string;
  responses?: Record<string, DocumentResponse>;
  'x-fastify-config'?: { errorFormat?: ErrorFormat };
}

/** The shared response each error shape documents a stub's 501 with (spec/ components.responses). */
const NOT_IMPLEMENTED_RESPONSE: Readonly<Record<ErrorFormat, string>> = {
  wso2: 'NotImplemented',
  scim: 'ScimNotImplemented',
  oauth: 'OAuthNotImplemented',
  is: 'IsNotImplemented',
  dcr: 'DcrNotImplemented',
};

/**
 * The error shape of an operation, read as src/app.ts reads it from the route: its
 * `x-fastify-config.errorFormat`, else SCIM's when a response is `application/scim+json`, else
 * the `Error`.
 */
function errorFormatOf(doc: OpenApiDocument, operation: DocumentOperation): ErrorFormat {
  if (operation['x-fastify-config']?.errorFormat) return operation['x-fastify-config'].errorFormat;
  const shared = (doc.components?.responses ?? {}) as Record<string, DocumentResponse>;
  const responses = Object.values(operation.responses ?? {}).map((response) =>
    response.$ref?.startsWith('#/components/responses/') ? shared[response.$ref.slice('#/components/responses/'.length)] : response,
  );
  return responses.some((response) => response?.content?.['application/scim+json']) ? 'scim' : 'wso2';
}

/**
 * `doc` (one spec/ document as parsed) with a 501 on every operation whose scaffolded file still
 * holds the stub: every status the server answers is in the served document, and a stub's 501
 * is there exactly as long as the stub is. Changes `doc` and returns it.
 */
export function documentScaffolds(scaffolds: Scaffolds, spec: SpecFile, doc: OpenApiDocument): OpenApiDocument {
  const stubs = new Set(
    Object.entries(scaffolds)
      .filter(([, scaffold]) => scaffold.spec === spec && isNotImplemented(scaffold.factory))
      .map(([operationId]) => operationId),
  );
  if (stubs.size === 0) return doc;
  const shared = (doc.components?.responses ?? {}) as Record<string, unknown>;
  for (const item of Object.values(doc.paths)) {
    for (const operation of Object.values(item) as DocumentOperation[]) {
      if (!operation || typeof operation !== 'object' || !operation.operationId || !stubs.has(operation.operationId)) continue;
      const name = NOT_IMPLEMENTED_RESPONSE[errorFormatOf(doc, operation)];
      if (!shared[name]) throw new Error(`spec/${spec} has no components.responses.${name}, the 501 of the stub of ${operation.operationId}`);
      operation.responses = { ...operation.responses, 501: { $ref: `#/components/responses/${name}` } };
    }
  }
  return doc;
}
