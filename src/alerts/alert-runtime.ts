/**
 * Alerting inside a runtime: the rules parsed once, the channels of this process (log, the
 * environment's Slack/Discord/email, the rules' webhook, and those passed in code), the delivery
 * job every worker registers, and factories for the evaluation service and the operators' view.
 */
import type { Logger } from 'pino';
import type { NightshiftEvents } from '../observe/events.js';
import type { Store } from '../store/types.js';
import { checkAlertRuleChannels, parseAlertRules, type AlertRules, type AlertRulesInput } from './alert-rules.js';
import { createAlertService, type AlertService } from './alert-service.js';
import { createAlertsAdmin, type AlertsAdmin } from './alerts-admin.js';
import { unconfiguredChannels, type UnconfiguredChannel } from './channel-use.js';
import { channelsFromEnv, createLogChannel, createWebhookChannel, type AlertChannel } from './channels/index.js';
import { createAlertDeliveryJob } from './deliver-job.js';

export interface AlertingOptions {
  rules: AlertRulesInput | AlertRules;
  channels?: readonly AlertChannel[];
  /** Where channel settings are read from; default `process.env`. */
  env?: NodeJS.ProcessEnv;
  /** Evaluate the rules in this runtime; default true (deliveries are sent either way). */
  evaluate?: boolean;
}

export interface Alerting {
  rules: AlertRules;
  channels: ReadonlyMap<string, AlertChannel>;
  /** Channels the enabled rules send to that this process has not configured (alerts to them are not sent). */
  unconfigured: readonly UnconfiguredChannel[];
  deliveryJob: ReturnType<typeof createAlertDeliveryJob>;
  evaluate: boolean;
  service(params: { store: Store; events: NightshiftEvents; jobNames: readonly string[]; beforeEventPass?: () => Promise<void> }): AlertService;
  admin(store: Store): AlertsAdmin;
}

function isParsed(rules: AlertRulesInput | AlertRules): rules is AlertRules {
  const settings = (rules as AlertRules).settings as Partial<AlertRules['settings']> | undefined;
  return settings !== undefined && typeof settings.evaluateEvery === 'number' && Array.isArray((rules as AlertRules).jobFailures);
}

export function setUpAlerting(options: AlertingOptions, logger: Logger): Alerting {
  // Rules may name the channels code passes besides the built-in kinds; any other name is refused.
  const named = (options.channels ?? []).map((channel) => channel.name);
  let rules: AlertRules;
  if (isParsed(options.rules)) {
    rules = options.rules;
    checkAlertRuleChannels(rules, named);
  } else {
    rules = parseAlertRules(options.rules, { channels: named });
  }
  const env = options.env ?? process.env;
  const channels = new Map<string, AlertChannel>();
  channels.set('log', createLogChannel({ logger }));
  for (const channel of channelsFromEnv(env, { settings: rules.settings })) channels.set(channel.name, channel);
  const webhookUrl = rules.settings.webhook?.url;
  if (webhookUrl) {
    const secret = env.ALERT_WEBHOOK_SECRET?.trim();
    channels.set('webhook', createWebhookChannel({ url: webhookUrl, ...(secret ? { secret } : {}) }));
  }
  for (const channel of options.channels ?? []) channels.set(channel.name, channel);
  return {
    rules,
    channels,
    unconfigured: unconfiguredChannels(rules, channels.keys()),
    deliveryJob: createAlertDeliveryJob(channels),
    evaluate: options.evaluate ?? true,
    service: ({ store, events, jobNames, beforeEventPass }) => createAlertService({ store, rules, channelNames: [...channels.keys()], jobNames, events, logger, ...(beforeEventPass ? { beforeEventPass } : {}) }),
    admin: (store) => createAlertsAdmin({ store, rules, channels }),
  };
}
