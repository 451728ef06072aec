import type { Command } from 'commander';
import { NotFoundError } from '../../errors.js';
import type { AnyJobDefinition } from '../../job/define-job.js';
import { assertValidName } from '../../job/names.js';
import { DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, type Backoff } from '../../job/retry-policy.js';
import { JOB_STATES, type JobState, type JobStats } from '../../store/types.js';
import { UsageError } from '../cli-errors.js';
import { commandAction } from '../command-action.js';
import type { CommandContext } from '../command-context.js';
import { asFieldOptions, readFieldOptions, shellQuote } from '../field-options.js';
import { compareNames } from '../name-order.js';
import { integerOption, listOption, parseJobId, stateListOption } from '../option-parsers.js';
import { formatDuration, renderTable } from '../table.js';

/** `jobs --limit` when not given. */
const DEFAULT_PAGE_SIZE = 50;

/** How a backoff reads in `nightshift list`. */
function describeBackoff(backoff: Backoff): string {
  if (typeof backoff === 'function') return 'custom';
  if (backoff.type === 'fixed') return `fixed ${formatDuration(backoff.delayMs)}`;
  const cap = backoff.maxDelayMs === undefined ? '' : ` ≤ ${formatDuration(backoff.maxDelayMs)}`;
  return `exp ${formatDuration(backoff.delayMs)}${cap}`;
}

function jobSummary(job: AnyJobDefinition, queueTimeoutMs: number | undefined): Record<string, unknown> {
  const backoff = job.retry?.backoff ?? DEFAULT_BACKOFF;
  return {
    name: job.name,
    queue: job.queue,
    attempts: job.retry?.attempts ?? DEFAULT_ATTEMPTS,
    backoff: describeBackoff(backoff),
    timeoutMs: job.timeoutMs ?? queueTimeoutMs ?? null,
    priority: job.priority,
    description: job.description ?? null,
  };
}

function renderStats(stats: JobStats): string {
  // Only the states that occur, plus the everyday ones, keep the table narrow.
  const everyday: JobState[] = ['scheduled', 'available', 'running', 'retryable', 'completed', 'dead', 'cancelled'];
  const states = JOB_STATES.filter((state) => everyday.includes(state) || stats.totals[state] > 0);
  const row = (label: string, counts: Record<JobState, number>): string[] => [label, ...states.map((state) => String(counts[state] ?? 0))];
  return renderTable(
    [{ header: 'QUEUE' }, ...states.map((state) => ({ header: state.toUpperCase(), align: 'right' as const }))],
    [...stats.queues.map((queue) => row(queue.queue, queue.counts)), row('(total)', stats.totals)],
  );
}

/** The `jobs` command line that shows the page after this one: same filters, same page size. */
export function nextPageCommand(
  configPath: string | undefined,
  options: { state?: readonly string[]; queue?: readonly string[]; job?: readonly string[]; schedule?: string; limit: number },
  cursor: string,
): string {
  const args = ['nightshift', ...(configPath === undefined ? [] : ['--config', configPath]), 'jobs'];
  if (options.state) args.push('--state', options.state.join(','));
  if (options.queue) args.push('--queue', options.queue.join(','));
  if (options.job) args.push('--job', options.job.join(','));
  if (options.schedule !== undefined) args.push('--schedule', options.schedule);
  if (options.limit !== DEFAULT_PAGE_SIZE) args.push('--limit', String(options.limit));
  args.push('--cursor', cursor);
  return args.map(shellQuote).join(' ');
}

/**
 * The error for `job <x>` when x is not a job id, or comes with options: `job` only shows a stored
 * job, and the operator most likely wants to run one (`job daily.report --org acme` is how some
 * tools run jobs). Says which command does that, with their input rewritten for it.
 */
async function notAJobId(context: CommandContext, idText: string, extra: readonly string[]): Promise<UsageError> {
  let jobNames: string[] = [];
  try {
    jobNames = (await context.config({ required: false })).jobs.map((job) => job.name);
  } catch {
    // A broken or missing config only costs the hint its job names.
  }
  const isJobName = jobNames.includes(idText);
  const fields = asFieldOptions('input', extra);
  let input = "--input '{…}'";
  try {
    const { fields: values, rest } = readFieldOptions('input', fields);
    if (rest.length === 0 && Object.keys(values).length > 0) input = `${fields.map(shellQuote).join(' ')} (or --input ${shellQuote(JSON.stringify(values))})`;
  } catch {
    // An option without a value: keep the generic form.
  }
  const run = `nightshift run ${isJobName ? shellQuote(idText) : '<job>'} ${input}`;
  if (isJobName) {
    return new UsageError(`"${idText}" is a job name, and \`job <id>\` shows a stored job by its id. To run the job now, in this process: ${run}; to hand it to the workers: nightshift enqueue ${shellQuote(idText)} --data '{…}'`);
  }
  if (/^\d{1,20}$/.test(idText)) {
    return new UsageError(`\`job <id>\` shows a stored job and takes no ${shellQuote(extra[0] as string)}; to run a job with input: ${run}`);
  }
  const known = jobNames.length > 0 ? ` (jobs: ${[...jobNames].sort().join(', ')})` : '';
  return new UsageError(`job id must be a decimal number, got ${JSON.stringify(idText)}; to run a job${known}: ${run}`);
}

