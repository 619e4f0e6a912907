import { randomFillSync } from 'node:crypto';

const WSO2_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_';

/**
 * Random bytes are drawn from the CSPRNG 4 KiB at a time and each is used once, as Node's own
 * randomUUID() does: one call into OpenSSL per few dozen tokens or IVs instead of one each, a call
 * that costs more than the rest of a token's making.
 */
const pool = Buffer.alloc(4096);
let poolOffset = pool.length;

function randomByte(): number {
  if (poolOffset === pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  return pool[poolOffset++]!;
}

/** `size` (at most 256) fresh CSPRNG bytes from the pool above, in a buffer of their own. */
export function pooledRandomBytes(size: number): Buffer {
  if (size > 256) throw new RangeError('pooledRandomBytes is for small sizes (IVs, tokens)');
  if (poolOffset + size > pool.length) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const bytes = Buffer.from(pool.subarray(poolOffset, poolOffset + size));
  poolOffset += size;
  return bytes;
}

/**
 * A random string over [A-Za-z0-9_], WSO2's look for client ids and secrets. Rejection sampling
 * keeps every character uniform: 28 characters carry 28·log2(63) ≈ 167 bits.
 */
export function randomWso2Token(length = 28): string {
  let out = '';
  while (out.length < length) {
    const byte = randomByte();
    // 252 = 63·4: bytes at or above it would bias the first characters of the alphabet.
    if (byte < 252) out += WSO2_ALPHABET[byte % 63];
  }
  return out;
}

/** WSO2_ALPHABET in byte order, so that a number written in it sorts as the number does. */
const SORTED_ALPHABET = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';
const TIME_CHARS = 6;

/**
 * A client id in WSO2's look (28 characters over [A-Za-z0-9_]) whose first 6 characters are the
 * second it was made, in base 63 written to sort in byte order (the database collates C), and
 * whose other 22 are random (≈131 bits). A client id is an identifier, not a credential (the
 * secret is, and stays wholly random): the time prefix keeps a burst of registrations on a few
 * pages of the client_id index, where wholly random ids touched a random page of a large index
 * for every row, a full-page image in the WAL after each checkpoint (docs/performance.md, Scale).
 */
export function timeOrderedClientId(nowMs = Date.now()): string {
  let seconds = Math.floor(nowMs / 1000);
  let prefix = '';
  for (let i = 0; i < TIME_CHARS; i++) {
    prefix = SORTED_ALPHABET[seconds % 63]! + prefix;
    seconds = Math.floor(seconds / 63);
  }
  return prefix + randomWso2Token(28 - TIME_CHARS);
}

/** A strong password for the generated first admin: 24 characters, ~143 bits. */
export function randomPassword(): string {
  return randomWso2Token(24);
}
