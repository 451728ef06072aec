// Public API of the `nightshift` package. Internal modules are not exported from here.
export * from './errors.js';
export { defineJob, DEFAULT_QUEUE } from './job/define-job.js';
export { MAX_DELAY_MS, MAX_PRIORITY, MIN_PRIORITY, PRIORITY_NAMES, MAX_KEY_LENGTH, MAX_PAYLOAD_DEPTH, REPLACEMENT_CHARACTER, parsePriority } from './job/input-bounds.js';
export type { Priority } from './job/input-bounds.js';
export type { JobContext, JobDefinition, JobHandler, JobOptions, AnyJobDefinition } from './job/define-job.js';
export { snooze, cancel } from './job/outcomes.js';
export type { SnoozeOutcome, CancelOutcome, HandlerOutcome } from './job/outcomes.js';
export type { Backoff, RetryPolicy } from './job/retry-policy.js';
export type { StandardSchema, SchemaInput, SchemaOutput } from './job/schema.js';
export { NAME_PATTERN, NAME_MAX_LENGTH } from './job/names.js';
export { DEFAULT_MAX_PAYLOAD_BYTES } from './job/payload.js';
export { NightshiftEvents } from './observe/events.js';
export type { NightshiftEventMap, NightshiftEventName } from './observe/events.js';
export type * from './store/types.js';
export { defineConfig } from './config/define-config.js';
export type { NightshiftConfig, ConfigSetupContext, QueueConfig, StoreConfig, SqliteStoreConfig, PostgresStoreConfig, ScheduleEntry, HttpConfig, HttpTokenConfig } from './config/define-config.js';
export { createClient } from './client/client.js';
export type { Client, ClientOptions, EnqueueOptions, EnqueueManyOptions, EnqueueResult, ListParams, ListPage } from './client/client.js';
export type { FlowNode, FlowResult } from './job/enqueue-types.js';
export type { Job, JobDetails, Attempt } from './job/job-view.js';
export { createWorker } from './worker/worker.js';
export type { Worker, WorkerOptions } from './worker/worker.js';
export type { QueueOptions } from './worker/worker-options.js';
export type { Service } from './service.js';
export type { JobList } from './job/job-registry.js';
export { createNightshift } from './nightshift.js';
export type { Nightshift, NightshiftOptions } from './nightshift.js';
export type { Retention } from './maintenance/pruner.js';
export { createScheduler, DEFAULT_SCHEDULER_GRACE_MS, DEFAULT_SCHEDULER_POLL_INTERVAL_MS } from './scheduler/scheduler.js';
export type { Scheduler, SchedulerOptions, SchedulerPassResult, SchedulerState } from './scheduler/scheduler.js';
export { createScheduleManager } from './scheduler/schedule-manager.js';
export type { ScheduleManager, ScheduleManagerOptions, ScheduleView, ScheduleLastOutcome, ScheduleHistoryEntry, ScheduleListOptions, ScheduleUpdate, ScheduleStats } from './scheduler/schedule-manager.js';
export type { ScheduleDefinition } from './scheduler/schedule-definition.js';
export { loadScheduleFile, parseScheduleFile, syncScheduleFile, syncScheduleDefinitions } from './scheduler/schedule-file.js';
export type { ScheduleSyncResult } from './scheduler/schedule-sync.js';
export { builtinJobs, withBuiltinJobs } from './jobs/builtin-jobs.js';
export type { BuiltinJobsConfig, CommandJobConfig, HttpJobConfig } from './jobs/builtin-config.js';
export { HTTP_JOB_NAME, COMMAND_JOB_NAME, MAINTENANCE_CLEANUP_JOB_NAME, MAINTENANCE_RETRY_JOB_NAME } from './jobs/builtin-names.js';
export type { MaintenanceCleanupInput, MaintenanceCleanupResult } from './jobs/maintenance-cleanup-job.js';
export type { MaintenanceRetryInput, MaintenanceRetryResult } from './jobs/maintenance-retry-job.js';
export type { HttpJobInput, HttpJobResult } from './jobs/http-job.js';
export { CommandFailedError } from './jobs/command-job.js';
export type { CommandJobInput, CommandJobResult } from './jobs/command-job.js';
export { createSqliteStore } from './store/sqlite/sqlite-store.js';
export type { SqliteStoreOptions } from './store/sqlite/sqlite-store.js';
export { createPostgresStore } from './store/postgres/postgres-store.js';
export type { PostgresStoreOptions } from './store/postgres/postgres-store.js';
export { loadAlertRulesFile, parseAlertRules } from './alerts/alert-rules.js';
export { evaluateAlertRules } from './alerts/alert-evaluator.js';
export type { Firing as AlertFiring } from './alerts/alert-evaluator.js';
export type { AlertRules, AlertRulesInput, Severity as AlertSeverity } from './alerts/alert-rules.js';
export {
  channelsFromEnv,
  createDiscordWebhookChannel,
  createLogChannel,
  createSendGridEmailChannel,
  createSlackApiChannel,
  createSlackWebhookChannel,
  createSmtpEmailChannel,
  createWebhookChannel,
  webhookSignature,
  AlertDeliveryError,
} from './alerts/channels/index.js';
export type { AlertChannel, AlertMessage } from './alerts/channels/index.js';