/** `list`, `jobs`, `job <id>`, `stats`: read-only views of the registered jobs and the store. */
export function registerInspectCommands(program: Command): void {
  program
    .command('list')
    .description('list the jobs defined in the config: name, queue, attempts, backoff, timeout, description')
    .action(
      commandAction(async (context) => {
        const config = await context.config();
        const jobs = [...config.jobs]
          .sort((a, b) => compareNames(a.name, b.name))
          .map((job) => jobSummary(job, config.queues[job.queue]?.timeoutMs));
        context.print({ jobs }, () =>
          jobs.length === 0
            ? 'no jobs defined'
            : renderTable(
                [
                  { header: 'NAME' },
                  { header: 'QUEUE' },
                  { header: 'ATTEMPTS', align: 'right' },
                  { header: 'BACKOFF' },
                  { header: 'TIMEOUT', align: 'right' },
                  { header: 'DESCRIPTION', maxWidth: 70 },
                ],
                jobs.map((job) => [
                  String(job.name),
                  String(job.queue),
                  String(job.attempts),
                  String(job.backoff),
                  formatDuration(job.timeoutMs as number | null),
                  String(job.description ?? ''),
                ]),
              ),
        );
      }),
    );

  program
    .command('jobs')
    .description('list stored jobs, newest first')
    .option('--state <states>', `filter by state, comma-separated (${JOB_STATES.join(', ')})`, stateListOption)
    .option('--queue <queues>', 'filter by queue, comma-separated', listOption)
    .option('--job <names>', 'filter by job name, comma-separated', listOption)
    .option('--schedule <id>', 'only jobs created by this schedule')
    .option('--limit <n>', 'page size, 1 to 1000', integerOption(1, 1000), DEFAULT_PAGE_SIZE)
    .option('--cursor <cursor>', 'the next-page cursor printed by the previous page')
    .action(
      commandAction(async (context, options: { state?: JobState[]; queue?: string[]; job?: string[]; schedule?: string; limit: number; cursor?: string }) => {
        if (options.schedule !== undefined) assertValidName('schedule id', options.schedule);
        const { store } = await context.store({ required: false });
        const { jobToJson, renderJobTable } = await import('../job-view.js');
        const page = await store.jobList({
          filter: {
            ...(options.state ? { states: options.state } : {}),
            ...(options.queue ? { queues: options.queue } : {}),
            ...(options.job ? { names: options.job } : {}),
            ...(options.schedule !== undefined ? { scheduleId: options.schedule } : {}),
          },
          limit: options.limit,
          cursor: options.cursor ?? null,
        });
        context.print({ jobs: page.jobs.map(jobToJson), nextCursor: page.nextCursor }, () => {
          const more = page.nextCursor ? `\n\nmore: ${nextPageCommand(context.options.config, options, page.nextCursor)}` : '';
          return renderJobTable(page.jobs) + more;
        });
      }),
    );

  program
    .command('job <id>')
    .description('show one job and every attempt of it (worker, duration, error with stack, result); `run <job>` runs one')
    // `job <name> --org X` is how some operators run a job elsewhere: caught below, to point at `run`.
    .allowUnknownOption()
    .allowExcessArguments()
    .action(
      commandAction(async (context, idText: string) => {
        const extra = context.args.slice(1);
        if (!/^\d{1,20}$/.test(idText) || extra.length > 0) throw await notAJobId(context, idText, extra);
        const id = parseJobId(idText);
        const { store } = await context.store({ required: false });
        const { attemptToJson, jobToJson, renderJobDetails } = await import('../job-view.js');
        const job = await store.jobGet({ id });
        if (!job) throw new NotFoundError('JOB_NOT_FOUND', `job ${id} not found (it may have been pruned)`);
        const attempts = await store.jobAttempts({ id });
        // "Why isn't it running?": one reason from the store's state now (the API's /why answer).
        const { explainJob } = await import('../../client/job-why.js');
        const why = await explainJob(store, job);
        const whyJson = { ...why, until: why.until?.toISOString() ?? null };
        context.print({ job: jobToJson(job), attempts: attempts.map(attemptToJson), why: whyJson }, () => renderJobDetails(job, attempts, why.message));
      }),
    );

  program
    .command('stats')
    .description('count jobs per queue and state')
    .action(
      commandAction(async (context) => {
        const { store } = await context.store({ required: false });
        const stats = await store.jobStats();
        context.print(stats, renderStats);
      }),
    );
}
