// Public API of the `nightshift` package. Internal modules are not exported from here.
export * from './errors.js';
export { defineJob, DEFAULT_QUEUE, MAX_PRIORITY } from './job/define-job.js';
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
export type { NightshiftConfig, ConfigSetupContext, QueueConfig, StoreConfig, SqliteStoreConfig, PostgresStoreConfig, ScheduleEntry } from './config/define-config.js';
