/**
 * Text of the `alerts …` commands. `--json` prints the alerts admin's views as they are (the
 * shapes of `/api/alerts/*`); these render the same views as tables for a terminal.
 */
import type { AlertEpisodeView } from '../alerts/alerts-admin.js';
import type { AlertRules } from '../alerts/alert-rules.js';
import type { AlertSilenceRecord } from '../store/alert-types.js';
import { rulesByFamily } from './alerting-setup.js';
import { formatDate, renderTable } from './table.js';

/** A silence as the API serves it (dates as ISO text). */
export function silenceToJson(silence: AlertSilenceRecord): Omit<AlertSilenceRecord, 'until' | 'createdAt'> & { until: string; createdAt: string } {
  return { ...silence, until: silence.until.toISOString(), createdAt: silence.createdAt.toISOString() };
}

const shortDate = (iso: string | null): string => (iso === null ? '-' : formatDate(new Date(iso)));

/** `failureCount: 1, timeWindow: 60` */
function conditionsText(conditions: Record<string, unknown>): string {
  return Object.entries(conditions)
    .filter(([, value]) => value !== undefined)
    .map(([key, value]) => `${key}: ${String(value)}`)
    .join(', ');
}

export function renderRules(rules: AlertRules): string {
  const rows = rulesByFamily(rules).map(({ family, rule }) => [
    rule.name,
    family,
    rule.severity,
    rule.enabled ? 'yes' : 'no',
    (rule.channels ?? rules.settings.channels).join(', '),
    conditionsText(rule.conditions as Record<string, unknown>),
  ]);
  if (rows.length === 0) return 'no rules';
  return renderTable([{ header: 'RULE' }, { header: 'FAMILY' }, { header: 'SEVERITY' }, { header: 'ENABLED' }, { header: 'CHANNELS' }, { header: 'CONDITIONS', maxWidth: 80 }], rows);
}

/** `webhook completed ×1, log retryable ×3: HTTP 500` */
function deliveriesText(episode: AlertEpisodeView): string {
  if (episode.deliveries.length === 0) return '-';
  return episode.deliveries
    .map((delivery) => `${delivery.channel}${delivery.kind === 'resolved' ? ' (resolved)' : ''} ${delivery.state} ×${delivery.attempts}${delivery.lastError ? `: ${delivery.lastError}` : ''}`)
    .join('; ');
}

export function renderActive(episodes: readonly AlertEpisodeView[]): string {
  if (episodes.length === 0) return 'firing now: nothing';
  return `firing now:\n${renderTable(
    [{ header: 'ID', align: 'right' }, { header: 'RULE' }, { header: 'SEVERITY' }, { header: 'SUBJECT' }, { header: 'SINCE' }, { header: 'STATUS' }, { header: 'MEASURED', maxWidth: 40 }],
    episodes.map((episode) => [episode.id, episode.rule, episode.severity, `${episode.subject.kind} ${episode.subject.name}`, shortDate(episode.openedAt), episode.status, episode.measured]),
  )}`;
}

export function renderHistory(episodes: readonly AlertEpisodeView[]): string {
  if (episodes.length === 0) return 'no alerts';
  return renderTable(
    [{ header: 'ID', align: 'right' }, { header: 'OPENED' }, { header: 'RULE' }, { header: 'SEVERITY' }, { header: 'SUBJECT' }, { header: 'STATUS' }, { header: 'RESOLVED' }, { header: 'DELIVERIES', maxWidth: 100 }],
    episodes.map((episode) => [
      episode.id,
      shortDate(episode.openedAt),
      episode.rule,
      episode.severity,
      `${episode.subject.kind} ${episode.subject.name}`,
      episode.status,
      episode.resolvedAt === null ? 'open' : shortDate(episode.resolvedAt),
      deliveriesText(episode),
    ]),
  );
}

export function renderSilences(silences: readonly AlertSilenceRecord[]): string {
  if (silences.length === 0) return 'no active silences';
  return renderTable(
    [{ header: 'ID', align: 'right' }, { header: 'RULE' }, { header: 'SUBJECT' }, { header: 'UNTIL' }, { header: 'REASON' }],
    silences.map((silence) => [silence.id, silence.rule, silence.subject ?? '(all)', formatDate(silence.until), silence.reason ?? '-']),
  );
}
