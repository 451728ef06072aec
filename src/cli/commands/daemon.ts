import type { Command } from 'commander';
import { cliHttpOptions, configListenAddress } from '../../config/http-config.js';
import { UsageError } from '../cli-errors.js';
import { commandAction } from '../command-action.js';
import { httpListenOf } from '../http-listen.js';

/** Options of `nightshift daemon`. */
interface DaemonOptions {
  /** `--http [host:]port`: serve the HTTP API beside the worker; `--no-http` (false): serve none, whatever the environment and config say. */
  http?: string | false;
  insecure?: boolean;
  /** `--no-event-feed` sets false. */
  eventFeed: boolean;
  /** `--no-worker` sets false: run no worker and none of the maintenance that belongs with workers. */
  worker: boolean;
  /** `--no-scheduler` sets false: neither sync the declared schedules nor fire any. */
  scheduler: boolean;
  /** `--delete-undeclared`: the start-up sync deletes stored schedules the declaration does not list. */
  deleteUndeclared?: boolean;
  /** `--alerts <file>`: alert rules (alerts.yaml shape), instead of the config's. */
  alerts?: string;
}

/** Exit codes of a daemon stopped by a second signal (128 + signal number, as shells report). */
const IMMEDIATE_EXIT_CODES: Record<string, number> = { SIGINT: 130, SIGTERM: 143 };

/**
 * `daemon`: runs the worker for every configured queue, the maintenance services (lease rescue,
 * pruning) and the cron scheduler (after syncing the declared schedules) — until SIGINT/SIGTERM.
 *
 * Roles can be split across processes: `--no-scheduler` runs workers only (no schedule sync, no
 * scheduler), `--no-worker` runs the scheduler only (no worker, no rescuer, no pruner: those belong
 * with the workers). Several schedulers on one store are safe — each tick is claimed once.
 *
 * `--config scheduler.yaml` names a schedule file; the job definitions still come from the code
 * config in the working directory. Without one, the daemon runs only the built-in jobs the
 * schedule file's `builtins:` enables, which is all a YAML-only deployment can schedule. Stored
 * schedules of the file's kind that it does not declare are kept with a warning (another file may
 * declare them), or deleted with `--delete-undeclared`.
 *
 * The HTTP API is served beside them when asked: `--http`, `NIGHTSHIFT_HTTP`, `HEALTH_CHECK_PORT`,
 * or an `http` section in the config (config/http-config.ts); `--no-http` keeps it off, e.g. for
 * the worker processes of a config whose `http` section is meant for `nightshift serve`.
 *
 * The first signal stops gracefully: no new claims, running handlers get `shutdownTimeoutMs` to
 * finish, the rest are released back to their queues, the store is closed, exit code 0. A second
 * signal exits at once (130/143); the jobs it abandons are rescued when their leases expire.
 */
