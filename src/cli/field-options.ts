import { UsageError } from './cli-errors.js';

/*
 * `--input-<field> <value>`: one field of a job's input per option, so `--org acme` style input
 * (how some operators are used to running jobs) is one prefix away from
 * `--input '{"org": "acme"}'`. Commander leaves such options to the command (it cannot declare
 * every field); they are read here from the arguments it did not recognise.
 */

/** What `readFieldOptions` found among the arguments commander left over. */
export interface FieldOptions {
  /** Field name → value: JSON when the text parses as JSON (`5`, `true`, `[1,2]`, `"5"`), else the text itself. */
  fields: Record<string, unknown>;
  /** Arguments that are not `--<prefix>-<field>` options, nor their values, in order. */
  rest: string[];
}

/** The value of a field option: JSON when it parses, else the text (so `--input-org acme` needs no quotes). */
export function fieldValue(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

/**
 * Reads `--<prefix>-<field> <value>` and `--<prefix>-<field>=<value>` options from `args`. A field
 * given twice keeps its last value. Throws UsageError for such an option without a value.
 */
export function readFieldOptions(prefix: string, args: readonly string[]): FieldOptions {
  const fields: Record<string, unknown> = {};
  const rest: string[] = [];
  const start = `--${prefix}-`;
  for (let i = 0; i < args.length; i++) {
    const arg = args[i] as string;
    if (!arg.startsWith(start) || arg.length === start.length) {
      rest.push(arg);
      continue;
    }
    const equals = arg.indexOf('=');
    const field = equals === -1 ? arg.slice(start.length) : arg.slice(start.length, equals);
    let text: string | undefined;
    if (equals !== -1) {
      text = arg.slice(equals + 1);
    } else {
      const next = args[i + 1];
      if (next !== undefined && !next.startsWith('--')) {
        text = next;
        i++;
      }
    }
    if (field === '' || text === undefined) {
      throw new UsageError(`${arg} needs a value, e.g. ${start}${field || 'org'} acme (JSON when it parses, else text)`);
    }
    fields[field] = fieldValue(text);
  }
  return { fields, rest };
}

/**
 * The job input from `--input <json>` and the `--input-<field>` options: the fields are set on the
 * JSON object (and win over its keys). Fields need the input to be an object.
 */
export function mergeInputFields(option: string, input: unknown, fields: Record<string, unknown>): unknown {
  if (Object.keys(fields).length === 0) return input;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new UsageError(`${option}-<field> options set fields of an object, but ${option} is ${JSON.stringify(input)}; drop one of them`);
  }
  return { ...(input as Record<string, unknown>), ...fields };
}

/** Options that other commands give a whole payload with (`enqueue --data`): with a JSON object, they meant the input. */
const WHOLE_INPUT_OPTIONS = new Set(['--data', '--payload']);

const isJsonObject = (text: string | undefined): boolean => {
  if (text === undefined) return false;
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === 'object' && value !== null && !Array.isArray(value);
  } catch {
    return false;
  }
};

/**
 * `--org acme` rewritten as the field options a command accepts (`--input-org acme`), for hints.
 * `--data '{…}'` (enqueue's option for the payload, with a JSON object) becomes `--input '{…}'`.
 * Arguments that are not options are kept as they are.
 */
export function asFieldOptions(prefix: string, args: readonly string[]): string[] {
  return args.map((arg, index) => {
    if (!arg.startsWith('--') || arg.startsWith(`--${prefix}`)) return arg;
    const equals = arg.indexOf('=');
    const name = equals < 0 ? arg : arg.slice(0, equals);
    if (WHOLE_INPUT_OPTIONS.has(name) && isJsonObject(equals < 0 ? args[index + 1] : arg.slice(equals + 1))) {
      return equals < 0 ? `--${prefix}` : `--${prefix}${arg.slice(equals)}`;
    }
    return `--${prefix}-${arg.slice(2)}`;
  });
}

/** Quotes an argument for a shell command line shown in a hint, when it needs quoting. */
export function shellQuote(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}
