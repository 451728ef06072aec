import type { Command } from 'commander';
import type { QueueView } from '../../client/client.js';
import { UsageError } from '../cli-errors.js';
import { commandAction } from '../command-action.js';
import { formatDuration, renderTable } from '../table.js';

/**
 * `queues`, `queues pause|resume|drain <name>`: the queues of the store, cluster-wide (a pause
 * stops every worker of the store from claiming within one poll interval), and `dead`: the
 * dead-letter jobs grouped by job and error, retried or purged by filter.
 */
export function registerQueueCommands(program: Command): void {
  const queues = program.command('queues').description('list queues (counts, paused, lag, consumers), and pause, resume or drain one');

  queues
    .command('list', { isDefault: true })
    .description('every queue: counts by state, paused, lag of the oldest due job, live consumers and their slots, completed/failed in the last hour')
    .action(
      commandAction(async (context) => {
        const client = await context.client({ required: false });
        const list = await client.queues();
        context.print({ queues: list }, () => renderQueues(list));
      }),
    );

  for (const [action, description] of [
    ['pause', 'stop every worker of the store from claiming jobs of this queue (enqueues still work)'],
    ['resume', 'let workers claim jobs of this queue again'],
  ] as const) {
    queues
      .command(`${action} <name>`)
      .description(description)
      .action(
        commandAction(async (context, name: string) => {
          const client = await context.client({ required: false });
          if (action === 'pause') await client.pauseQueue(name);
          else await client.resumeQueue(name);
          context.print({ queue: name, paused: action === 'pause' }, () => `queue "${name}" ${action === 'pause' ? 'paused: workers stop claiming its jobs within one poll interval' : 'resumed'}`);
        }),
      );
  }

  queues
    .command('drain <name>')
    .description('cancel every job of the queue that has not started (running jobs go on)')
    .option('--reason <text>', 'recorded on each cancelled job', 'drained')
    .action(
      commandAction(async (context, name: string, options: { reason: string }) => {
        const client = await context.client({ required: false });
        const result = await client.drainQueue(name, options.reason);
        context.print({ queue: name, ...result }, () => `queue "${name}": ${result.changed} job${result.changed === 1 ? '' : 's'} cancelled${result.more ? ' (more remain: run it again)' : ''}`);
      }),
    );

  const dead = program.command('dead').description('dead-letter jobs grouped by job and error; `dead retry` / `dead purge` act on them by filter');
  dead
    .command('list', { isDefault: true })
    .description('dead jobs grouped by job and error (the newest 10 000 read), most first')
    .option('--queue <queue>', 'only this queue')
    .option('--job <name>', 'only this job name')
    .option('--error-kind <kind>', 'only jobs whose last error is of this kind (timeout, error, unrecoverable, lease_expired, …)')
    .action(
      commandAction(async (context, options: { queue?: string; job?: string; errorKind?: string }) => {
        const client = await context.client({ required: false });
        const groups = new Map<string, { job: string; queue: string; error: string; count: number; newestId: string; newestAt: string | null }>();
        let cursor: string | null = null;
        let scanned = 0;
        // Newest first, at most 10 000 jobs read: enough to group what an operator looks at.
        do {
          const page = await client.list({
            state: 'dead',
            ...(options.queue ? { queue: options.queue } : {}),
            ...(options.job ? { job: options.job } : {}),
            ...(options.errorKind ? { errorKind: options.errorKind } : {}),
            limit: 1000,
            cursor,
          });
          for (const job of page.jobs) {
            const error = job.lastError ? `${job.lastError.name}: ${job.lastError.message.split('\n')[0]!.slice(0, 120)}` : '(no error recorded)';
            const key = `${job.name}\u0000${job.queue}\u0000${error}`;
            const group = groups.get(key);
            if (group) group.count++;
            else groups.set(key, { job: job.name, queue: job.queue, error, count: 1, newestId: job.id, newestAt: job.finishedAt?.toISOString() ?? null });
          }
          scanned += page.jobs.length;
          cursor = page.nextCursor;
        } while (cursor !== null && scanned < 10_000);
        const list = [...groups.values()].sort((a, b) => b.count - a.count);
        context.print({ groups: list, scanned, more: cursor !== null }, () =>
          list.length === 0
            ? 'no dead jobs'
            : `${renderTable(
                [{ header: 'COUNT', align: 'right' }, { header: 'JOB' }, { header: 'QUEUE' }, { header: 'ERROR', maxWidth: 80 }, { header: 'NEWEST' }],
                list.map((group) => [String(group.count), group.job, group.queue, group.error, group.newestId]),
              )}${cursor !== null ? `\n(the newest ${scanned} dead jobs; more exist)` : ''}`,
        );
      }),
    );

  for (const [action, description] of [
    ['retry', 'run the dead jobs the filter selects again (one more attempt each)'],
    ['purge', 'delete the dead jobs the filter selects, with their attempts'],
  ] as const) {
    dead
      .command(action)
      .description(description)
      .option('--queue <queue>', 'only this queue')
      .option('--job <name>', 'only this job name')
      .option('--since <iso>', 'only jobs created at or after this time (ISO 8601)')
      .option('--before <iso>', 'only jobs created before this time (ISO 8601)')
      .option('--error-kind <kind>', 'only jobs whose last error is of this kind (timeout, error, unrecoverable, lease_expired, …)')
      .option('--all', action === 'purge' ? 'purge every dead job (required when no other filter is given: deleting cannot be undone)' : 'accepted for symmetry with purge: without a filter every dead job is retried')
      .action(
        commandAction(async (context, options: { queue?: string; job?: string; since?: string; before?: string; errorKind?: string; all?: boolean }) => {
          const filtered = [options.queue, options.job, options.since, options.before, options.errorKind].some((value) => value !== undefined);
          // Deleting cannot be undone: every dead job at once must be asked for, as the HTTP API
          // asks for a filter; a retry can be (the jobs run again, or are cancelled).
          if (action === 'purge' && !filtered && options.all !== true) {
            throw new UsageError('dead purge deletes the dead jobs a filter selects: give --queue, --job, --since, --before or --error-kind, or --all to delete every dead job');
          }
          const client = await context.client({ required: false });
          const date = (text: string | undefined, flag: string): Date | undefined => {
            if (text === undefined) return undefined;
            const parsed = new Date(text);
            if (Number.isNaN(parsed.getTime())) throw new UsageError(`${flag} must be an ISO 8601 time, got ${JSON.stringify(text)}`);
            return parsed;
          };
          const filter = {
            state: 'dead' as const,
            ...(options.queue ? { queue: options.queue } : {}),
            ...(options.job ? { job: options.job } : {}),
            ...(options.since ? { createdAfter: date(options.since, '--since') } : {}),
            ...(options.before ? { createdBefore: date(options.before, '--before') } : {}),
            ...(options.errorKind ? { errorKind: options.errorKind } : {}),
          };
          const result = action === 'retry' ? await client.retryMany(filter) : await client.deleteMany(filter);
          context.print(result, () => `${result.changed} dead job${result.changed === 1 ? '' : 's'} ${action === 'retry' ? 'retried' : 'purged'}${result.skipped ? `, ${result.skipped} skipped` : ''}${result.more ? ' (more remain: run it again)' : ''}`);
        }),
      );
  }
}

function renderQueues(list: readonly QueueView[]): string {
  if (list.length === 0) return 'no queues yet';
  return renderTable(
    [
      { header: 'QUEUE' },
      { header: 'PAUSED' },
      { header: 'AVAILABLE', align: 'right' },
      { header: 'SCHEDULED', align: 'right' },
      { header: 'RETRYABLE', align: 'right' },
      { header: 'RUNNING', align: 'right' },
      { header: 'DEAD', align: 'right' },
      { header: 'LAG', align: 'right' },
      { header: 'CONSUMERS', align: 'right' },
      { header: 'SLOTS', align: 'right' },
      { header: 'DONE/H', align: 'right' },
      { header: 'FAILED/H', align: 'right' },
    ],
    list.map((queue) => [
      queue.name,
      queue.paused ? 'yes' : '',
      String(queue.counts.available ?? 0),
      String(queue.counts.scheduled ?? 0),
      String(queue.counts.retryable ?? 0),
      String(queue.counts.running ?? 0),
      String(queue.counts.dead ?? 0),
      queue.lagMs > 0 ? formatDuration(queue.lagMs) : '',
      String(queue.consumers),
      String(queue.concurrency),
      String(queue.completedLastHour),
      String(queue.failedLastHour),
    ]),
  );
}
