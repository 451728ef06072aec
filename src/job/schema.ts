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
  const result = await schema['~standard'].validate(value);
  if (result.issues) {
    const issues: ValidationIssue[] = result.issues.map((issue) => ({ path: issuePath(issue.path), message: issue.message }));
    const listed = issues.map((issue) => `${issue.path || '(payload)'}: ${issue.message}`).join('; ');
    throw new ValidationError('INVALID_PAYLOAD', `invalid payload for job "${jobName}": ${listed}`, { issues });
  }
  return result.value as SchemaOutput<S>;
}
