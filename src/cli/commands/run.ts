import type { Command } from 'commander';
import { StateError, ValidationError } from '../../errors.js';
import type { ErrorRecord, JobFetchParams, JobRecord, Store } from '../../store/types.js';
import { EXIT_FAILURE, EXIT_OK, UsageError } from '../cli-errors.js';
import { commandAction } from '../command-action.js';
import { asFieldOptions, mergeInputFields, readFieldOptions, shellQuote } from '../field-options.js';
import { parseJsonArgument } from '../option-parsers.js';
import { formatDate, formatDuration } from '../table.js';

/** How a `run` ended. */
type RunOutcome =
  | { state: 'completed'; result: unknown; durationMs: number }
  | { state: 'failed'; error: ErrorRecord; durationMs: number }
  | { state: 'snoozed'; runAt: Date }
  | { state: 'cancelled'; reason: string };

/**
 * How far in the future the job is enqueued before this process claims it by id. No worker claims
 * a job before its run_at, so the job is on its own queue yet run only here. The claim follows
 * within milliseconds and makes the job due from then on (the stored run_at becomes the claim's
 * time); only a process killed in between (SIGKILL, power loss) leaves the job, to run an hour
 * later on its queue like any delayed job.
 */
const HOLD_BACK_MS = 3_600_000;

/**
 * The store as the run's worker sees it: a fetch from the job's queue claims that one job by id,
 * once (`jobFetch({ ids })`: whatever its run_at), and nothing after it; everything else is the
 * store itself. The worker then runs it through exactly the daemon's code path.
 */
function storeClaimingOnly(store: Store, job: { id: string; queue: string }, onClaim: (claimed: JobRecord | null) => void): Store {
  let claimed = false;
  const jobFetch = async (params: JobFetchParams): Promise<JobRecord[]> => {
    if (claimed || params.queue !== job.queue) return [];
    claimed = true;
    const jobs = await store.jobFetch({ ...params, limit: 1, ids: [job.id] });
    onClaim(jobs[0] ?? null);
    return jobs;
  };
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'jobFetch') return jobFetch;
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

/**
 * `run <job>`: runs one job now, in this process, with a real context (timeout, AbortSignal,
 * heartbeats, logger) and prints its result.
 *
 * The job is enqueued on its own queue, held back by a future run_at, and claimed by id by a
 * one-slot worker of this process: it goes through exactly the code path of the daemon
 * (validation, executor, fenced finish, attempt history), no daemon picks it up first, and it is
 * stored like any job of that queue (`jobs`, `stats`, `retry` treat it as such). It gets a single
 * attempt: a failure is reported (the job is dead), not retried; `nightshift retry <id>` hands it
 * to the queue's workers.
 */
