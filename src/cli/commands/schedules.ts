import type { Command } from 'commander';
import { NotFoundError } from '../../errors.js';
import type { ScheduleManager, ScheduleView } from '../../scheduler/schedule-manager.js';
import { commandAction } from '../command-action.js';
import type { CommandContext } from '../command-context.js';
import { integerOption, parseJsonArgument } from '../option-parsers.js';
import { formatDate, formatZonedDate, renderFields } from '../table.js';

async function manager(context: CommandContext): Promise<ScheduleManager> {
  const config = await context.config({ required: false });
  const { store } = await context.store({ required: false });
  const [{ createScheduleManager }, { NightshiftEvents }] = await Promise.all([import('../../scheduler/schedule-manager.js'), import('../../observe/events.js')]);
  // A manual run (`trigger`) reaches the store's event feed as a daemon's tick does.
  const events = new NightshiftEvents();
  await context.feedEvents(events);
  return createScheduleManager({
    store,
    jobs: [...config.jobs],
    events,
    ...(config.maxPayloadBytes === undefined ? {} : { maxPayloadBytes: config.maxPayloadBytes }),
  });
}

async function requireSchedule(schedules: ScheduleManager, id: string): Promise<ScheduleView> {
  const view = await schedules.get(id);
  if (!view) throw new NotFoundError('UNKNOWN_SCHEDULE', `no schedule with id "${id}" (see \`nightshift schedules\` for the list)`);
  return view;
}

