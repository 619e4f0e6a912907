/**
 * The 256-bit keys client secrets are encrypted with, as text: in DCR_SECRET_KEY and
 * DCR_SECRET_KEY_PREVIOUS, and in the embedded default's key files (src/crypto/key-file.ts).
 */
import { ConfigError } from './config-error.js';

/** Parses a 256-bit key; undefined when it is not exactly 32 bytes in one of the accepted encodings. */
export function parseSecretKey(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (/^[A-Za-z0-9+/_-]{43}={0,1}$/.test(trimmed)) {
    const key = Buffer.from(trimmed, 'base64');
    if (key.length === 32) return key;
  }
  return undefined;
}

/** DCR_SECRET_KEY: the key, or undefined when unset. Throws ConfigError for anything but a 32-byte key. */
export function secretKeySetting(text: string | undefined): Buffer | undefined {
  if (text === undefined) return undefined;
  const key = parseSecretKey(text);
  if (!key) {
    throw new ConfigError(
      'Invalid configuration: DCR_SECRET_KEY must be 32 random bytes, as 64 hex characters or ' +
        'base64 (generate one with: openssl rand -base64 32)',
    );
  }
  return key;
}

/** DCR_SECRET_KEY_PREVIOUS: comma separated keys (none when unset). Throws ConfigError naming the first bad one. */
export function previousSecretKeysSetting(text: string | undefined): Buffer[] {
  const keys: Buffer[] = [];
  if (text === undefined) return keys;
  const texts = text.split(',').map((entry) => entry.trim()).filter(Boolean);
  for (const [index, entry] of texts.entries()) {
    const key = parseSecretKey(entry);
    if (!key) {
      throw new ConfigError(
        `Invalid configuration: DCR_SECRET_KEY_PREVIOUS holds an invalid key (number ${index + 1}): each must be ` +
          '32 bytes as 64 hex characters or base64, separated by commas',
      );
    }
    keys.push(key);
  }
  return keys;
}
