/**
 * What the stores keep for alerting: episodes (an alert from the moment its condition became true
 * to when it cleared; one open episode per key across every process) and silences.
 */

/** One alert episode. */
export interface AlertEpisodeRecord {
  id: string;
  /** `rule|kind|subject`: at most one open episode per key. */
  key: string;
  rule: string;
  severity: string;
  subjectKind: string;
  subject: string;
  openedAt: Date;
  /** The last evaluation that still found the condition true. */
  lastSeenAt: Date;
  resolvedAt: Date | null;
  /** Why it was not delivered (`throttled`, `silenced`, `undelivered`: no channel configured), or null when it was. */
  suppressed: string | null;
  /** Serialized JSON from the core: what fired (figure, threshold, last error, message id). */
  info: string;
  /** Ids of the delivery jobs inserted with the episode's opening and resolution. */
  deliveryJobIds: string[];
}

export interface AlertOpenParams {
  key: string;
  rule: string;
  severity: string;
  subjectKind: string;
  subject: string;
  info: string;
  suppressed: string | null;
}

export interface AlertListFilter {
  /** true: open episodes only; false: resolved only. */
  open?: boolean;
  key?: string;
  rule?: string;
  severity?: string;
  subjectKind?: string;
  subject?: string;
  openedAfter?: Date;
  /** Episodes with a smaller id (the cursor of the previous page). */
  beforeId?: string;
}

export interface AlertSilenceRecord {
  id: string;
  rule: string;
  /** The subject it silences, or null for every subject of the rule. */
  subject: string | null;
  until: Date;
  reason: string | null;
  createdAt: Date;
}

/** The Store methods of alerting (part of `Store`). */
export interface AlertStore {
  /**
   * Opens the episode `key` unless one is open: inserts it (at the store's now) and `jobs` (its
   * deliveries) in one transaction and returns `opened: true` with them; when one is open, only
   * moves its `lastSeenAt` to now and returns it with `opened: false`, inserting nothing. At most
   * one call opens a key, however many processes call at once.
   */
  alertOpen(params: AlertOpenParams & { jobs: import('./types.js').JobInsert[] }): Promise<{ episode: AlertEpisodeRecord; opened: boolean; jobs: import('./types.js').JobRecord[] }>;
  /** Resolves the open episode `key` (at now) and inserts `jobs` with it; `episode: null` (nothing inserted) when none is open. */
  alertResolve(params: { key: string; jobs: import('./types.js').JobInsert[] }): Promise<{ episode: AlertEpisodeRecord | null; jobs: import('./types.js').JobRecord[] }>;
  /** Episodes newest first (by id), at most `limit`. A malformed `beforeId` matches nothing. */
  alertList(params: { filter?: AlertListFilter; limit: number }): Promise<AlertEpisodeRecord[]>;
  alertSilenceAdd(params: { rule: string; subject: string | null; until: Date; reason: string | null }): Promise<AlertSilenceRecord>;
  /** Silences by id; `activeOnly`: those whose `until` is after now. */
  alertSilenceList(params: { activeOnly: boolean }): Promise<AlertSilenceRecord[]>;
  /** False when there is no such silence (or the id is malformed). */
  alertSilenceRemove(params: { id: string }): Promise<boolean>;
  /** Deletes episodes resolved before `before` and silences that ended before it. */
  alertPrune(params: { before: Date }): Promise<{ deleted: number }>;
}
