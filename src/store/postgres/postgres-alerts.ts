/**
 * Alert episodes and silences on PostgreSQL. Opening or resolving an episode inserts its delivery
 * jobs in the same transaction. Two processes opening the same key race on the partial unique
 * index (one open episode per key): `ON CONFLICT DO NOTHING` makes the loser see the winner's
 * episode. Time is the server's (`$1` is the injected test clock, or NULL for `now()`).
 */
import type pg from 'pg';
import type { AlertEpisodeRecord, AlertListFilter, AlertOpenParams, AlertSilenceRecord } from '../alert-types.js';
import type { JobInsert, JobRecord } from '../types.js';
import { insertJobs, run, type PgJobContext } from './postgres-jobs.js';
import type { SchemaNames } from './schema-name.js';
import { inTransaction } from './transaction.js';
import { isJobId } from '../job-ids.js';

const NOW = 'coalesce($1::timestamptz, now())';

export function alertStatements(names: SchemaNames) {
  const s = names.quoted;
  return {
    open: {
      text: `
        INSERT INTO ${s}.alert_episodes (key, rule, severity, subject_kind, subject, opened_at, last_seen_at, suppressed, info)
        VALUES ($2, $3, $4, $5, $6, ${NOW}, ${NOW}, $7, $8)
        ON CONFLICT (key) WHERE resolved_at IS NULL DO NOTHING
        RETURNING *`,
    },
    touch: { text: `UPDATE ${s}.alert_episodes SET last_seen_at = ${NOW} WHERE key = $2 AND resolved_at IS NULL RETURNING *` },
    setJobs: { text: `UPDATE ${s}.alert_episodes SET delivery_job_ids = $2 WHERE id = $1 RETURNING *` },
    resolve: { text: `UPDATE ${s}.alert_episodes SET resolved_at = ${NOW} WHERE key = $2 AND resolved_at IS NULL RETURNING *` },
    list: {
      text: `
        SELECT * FROM ${s}.alert_episodes
        WHERE ($1::boolean IS NULL OR ($1 AND resolved_at IS NULL) OR (NOT $1 AND resolved_at IS NOT NULL))
          AND ($2::text IS NULL OR key = $2) AND ($3::text IS NULL OR rule = $3) AND ($4::text IS NULL OR severity = $4)
          AND ($5::text IS NULL OR subject_kind = $5) AND ($6::text IS NULL OR subject = $6)
          AND ($7::timestamptz IS NULL OR opened_at > $7) AND ($8::bigint IS NULL OR id < $8)
        ORDER BY id DESC LIMIT $9`,
    },
    silenceAdd: { text: `INSERT INTO ${s}.alert_silences (rule, subject, until, reason, created_at) VALUES ($2, $3, $4, $5, ${NOW}) RETURNING *` },
    silenceList: { text: `SELECT * FROM ${s}.alert_silences WHERE NOT $2::boolean OR until > ${NOW} ORDER BY id` },
    silenceRemove: { text: `DELETE FROM ${s}.alert_silences WHERE id = $1` },
    pruneEpisodes: { text: `DELETE FROM ${s}.alert_episodes WHERE resolved_at IS NOT NULL AND resolved_at < $1` },
    pruneSilences: { text: `DELETE FROM ${s}.alert_silences WHERE until < $1` },
  };
}

export type AlertStatements = ReturnType<typeof alertStatements>;

export interface PgAlertContext {
  pool: pg.Pool;
  sql: AlertStatements;
  jobs: PgJobContext;
  now(): Date | null;
}

interface EpisodeRow {
  id: string;
  key: string;
  rule: string;
  severity: string;
  subject_kind: string;
  subject: string;
  opened_at: Date;
  last_seen_at: Date;
  resolved_at: Date | null;
  suppressed: string | null;
  info: string;
  delivery_job_ids: string[];
}

function episodeOf(row: EpisodeRow): AlertEpisodeRecord {
  return {
    id: String(row.id),
    key: row.key,
    rule: row.rule,
    severity: row.severity,
    subjectKind: row.subject_kind,
    subject: row.subject,
    openedAt: row.opened_at,
    lastSeenAt: row.last_seen_at,
    resolvedAt: row.resolved_at,
    suppressed: row.suppressed,
    info: row.info,
    deliveryJobIds: row.delivery_job_ids.map(String),
  };
}


