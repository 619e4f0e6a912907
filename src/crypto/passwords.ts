import { randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/**
 * Password hashing with scrypt (node:crypto), in a PHC-style string that carries its own
 * parameters, so that stored hashes keep verifying after the defaults are raised:
 * `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>` (base64url).
 *
 * Default cost ln=15, r=8, p=1 (N=32768): 32 MiB and about 0.2 s per hash on these 2-core machines,
 * twice the work of the classic interactive setting (ln=14). scrypt runs on libuv's thread pool, so a
 * hash does not block the event loop.
 */
export interface ScryptCost {
  ln: number;
  r: number;
  p: number;
}

export const DEFAULT_SCRYPT_COST: ScryptCost = { ln: 15, r: 8, p: 1 };

const KEY_LENGTH = 32;

/**
 * How many key derivations may run at once in this process. scrypt runs on libuv's thread pool
 * (UV_THREADPOOL_SIZE, default 4), which the pg driver also needs: its SCRAM handshake for every new
 * database connection is WebCrypto PBKDF2/HMAC work on that same pool. A burst of logins that are
 * not in the credential cache used to queue a hundred 0.2 s hashes ahead of those handshakes, so
 * new connections timed out and requests answered 503. Derivations beyond this bound wait in
 * JavaScript instead, leaving threads free; two at a time already keeps two cores busy.
 */
export const KDF_CONCURRENCY = Math.max(1, Math.min(2, (Number(process.env.UV_THREADPOOL_SIZE) || 4) - 2));

let running = 0;
const waiting: Array<() => void> = [];

export async function withKdfSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= KDF_CONCURRENCY) await new Promise<void>((resolve) => waiting.push(resolve));
  else running++;
  try {
    return await work();
  } finally {
    // Hand the slot straight to the next waiter (running stays the same), or free it.
    const next = waiting.shift();
    if (next) next();
    else running--;
  }
}

function derive(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  return withKdfSlot(() => deriveNow(password, salt, cost));
}

function deriveNow(password: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  const options: ScryptOptions = {
    N: 2 ** cost.ln,
    r: cost.r,
    p: cost.p,
    // scrypt needs 128·N·r bytes; Node's default cap (32 MiB) is exactly ln=15,r=8, so leave headroom.
    maxmem: 256 * 2 ** cost.ln * cost.r,
  };
  return new Promise((resolve, reject) => {
    scrypt(password.normalize('NFC'), salt, KEY_LENGTH, options, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

export class PasswordHasher {
  constructor(private readonly cost: ScryptCost = DEFAULT_SCRYPT_COST) {}

  async hash(password: string): Promise<string> {
    const salt = randomBytes(16);
    const key = await derive(password, salt, this.cost);
    const { ln, r, p } = this.cost;
    return `$scrypt$ln=${ln},r=${r},p=${p}$${salt.toString('base64url')}$${key.toString('base64url')}`;
  }

  /** Constant-time comparison of the derived key; false (never a throw) for a malformed hash. */
  async verify(password: string, stored: string): Promise<boolean> {
    const parsed = parseHash(stored);
    if (!parsed) return false;
    let key: Buffer;
    try {
      key = await derive(password, parsed.salt, parsed.cost);
    } catch {
      // Parameters that parse but that scrypt refuses (ln=0, ln=99, ...): malformed too.
      return false;
    }
    return key.length === parsed.key.length && timingSafeEqual(key, parsed.key);
  }

  /**
   * Spends the same time as a verification, for callers whose user does not exist: an unknown
   * user name must not answer faster than a wrong password.
   */
  async burn(password: string): Promise<void> {
    await derive(password, DUMMY_SALT, this.cost);
  }
}

const DUMMY_SALT = randomBytes(16);

function parseHash(stored: string): { cost: ScryptCost; salt: Buffer; key: Buffer } | undefined {
  const match = /^\$scrypt\$ln=(\d{1,2}),r=(\d{1,2}),p=(\d{1,2})\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/.exec(stored);
  if (!match) return undefined;
  const [, ln, r, p, salt, key] = match;
  return {
    cost: { ln: Number(ln), r: Number(r), p: Number(p) },
    salt: Buffer.from(salt!, 'base64url'),
    key: Buffer.from(key!, 'base64url'),
  };
}