export function registerDaemonCommand(program: Command): void {
  program
    .command('daemon')
    .description('run workers, maintenance and schedules until SIGINT/SIGTERM (logs JSON to stderr)')
    .option('--no-worker', 'run the scheduler only: no worker, no lease rescue, no pruning')
    .option('--no-scheduler', 'run workers only: do not sync the declared schedules or fire any')
    .option('--http <[host:]port>', "also serve the HTTP API (REST, /health, /ready, /metrics) there; default NIGHTSHIFT_HTTP or HEALTH_CHECK_PORT, else the config's http.host/http.port when it has an http section (port 8080 unless set), else none. Host 127.0.0.1 unless given")
    .option('--no-http', "serve no HTTP API, even when NIGHTSHIFT_HTTP, HEALTH_CHECK_PORT or the config's http section ask for one")
    .option('--insecure', 'let the HTTP API listen beyond loopback without an API token (trusted networks only); also `http.insecure` in the config')
    .option('--no-event-feed', "do not copy this process's job and schedule events into the store's event feed (GET /api/events); it costs throughput on very short jobs")
    .option('--alerts <file>', "alert rules to evaluate (alerts.yaml shape); default: the config's `alerts`, else alerts.yaml beside the config file, else none")
    .option('--delete-undeclared', 'at start, delete stored schedules of the schedule file (or code config) kind that it does not declare; by default they are kept, since another file on the same store may declare them')
    .action(
      commandAction(async (context, options: DaemonOptions) => {
        context.defaultLogLevel = 'info';
        if (!options.worker && !options.scheduler) {
          throw new UsageError('--no-worker and --no-scheduler together leave the daemon nothing to run; drop one of them');
        }
        // A schedule file on its own (`--config cron.yaml`) is a complete deployment when it only
        // uses the built-in jobs: loadConfig requires no code config then.
        const config = await context.config();
        const logger = context.logger();
        if (config.file === null) {
          const enabled = config.jobs.map((job) => job.name);
          logger.warn(
            { cwd: process.cwd(), jobs: enabled },
            enabled.length === 0
              ? 'no nightshift.config.* in the working directory, and the schedule file enables no built-in job: this daemon has no jobs to run'
              : `no nightshift.config.* in the working directory: running only the built-in jobs the schedule file enables (${enabled.join(', ')})`,
          );
        }
        // Read before the store opens: a broken alerts file stops the daemon at once, naming file
        // and line. Alerting's modules load only when there are rules.
        const alerts =
          options.alerts !== undefined || config.alerts !== null
            ? await (await import('../alerting-setup.js')).loadCliAlerting({ config, file: options.alerts, logger })
            : null;
        const { store, description } = await context.store();
        // The runtime is loaded by the command that runs it, not by every command of the CLI.
        const [{ createNightshift }, { NightshiftEvents }, { createDaemonScheduler }] = await Promise.all([
          import('../../nightshift.js'),
          import('../../observe/events.js'),
          import('../daemon-scheduler.js'),
        ]);
        const events = new NightshiftEvents();
        // `--http`, else NIGHTSHIFT_HTTP / HEALTH_CHECK_PORT, else the config's `http` section.
        const listen = options.http === false ? null : httpListenOf(options.http, config.env, configListenAddress(config.http));
        const http =
          listen === null ? null : cliHttpOptions(listen, config.http, { insecure: options.insecure === true, scheduleFile: typeof config.schedules === 'string' ? config.schedules : undefined });
        const nightshift = createNightshift({
          store,
          eventFeed: options.eventFeed,
          ...(http ? { http } : {}),
          jobs: [...config.jobs],
          queues: config.queues,
          worker: options.worker,
          events,
          logger,
          ...(config.workerId === undefined ? {} : { workerId: config.workerId }),
          ...(config.leaseMs === undefined ? {} : { leaseMs: config.leaseMs }),
          ...(config.shutdownTimeoutMs === undefined ? {} : { shutdownTimeoutMs: config.shutdownTimeoutMs }),
          ...(config.pollIntervalMs === undefined ? {} : { pollIntervalMs: config.pollIntervalMs }),
          // Retention from NIGHTSHIFT_RETAIN_*, else `prune:` of the config or schedule file. Pruning
          // belongs with the workers: a scheduler-only process (--no-worker) runs none.
          prune: options.worker ? config.prune : false,
          ...(config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes }),
          ...(alerts === null ? {} : { alerts: alerts.runtimeOptions(true) }),
        });
        await config.setup?.({ client: nightshift.client, store, logger, command: 'daemon' });
        if (options.scheduler) {
          const scheduler = await createDaemonScheduler({ config, store, events, logger, deleteUndeclared: options.deleteUndeclared === true });
          await nightshift.addService(scheduler);
        } else if (config.schedules !== undefined) {
          logger.info('--no-scheduler: the declared schedules are neither synced nor fired by this process');
        }

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
        if (alerts !== null) (await import('../alerting-setup.js')).logAlertingSummary(logger, alerts, 'evaluating');
        logger.info(
          {
            store: description,
            queues: config.queues,
            jobs: config.jobs.map((job) => job.name),
            config: config.file,
            schedules: typeof config.schedules === 'string' ? config.schedules : config.schedules === undefined ? null : 'inline',
            roles: [...(options.worker ? ['worker'] : []), ...(options.scheduler ? ['scheduler'] : [])],
            services: nightshift.services.map((service) => service.name),
            http: nightshift.httpAddress,
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
