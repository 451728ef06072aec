/**
 * What operators do with alerting, for the API and the CLI: read the loaded rules and channels
 * (secrets never included), what is firing now, the history of episodes with every delivery
 * attempt, counts, silences; and send a test message through the channels.
 */
import { randomUUID } from 'node:crypto';
import type { AlertEpisodeRecord, AlertSilenceRecord, AlertStore } from '../store/alert-types.js';
import { isJobId } from '../store/job-ids.js';
import type { Store } from '../store/types.js';
import { ValidationError, NotFoundError } from '../errors.js';
import type { AlertRules, Severity } from './alert-rules.js';
import { SEVERITIES } from './alert-rules.js';
import type { AlertChannel, AlertMessage } from './channels/index.js';
import { redactUrl } from './channels/secret-redaction.js';
import type { AlertDeliveryPayload } from './deliver-job.js';

/** One delivery of an episode: a job, with its attempts. */
export interface AlertDeliveryView {
  jobId: string;
  channel: string;
  kind: 'fired' | 'resolved';
  state: string;
  attempts: number;
  lastError: string | null;
  deliveredAt: string | null;
}

export interface AlertEpisodeView {
  id: string;
  rule: string;
  severity: string;
  subject: { kind: string; name: string };
  openedAt: string;
  lastSeenAt: string;
  resolvedAt: string | null;
  /**
   * `delivered` (sent to its channels: `deliveries` tells how that went), `throttled`, `silenced`,
   * or `undelivered` (none of its channels was configured in the process that opened it: nothing sent).
   */
  status: string;
  measured: string;
  threshold: string;
  lastError: { name: string; message: string } | null;
  deliveries: AlertDeliveryView[];
}

export interface AlertsAdmin {
  /** The rules and the channels by name (names and kinds only). */
  config(): { rules: AlertRules; channels: string[] };
  active(): Promise<AlertEpisodeView[]>;
  history(params: { limit?: number; severity?: string; rule?: string; job?: string; cursor?: string }): Promise<{ episodes: AlertEpisodeView[]; nextCursor: string | null }>;
  /** `fired` counts every episode; an `undelivered` one is in none of `delivered`, `throttled`, `silenced`. */
  stats(): Promise<{ open: number; last24h: { fired: number; delivered: number; throttled: number; silenced: number; bySeverity: Record<string, number>; byRule: Record<string, number> } }>;
  /** Sends a test message through one channel (or every configured one) now; never throws. */
  test(channel?: string): Promise<{ channel: string; ok: boolean; error: string | null }[]>;
  silences(): Promise<AlertSilenceRecord[]>;
  silence(params: { rule: string; subject?: string | null; forMs: number; reason?: string | null }): Promise<AlertSilenceRecord>;
  unsilence(id: string): Promise<void>;
}

function infoOf(text: string): { measured: string; threshold: string; lastError: { name: string; message: string } | null } {
  try {
    const parsed = JSON.parse(text) as { measured?: string; threshold?: string; lastError?: { name: string; message: string } | null };
    return { measured: parsed.measured ?? '', threshold: parsed.threshold ?? '', lastError: parsed.lastError ?? null };
  } catch {
    return { measured: '', threshold: '', lastError: null };
  }
}

