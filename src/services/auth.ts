import type { PasswordHasher } from '../crypto/passwords.js';
import type { Caller } from '../domain/types.js';
import { unauthorized } from '../errors.js';
import type { UserRepository } from '../repositories/users.js';

/** Splits an RFC 7617 Basic credential; undefined for anything malformed or with an empty part. */
export function parseBasicAuthorization(header: string | undefined): { username: string; password: string } | undefined {
  if (!header) return undefined;
  const match = /^Basic[ ]+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  if (password === '') return undefined;
  return { username, password };
}

/**
 * Authenticates callers against the user store. Every failure is the same 401, and an unknown
 * user costs the same KDF time as a wrong password, so neither the answer nor its timing tells
 * which part was wrong (wso2-behavior.md §2).
 */
export class Authenticator {
  constructor(
    private readonly users: UserRepository,
    private readonly hasher: PasswordHasher,
    private readonly superAdmin: string,
  ) {}

  async authenticateBasic(header: string | undefined): Promise<Caller> {
    const credentials = parseBasicAuthorization(header);
    if (!credentials) throw unauthorized();
    const user = await this.users.findByUsername(credentials.username);
    if (!user) {
      await this.hasher.burn(credentials.password);
      throw unauthorized();
    }
    if (!(await this.hasher.verify(credentials.password, user.passwordHash))) throw unauthorized();
    return { userId: user.id, username: user.username, isSuperAdmin: user.username === this.superAdmin };
  }
}
