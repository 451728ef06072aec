/**
 * The log channel: each alert as one pino line — `error` for a critical alert that fires, `warn`
 * for every other one (resolutions included) — with the whole alert under `alert`. It never
 * fails on its own and needs no configuration, so it is the default channel.
 */
import type { Logger } from 'pino';
import { alertMessageJson, type AlertChannel } from './alert-message.js';
import { alertWords } from './alert-wording.js';
import { channelName } from './channel-settings.js';

export interface LogChannelOptions {
  /** Where alerts are written (the process's logger). */
  logger: Logger;
  /** The name rules pick this channel by; default `log`. */
  name?: string;
}

export function createLogChannel(options: LogChannelOptions): AlertChannel {
  const name = channelName(options.name, 'log');
  const logger = options.logger;
  return {
    name,
    async send(message) {
      const level = message.severity === 'critical' && !message.resolved ? 'error' : 'warn';
      // The headline is one line without control characters (alert-wording.ts): it cannot drive a terminal.
      logger[level]({ alert: alertMessageJson(message) }, `alert ${alertWords(message).headline}`);
    },
  };
}
