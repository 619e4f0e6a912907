import { v7 as timeOrderedUuid } from 'uuid';
import { pooledRandomBytes, randomWso2Token, timeOrderedClientId } from '../crypto/random.js';
import { ForeignKeyViolation, UniqueViolation } from '../db/errors.js';
import { ApiError } from '../domain/errors.js';
import {
  checkPresets,
  checkRedirectUris,
  checkUpdateClientId,
  dcrErrors,
  encodeRedirectUris,
  lifetimesOf,
  mayManage,
  requestedOwner,
  requireIsClientName,
  resolveIsGrantTypes,
  resolveTokenType,
  secretExpiresAtOf,
  storedMetadata,
  type IsDcrRequest,
  type LifetimeLimits,
} from '../domain/is-dcr.js';
import { checkOwnerAllowed } from '../domain/registration-rules.js';
import { localName } from '../domain/tenants.js';
import type { Caller, IsApplication } from '../domain/types.js';
import type { ApplicationRepository } from '../repositories/applications.js';
import type { UserRepository } from '../repositories/users.js';
import type { ClientAuthentication } from './client-authentication.js';

/** What a request's metadata fields make of the shared row (everything but ids, secret, owner and name). */
type RowFields = Pick<IsApplication, 'grantTypes' | 'callbackUrl' | 'tokenType' | 'lifetimes'> & {
  redirectUris: readonly string[];
};

/**
 * WSO2 IS DCR v1.1 over the one application store v0.17 uses: an app registered on either surface
 * is the same app on the other (same row, id, secret, owner and name rules).
 */
export class IsDcrService {
  constructor(
    private readonly apps: ApplicationRepository,
    private readonly users: UserRepository,
    private readonly allowedGrantTypes: readonly string[],
    /** The server's token lifetimes: each app lifetime's default and cap. */
    readonly limits: LifetimeLimits,
    /** Forgets a changed or deleted app's verified client on this instance. */
    private readonly clients: ClientAuthentication,
  ) {}

  async create(caller: Caller, request: IsDcrRequest): Promise<IsApplication> {
    checkPresets(request, Math.floor(Date.now() / 1000));
    const clientName = requireIsClientName(request.client_name);
    const named = requestedOwner(request.ext_application_owner);
    const owner = named === undefined ? caller.username : localName(named, caller.tenant);
    const ownerId = await this.ownerId(caller, owner);
    const fields = this.rowFields(request);
    const clientId = request.ext_param_client_id ?? timeOrderedClientId();
    try {
      return await this.apps.createIs({
        id: timeOrderedUuid({ random: pooledRandomBytes(16) }),
        // In the caller's tenant (the path's, which the caller's account must be in).
        tenantId: caller.tenant.id,
        clientId,
        clientSecret: request.ext_param_client_secret ?? randomWso2Token(),
        clientName,
        owner,
        ownerId,
        grantTypes: fields.grantTypes,
        callbackUrl: fields.callbackUrl,
        saasApp: false,
        tokenType: fields.tokenType,
        userStoreDomainInSubject: false,
        lifetimes: fields.lifetimes,
        metadata: storedMetadata(request, fields.redirectUris, request.ext_param_client_secret_expires_at ?? 0),
      });
    } catch (err) {
      throw this.storeError(err, clientName, clientId, owner);
    }
  }

  /** GET /{client_id}: the app with its plaintext secret, for its owner or the super admin. */
  async get(caller: Caller, clientId: string): Promise<IsApplication> {
    return this.managed(caller, await this.apps.findIsByClientId(caller.tenant.id, clientId));
  }

  /** GET ?client_name=: one app by its exact name. */
  async getByName(caller: Caller, clientName: string): Promise<IsApplication> {
    return this.managed(caller, await this.apps.findIsByName(caller.tenant.id, clientName));
  }

