import { ValidationError, type ValidationIssue } from '../errors.js';

/**
 * The part of the Standard Schema interface (https://standardschema.dev) that Nightshift uses.
 * zod 4, valibot, arktype and others implement it, so any of them can type a job's payload.
 */
export interface StandardSchema<Input = unknown, Output = Input> {
  readonly '~standard': {
    readonly version: 1;
    readonly vendor: string;
    readonly validate: (value: unknown) => StandardResult<Output> | Promise<StandardResult<Output>>;
    readonly types?: { readonly input: Input; readonly output: Output } | undefined;
  };
}

type StandardResult<Output> =
  | { readonly value: Output; readonly issues?: undefined }
  | { readonly issues: ReadonlyArray<{ readonly message: string; readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined }> };

/**
 * The schema of a job defined without one: any value is a valid payload (enqueue still checks that
 * it is JSON-serializable and within the size limit). `T` only types enqueue and the handler; no
 * check happens at run time.
 */
export function anyPayload<T = unknown>(): StandardSchema<T, T> {
  return ANY_PAYLOAD as StandardSchema<T, T>;
}

const ANY_PAYLOAD: StandardSchema<unknown, unknown> = Object.freeze({
  '~standard': Object.freeze({ version: 1 as const, vendor: 'nightshift', validate: (value: unknown) => ({ value }) }),
});

/** The type a schema accepts (what `enqueue` takes). */
export type SchemaInput<S> = S extends StandardSchema<infer I, unknown> ? I : unknown;
/** The type a schema produces (what the handler receives). */
export type SchemaOutput<S> = S extends StandardSchema<unknown, infer O> ? O : unknown;

function issuePath(path: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }> | undefined): string {
  if (!path) return '';
  return path.map((part) => String(typeof part === 'object' ? part.key : part)).join('.');
}

/**
 * Validates `value` against `schema`. Returns the schema's output (with defaults and coercions
 * applied), or throws a `ValidationError` (code `INVALID_PAYLOAD`) listing every failing field.
 */
export async function validatePayload<S extends StandardSchema>(
  jobName: string,
  schema: S,
  value: unknown,
): Promise<SchemaOutput<S>> {
  return checkPayload(jobName, schema, value);
}

/**
 * `validatePayload` without the promise when the schema answers synchronously (zod, valibot and
 * most others do for schemas without async refinements): bulk enqueues check thousands of items,
 * and an await per item costs more than the check. Throws the same `ValidationError`; returns a
 * promise only when the schema did.
 */
export function checkPayload<S extends StandardSchema>(jobName: string, schema: S, value: unknown): SchemaOutput<S> | Promise<SchemaOutput<S>> {
  const result = schema['~standard'].validate(value);
  if (isPromiseLike(result)) return Promise.resolve(result).then((settled) => payloadOutput<S>(jobName, settled));
  return payloadOutput<S>(jobName, result);
}

function isPromiseLike(value: unknown): value is PromiseLike<unknown> {
  return value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function';
}

function payloadOutput<S extends StandardSchema>(jobName: string, result: StandardResult<unknown>): SchemaOutput<S> {
  if (result.issues) {
    const issues: ValidationIssue[] = result.issues.map((issue) => ({ path: issuePath(issue.path), message: issue.message }));
    const listed = issues.map((issue) => `${issue.path || '(payload)'}: ${issue.message}`).join('; ');
    throw new ValidationError('INVALID_PAYLOAD', `invalid payload for job "${jobName}": ${listed}`, { issues });
  }
  return result.value as SchemaOutput<S>;
}
