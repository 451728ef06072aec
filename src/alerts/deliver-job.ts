/**
 * Alert deliveries are jobs: `nightshift.alert.deliver` on queue `nightshift.alerts`, one per
 * message and channel. Any worker of the store sends them with the channels configured in its
 * process, retries a failure that may pass (network, 429, 5xx) with backoff, dead-letters one
 * that will not (a 4xx, an unknown channel), and records every attempt in the job's history.
 */
import { defineJob } from '../job/define-job.js';
import { UnrecoverableError } from '../errors.js';
import type { AlertChannel, AlertMessage } from './channels/index.js';

export const ALERT_DELIVERY_JOB = 'nightshift.alert.deliver';
export const ALERT_DELIVERY_QUEUE = 'nightshift.alerts';
/** Tries per delivery: with the backoff below, about an hour of retries. */
export const ALERT_DELIVERY_ATTEMPTS = 10;

/** The payload of a delivery job: the message (dates as ISO text) and the channel's name. */
export interface AlertDeliveryPayload {
  channel: string;
  message: Omit<AlertMessage, 'at'> & { at: string };
}

/** Whether a delivery error may pass on a later try (channels mark theirs; unknown errors may). */
function retryable(error: unknown): boolean {
  const flag = (error as { retryable?: unknown } | null)?.retryable;
  return flag === undefined ? true : Boolean(flag);
}

/** The delivery job of this process, sending through `channels` (by name). */
export function createAlertDeliveryJob(channels: ReadonlyMap<string, AlertChannel>, options: { firstRetryDelayMs?: number } = {}) {
  return defineJob({
    name: ALERT_DELIVERY_JOB,
    queue: ALERT_DELIVERY_QUEUE,
    description: 'delivers one alert message to one channel (Slack, Discord, email, webhook, log)',
    retry: { attempts: ALERT_DELIVERY_ATTEMPTS, backoff: { type: 'exponential', delayMs: options.firstRetryDelayMs ?? 5_000, maxDelayMs: 600_000 } },
    timeoutMs: 60_000,
    handler: async (payload: unknown, ctx) => {
      const { channel: name, message } = payload as AlertDeliveryPayload;
      const channel = channels.get(name);
      if (!channel) throw new UnrecoverableError(`alert channel "${name}" is not configured in this process`);
      try {
        await channel.send({ ...message, at: new Date(message.at) }, ctx.signal);
      } catch (error) {
        if (!retryable(error)) throw new UnrecoverableError(error instanceof Error ? error.message : String(error), { cause: error });
        throw error;
      }
      return { channel: name, delivered: message.id };
    },
  });
}
