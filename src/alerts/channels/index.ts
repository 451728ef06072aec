/**
 * Alert delivery channels: what the rules engine calls to deliver one alert message. Each
 * channel's `send` delivers once within its timeout (default 10 s) and resolves, or throws an
 * `AlertDeliveryError` saying whether and when a retry can help. Channels never retry.
 */
export { alertMessageJson, type AlertChannel, type AlertMessage, type AlertMessageJson, type AlertSeverity, type AlertSubject } from './alert-message.js';
export { AlertDeliveryError, type AlertDeliveryErrorCode } from './delivery-error.js';
export { DEFAULT_DELIVERY_TIMEOUT_MS } from './delivery-deadline.js';
export { channelsFromEnv, type ChannelsFromEnvOptions } from './channels-from-env.js';
export { createSlackApiChannel, createSlackWebhookChannel, type SlackApiChannelOptions, type SlackAppearance, type SlackWebhookChannelOptions } from './slack-channel.js';
export { createDiscordWebhookChannel, type DiscordWebhookChannelOptions } from './discord-channel.js';
export { createSendGridEmailChannel, createSmtpEmailChannel, type SendGridEmailChannelOptions, type SmtpEmailChannelOptions } from './email-channel.js';
export { createWebhookChannel, webhookSignature, type WebhookChannelOptions } from './webhook-channel.js';
export { createLogChannel, type LogChannelOptions } from './log-channel.js';
