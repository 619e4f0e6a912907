import type { FastifyReply } from 'fastify';
import type { components, operations } from '../../../generated/platform-api.js';
import { isDcrResponse } from '../../domain/is-dcr.js';
import type { IsApplication } from '../../domain/types.js';
import type { IsDcrService } from '../../services/is-dcr.js';
import { callerOf } from '../caller.js';
import type { OperationHandlers, OperationRequest } from './operations.js';

type IsDcrApplication = components['schemas']['IsDcrApplication'];

/** The path of IS's DCR v1.1, under the server root (`registration_endpoint` in the metadata). */
export const IS_DCR_PATH = '/api/identity/oauth2/dcr/v1.1/register';

type IsDcrOperations = Pick<
  operations,
  'registerIsApplication' | 'getIsApplicationByName' | 'getIsApplication' | 'updateIsApplication' | 'deleteIsApplication'
>;

/** /api/identity/oauth2/dcr/v1.1/register: WSO2 IS's DCR, as API Manager's WSO2-IS-7 Key Manager connector calls it. */
export class IsDcrHandlers implements OperationHandlers<IsDcrOperations> {
  constructor(private readonly dcr: IsDcrService) {}

  /** Every answer carries the client secret: never cached (RFC 6749 §5.1, RFC 7591 §3.2.1). */
  private answer(app: IsApplication, reply: FastifyReply): IsDcrApplication {
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return isDcrResponse(app, this.dcr.limits) as IsDcrApplication;
  }

  async registerIsApplication(request: OperationRequest<operations['registerIsApplication']>, reply: FastifyReply): Promise<IsDcrApplication> {
    const app = await this.dcr.create(callerOf(request), request.body);
    reply.code(201);
    return this.answer(app, reply);
  }

  async getIsApplicationByName(request: OperationRequest<operations['getIsApplicationByName']>, reply: FastifyReply): Promise<IsDcrApplication> {
    return this.answer(await this.dcr.getByName(callerOf(request), request.query.client_name), reply);
  }

  async getIsApplication(request: OperationRequest<operations['getIsApplication']>, reply: FastifyReply): Promise<IsDcrApplication> {
    return this.answer(await this.dcr.get(callerOf(request), request.params.client_id), reply);
  }

  async updateIsApplication(request: OperationRequest<operations['updateIsApplication']>, reply: FastifyReply): Promise<IsDcrApplication> {
    return this.answer(await this.dcr.update(callerOf(request), request.params.client_id, request.body), reply);
  }

  async deleteIsApplication(request: OperationRequest<operations['deleteIsApplication']>, reply: FastifyReply): Promise<undefined> {
    await this.dcr.delete(callerOf(request), request.params.client_id);
    reply.code(204);
    return undefined;
  }
}
