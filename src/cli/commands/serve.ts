import type { Command } from 'commander';
import { cliHttpOptions, configListenAddress, DEFAULT_HTTP_PORT } from '../../config/http-config.js';
import { commandAction } from '../command-action.js';
import { httpListenOf } from '../http-listen.js';

interface ServeOptions {
  http?: string;
  insecure?: boolean;
  /** `--alerts <file>`: alert rules to serve under /api/alerts, instead of the config's. */
  alerts?: string;
}

/**
 * `serve`: the HTTP API alone — no worker, no scheduler — until SIGINT/SIGTERM. For a process that
 * only takes requests (enqueues from other languages, operators' queries) next to workers
 * elsewhere on the same store. On the first signal `/ready` answers 503 and the server closes.
 * Where it listens and how it answers come from the flags, the environment and the config's
 * `http` section (config/http-config.ts).
 */
export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description(`serve the HTTP API only (no worker, no scheduler) until SIGINT/SIGTERM; default 127.0.0.1:${DEFAULT_HTTP_PORT}`)
    .option('--http <[host:]port>', `where to listen; default NIGHTSHIFT_HTTP or HEALTH_CHECK_PORT, else the config's http.host/http.port, else 127.0.0.1:${DEFAULT_HTTP_PORT}`)
    .option('--insecure', 'listen beyond loopback without an API token (trusted networks only); also `http.insecure` in the config')
    .option('--alerts <file>', "alert rules served under /api/alerts (not evaluated here); default as for daemon")
    .action(
      commandAction(async (context, options: ServeOptions) => {
        context.defaultLogLevel = 'info';
        const config = await context.config({ required: false });
        const logger = context.logger();
        const listen = httpListenOf(options.http, config.env, configListenAddress(config.http) ?? { port: DEFAULT_HTTP_PORT })!;
        const http = cliHttpOptions(listen, config.http, { insecure: options.insecure === true, scheduleFile: typeof config.schedules === 'string' ? config.schedules : undefined });
        // /api/alerts reads and silences; evaluating is the daemons' job.
        const alerts =
          options.alerts !== undefined || config.alerts !== null
            ? await (await import('../alerting-setup.js')).loadCliAlerting({ config, file: options.alerts, logger })
            : null;
        const { store, description } = await context.store({ required: false });
        const { createNightshift } = await import('../../nightshift.js');
        const nightshift = createNightshift({
          store,
          jobs: [...config.jobs],
          queues: config.queues,
          worker: false,
          logger,
          http,
          ...(config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes }),
          ...(alerts === null ? {} : { alerts: alerts.runtimeOptions(false) }),
        });
        let stopRequested: (signal: string) => void = () => undefined;
        const stopSignal = new Promise<string>((resolve) => {
          stopRequested = resolve;
        });
        const onSignal = (signal: NodeJS.Signals): void => stopRequested(signal);
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        context.onClose(async () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        });
        await nightshift.start();
        if (alerts !== null) (await import('../alerting-setup.js')).logAlertingSummary(logger, alerts, 'serving');
        logger.info({ store: description, http: nightshift.httpAddress, pid: process.pid }, 'API server ready');
        await stopSignal;
        await nightshift.stop();
        logger.info('API server stopped');
        return 0;
      }),
    );
}
