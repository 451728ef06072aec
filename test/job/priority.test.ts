// Named priorities: one parser (job/input-bounds.ts parsePriority) for every way a priority comes in.
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from 'commander';
import { priorityOption } from '../../src/cli/option-parsers.js';
import { ValidationError } from '../../src/errors.js';
import { defineJob } from '../../src/job/define-job.js';
import { MAX_PRIORITY, MIN_PRIORITY, parsePriority, PRIORITY_NAMES } from '../../src/job/input-bounds.js';
import { createJobRegistry } from '../../src/scheduler/schedule-definition.js';
import { parseScheduleFile } from '../../src/scheduler/schedule-file.js';

function refusal(value: unknown): ValidationError {
  try {
    parsePriority(value, 'enqueue "x"');
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error(`parsePriority accepted ${String(value)}`);
}

describe('parsePriority', () => {
  it('reads the four names as their numbers', () => {
    expect(PRIORITY_NAMES).toEqual({ critical: 1000, high: 100, normal: 0, low: -100 });
    expect(parsePriority('critical', 'x')).toBe(1000);
    expect(parsePriority('high', 'x')).toBe(100);
    expect(parsePriority('normal', 'x')).toBe(0);
    expect(parsePriority('low', 'x')).toBe(-100);
  });

  it('returns integers in -1000000 … 1000000 unchanged, bounds included', () => {
    expect(MIN_PRIORITY).toBe(-1_000_000);
    expect(MAX_PRIORITY).toBe(1_000_000);
    for (const value of [MIN_PRIORITY, -100, -1, 0, 7, 1000, MAX_PRIORITY]) expect(parsePriority(value, 'x')).toBe(value);
  });

  it.each([
    ['a name in another case', 'HIGH'],
    ['a capitalised name', 'High'],
    ['a name with spaces', ' high'],
    ['an unknown name', 'urgent'],
    ['a numeric string', '5'],
    ['an empty string', ''],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['2e6', 2e6],
    ['-2e6', -2e6],
    ['one past the maximum', MAX_PRIORITY + 1],
    ['one past the minimum', MIN_PRIORITY - 1],
    ['null', null],
    ['a boolean', true],
    ['an object', { high: true }],
    ['an inherited property name', 'toString'],
  ])('refuses %s with INVALID_OPTION naming the accepted names and range', (_what, value) => {
    const error = refusal(value);
    expect(error.code).toBe('INVALID_OPTION');
    expect(error.message).toContain('enqueue "x": priority must be an integer from -1000000 to 1000000 or one of critical (1000), high (100), normal (0), low (-100)');
  });

  it('quotes a refused string so that spaces and case show', () => {
    expect(refusal('HIGH').message).toMatch(/got "HIGH"$/);
    expect(refusal('5').message).toMatch(/got "5"$/);
  });
});

describe('defineJob({ priority })', () => {
  it('accepts a name and keeps its number as the job default', () => {
    const job = defineJob({ name: 'p.named', priority: 'critical', handler: async () => undefined });
    expect(job.priority).toBe(1000);
    expect(defineJob({ name: 'p.low', priority: 'low', handler: async () => undefined }).priority).toBe(-100);
    expect(defineJob({ name: 'p.default', handler: async () => undefined }).priority).toBe(0);
    expect(defineJob({ name: 'p.negative', priority: -5, handler: async () => undefined }).priority).toBe(-5);
  });

  it('refuses an unknown name with INVALID_OPTION', () => {
    expect(() => defineJob({ name: 'p.bad', priority: 'urgent' as never, handler: async () => undefined })).toThrow(/job "p.bad": priority must be an integer from -1000000 to 1000000 or one of critical/);
  });
});

describe('CLI --priority', () => {
  it('reads names and integers, negative ones included', () => {
    expect(priorityOption('high')).toBe(100);
    expect(priorityOption('low')).toBe(-100);
    expect(priorityOption('-5')).toBe(-5);
    expect(priorityOption(' 7 ')).toBe(7);
    expect(priorityOption('1000000')).toBe(1_000_000);
  });

  it.each(['HIGH', 'urgent', '1.5', '2000000', '-2000000', '1e3', ''])('refuses %j as an invalid argument naming what is accepted', (value) => {
    expect(() => priorityOption(value)).toThrow(InvalidArgumentError);
    expect(() => priorityOption(value)).toThrow(/^priority must be an integer from -1000000 to 1000000 or one of critical \(1000\), high \(100\), normal \(0\), low \(-100\); got /);
  });
});

describe('YAML schedule entries', () => {
  const jobs = createJobRegistry([defineJob({ name: 'digest.send', handler: async () => undefined })]);
  const entry = (priority: string) => `schedules:
  - jobId: digest.send
    schedule: "0 6 * * *"
    priority: ${priority}
`;

  it('priority: low is stored as -100 for the jobs the schedule creates; a number still works', async () => {
    const [low] = await parseScheduleFile(entry('low'), 'scheduler.yaml', { jobs });
    expect(low!.jobOptions).toBe('{"priority":-100}');
    const [critical] = await parseScheduleFile(entry('critical'), 'scheduler.yaml', { jobs });
    expect(critical!.jobOptions).toBe('{"priority":1000}');
    const [numeric] = await parseScheduleFile(entry('-5'), 'scheduler.yaml', { jobs });
    expect(numeric!.jobOptions).toBe('{"priority":-5}');
  });

  it.each(['urgent', 'HIGH', '"5"', '1.5', '2000000'])('priority: %s is refused with the file, the line and the accepted names', async (priority) => {
    const error = await parseScheduleFile(entry(priority), 'scheduler.yaml', { jobs }).then(
      () => null,
      (caught: unknown) => caught as Error,
    );
    expect(error?.message).toContain('scheduler.yaml:4');
    expect(error?.message).toContain('priority must be an integer from -1000000 to 1000000 or one of critical (1000), high (100), normal (0), low (-100)');
  });
});
