import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { createClient } from '../../client/client.js';
import { ValidationError } from '../../errors.js';
import type { AnyJobDefinition } from '../../job/define-job.js';
import { NightshiftEvents } from '../../observe/events.js';
import type { ErrorRecord } from '../../store/types.js';
import { createWorker } from '../../worker/worker.js';
import { EXIT_FAILURE, EXIT_OK } from '../cli-errors.js';
import { commandAction } from '../command-action.js';
import { parseJsonArgument } from '../option-parsers.js';
import { formatDuration } from '../table.js';

/** How a `run` ended. */
type RunOutcome =
  | { state: 'completed'; result: unknown; durationMs: number }
  | { state: 'failed'; error: ErrorRecord; durationMs: number }
  | { state: 'snoozed'; runAt: Date }
  | { state: 'cancelled'; reason: string };

/**
 * `run <job>`: runs one job now, in this process, with a real context (timeout, AbortSignal,
 * heartbeats, logger) and prints its result.
 *
 * The job is enqueued on a queue private to this process and run by a one-slot worker that only
 * consumes that queue: it goes through exactly the code path of the daemon (validation, executor,
 * fenced finish, attempt history), yet never picks up other jobs, and a daemon running on the same
 * store never picks up this one. It gets a single attempt: a failure is reported, not retried.
 */
export function registerRunCommand(program: Command): void {
  program
    .command('run <job>')
    .description('run one job now in this process and print its result (exit code 1 if it fails)')
    .option('--input <json>', 'payload as JSON, e.g. \'{"userId": 42}\'', '{}')
    .action(
      commandAction(async (context, jobName: string, options: { input: string }) => {
        context.defaultLogLevel = 'info';
        const payload = parseJsonArgument('--input', options.input);
        const config = await context.config();
        const definition = config.jobs.find((job) => job.name === jobName);
        if (!definition) {
          const known = config.jobs.map((job) => job.name).sort().join(', ') || '(none)';
          throw new ValidationError('UNKNOWN_JOB', `unknown job "${jobName}"; jobs in ${config.file}: ${known}`);
        }
        const queue = `cli-run-${process.pid}-${randomBytes(4).toString('hex')}`;
        const runnable: AnyJobDefinition = { ...definition, queue };
        const { store } = await context.store();
        const logger = context.logger();
        const events = new NightshiftEvents();
        const client = createClient({
          store,
          jobs: [runnable],
          events,
          logger,
          ...(config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes }),
        });
        // Validation errors (schema, size) surface here, before anything is written.
        const { job } = await client.enqueue(runnable, payload, { maxAttempts: 1 });

        // Knows every job of the config: the hook and the handler's ctx.enqueue use it, by name too.
        const appClient = createClient({
          store,
          jobs: [...config.jobs],
          events,
          logger,
          ...(config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes }),
        });
        try {
          await config.setup?.({ client: appClient, store, logger, command: 'run' });
        } catch (error) {
          await store.jobCancel({ id: job.id, reason: 'the config setup hook failed' });
          throw error;
        }

        const outcome = new Promise<RunOutcome>((resolve) => {
          const mine = (id: string): boolean => id === job.id;
          events.on('job:completed', (event) => mine(event.job.id) && resolve({ state: 'completed', result: event.result, durationMs: event.durationMs }));
          events.on('job:failed', (event) => mine(event.job.id) && resolve({ state: 'failed', error: event.error, durationMs: event.durationMs }));
          events.on('job:snoozed', (event) => mine(event.job.id) && resolve({ state: 'snoozed', runAt: event.runAt }));
          events.on('job:cancelled', (event) => mine(event.job.id) && resolve({ state: 'cancelled', reason: event.reason }));
        });
        const worker = createWorker({
          store,
          jobs: [runnable],
          queues: { [queue]: { concurrency: 1, timeoutMs: config.queues[definition.queue]?.timeoutMs ?? 300_000 } },
          events,
          logger,
          ...(config.workerId === undefined ? {} : { id: config.workerId }),
          ...(config.leaseMs === undefined ? {} : { leaseMs: config.leaseMs }),
          ...(config.shutdownTimeoutMs === undefined ? {} : { shutdownTimeoutMs: config.shutdownTimeoutMs }),
          // The worker only runs the private copy; its handler enqueues any job of the config.
          client: appClient,
        });
        context.onClose(() => worker.stop());
        // Ctrl-C: stop the worker (it releases the job) and cancel the job, so nothing is left
        // behind on a queue nobody consumes.
        let interrupted = false;
        const onSignal = (): void => {
          interrupted = true;
          void worker.stop().then(() => store.jobCancel({ id: job.id, reason: 'interrupted while running from the command line' }));
        };
        process.once('SIGINT', onSignal);
        process.once('SIGTERM', onSignal);
        context.onClose(async () => {
          process.off('SIGINT', onSignal);
          process.off('SIGTERM', onSignal);
        });
        await worker.start();
        const result = await Promise.race([
          outcome,
          new Promise<null>((resolve) => worker.events.once('worker:stopped', () => resolve(null))),
        ]);
        await worker.stop();

        if (result === null || interrupted) {
          await store.jobCancel({ id: job.id, reason: 'interrupted while running from the command line' });
          process.stderr.write(`job ${job.id} (${jobName}) interrupted and cancelled\n`);
          return 130;
        }
        if (result.state === 'snoozed') {
          // Nobody consumes the private queue: cancel instead of leaving a job that never runs.
          await store.jobCancel({ id: job.id, reason: 'snoozed during `nightshift run`; not re-run' });
        }
        const summary = { id: job.id, name: jobName, ...result };
        context.print(summary, () => {
          switch (result.state) {
            case 'completed':
              return `job ${job.id} (${jobName}) completed in ${formatDuration(result.durationMs)}\nresult: ${JSON.stringify(result.result ?? null, null, 2)}`;
            case 'failed':
              return `job ${job.id} (${jobName}) failed after ${formatDuration(result.durationMs)}`;
            case 'snoozed':
              return `job ${job.id} (${jobName}) asked to be snoozed until ${result.runAt.toISOString()}; not re-run by \`nightshift run\``;
            case 'cancelled':
              return `job ${job.id} (${jobName}) cancelled itself: ${result.reason}`;
          }
        });
        if (result.state === 'failed') {
          const verbose = process.env.LOG_LEVEL === 'debug' || process.env.LOG_LEVEL === 'trace';
          const detail = verbose && result.error.stack ? `\n${result.error.stack}` : '';
          process.stderr.write(`error [JOB_FAILED]: job ${job.id} (${jobName}) failed: ${result.error.name}: ${result.error.message}${detail}\n`);
          return EXIT_FAILURE;
        }
        return EXIT_OK;
      }),
    );
}
