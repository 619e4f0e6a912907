import type { FastifyReply } from 'fastify';
import type { components, operations } from '../../../generated/dcr-api.js';
import type { Application } from '../../domain/types.js';
import type { Metrics } from '../../observability/metrics.js';
import { readBoolean, readString } from '../../domain/wire-coercion.js';
import type { RegistrationRequest, RegistrationService } from '../../services/registration.js';
import { callerOf } from '../caller.js';
import type { OperationHandlers, OperationRequest } from './operations.js';

type DCR = components['schemas']['DCR'];
type DCRResult = components['schemas']['DCRResult'];

/** The 200 body WSO2 sends for an application. */
export function toDcrResult(app: Application): DCRResult {
  return {
    clientId: app.clientId,
    clientName: app.clientName,
    callBackURL: app.callbackUrl,
    callbackUrl: app.callbackUrl,
    clientSecret: app.clientSecret,
    isSaasApplication: app.saasApp,
    appOwner: app.owner,
    // WSO2 builds this by hand as a JSON string inside the JSON; clients parse it separately.
    jsonString: JSON.stringify({
      grant_types: app.grantTypes.join(' '),
      redirect_uris: app.callbackUrl,
      client_name: app.clientName,
    }),
    jsonAppAttribute: '{}',
    applicationUUID: app.id,
    tokenType: app.tokenType,
  };
}

/**
 * The body as the service takes it. The route has already read the lenient spellings (src/app.ts);
 * reading them again here keeps the handler correct for every value its type admits.
 */
export function registrationRequest(body: DCR): RegistrationRequest {
  return {
    clientName: readString(body.clientName),
    owner: readString(body.owner),
    grantType: readString(body.grantType),
    callbackUrl: readString(body.callbackUrl),
    tokenType: readString(body.tokenType),
    saasApp: readBoolean(body.saasApp),
    userStoreDomainInSubject: readBoolean(body.userStoreDomainInSubject),
    userstoreDomainInSubject: readBoolean(body.userstoreDomainInSubject),
  };
}

/** Glue service for spec/wso2-dcr-api.yaml: one thin method per operationId. */
export class DcrService implements OperationHandlers<operations> {
  constructor(
    private readonly registration: RegistrationService,
    private readonly metrics: Metrics,
  ) {}

  async registerApplication(
    request: OperationRequest<operations['registerApplication']>,
    reply: FastifyReply,
  ): Promise<DCRResult> {
    const { application, created } = await this.registration.register(callerOf(request), registrationRequest(request.body));
    this.metrics.registration(created);
    // The body carries a client secret: never cached (RFC 6749 §5.1).
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    return toDcrResult(application);
  }
}
