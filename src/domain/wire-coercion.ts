/**
 * WSO2 reads its request body with Jackson, which is lenient about booleans: `"true"`/`"TRUE"`,
 * `1` mean true; `null`, `"false"`, `0`, `""` mean false (wso2-behavior.md §3). AJV's own coercion
 * covers `1`/`0`/`null` and exact `"true"`/`"false"`; this covers the rest before validation runs.
 * Anything else (e.g. `"yes"`) is left alone so that validation rejects it with a 400.
 */
export function coerceBooleanish(value: unknown): unknown {
  if (value === null || value === '') return false;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  return value;
}

/** Applies coerceBooleanish to the named keys of a parsed JSON object body, in place. */
export function coerceBooleanFields(body: unknown, keys: readonly string[]): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const record = body as Record<string, unknown>;
  for (const key of keys) {
    if (Object.prototype.hasOwnProperty.call(record, key)) record[key] = coerceBooleanish(record[key]);
  }
}