export async function openAlert(ctx: PgAlertContext, params: AlertOpenParams & { jobs: JobInsert[] }): Promise<{ episode: AlertEpisodeRecord; opened: boolean; jobs: JobRecord[] }> {
  return inTransaction(ctx.pool, async (client) => {
    const now = ctx.now();
    const inserted = await run<EpisodeRow>(client, ctx.sql.open, [now, params.key, params.rule, params.severity, params.subjectKind, params.subject, params.suppressed, params.info]);
    const row = inserted.rows[0];
    if (!row) {
      const touched = await run<EpisodeRow>(client, ctx.sql.touch, [now, params.key]);
      const existing = touched.rows[0];
      // Resolved between the two statements by another process: open again on the next pass.
      if (!existing) throw new Error(`alert episode "${params.key}" changed while opening; try again`);
      return { episode: episodeOf(existing), opened: false, jobs: [] };
    }
    if (params.jobs.length === 0) return { episode: episodeOf(row), opened: true, jobs: [] };
    const jobs = (await insertJobs(ctx.jobs, client, params.jobs)).map((result) => result.job);
    const updated = await run<EpisodeRow>(client, ctx.sql.setJobs, [row.id, jobs.map((job) => job.id)]);
    return { episode: episodeOf(updated.rows[0] ?? row), opened: true, jobs };
  });
}

export async function resolveAlert(ctx: PgAlertContext, params: { key: string; jobs: JobInsert[] }): Promise<{ episode: AlertEpisodeRecord | null; jobs: JobRecord[] }> {
  return inTransaction(ctx.pool, async (client) => {
    const resolved = await run<EpisodeRow>(client, ctx.sql.resolve, [ctx.now(), params.key]);
    const row = resolved.rows[0];
    if (!row) return { episode: null, jobs: [] };
    if (params.jobs.length === 0) return { episode: episodeOf(row), jobs: [] };
    const jobs = (await insertJobs(ctx.jobs, client, params.jobs)).map((result) => result.job);
    const updated = await run<EpisodeRow>(client, ctx.sql.setJobs, [row.id, [...row.delivery_job_ids.map(String), ...jobs.map((job) => job.id)]]);
    return { episode: episodeOf(updated.rows[0] ?? row), jobs };
  });
}

export async function listAlerts(ctx: PgAlertContext, params: { filter?: AlertListFilter; limit: number }): Promise<AlertEpisodeRecord[]> {
  const f = params.filter ?? {};
  const beforeId = f.beforeId === undefined ? null : isJobId(f.beforeId) ? f.beforeId : '0';
  const { rows } = await run<EpisodeRow>(ctx.pool, ctx.sql.list, [
    f.open ?? null,
    f.key ?? null,
    f.rule ?? null,
    f.severity ?? null,
    f.subjectKind ?? null,
    f.subject ?? null,
    f.openedAfter ?? null,
    beforeId,
    Math.max(0, Math.floor(params.limit)),
  ]);
  return rows.map(episodeOf);
}

interface SilenceRow {
  id: string;
  rule: string;
  subject: string | null;
  until: Date;
  reason: string | null;
  created_at: Date;
}

function silenceOf(row: SilenceRow): AlertSilenceRecord {
  return { id: String(row.id), rule: row.rule, subject: row.subject, until: row.until, reason: row.reason, createdAt: row.created_at };
}

export async function addSilence(ctx: PgAlertContext, params: { rule: string; subject: string | null; until: Date; reason: string | null }): Promise<AlertSilenceRecord> {
  const { rows } = await run<SilenceRow>(ctx.pool, ctx.sql.silenceAdd, [ctx.now(), params.rule, params.subject, params.until, params.reason]);
  return silenceOf(rows[0]!);
}

export async function listSilences(ctx: PgAlertContext, params: { activeOnly: boolean }): Promise<AlertSilenceRecord[]> {
  const { rows } = await run<SilenceRow>(ctx.pool, ctx.sql.silenceList, [ctx.now(), params.activeOnly]);
  return rows.map(silenceOf);
}

export async function removeSilence(ctx: PgAlertContext, id: string): Promise<boolean> {
  if (!isJobId(id)) return false;
  const result = await run(ctx.pool, ctx.sql.silenceRemove, [id]);
  return (result.rowCount ?? 0) > 0;
}

export async function pruneAlerts(ctx: PgAlertContext, before: Date): Promise<{ deleted: number }> {
  const episodes = await run(ctx.pool, ctx.sql.pruneEpisodes, [before]);
  const silences = await run(ctx.pool, ctx.sql.pruneSilences, [before]);
  return { deleted: (episodes.rowCount ?? 0) + (silences.rowCount ?? 0) };
}
