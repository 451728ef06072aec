import type { Command } from 'commander';
import { createNightshift } from '../../nightshift.js';
import { NightshiftEvents } from '../../observe/events.js';
import { commandAction } from '../command-action.js';
import { createDaemonScheduler } from '../daemon-scheduler.js';

/** Exit codes of a daemon stopped by a second signal (128 + signal number, as shells report). */
const IMMEDIATE_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * `daemon`: runs the worker for every configured queue, the maintenance services (lease rescue,
 * pruning) and, when schedules are configured, the cron scheduler — until SIGINT/SIGTERM.
 *
 * The first signal stops gracefully: no new claims, running handlers get `shutdownTimeoutMs` to
 * finish, the rest are released back to their queues, the store is closed, exit code 0. A second
 * signal exits at once (130/143); the jobs it abandons are rescued when their leases expire.
 */
export function registerDaemonCommand(program: Command): void {
  program
    .command('daemon')
    .description('run workers, maintenance and schedules until SIGINT/SIGTERM (logs JSON to stderr)')
    .action(
      commandAction(async (context) => {
        context.defaultLogLevel = 'info';
        const config = await context.config();
        const logger = context.logger();
        const { store, description } = await context.store();
        const events = new NightshiftEvents();
        const nightshift = createNightshift({
          store,
          jobs: [...config.jobs],
          queues: config.queues,
          events,
          logger,
          ...(config.workerId === undefined ? {} : { workerId: config.workerId }),
          ...(config.leaseMs === undefined ? {} : { leaseMs: config.leaseMs }),
          ...(config.shutdownTimeoutMs === undefined ? {} : { shutdownTimeoutMs: config.shutdownTimeoutMs }),
          ...(config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes }),
        });
        await config.setup?.({ client: nightshift.client, store, logger, command: 'daemon' });
        const scheduler = await createDaemonScheduler({ config, store, events, logger });
        await nightshift.addService(scheduler);

        let stopRequested: (signal: string) => void = () => undefined;
        const stopSignal = new Promise<string>((resolve) => {
          stopRequested = resolve;
        });
        let signals = 0;
        const onSignal = (signal: NodeJS.Signals): void => {
          signals++;
          if (signals > 1) {
            logger.warn({ signal }, 'second signal: exiting without waiting for running jobs');
            logger.flush();
            process.exit(IMMEDIATE_EXIT_CODES[signal] ?? 1);
          }
          logger.info({ signal }, 'shutting down gracefully; send the signal again to exit at once');
          stopRequested(signal);
        };
        process.on('SIGINT', onSignal);
        process.on('SIGTERM', onSignal);
        context.onClose(async () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        });

        await nightshift.start();
        logger.info(
          {
            store: description,
            queues: config.queues,
            jobs: config.jobs.map((job) => job.name),
            config: config.file,
            schedules: typeof config.schedules === 'string' ? config.schedules : config.schedules === undefined ? null : 'inline',
            pid: process.pid,
          },
          'daemon ready',
        );
        await stopSignal;
        await nightshift.stop();
        logger.info('daemon stopped');
        return 0;
      }),
    );
}