export function createAlertsAdmin(options: { store: Store & AlertStore; rules: AlertRules; channels: ReadonlyMap<string, AlertChannel> }): AlertsAdmin {
  const { store, rules, channels } = options;

  const view = async (episode: AlertEpisodeRecord): Promise<AlertEpisodeView> => {
    const deliveries: AlertDeliveryView[] = [];
    for (const jobId of episode.deliveryJobIds.slice(0, 20)) {
      const job = await store.jobGet({ id: jobId });
      if (!job) continue;
      let payload: Partial<AlertDeliveryPayload> = {};
      try {
        payload = JSON.parse(job.payload) as AlertDeliveryPayload;
      } catch {
        payload = {};
      }
      deliveries.push({
        jobId,
        channel: payload.channel ?? '?',
        kind: payload.message?.resolved ? 'resolved' : 'fired',
        state: job.state,
        attempts: job.attempt,
        lastError: job.lastError?.message ?? null,
        deliveredAt: job.state === 'completed' ? (job.finishedAt?.toISOString() ?? null) : null,
      });
    }
    const info = infoOf(episode.info);
    return {
      id: episode.id,
      rule: episode.rule,
      severity: episode.severity,
      subject: { kind: episode.subjectKind, name: episode.subject },
      openedAt: episode.openedAt.toISOString(),
      lastSeenAt: episode.lastSeenAt.toISOString(),
      resolvedAt: episode.resolvedAt?.toISOString() ?? null,
      status: episode.suppressed ?? 'delivered',
      ...info,
      deliveries,
    };
  };

  return {
    config: () => {
      // A webhook URL is a credential (whoever has it can post): shown by scheme and host only.
      const webhook = rules.settings.webhook?.url ? { ...rules.settings.webhook, url: redactUrl(new URL(rules.settings.webhook.url)) } : rules.settings.webhook;
      return { rules: { ...rules, settings: { ...rules.settings, ...(webhook ? { webhook } : {}) } }, channels: [...channels.keys()].sort() };
    },
    async active() {
      const open = await store.alertList({ filter: { open: true }, limit: 1000 });
      return Promise.all(open.map(view));
    },
    async history(params) {
      const limit = params.limit ?? 50;
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new ValidationError('INVALID_OPTION', `alert history: limit must be an integer from 1 to 1000, got ${String(params.limit)}`);
      if (params.severity !== undefined && !(SEVERITIES as readonly string[]).includes(params.severity)) {
        throw new ValidationError('INVALID_OPTION', `alert history: severity must be one of ${SEVERITIES.join(', ')}`);
      }
      // A cursor is an episode id a previous page returned: anything else is a mistake to say,
      // not an empty page (the jobs list refuses one the same way).
      if (params.cursor !== undefined && !isJobId(params.cursor)) {
        throw new ValidationError('INVALID_OPTION', `alert history: cursor ${JSON.stringify(params.cursor)} is not one a previous page returned; start again without a cursor`);
      }
      const episodes = await store.alertList({
        filter: {
          ...(params.severity ? { severity: params.severity } : {}),
          ...(params.rule ? { rule: params.rule } : {}),
          ...(params.job ? { subjectKind: 'job', subject: params.job } : {}),
          ...(params.cursor !== undefined ? { beforeId: params.cursor } : {}),
        },
        limit: limit + 1,
      });
      const page = episodes.slice(0, limit);
      return { episodes: await Promise.all(page.map(view)), nextCursor: episodes.length > limit ? (page[page.length - 1]?.id ?? null) : null };
    },
    async stats() {
      const now = await store.timeNow();
      const [open, recent] = await Promise.all([
        store.alertList({ filter: { open: true }, limit: 10_000 }),
        store.alertList({ filter: { openedAfter: new Date(now.getTime() - 86_400_000) }, limit: 10_000 }),
      ]);
      const bySeverity: Record<string, number> = {};
      const byRule: Record<string, number> = {};
      let delivered = 0;
      let throttled = 0;
      let silenced = 0;
      for (const episode of recent) {
        bySeverity[episode.severity] = (bySeverity[episode.severity] ?? 0) + 1;
        byRule[episode.rule] = (byRule[episode.rule] ?? 0) + 1;
        if (episode.suppressed === 'throttled') throttled++;
        else if (episode.suppressed === 'silenced') silenced++;
        else if (episode.suppressed === null) delivered++;
      }
      return { open: open.length, last24h: { fired: recent.length, delivered, throttled, silenced, bySeverity, byRule } };
    },
    async test(name) {
      const targets = name === undefined ? [...channels.values()] : [channels.get(name)].filter((channel): channel is AlertChannel => channel !== undefined);
      if (name !== undefined && targets.length === 0) throw new NotFoundError('UNKNOWN_CHANNEL', `no alert channel "${name}" is configured; configured: ${[...channels.keys()].join(', ') || '(none)'}`);
      const message: AlertMessage = {
        id: `test-${randomUUID()}`,
        rule: 'test',
        severity: 'info' as Severity,
        title: 'test: a test alert from Nightshift',
        description: 'Sent by "alerts test": if you read this, the channel works.',
        subject: { kind: 'job', name: 'test' },
        measured: 'a test',
        threshold: 'none',
        lastError: null,
        link: null,
        at: new Date(),
      };
      const results = [];
      for (const channel of targets) {
        try {
          await channel.send(message);
          results.push({ channel: channel.name, ok: true, error: null });
        } catch (error) {
          results.push({ channel: channel.name, ok: false, error: error instanceof Error ? error.message : String(error) });
        }
      }
      return results;
    },
    silences: () => store.alertSilenceList({ activeOnly: true }),
    async silence(params) {
      const known = [...rules.jobFailures, ...rules.queueHealth, ...rules.performance, ...rules.schedules].some((rule) => rule.name === params.rule);
      if (!known) throw new NotFoundError('UNKNOWN_RULE', `no alert rule "${params.rule}"`);
      if (!Number.isInteger(params.forMs) || params.forMs < 1000 || params.forMs > 90 * 86_400_000) {
        throw new ValidationError('INVALID_OPTION', 'a silence lasts from 1 second to 90 days');
      }
      const now = await store.timeNow();
      return store.alertSilenceAdd({ rule: params.rule, subject: params.subject ?? null, until: new Date(now.getTime() + params.forMs), reason: params.reason ?? null });
    },
    async unsilence(id) {
      if (!(await store.alertSilenceRemove({ id }))) throw new NotFoundError('UNKNOWN_SILENCE', `no silence ${id}`);
    },
  };
}
