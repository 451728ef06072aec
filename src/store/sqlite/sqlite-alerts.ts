/**
 * Alert episodes and silences on SQLite. Opening or resolving an episode inserts its delivery
 * jobs in the same transaction, so an alert is never opened without them (nor twice: a partial
 * unique index keeps one open episode per key).
 */
import type { AlertEpisodeRecord, AlertListFilter, AlertOpenParams, AlertSilenceRecord } from '../alert-types.js';
import type { JobInsert, JobRecord } from '../types.js';
import type { SqliteContext } from './sqlite-context.js';
import { preparedOnce } from './sqlite-prepared.js';
import { isJobId } from '../job-ids.js';

const SQL = {
  openFind: `SELECT * FROM nightshift_alert_episodes WHERE key = ? AND resolved_at IS NULL`,
  touch: `UPDATE nightshift_alert_episodes SET last_seen_at = ? WHERE id = ?`,
  open: `
    INSERT INTO nightshift_alert_episodes (key, rule, severity, subject_kind, subject, opened_at, last_seen_at, suppressed, info, delivery_job_ids)
    VALUES (@key, @rule, @severity, @subjectKind, @subject, @now, @now, @suppressed, @info, @jobIds)
    RETURNING *`,
  resolve: `UPDATE nightshift_alert_episodes SET resolved_at = @now, delivery_job_ids = @jobIds WHERE id = @id RETURNING *`,
  list: `
    SELECT * FROM nightshift_alert_episodes
    WHERE (@open IS NULL OR (@open = 1 AND resolved_at IS NULL) OR (@open = 0 AND resolved_at IS NOT NULL))
      AND (@key IS NULL OR key = @key) AND (@rule IS NULL OR rule = @rule) AND (@severity IS NULL OR severity = @severity)
      AND (@subjectKind IS NULL OR subject_kind = @subjectKind) AND (@subject IS NULL OR subject = @subject)
      AND (@openedAfter IS NULL OR opened_at > @openedAfter) AND (@beforeId IS NULL OR id < @beforeId)
    ORDER BY id DESC LIMIT CAST(@limit AS INTEGER)`,
  silenceAdd: `INSERT INTO nightshift_alert_silences (rule, subject, until, reason, created_at) VALUES (?, ?, ?, ?, ?) RETURNING *`,
  silenceList: `SELECT * FROM nightshift_alert_silences WHERE (@activeAt IS NULL OR until > @activeAt) ORDER BY id`,
  silenceRemove: `DELETE FROM nightshift_alert_silences WHERE id = ?`,
  pruneEpisodes: `DELETE FROM nightshift_alert_episodes WHERE resolved_at IS NOT NULL AND resolved_at < ?`,
  pruneSilences: `DELETE FROM nightshift_alert_silences WHERE until < ?`,
};

const statements = preparedOnce(SQL);

interface EpisodeRow {
  id: number;
  key: string;
  rule: string;
  severity: string;
  subject_kind: string;
  subject: string;
  opened_at: number;
  last_seen_at: number;
  resolved_at: number | null;
  suppressed: string | null;
  info: string;
  delivery_job_ids: string;
}

function jobIdsOf(text: string): string[] {
  try {
    const parsed: unknown = JSON.parse(text);
    return Array.isArray(parsed) ? parsed.filter((id): id is string => typeof id === 'string') : [];
  } catch {
    return [];
  }
}

function episodeOf(row: EpisodeRow): AlertEpisodeRecord {
  return {
    id: String(row.id),
    key: row.key,
    rule: row.rule,
    severity: row.severity,
    subjectKind: row.subject_kind,
    subject: row.subject,
    openedAt: new Date(row.opened_at),
    lastSeenAt: new Date(row.last_seen_at),
    resolvedAt: row.resolved_at === null ? null : new Date(row.resolved_at),
    suppressed: row.suppressed,
    info: row.info,
    deliveryJobIds: jobIdsOf(row.delivery_job_ids),
  };
}

function insertJobs(ctx: SqliteContext, jobs: readonly JobInsert[], now: number): JobRecord[] {
  return jobs.length === 0 ? [] : ctx.inserter.insert(jobs, now).map((result) => result.job);
}