export function registerRunCommand(program: Command): void {
  program
    .command('run <job>')
    .description('run one job now in this process and print its result (exit code 1 if it fails)')
    .option('--input <json>', 'payload as JSON, e.g. \'{"userId": 42}\'', '{}')
    // `--input-<field> <value>` cannot be declared: read from what commander leaves over.
    .allowUnknownOption()
    .allowExcessArguments()
    .addHelpText(
      'after',
      `
Input fields: --input-<field> <value> sets one field of the input (JSON when the value parses as
JSON, else text), on top of --input: run report.daily --input-org acme --input-days 7
is run report.daily --input '{"org":"acme","days":7}'.`,
    )
    .action(
      commandAction(async (context, jobName: string, options: { input: string }) => {
        context.defaultLogLevel = 'info';
        const extra = context.args.slice(1);
        if (jobName.startsWith('-')) {
          throw new UsageError(`name the job first: nightshift run <job> ${[jobName, ...extra].map(shellQuote).join(' ')}`);
        }
        const { fields, rest } = readFieldOptions('input', extra);
        if (rest.length > 0) {
          const suggestion = ['nightshift', 'run', jobName, ...asFieldOptions('input', rest)].map(shellQuote).join(' ');
          throw new UsageError(`unknown option or argument ${shellQuote(rest[0] as string)} for run; job input goes in --input '{…}' or --input-<field> <value>, e.g. ${suggestion}`);
        }
        const payload = mergeInputFields('--input', parseJsonArgument('--input', options.input), fields);
        const config = await context.config();
        const definition = config.jobs.find((job) => job.name === jobName);
        if (!definition) {
          const known = config.jobs.map((job) => job.name).sort().join(', ') || '(none)';
          throw new ValidationError('UNKNOWN_JOB', `unknown job "${jobName}"; jobs in ${config.file ?? `the built-ins ${typeof config.schedules === 'string' ? config.schedules : 'the schedule file'} enables (no nightshift.config.* in ${process.cwd()})`}: ${known}`);
        }
        const [{ createClient }, { createWorker }, { NightshiftEvents }] = await Promise.all([
          import('../../client/client.js'),
          import('../../worker/worker.js'),
          import('../../observe/events.js'),
        ]);
        const { store } = await context.store();
        const logger = context.logger();
        const events = new NightshiftEvents();
        // The run's events (enqueued, started, completed or failed) reach the store's event feed,
        // and the run counts in the activity stats (GET /api/stats, a queue's done and failed per
        // hour) as a daemon's runs do: added when the command ends.
        await context.feedEvents(events);
        const { createStatsRecorder } = await import('../../observe/stats-recorder.js');
        const stats = createStatsRecorder({ store, events, logger: context.quietLogger() });
        await stats.start();
        context.onClose(() => stats.stop());
        // Knows every job of the config: the enqueue, the hook and the handler's ctx.enqueue use it.
        const client = createClient({
          store,
          jobs: [...config.jobs],
          events,
          logger,
          ...(config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes }),
        });
        // Validation errors (schema, size) surface here, before anything is written.
        const { job } = await client.enqueue(definition, payload, { maxAttempts: 1, delayMs: HOLD_BACK_MS });

        try {
          await config.setup?.({ client, store, logger, command: 'run' });
        } catch (error) {
          await store.jobCancel({ id: job.id, reason: 'the config setup hook failed' });
          throw error;
        }

        let notClaimable: (() => void) | null = null;
        const outcome = new Promise<RunOutcome | 'not-claimable'>((resolve) => {
          const mine = (id: string): boolean => id === job.id;
          notClaimable = () => resolve('not-claimable');
          events.on('job:completed', (event) => mine(event.job.id) && resolve({ state: 'completed', result: event.result, durationMs: event.durationMs }));
          events.on('job:failed', (event) => mine(event.job.id) && resolve({ state: 'failed', error: event.error, durationMs: event.durationMs }));
          events.on('job:snoozed', (event) => mine(event.job.id) && resolve({ state: 'snoozed', runAt: event.runAt }));
          events.on('job:cancelled', (event) => mine(event.job.id) && resolve({ state: 'cancelled', reason: event.reason }));
        });
        const queue = definition.queue;
        const worker = createWorker({
          store: storeClaimingOnly(store, job, (claimed) => {
            if (claimed === null) notClaimable?.();
          }),
          // The worker consumes the job's queue only; the handler's ctx.enqueue knows every job (client).
          jobs: [definition],
          // One slot, nothing claimed ahead: this worker runs the one job and nothing else.
          queues: { [queue]: { concurrency: 1, prefetch: 0, timeoutMs: config.queues[queue]?.timeoutMs ?? 300_000 } },
          events,
          logger,
          ...(config.workerId === undefined ? {} : { id: config.workerId }),
          ...(config.leaseMs === undefined ? {} : { leaseMs: config.leaseMs }),
          ...(config.shutdownTimeoutMs === undefined ? {} : { shutdownTimeoutMs: config.shutdownTimeoutMs }),
          client,
        });
        context.onClose(() => worker.stop());
        // Ctrl-C: stop the worker (it releases the job) and cancel the job, so that an interrupted
        // run is not finished later by a daemon behind the operator's back.
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
        if (result === 'not-claimable') {
          const now = await store.jobGet({ id: job.id });
          throw new StateError(`job ${job.id} (${jobName}) could not be claimed to run: it is ${now?.state ?? 'gone'}`);
        }
        const summary = { id: job.id, name: jobName, queue, ...result };
        context.print(summary, () => {
          switch (result.state) {
            case 'completed':
              return `job ${job.id} (${jobName}) completed in ${formatDuration(result.durationMs)}\nresult: ${JSON.stringify(result.result ?? null, null, 2)}`;
            case 'failed':
              return `job ${job.id} (${jobName}) failed after ${formatDuration(result.durationMs)}; \`nightshift retry ${job.id}\` hands it to the workers of queue ${queue}`;
            case 'snoozed':
              return `job ${job.id} (${jobName}) asked to be snoozed: it waits on queue ${queue} until ${formatDate(result.runAt)}, for a daemon's workers`;
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
