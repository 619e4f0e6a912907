import { randomBytes } from 'node:crypto';

const WSO2_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_';

/**
 * A random string over [A-Za-z0-9_], WSO2's look for client ids and secrets. Rejection sampling
 * keeps every character uniform: 28 characters carry 28·log2(63) ≈ 167 bits.
 */
export function randomWso2Token(length = 28): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      // 252 = 63·4: bytes at or above it would bias the first characters of the alphabet.
      if (byte < 252) out += WSO2_ALPHABET[byte % 63];
      if (out.length === length) break;
    }
  }
  return out;
}

/** A strong password for the generated first admin: 24 characters, ~143 bits. */
export function randomPassword(): string {
  return randomWso2Token(24);
}
