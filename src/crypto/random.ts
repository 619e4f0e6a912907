import { randomFillSync } from 'node:crypto';

const WSO2_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_';

/**
 * Random bytes are drawn from the CSPRNG 4 KiB at a time and each is used once, as Node's own
 * randomUUID() does: one call into OpenSSL per few dozen tokens or IVs instead of one each (on the
 * reference machine that call cost 20 µs, more than the rest of the token's making).
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

/** A strong password for the generated first admin: 24 characters, ~143 bits. */
export function randomPassword(): string {
  return randomWso2Token(24);
}