/** `schedules …`: inspect and control cron schedules stored in the database. */
export function registerScheduleCommands(program: Command): void {
  const schedules = program.command('schedules').description('list, inspect, pause, resume and trigger cron schedules, and show their run history');

  schedules
    .command('list', { isDefault: true })
    .description('list schedules with their next and last runs: the stored ones, and those declared by the schedule file (--config x.yaml) or config, stored yet or not')
    .action(
      commandAction(async (context) => {
        const config = await context.config({ required: false });
        const { listedScheduleToJson, renderDeclaredSchedules, renderSchedules, scheduleToJson } = await import('../schedule-view.js');
        const { listWithDeclaration, readDeclaredSchedules } = await import('../declared-schedules.js');
        // A file is checked before it is deployed: an invalid one fails here, naming file and line,
        // before any store is opened.
        const declared = await readDeclaredSchedules(config);
        // Looking writes nothing: without a database file yet (no daemon ran here), nothing is
        // stored, and none is created.
        const opened = await context.existingStore({ required: false });
        const views = opened === null ? [] : await (await manager(context)).list();
        if (declared === null) {
          context.print({ schedules: views.map(scheduleToJson) }, () => renderSchedules(views));
          return;
        }
        // The store's clock decides next runs; with no store yet, this host's (SQLite's clock).
        const nowMs = opened === null ? Date.now() : (await opened.store.timeNow()).getTime();
        const rows = listWithDeclaration(nowMs, views, declared.schedules, declared.source);
        context.print(
          { declaredIn: declared.from, schedules: rows.map(listedScheduleToJson) },
          () => renderDeclaredSchedules(rows, declared.from),
        );
        const { unconsumedQueuesNotice, unconsumedScheduleQueues } = await import('../schedule-queues.js');
        const stranded = unconsumedQueuesNotice(unconsumedScheduleQueues(declared.schedules, config), config);
        if (stranded !== null) process.stderr.write(`warning: ${stranded}\n`);
      }),
    );

  schedules
    .command('show <id>')
    .description('one schedule: its settings, the next fire times and the recent runs')
    .option('--history <n>', 'how many recent runs to show, 1 to 1000', integerOption(1, 1000), 10)
    .action(
      commandAction(async (context, id: string, options: { history: number }) => {
        const schedules = await manager(context);
        const view = await requireSchedule(schedules, id);
        const upcoming = view.enabled ? await schedules.upcoming(id, 5) : [];
        const history = await schedules.history(id, { limit: options.history });
        const { historyEntryToJson, renderHistory, scheduleToJson } = await import('../schedule-view.js');
        context.print(
          {
            schedule: scheduleToJson(view),
            upcoming: upcoming.map((date) => date.toISOString()),
            history: history.map(historyEntryToJson),
          },
          () =>
            [
              renderFields([
                ['id', view.id],
                ['job', view.jobName],
                ['cron', `${view.cron} (${view.timezone})`],
                ['enabled', view.enabled ? 'yes' : 'no (paused)'],
                ['description', view.description ?? '-'],
                ['input', view.input],
                ['overlap', view.overlap],
                ['catch up', String(view.catchUp)],
                ['source', view.source],
                ['next runs', upcoming.length ? upcoming.map((date) => (view.timezone === 'UTC' ? formatDate(date) : `${formatZonedDate(date, view.timezone)} (${formatDate(date)})`)).join(', ') : '-'],
              ]),
              renderHistory(history),
            ].join('\n\n'),
        );
      }),
    );

  schedules
    .command('history <id>')
    .description('the execution history of a schedule, newest first: fire time, status, job, state, duration, error')
    .option('--limit <n>', 'how many runs to show, 1 to 1000', integerOption(1, 1000), 20)
    .action(
      commandAction(async (context, id: string, options: { limit: number }) => {
        const schedules = await manager(context);
        const view = await requireSchedule(schedules, id);
        const history = await schedules.history(id, { limit: options.limit });
        const { historyEntryToJson, renderHistory } = await import('../schedule-view.js');
        context.print({ scheduleId: view.id, timezone: view.timezone, history: history.map(historyEntryToJson) }, () => renderHistory(history));
      }),
    );

  for (const [name, verb] of [
    ['pause', 'stop firing (ticks while paused never run); a schedule declared in a schedule file or the config is paused there (enabled: false)'],
    ['resume', 'fire again from the next tick; a schedule declared in a schedule file or the config is resumed there (enabled: true)'],
  ] as const) {
    schedules
      .command(`${name} <id>`)
      .description(verb)
      .action(
        commandAction(async (context, id: string) => {
          const schedules = await manager(context);
          const current = await requireSchedule(schedules, id);
          // The HTTP API's rule (scheduler/schedule-ownership.ts): a schedule file or the code
          // config owns its schedules, and the next sync would undo the change.
          const config = await context.config({ required: false });
          const { scheduleChangeRefusal } = await import('../../scheduler/schedule-ownership.js');
          const refusal = scheduleChangeRefusal(current, name, { via: 'from the CLI', scheduleFile: typeof config.schedules === 'string' ? config.schedules : undefined });
          if (refusal !== null) throw refusal;
          // Already as asked: answered unchanged, as the API does.
          const unchanged = name === 'pause' ? !current.enabled : current.enabled;
          const view = unchanged ? current : name === 'pause' ? await schedules.pause(id) : await schedules.resume(id);
          const { scheduleToJson } = await import('../schedule-view.js');
          const nextRun = `next run ${formatDate(view.nextRunAt)}`;
          const said = name === 'pause' ? (unchanged ? 'is already paused' : 'paused') : unchanged ? `is not paused; ${nextRun}` : `resumed; ${nextRun}`;
          context.print(scheduleToJson(view), () => `schedule ${view.id} ${said}`);
        }),
      );
  }

  schedules
    .command('trigger <id>')
    .description('enqueue a run of the schedule now (whatever its overlap policy or pause)')
    .option('--input <json>', "run with this input instead of the schedule's")
    .action(
      commandAction(async (context, id: string, options: { input?: string }) => {
        const input = options.input === undefined ? undefined : parseJsonArgument('--input', options.input);
        const schedules = await manager(context);
        const { job } = await schedules.trigger(id, input === undefined ? {} : { input });
        context.print({ scheduleId: id, jobId: job.id, state: job.state }, () => `schedule ${id} triggered: job ${job.id} (${job.state})`);
      }),
    );

  schedules
    .command('sync')
    .description('store the declared schedules (YAML file or config list) now, as the daemon does on start')
    .option('--delete-undeclared', 'also delete stored schedules of the same kind (file or code config) that the declaration does not list; by default they are kept and listed, since another schedule file on the same store may declare them')
    .action(
      commandAction(async (context, options: { deleteUndeclared?: boolean }) => {
        const config = await context.config();
        // The declaration is checked before the store is opened: an invalid file is refused with
        // every problem and creates no database (the sync checks it again, with the store).
        const { readDeclaredSchedules } = await import('../declared-schedules.js');
        await readDeclaredSchedules(config);
        const { store } = await context.store();
        const { syncDeclaredSchedules, unconsumedQueuesAfterSync, undeclaredSchedulesNotice } = await import('../daemon-scheduler.js');
        const result = await syncDeclaredSchedules({ config, store, deleteUndeclared: options.deleteUndeclared === true });
        if (result === null) {
          context.print({ synced: false }, () => 'no schedules declared: set `schedules` in the config or pass --config <file.yaml>');
          return;
        }
        context.print(
          { synced: true, ...result },
          () => `schedules synced: ${result.created.length} created, ${result.updated.length} updated, ${result.deleted.length} deleted, ${result.unchanged.length} unchanged`,
        );
        const notice = undeclaredSchedulesNotice(result, config);
        if (notice !== null) process.stderr.write(`warning: ${notice}\n`);
        const stranded = await unconsumedQueuesAfterSync(store, result, config);
        if (stranded !== null) process.stderr.write(`warning: ${stranded.notice}\n`);
      }),
    );
}
