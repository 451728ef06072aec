/**
 * The rule on schedule ids in one `scheduleUpsertMany` call, shared by every store: each id at
 * most once. Upserting one id twice in one call has no single meaning (which one wins?), so the
 * store refuses the whole call, storing nothing, whatever the database would do with it. The core
 * checks declared schedules earlier (schedule-sync.ts, with file positions); this is the store's
 * own guarantee for any other caller.
 */
import { ValidationError } from '../errors.js';
import type { ScheduleInput } from './types.js';

/** Throws `DUPLICATE_SCHEDULE` naming the first id that `schedules` holds twice, and where. */
export function assertDistinctScheduleIds(schedules: readonly ScheduleInput[]): void {
  const firstIndex = new Map<string, number>();
  schedules.forEach((schedule, index) => {
    const first = firstIndex.get(schedule.id);
    if (first !== undefined) {
      throw new ValidationError(
        'DUPLICATE_SCHEDULE',
        `scheduleUpsertMany: schedule id ${JSON.stringify(schedule.id)} appears twice (items ${first} and ${index}); nothing was stored — send each id once`,
      );
    }
    firstIndex.set(schedule.id, index);
  });
}
