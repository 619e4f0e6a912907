import type { SecretBox } from '../crypto/secret-box.js';
import { SEALED_COLUMNS, type PgSealedSecretRepository, type SealedColumn } from '../repositories/sealed-secrets.js';

export interface ReencryptProgress {
  column: SealedColumn;
  done: number;
  total: number;
}

export interface ReencryptResult {
  /** Envelopes re-sealed under the current key, per column. */
  resealed: Record<SealedColumn, number>;
  /** Envelopes that no key of the keyring opens (kid → count): they are left as they are. */
  unopenable: Record<string, number>;
  /** The kid every re-sealed envelope now names. */
  kid: string;
}

/**
 * Re-seals every envelope (client secrets, signing keys' private halves) under the keyring's
 * current key, in batches of `batchSize` rows, each row in its own short transaction with a
 * compare-and-set on the old envelope: servers keep running, and a row changed meanwhile is left
 * to the next pass. Idempotent: rows already under the current key are not touched, so a second
 * run re-seals nothing. Envelopes no key opens are counted, not changed.
 */
export async function reencryptAll(
  repo: PgSealedSecretRepository,
  box: SecretBox,
  options: { batchSize?: number; progress?: (progress: ReencryptProgress) => void } = {},
): Promise<ReencryptResult> {
  const batchSize = options.batchSize ?? 200;
  const kid = box.currentKid;
  const resealed = { applications: 0, signing_keys: 0 } as Record<SealedColumn, number>;
  const unopenable: Record<string, number> = {};

  for (const column of Object.keys(SEALED_COLUMNS) as SealedColumn[]) {
    const stuck = new Set<string>();
    // A few passes: a compare-and-set lost to a concurrent writer is retried on the next one.
    for (let pass = 0; pass < 5; pass++) {
      const total = await repo.countNotSealedWith(column, kid);
      if (total - stuck.size <= 0) break;
      let done = 0;
      let lost = 0;
      let after: string = SEALED_COLUMNS[column].first;
      for (;;) {
        const rows = await repo.pageNotSealedWith(column, kid, after, batchSize);
        if (rows.length === 0) break;
        for (const row of rows) {
          after = row.key;
          if (stuck.has(row.key)) continue;
          let plaintext: string;
          try {
            plaintext = box.open(row.envelope, row.aad);
          } catch {
            stuck.add(row.key);
            const envelopeKid = row.envelope.split('.')[1] ?? '?';
            unopenable[envelopeKid] = (unopenable[envelopeKid] ?? 0) + 1;
            continue;
          }
          if (await repo.replace(column, row.key, row.envelope, box.seal(plaintext, row.aad))) {
            resealed[column] += 1;
            done += 1;
          } else {
            lost += 1;
          }
        }
        options.progress?.({ column, done, total });
      }
      if (lost === 0) break;
    }
  }
  return { resealed, unopenable, kid };
}
