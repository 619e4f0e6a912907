/**
 * WSO2 reads its request body with Jackson, which is lenient about booleans: `"true"`/`"TRUE"`,
 * `1` mean true; `null`, `"false"`, `0`, `""` mean false: exactly what
 * spec/wso2-dcr-api.yaml's LenientBoolean declares. Run before validation; anything else (e.g.
 * `"yes"`, `2`) is left alone so that validation rejects it with a 400.
 */
export function coerceBooleanish(value: unknown): unknown {
  if (value === null || value === '' || value === 0) return false;
  if (value === 1) return true;
  if (typeof value === 'string') {
    const lower = value.toLowerCase();
    if (lower === 'true') return true;
    if (lower === 'false') return false;
  }
  return value;
}

/** A property schema as glue hands it to a route (references resolved). */
export interface PropertySchema {
  type?: string;
  nullable?: boolean;
  anyOf?: PropertySchema[];
  /** spec/: the type the server reads a lenient value as (LenientBoolean, LenientString). */
  'x-read-as'?: 'boolean' | 'string';
  [keyword: string]: unknown;
}

/**
 * Replaces, in place, each property schema marked `x-read-as` by the plain type it is read as
 * (nullable when one of its alternatives is), and returns the names of the boolean ones.
 */
export function readAsProperties(properties: Record<string, PropertySchema>): string[] {
  const booleans: string[] = [];
  for (const [name, schema] of Object.entries(properties)) {
    const type = schema['x-read-as'];
    if (type === undefined) continue;
    const nullable = type === 'string' && (schema.anyOf ?? []).some((alternative) => alternative.nullable === true);
    properties[name] = nullable ? { type, nullable } : { type };
    if (type === 'boolean') booleans.push(name);
  }
  return booleans;
}

/** A LenientBoolean as the handler sees it: validation has let through only what reads as a boolean. */
export function readBoolean(value: boolean | string | number | null | undefined): boolean | undefined {
  if (value === undefined) return undefined;
  const read = coerceBooleanish(value);
  if (typeof read !== 'boolean') throw new TypeError('a lenient boolean that validation should have refused');
  return read;
}

/** A LenientString as the handler sees it: a number or boolean sent for it is read as its text. */
export function readString<T extends null | undefined>(value: string | number | boolean | T): string | T {
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

/** Applies coerceBooleanish to the named keys of a parsed JSON object body, in place. */
export function coerceBooleanFields(body: unknown, keys: readonly string[]): void {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return;
  const record = body as Record<string, unknown>;
  for (const key of keys) {
    if (Object.prototype.hasOwnProperty.call(record, key)) record[key] = coerceBooleanish(record[key]);
  }
}
