/**
 * The job a claimed tick creates. Built here rather than through the client so that the job row
 * and the tick row go into the store in one `scheduleTickClaim` transaction.
 */
import type { AnyJobDefinition } from '../job/define-job.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, parseStoredJson, serializePayload } from '../job/payload.js';
import { validatePayload } from '../job/schema.js';
import { resolveConcurrencyKey, resolveRateKey } from '../job/concurrency-key.js';
import { ValidationError } from '../errors.js';
import type { JobInsert, ScheduleRecord } from '../store/types.js';
import { parseScheduleJobOptions, scheduleJobDefaults } from './schedule-definition.js';

/** Why a job was created: a cron tick, a caught-up missed tick, or an operator's trigger. */
export type TickTrigger = 'cron' | 'catch_up' | 'manual';

/** What the scheduler records in a cron job's `meta`. */
export interface TickJobMeta {
  /** The tick's fire time (ISO 8601). */
  fireAt: string;
  trigger: TickTrigger;
}

/**
 * Checks the schedule's stored input against the job's schema as it is *now* (the code may have
 * changed since the schedule was saved) and returns it serialized. Throws `INVALID_PAYLOAD` or
 * `PAYLOAD_TOO_LARGE` naming the schedule.
 */
export async function checkedScheduleInput(schedule: ScheduleRecord, job: AnyJobDefinition, maxPayloadBytes = DEFAULT_MAX_PAYLOAD_BYTES, input?: unknown): Promise<string> {
  let value = input;
  if (value === undefined) {
    const parsed = parseStoredJson(schedule.input);
    if (!parsed.ok) {
      throw new ValidationError('INVALID_PAYLOAD', `schedule "${schedule.id}": stored input is not valid JSON (${parsed.error}); update the schedule's input`);
    }
    value = parsed.value;
  }
  try {
    await validatePayload(job.name, job.schema, value);
    // A job with a per-key rule must find its key in the input (checked now, not at the tick).
    resolveConcurrencyKey(`job "${job.name}"`, job.perKey, value, undefined);
    resolveRateKey(`job "${job.name}"`, job.rateLimit, value, undefined);
    return serializePayload(value, maxPayloadBytes);
  } catch (error) {
    if (error instanceof ValidationError) {
      throw new ValidationError(error.code, `schedule "${schedule.id}": ${error.message}`, { issues: [...error.issues], cause: error });
    }
    throw error;
  }
}

/** The `JobInsert` for a tick of `schedule` fired at `fireAt`. `payload` comes from `checkedScheduleInput`. */
export function buildTickJob(schedule: ScheduleRecord, job: AnyJobDefinition, payload: string, fireAt: Date, trigger: TickTrigger): JobInsert {
  const defaults = scheduleJobDefaults(job, parseScheduleJobOptions(schedule.jobOptions));
  const meta: TickJobMeta = { fireAt: fireAt.toISOString(), trigger };
  return {
    name: job.name,
    queue: defaults.queue,
    payload,
    priority: defaults.priority,
    maxAttempts: defaults.maxAttempts,
    // Null: due now by the store's clock. The tick is already due, and a past run_at would only
    // make a late tick jump ahead of other jobs of the same priority.
    runAt: null,
    key: null,
    timeoutMs: defaults.timeoutMs,
    scheduleId: schedule.id,
    meta: JSON.stringify(meta),
    ...resolveConcurrencyKey(`schedule "${schedule.id}"`, job.perKey, JSON.parse(payload) as unknown, undefined),
    ...resolveRateKey(`schedule "${schedule.id}"`, job.rateLimit, JSON.parse(payload) as unknown, undefined),
  };
}
