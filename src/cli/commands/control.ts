import type { Command } from 'commander';
import type { Job } from '../../job/job-view.js';
import { MAX_INT32 } from '../../job/input-bounds.js';
import { commandAction } from '../command-action.js';
import { integerOption, parseJobId, parseJsonArgument, priorityOption } from '../option-parsers.js';
import { formatDate, renderFields } from '../table.js';

/** The short form of a job printed after enqueue, retry and cancel. */
function jobBrief(job: Job): Record<string, unknown> {
  return {
    id: job.id,
    name: job.name,
    queue: job.queue,
    state: job.state,
    priority: job.priority,
    attempt: job.attempt,
    maxAttempts: job.maxAttempts,
    runAt: job.runAt.toISOString(),
    key: job.key,
  };
}

function renderBrief(job: Job, headline: string): string {
  return `${headline}\n${renderFields([
    ['id', job.id],
    ['name', job.name],
    ['queue', job.queue],
    ['state', job.state],
    ['attempt', `${job.attempt} of ${job.maxAttempts}`],
    ['run at', formatDate(job.runAt)],
  ])}`;
}

interface EnqueueCommandOptions {
  data?: string;
  delay?: number;
  priority?: number;
  queue?: string;
  key?: string;
  attempts?: number;
}

/** `enqueue`, `retry`, `cancel`: commands that change jobs. */
export function registerControlCommands(program: Command): void {
  program
    .command('enqueue <job>')
    .description('enqueue a job for the workers (validated against the job\'s schema)')
    .option('--data <json>', 'payload as JSON, e.g. \'{"userId": 42}\'', '{}')
    .option('--delay <ms>', 'run no earlier than this many milliseconds from now', integerOption(0))
    .option('--priority <n>', 'priority: critical, high, normal, low or -1000000 … 1000000, higher runs first (default: the job\'s)', priorityOption)
    .option('--queue <queue>', 'queue to run on (default: the job\'s)')
    .option('--key <key>', 'de-duplication key: while a job with this key is unfinished, return it instead of adding one')
    .option('--attempts <n>', 'total attempts, 1 to 2147483647 as everywhere else (default: the job\'s)', integerOption(1, MAX_INT32))
    .action(
      commandAction(async (context, jobName: string, options: EnqueueCommandOptions) => {
        // Parsed before anything is opened: bad input must leave no trace.
        const payload = parseJsonArgument('--data', options.data ?? '{}');
        const client = await context.client();
        const { job, inserted } = await client.enqueue(jobName, payload, {
          ...(options.delay === undefined ? {} : { delayMs: options.delay }),
          ...(options.priority === undefined ? {} : { priority: options.priority }),
          ...(options.queue === undefined ? {} : { queue: options.queue }),
          ...(options.key === undefined ? {} : { key: options.key }),
          ...(options.attempts === undefined ? {} : { maxAttempts: options.attempts }),
        });
        context.print({ ...jobBrief(job), inserted }, () =>
          renderBrief(job, inserted ? `enqueued job ${job.id}` : `job ${job.id} with key "${job.key}" is already ${job.state}; nothing added`),
        );
      }),
    );

  program
    .command('retry <id>')
    .description('run a finished, failed or scheduled job again now (one more attempt if it used them all)')
    .action(
      commandAction(async (context, idText: string) => {
        const id = parseJobId(idText);
        const client = await context.client({ required: false });
        const job = await client.retry(id);
        context.print(jobBrief(job), () => renderBrief(job, `job ${job.id} will run again`));
      }),
    );

  program
    .command('cancel <id>')
    .description('cancel a job that has not finished (a running handler is told to stop)')
    .option('--reason <text>', 'why, recorded on the job', 'cancelled from the command line')
    .action(
      commandAction(async (context, idText: string, options: { reason: string }) => {
        const id = parseJobId(idText);
        const client = await context.client({ required: false });
        const job = await client.cancel(id, options.reason);
        context.print(jobBrief(job), () => renderBrief(job, `job ${job.id} cancelled`));
      }),
    );
}
