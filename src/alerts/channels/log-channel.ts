/**
 * The log channel: each alert as one pino line — `error` for a critical alert that fires, `warn`
 * for every other one (resolutions included) — with the whole alert under `alert`. It needs no
 * configuration, so it is the default channel. It fails only when the logger's level hides the
 * line (`LOG_LEVEL=error` and a `warn` alert, or `silent`): an alert nobody can read is not
 * delivered (`ALERT_REJECTED`, so `alerts test` and the alert's history say so).
 */
import type { Logger } from 'pino';
import { alertMessageJson, type AlertChannel } from './alert-message.js';
import { alertWords } from './alert-wording.js';
import { channelName } from './channel-settings.js';
import { AlertDeliveryError } from './delivery-error.js';

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
      if (!logger.isLevelEnabled(level)) {
        throw new AlertDeliveryError('ALERT_REJECTED', `${name} channel: the log level "${logger.level}" hides ${level} lines, so the alert was not written; set LOG_LEVEL to warn (or lower) or use another channel`, { channel: name });
      }
      // The headline is one line without control characters (alert-wording.ts): it cannot drive a terminal.
      logger[level]({ alert: alertMessageJson(message) }, `alert ${alertWords(message).headline}`);
    },
  };
}
