import type { ResolvedConfig } from '../config/load-config.js';
import { createJobRegistry } from '../scheduler/schedule-definition.js';
import { loadScheduleFile, resolveScheduleEntries } from '../scheduler/schedule-file.js';
import type { ScheduleView } from '../scheduler/schedule-manager.js';
import { scheduleDefinitionDiffers } from '../scheduler/schedule-sync.js';
import { scheduleNextRun } from '../scheduler/next-fire.js';
import type { ScheduleInput } from '../store/types.js';

/*
 * `nightshift schedules` with a declaration in use (`--config scheduler.yaml`, or the config's
 * `schedules`): the declared schedules with their next runs, whether or not a daemon has stored
 * them yet — what an operator checks before deploying a file — next to what the store holds.
 */

/**
 * How a listed schedule stands against the declaration in use:
 * - `stored`: declared, and stored as declared;
 * - `not-stored`: declared, not stored yet (the next sync creates it);
 * - `changed`: declared, stored with other settings (the next sync updates it);
 * - `not-declared`: stored from a declaration of the same kind (file or code) that this one does
 *   not list — another deployment's file, or an entry removed from this one; a sync keeps it
 *   unless told to delete it (`--delete-undeclared`);
 * - `id-taken`: declared under an id an API schedule holds (the sync refuses the file).
 * Null for schedules the declaration has no say over (created through the API, or the other kind).
 */
export type DeclarationState = 'stored' | 'not-stored' | 'changed' | 'not-declared' | 'id-taken';

/** A row of the list: the schedule as shown (the declared settings when they are not stored yet) and its state. */
export interface ListedSchedule {
  view: ScheduleView;
  declaration: DeclarationState | null;
}

/** The declaration in use, validated (nothing is written), or null when the config declares no schedules. */
export async function readDeclaredSchedules(config: ResolvedConfig): Promise<{ schedules: ScheduleInput[]; source: 'file' | 'code'; from: string } | null> {
  const jobs = createJobRegistry([...config.jobs]);
  const limits = config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes };
  if (typeof config.schedules === 'string') {
    return { schedules: await loadScheduleFile(config.schedules, { jobs, ...limits }), source: 'file', from: config.schedules };
  }
  if (config.schedules !== undefined) {
    return { schedules: await resolveScheduleEntries(config.schedules, 'code', { jobs, ...limits }), source: 'code', from: 'the config' };
  }
  return null;
}

/** A declared schedule shown as if stored: next run from now by the store's clock, never run. */
function declaredView(schedule: ScheduleInput, nowMs: number, stored: ScheduleView | undefined): ScheduleView {
  const now = new Date(nowMs);
  // A stored schedule paused (from the CLI or the API) while the declaration enables it: paused
  // is what holds now — no tick fires until a sync enables it again — so that is what is shown,
  // with the declaration's other settings (the DECLARED column says "changed, not synced").
  const pausedNow = stored !== undefined && !stored.enabled;
  const enabled = schedule.enabled && !pausedNow;
  return {
    ...schedule,
    enabled,
    createdAt: stored?.createdAt ?? now,
    updatedAt: stored?.updatedAt ?? now,
    nextRunAt: enabled ? scheduleNextRun(schedule, nowMs) : null,
    lastRunAt: stored?.lastRunAt ?? null,
    lastJobId: stored?.lastJobId ?? null,
    paused: !enabled,
    lastOutcome: stored?.lastOutcome ?? null,
  };
}

/**
 * The stored schedules and the declared ones, merged by id: declared first, in declaration order,
 * then the other stored ones in the store's order. `nowMs` is the store's time: declared
 * schedules not stored yet are shown with their next run after it.
 */
export function listWithDeclaration(nowMs: number, stored: readonly ScheduleView[], declared: readonly ScheduleInput[], source: 'file' | 'code'): ListedSchedule[] {
  const byId = new Map(stored.map((view) => [view.id, view] as const));
  const declaredIds = new Set(declared.map((schedule) => schedule.id));
  const rows: ListedSchedule[] = declared.map((schedule) => {
    const view = byId.get(schedule.id);
    if (view === undefined) return { view: declaredView(schedule, nowMs, undefined), declaration: 'not-stored' };
    if (view.source === 'api') return { view, declaration: 'id-taken' };
    if (scheduleDefinitionDiffers(view, schedule)) return { view: declaredView(schedule, nowMs, view), declaration: 'changed' };
    return { view, declaration: 'stored' };
  });
  for (const view of stored) {
    if (declaredIds.has(view.id)) continue;
    rows.push({ view, declaration: view.source === source ? 'not-declared' : null });
  }
  return rows;
}