export function openAlert(ctx: SqliteContext, params: AlertOpenParams & { jobs: JobInsert[] }): { episode: AlertEpisodeRecord; opened: boolean; jobs: JobRecord[] } {
  const sql = statements(ctx);
  const result = ctx.db
    .transaction(() => {
      const now = ctx.now();
      const existing = sql.openFind.get(params.key) as EpisodeRow | undefined;
      if (existing) {
        sql.touch.run(now, existing.id);
        return { episode: episodeOf({ ...existing, last_seen_at: now }), opened: false, jobs: [] as JobRecord[] };
      }
      const jobs = insertJobs(ctx, params.jobs, now);
      const row = sql.open.get({ ...params, now, jobIds: JSON.stringify(jobs.map((job) => job.id)) }) as EpisodeRow;
      return { episode: episodeOf(row), opened: true, jobs };
    })
    .immediate();
  if (result.jobs.length > 0) ctx.notify(new Set(result.jobs.map((job) => job.queue)));
  return result;
}

export function resolveAlert(ctx: SqliteContext, params: { key: string; jobs: JobInsert[] }): { episode: AlertEpisodeRecord | null; jobs: JobRecord[] } {
  const sql = statements(ctx);
  const result = ctx.db
    .transaction(() => {
      const now = ctx.now();
      const existing = sql.openFind.get(params.key) as EpisodeRow | undefined;
      if (!existing) return { episode: null, jobs: [] as JobRecord[] };
      const jobs = insertJobs(ctx, params.jobs, now);
      const ids = [...jobIdsOf(existing.delivery_job_ids), ...jobs.map((job) => job.id)];
      const row = sql.resolve.get({ id: existing.id, now, jobIds: JSON.stringify(ids) }) as EpisodeRow;
      return { episode: episodeOf(row), jobs };
    })
    .immediate();
  if (result.jobs.length > 0) ctx.notify(new Set(result.jobs.map((job) => job.queue)));
  return result;
}

export function listAlerts(ctx: SqliteContext, params: { filter?: AlertListFilter; limit: number }): AlertEpisodeRecord[] {
  const f = params.filter ?? {};
  const beforeId = f.beforeId !== undefined && isJobId(f.beforeId) && Number.isSafeInteger(Number(f.beforeId)) ? Number(f.beforeId) : null;
  const rows = statements(ctx).list.all({
    open: f.open === undefined ? null : f.open ? 1 : 0,
    key: f.key ?? null,
    rule: f.rule ?? null,
    severity: f.severity ?? null,
    subjectKind: f.subjectKind ?? null,
    subject: f.subject ?? null,
    openedAfter: f.openedAfter?.getTime() ?? null,
    beforeId: f.beforeId === undefined ? null : (beforeId ?? 0),
    limit: Math.max(0, Math.floor(params.limit)),
  }) as EpisodeRow[];
  return rows.map(episodeOf);
}

interface SilenceRow {
  id: number;
  rule: string;
  subject: string | null;
  until: number;
  reason: string | null;
  created_at: number;
}

function silenceOf(row: SilenceRow): AlertSilenceRecord {
  return { id: String(row.id), rule: row.rule, subject: row.subject, until: new Date(row.until), reason: row.reason, createdAt: new Date(row.created_at) };
}

export function addSilence(ctx: SqliteContext, params: { rule: string; subject: string | null; until: Date; reason: string | null }): AlertSilenceRecord {
  return silenceOf(statements(ctx).silenceAdd.get(params.rule, params.subject, params.until.getTime(), params.reason, ctx.now()) as SilenceRow);
}

export function listSilences(ctx: SqliteContext, params: { activeOnly: boolean }): AlertSilenceRecord[] {
  return (statements(ctx).silenceList.all({ activeAt: params.activeOnly ? ctx.now() : null }) as SilenceRow[]).map(silenceOf);
}

export function removeSilence(ctx: SqliteContext, id: string): boolean {
  if (!isJobId(id) || !Number.isSafeInteger(Number(id))) return false;
  return statements(ctx).silenceRemove.run(Number(id)).changes > 0;
}

export function pruneAlerts(ctx: SqliteContext, before: Date): { deleted: number } {
  const sql = statements(ctx);
  return ctx.db.transaction(() => ({ deleted: sql.pruneEpisodes.run(before.getTime()).changes + sql.pruneSilences.run(before.getTime()).changes }))();
}
