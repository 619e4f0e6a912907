import type { FastifyReply, FastifyRequest } from 'fastify';
import type { scaffolds } from './scaffold/index.js';

/**
 * Types that tie the glue service classes to the operations openapi-typescript generated from
 * spec/: a service must have one method per operationId, taking that operation's request and
 * returning its success body. An operation added to the spec without a handler fails `tsc`
 * (proved by test/types/missing-handler.ts). The operations whose handler is a file in
 * src/http/handlers/scaffold/ (`npm run generate` writes a stub there for each operation without
 * a handler; src/app.ts mounts them) are the exception: no service is asked for them.
 */
type ContentOf<T> = T extends { content: infer C } ? C[keyof C] : undefined;
type SuccessStatus = 200 | 201 | 202 | 204;

export type SuccessBody<Op> = Op extends { responses: infer R }
  ? { [S in keyof R]: S extends SuccessStatus ? ContentOf<R[S]> : never }[keyof R]
  : never;

export type RequestBody<Op> = Op extends { requestBody: { content: infer C } }
  ? C[keyof C]
  : Op extends { requestBody?: { content: infer C } }
    ? C[keyof C] | undefined
    : undefined;

type Param<Op, In extends string> = Op extends { parameters: { [K in In]?: infer P } }
  ? [P] extends [never] | [undefined]
    ? Record<string, never>
    : NonNullable<P>
  : Record<string, never>;

export type OperationRequest<Op> = FastifyRequest<{
  Body: RequestBody<Op>;
  Querystring: Param<Op, 'query'>;
  Params: Param<Op, 'path'>;
}>;

/** The operationIds handled by a file in src/http/handlers/scaffold/ (./scaffolding.ts). */
type Scaffolded = keyof typeof scaffolds;

export type OperationHandlers<Ops> = {
  [K in Exclude<keyof Ops, Scaffolded>]: (request: OperationRequest<Ops[K]>, reply: FastifyReply) => Promise<SuccessBody<Ops[K]>>;
};
