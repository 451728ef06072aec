/**
 * Checks a built-in job makes on a schedule's input when the schedule is stored (a schedule file
 * synced or listed, `POST /api/schedules`, `scheduleManager.create`/`update`), beyond its schema:
 * a URL outside `builtins.http.allow`, a program outside `builtins.command.allow`. Each run of such
 * a schedule would be refused and end `dead`, so it is refused once, where it is written, with the
 * field (and, in a file, its line) instead of every tick.
 *
 * The check belongs to the job instance, which holds its allow-list; it is kept beside the job
 * (keyed by its definition) rather than on it, so job definitions keep one shape. The same checks
 * still run when a job runs: an allow-list changed since the schedule was stored refuses it then.
 */

/** Why a stored schedule's every run would be refused: the input field (`url`, `argv`; '' for the whole input) and what to do. */
export interface ScheduleInputRefusal {
  path: string;
  message: string;
}

/** A check of an input that passed the job's schema: every refusal, or none when runs may go ahead. */
export type ScheduleInputCheck = (input: unknown) => ScheduleInputRefusal[];

const checks = new WeakMap<object, ScheduleInputCheck>();

/** Registers `check` for the job definition `job` (called by the built-in jobs' factories). */
export function registerScheduleInputCheck(job: object, check: ScheduleInputCheck): void {
  checks.set(job, check);
}

/** What `job`'s check refuses in `input` (already valid for its schema); none for jobs without a check. */
export function scheduleInputRefusals(job: object, input: unknown): ScheduleInputRefusal[] {
  return checks.get(job)?.(input) ?? [];
}