  /**
   * PUT /{client_id}: the body replaces the app's metadata (RFC 7592 §2.2: a field left out is
   * none, or the default), except that a missing client_name keeps the name and a missing
   * ext_application_owner the owner. Ids, secret and its expiry never change here: client_id in the
   * body must be the path's, client_secret and the ext_param_* presets are ignored.
   */
  async update(caller: Caller, clientId: string, request: IsDcrRequest): Promise<IsApplication> {
    const current = await this.get(caller, clientId);
    checkUpdateClientId(clientId, request.client_id);
    const clientName = request.client_name === undefined || request.client_name === null ? current.clientName : requireIsClientName(request.client_name);
    const named = requestedOwner(request.ext_application_owner);
    const owner = named === undefined ? current.owner : localName(named, caller.tenant);
    const ownerId = owner === current.owner ? current.ownerId : await this.ownerId(caller, owner);
    const fields = this.rowFields(request);
    let updated: IsApplication | undefined;
    try {
      updated = await this.apps.updateIs({
        id: current.id,
        tenantId: current.tenantId,
        clientName,
        owner,
        ownerId,
        grantTypes: fields.grantTypes,
        callbackUrl: fields.callbackUrl,
        saasApp: current.saasApp,
        tokenType: fields.tokenType,
        userStoreDomainInSubject: current.userStoreDomainInSubject,
        lifetimes: fields.lifetimes,
        metadata: storedMetadata(request, fields.redirectUris, secretExpiresAtOf(current.metadata)),
      });
    } catch (err) {
      throw this.storeError(err, clientName, clientId, owner);
    }
    this.clients.forgetApplication(current.tenantId, current.clientId, current.clientSecret);
    // Deleted between the read and the update.
    if (!updated) throw dcrErrors.notFound();
    return updated;
  }

  /** DELETE /{client_id}: the app and, by the foreign keys, every token issued to it. */
  async delete(caller: Caller, clientId: string): Promise<void> {
    const current = await this.get(caller, clientId);
    const deleted = await this.apps.deleteById(current.tenantId, current.id);
    this.clients.forgetApplication(current.tenantId, current.clientId, current.clientSecret);
    if (!deleted) throw dcrErrors.notFound();
  }

  private managed(caller: Caller, app: IsApplication | undefined): IsApplication {
    if (!app) throw dcrErrors.notFound();
    if (!mayManage(caller, app)) throw dcrErrors.notOwner();
    return app;
  }

  /**
   * The owner's account, by v0.17's rules (the super admin may name any existing user, anyone else
   * only themselves), each refusal told as IS's invalid_client_metadata.
   */
  private async ownerId(caller: Caller, owner: string): Promise<string> {
    const ownerId = owner === caller.username ? caller.userId : (await this.users.findByUsername(caller.tenant.id, owner))?.id;
    try {
      checkOwnerAllowed(caller, owner, ownerId !== undefined);
    } catch (err) {
      if (err instanceof ApiError && err.statusCode < 500) throw dcrErrors.invalidClientMetadata(err.description);
      throw err;
    }
    return ownerId!;
  }

  private rowFields(request: IsDcrRequest): RowFields {
    const redirectUris = request.redirect_uris ?? [];
    checkRedirectUris(redirectUris);
    return {
      redirectUris,
      grantTypes: resolveIsGrantTypes(request.grant_types, redirectUris, this.allowedGrantTypes),
      callbackUrl: encodeRedirectUris(redirectUris),
      tokenType: resolveTokenType(request),
      lifetimes: lifetimesOf(request),
    };
  }

  /** A refused write, by the constraint that refused it (SQLSTATE, never message text). */
  private storeError(err: unknown, clientName: string, clientId: string, owner: string): unknown {
    if (err instanceof UniqueViolation && err.constraint === 'applications_client_name_key') return dcrErrors.nameTaken(clientName);
    if (err instanceof UniqueViolation && err.constraint === 'applications_client_id_key') return dcrErrors.clientIdTaken(clientId);
    if (err instanceof ForeignKeyViolation && err.constraint === 'applications_owner_id_fkey') {
      return dcrErrors.invalidClientMetadata(`User: ${owner} does not exist for application registration`);
    }
    return err;
  }
}
