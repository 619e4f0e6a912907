import { randomUUID } from 'node:crypto';
import type { PasswordHasher } from '../crypto/passwords.js';
import type { Caller, User } from '../domain/types.js';
import { SUPER_TENANT, type Tenant } from '../domain/tenants.js';
import type { TenantDirectory } from './tenant-directory.js';
import { badRequest, conflict, forbidden, notFound, unauthorized } from '../domain/errors.js';
import { DuplicateUserName, type UserPage, type UserRepository } from '../repositories/users.js';

/**
 * WSO2's default user-store rule, ASCII only: letters, digits, '.', '_' and '-', plus '@' for
 * tenant users (`user@tenant.com`); 3 to 64 characters. Names that only look alike cannot both
 * exist: no other script (`аdmin` with a Cyrillic а beside `admin`; uniqueness ignores case, so
 * `Admin` is taken too) and no white space (`admin ` beside `admin`). ':' (it would split a Basic
 * credential) and NUL (PostgreSQL text cannot hold it) are outside it as well. Only names being
 * created are checked: a stored name from before the rule keeps logging in.
 */
export const USERNAME_PATTERN = /^[a-zA-Z0-9._@-]{3,64}$/;
export const PASSWORD_MIN = 5;
export const PASSWORD_MAX = 1024;

/** The userName rule a new user breaks, as the sentence to answer with; undefined when it breaks none. */
export function userNameProblem(userName: string): string | undefined {
  if (/^\s|\s$/u.test(userName)) return 'userName must not begin or end with white space';
  if (!USERNAME_PATTERN.test(userName)) {
    return "userName must be 3 to 64 characters of ASCII letters, digits, '.', '_', '-' and '@'";
  }
  return undefined;
}

export function checkNewUser(userName: string, password: string): void {
  const problem = userNameProblem(userName);
  if (problem !== undefined) {
    throw badRequest(problem, [{ code: 'userName', message: 'invalid userName' }], 'invalidValue');
  }
  checkPassword(password);
}

export function checkPassword(password: string): void {
  if ([...password].length < PASSWORD_MIN || [...password].length > PASSWORD_MAX) {
    throw badRequest(
      `password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters`,
      [{ code: 'password', message: 'invalid password' }],
      'invalidValue',
    );
  }
}

/** User management behind /scim2/Users, and the super admin's bootstrap; each call within one tenant. */
export class UserService {
  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
    readonly superAdmin: string,
    /** Who owns each tenant: its owner, its admin, is not deleted. */
    private readonly tenants: Pick<TenantDirectory, 'resolve'> = { resolve: async () => undefined },
  ) {}

  async create(tenant: Tenant, userName: string, password: string): Promise<User> {
    checkNewUser(userName, password);
    const passwordHash = await this.hasher.hash(password);
    try {
      return await this.users.create(tenant.id, { id: randomUUID(), username: userName, passwordHash });
    } catch (err) {
      if (err instanceof DuplicateUserName) {
        throw conflict(`A user named '${userName}' already exists`, 'uniqueness');
      }
      throw err;
    }
  }

  async get(tenant: Tenant, id: string): Promise<User> {
    const user = await this.users.findById(tenant.id, id);
    if (!user) throw notFound(`User ${id} not found`);
    return user;
  }

  /**
   * The caller's own user (/scim2/Me). Its account can go between the check of its credentials and
   * this read: then the credentials name no one, as for any other request (401).
   */
  async me(caller: Caller): Promise<User> {
    const user = await this.users.findById(caller.tenant.id, caller.userId);
    if (!user) throw unauthorized();
    return user;
  }

  /** SCIM's userName is not case-exact (RFC 7643 §4.1.1): filters match it ignoring case. */
  findByUserNameIgnoringCase(tenant: Tenant, userName: string): Promise<User | undefined> {
    return this.users.findByUsernameIgnoringCase(tenant.id, userName);
  }

  findByUserName(tenant: Tenant, userName: string): Promise<User | undefined> {
    return this.users.findByUsername(tenant.id, userName);
  }

  list(tenant: Tenant, offset: number, limit: number): Promise<UserPage> {
    return this.users.list(tenant.id, offset, limit);
  }

  async delete(tenant: Tenant, id: string): Promise<void> {
    const user = await this.get(tenant, id);
    if (tenant.id === SUPER_TENANT.id && user.username === this.superAdmin) throw forbidden('The super admin cannot be deleted');
    if (tenant.id !== SUPER_TENANT.id && (await this.tenants.resolve(tenant.domain))?.ownerId === user.id) {
      throw forbidden("The tenant's owner (its admin) cannot be deleted");
    }
    if (!(await this.users.delete(tenant.id, id))) throw notFound(`User ${id} not found`);
  }

  /**
   * Sets a user's password (same length rules as at creation), re-hashed with the current
   * parameters. Credentials cached by running servers stop matching at once: the cache is keyed
   * on the stored hash.
   */
  async changePassword(tenant: Tenant, userName: string, password: string): Promise<User> {
    checkPassword(password);
    const user = await this.users.findByUsername(tenant.id, userName);
    if (!user) throw notFound(`No user named '${userName}'`);
    await this.users.setPasswordHash(tenant.id, user.id, await this.hasher.hash(password));
    return user;
  }

  /**
   * Makes sure the super admin (of the super tenant) exists. Its password comes from DCR_ADMIN_PASSWORD when set (which
   * also resets a forgotten one on the next start), else from `generate` on first start only.
   * Returns the generated password, if one was generated, for the caller to show once.
   */
  async bootstrapAdmin(password: string | undefined, generate: (() => string) | undefined): Promise<string | undefined> {
    const tenant = SUPER_TENANT.id;
    const existing = await this.users.findByUsername(tenant, this.superAdmin);
    if (existing) {
      if (password !== undefined && !(await this.hasher.verify(password, existing.passwordHash))) {
        await this.users.setPasswordHash(tenant, existing.id, await this.hasher.hash(password));
      }
      return undefined;
    }
    const chosen = password ?? generate?.();
    if (chosen === undefined) {
      throw new Error(`The super admin '${this.superAdmin}' does not exist yet: set DCR_ADMIN_PASSWORD to create it`);
    }
    try {
      await this.users.create(tenant, { id: randomUUID(), username: this.superAdmin, passwordHash: await this.hasher.hash(chosen) });
    } catch (err) {
      // Another instance bootstrapped it at the same moment: theirs stands.
      if (err instanceof DuplicateUserName) return undefined;
      throw err;
    }
    return password === undefined ? chosen : undefined;
  }
}
