import { InvalidArgumentError } from 'commander';
import { ValidationError } from '../errors.js';
import { parsePriority } from '../job/input-bounds.js';
import { JOB_STATES, type JobState } from '../store/types.js';
import { UsageError } from './cli-errors.js';

/*
 * Parsers for command-line values. Commander calls the `(value) => …` ones while parsing and turns
 * an InvalidArgumentError into "error: option '--limit <n>' argument '0' is invalid. …" with exit
 * code 2; the others are called from actions and throw UsageError (also exit code 2).
 */

/** An integer option in `[min, max]`. */
export function integerOption(min: number, max: number = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const number = /^-?\d+$/.test(value.trim()) ? Number(value) : Number.NaN;
    if (!Number.isSafeInteger(number) || number < min || number > max) {
      throw new InvalidArgumentError(`expected an integer from ${min} to ${max}.`);
    }
    return number;
  };
}

/**
 * `--priority high` or `--priority -5`: a name or an integer, read by the library's parser so the
 * CLI accepts exactly what `enqueue` does (job/input-bounds.ts `parsePriority`).
 */
export function priorityOption(value: string): number {
  const text = value.trim();
  try {
    return parsePriority(/^-?\d+$/.test(text) ? Number(text) : text, '--priority');
  } catch (error) {
    if (error instanceof ValidationError) throw new InvalidArgumentError(`${error.message.replace(/^--priority: /, '')}.`);
    throw error;
  }
}

/** `--state running,dead` → states, each checked. */
export function stateListOption(value: string, previous: JobState[] = []): JobState[] {
  const states = value
    .split(',')
    .map((state) => state.trim())
    .filter((state) => state !== '');
  for (const state of states) {
    if (!(JOB_STATES as readonly string[]).includes(state)) {
      throw new InvalidArgumentError(`unknown state "${state}"; expected one of ${JOB_STATES.join(', ')}.`);
    }
  }
  return [...previous, ...(states as JobState[])];
}

/** A repeatable/comma-separated list option (`--queue a,b --queue c`). */
export function listOption(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((item) => item.trim())
      .filter((item) => item !== ''),
  ];
}

/** Parses JSON given on the command line, naming the option in the error. */
export function parseJsonArgument(option: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new UsageError(`${option} is not valid JSON (${reason}); quote it for the shell, e.g. ${option} '{"userId": 42}'`);
  }
}

/** Job ids are decimal strings; anything else cannot exist, so say so instead of "not found". */
export function parseJobId(text: string): string {
  if (!/^\d{1,20}$/.test(text)) throw new UsageError(`job id must be a decimal number, got ${JSON.stringify(text)}`);
  return text;
}
