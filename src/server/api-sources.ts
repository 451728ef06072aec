/**
 * What the API reads besides its client, taken from the store the client works on: the tokens
 * kept there (`nightshift tokens create`), the event feed, the schedules and, given alert rules,
 * alerting. Every entry point (the fastify plugin, the `(req, res)` handler, `createApiServer`,
 * `createNightshift({ http })`) goes through here, so a mounted API checks the same tokens as
 * `nightshift serve` on that store.
 */
import type { AlertRules, AlertRulesInput } from '../alerts/alert-rules.js';
import { setUpAlerting } from '../alerts/alert-runtime.js';
import type { AlertsAdmin } from '../alerts/alerts-admin.js';
import type { AlertChannel } from '../alerts/channels/index.js';
import { activeApiTokens } from '../client/api-tokens.js';
import type { Client } from '../client/client.js';
import { ConfigError } from '../errors.js';
import { createEventFeedReader, type EventFeedReader } from '../observe/event-feed.js';
import { createSilentLogger, type Logger } from '../observe/logger.js';
import { createScheduleManager, type ScheduleManager } from '../scheduler/schedule-manager.js';
import type { Store } from '../store/types.js';
import type { StoredTokens } from './auth.js';

/** Alert rules for `/api/alerts/*`, in the shape of `createNightshift({ alerts })` (evaluating them is the runtime's job). */
export interface ApiAlertsOptions {
  rules: AlertRulesInput | AlertRules;
  /** Channels passed in code, besides the log channel, those of the environment and the rules' webhook (used by `POST /api/alerts/test`). */
  channels?: readonly AlertChannel[];
  /** Where channel settings are read from; default `process.env`. */
  env?: NodeJS.ProcessEnv;
}

/** The options this module reads (a part of `ApiServerOptions`). */
export interface ApiSourceOptions {
  client: Client;
  store?: Store;
  ignoreStoreTokens?: boolean;
  tokenSource?: () => Promise<StoredTokens>;
  eventFeed?: EventFeedReader;
  scheduleManager?: ScheduleManager;
  alerts?: AlertsAdmin | ApiAlertsOptions;
  logger?: Logger;
}

export interface ApiSources {
  /** Null only when the embedder opted out with `ignoreStoreTokens`. */
  tokenSource: (() => Promise<StoredTokens>) | null;
  eventFeed: EventFeedReader | null;
  scheduleManager: ScheduleManager | null;
  alerts: AlertsAdmin | null;
}

/**
 * Resolves what the API serves: what the options give, else what the store gives. Without a store
 * (nor a `tokenSource`), the tokens kept in the store could not be checked, and an API that answers
 * without them would be open where `nightshift serve` on the same store is closed: that is refused
 * unless the embedder says, with `ignoreStoreTokens: true`, that its app authenticates requests itself.
 */
export function resolveApiSources(options: ApiSourceOptions): ApiSources {
  const { store } = options;
  let tokenSource: ApiSources['tokenSource'] = options.tokenSource ?? null;
  if (tokenSource === null && options.ignoreStoreTokens !== true) {
    if (!store) {
      throw new ConfigError(
        'the HTTP API needs the store its client works on (`store`), to check the API tokens kept there (nightshift tokens create): ' +
          'pass { client, store }; or, only if your app authenticates every request before it reaches the API, ignoreStoreTokens: true',
      );
    }
    tokenSource = () => activeApiTokens(store);
  }
  let alerts: AlertsAdmin | null = null;
  if (options.alerts !== undefined) {
    if (!('rules' in options.alerts)) alerts = options.alerts;
    else if (!store) throw new ConfigError('the HTTP API serves alerts from a store: pass `store` with `alerts: { rules }`');
    else alerts = setUpAlerting(options.alerts, options.logger ?? createSilentLogger()).admin(store);
  }
  return {
    tokenSource,
    eventFeed: options.eventFeed ?? (store ? createEventFeedReader(store) : null),
    scheduleManager: options.scheduleManager ?? (store ? createScheduleManager({ store, jobs: options.client.definitions(), events: options.client.events }) : null),
    alerts,
  };
}
