import type { FastifyReply, FastifyRequest } from 'fastify';

/**
 * Types that tie the glue service classes to the operations openapi-typescript generated from
 * spec/: a service must have one method per operationId, taking that operation's request and
 * returning its success body. An operation added to the spec without a handler fails `tsc`
 * (proved by test/types/missing-handler.ts).
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

export type OperationHandlers<Ops> = {
  [K in keyof Ops]: (request: OperationRequest<Ops[K]>, reply: FastifyReply) => Promise<SuccessBody<Ops[K]>>;
};
