/**
 * Type-level proof that an operation added to the spec without a handler fails `tsc`.
 *
 * This file is never run (package.json `tap.exclude` skips test/types/); it is type-checked by
 * `tsc -p .` because tsconfig.json includes test/. Each `@ts-expect-error` below is itself an
 * assertion: if the line under it ever compiles, tsc reports "Unused '@ts-expect-error' directive"
 * and the type check fails. So the proof holds in both directions:
 *
 * - the real service satisfies `OperationHandlers<operations>` (the positive assignments compile);
 * - `ExtendedOps` is what openapi-typescript would generate after a new operation is added to
 *   spec/wso2-dcr-api.yaml; `DcrService` has no method for it, so it is not an
 *   `OperationHandlers<ExtendedOps>`, and a class declaring `implements` of it fails (TS2420).
 *
 * test/build/type-proof.test.ts checks the same with a real tsc run and the exact error code.
 */
import type { FastifyReply } from 'fastify';
import type { components, operations } from '../../generated/dcr-api.js';
import { DcrService } from '../../src/http/handlers/dcr.js';
import type { OperationHandlers, OperationRequest, SuccessBody } from '../../src/http/handlers/operations.js';

/** An operation shaped like registerApplication, under a new operationId. */
type NewOperation = {
  parameters: { query?: never; header?: never; path?: never; cookie?: never };
  requestBody: { content: { 'application/json': components['schemas']['DCR'] } };
  responses: {
    200: { headers: { [name: string]: unknown }; content: { 'application/json': components['schemas']['DCRResult'] } };
    400: components['responses']['BadRequest'];
  };
};

/** The generated `operations` after `newOperation` was added to the spec. */
type ExtendedOps = operations & { newOperation: NewOperation };

/** A real instance, whatever the constructor's collaborators are (they do not matter to the types). */
const service = new DcrService(...(undefined as unknown as ConstructorParameters<typeof DcrService>));

// Positive: the service as it is handles every operation of the current spec.
export const current: OperationHandlers<operations> = service;

// Negative: the same instance does not handle the extended spec; `newOperation` is missing.
// @ts-expect-error Property 'newOperation' is missing in type 'DcrService'.
export const extended: OperationHandlers<ExtendedOps> = service;

// Negative, as a service class would meet it: `implements` names the missing operation (TS2420).
// @ts-expect-error Class 'StaleService' incorrectly implements 'OperationHandlers<ExtendedOps>'.
export class StaleService implements OperationHandlers<ExtendedOps> {
  async registerApplication(
    _request: OperationRequest<operations['registerApplication']>,
    _reply: FastifyReply,
  ): Promise<SuccessBody<operations['registerApplication']>> {
    throw new Error('not called');
  }
}

// Positive: adding the handler is what makes it compile again.
export class UpToDateService extends StaleService implements OperationHandlers<ExtendedOps> {
  async newOperation(
    _request: OperationRequest<NewOperation>,
    _reply: FastifyReply,
  ): Promise<SuccessBody<NewOperation>> {
    throw new Error('not called');
  }
}

// Negative: a handler must return the operation's success body, not just anything.
export const wrongBody: OperationHandlers<operations> = {
  // @ts-expect-error Type 'Promise<{ clientId: string; }>' is not assignable (DCRResult's required keys are missing).
  registerApplication: async () => ({ clientId: 'x' }),
};
