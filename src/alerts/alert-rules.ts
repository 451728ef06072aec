/**
 * Alert rules: the `alerts.yaml` shape users already have (settings, then rule lists by family),
 * validated strictly — an unknown field is an error naming the file, line and field, never
 * silently ignored — into `AlertRules`, which the evaluator reads.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { checkHttpUrl } from './channels/channel-settings.js';
import { parseYamlFile } from '../scheduler/schedule-file.js';

export const SEVERITIES = ['critical', 'high', 'medium', 'low', 'info'] as const;
export type Severity = (typeof SEVERITIES)[number];

/**
 * The channels Nightshift has (channels/): a rule may name these, and any channel code passes to
 * the runtime by its own name. Another name is a typo or a channel that does not exist, refused
 * when the rules are read: otherwise its alerts would be recorded and never sent.
 */
export const CHANNEL_KINDS = ['log', 'slack', 'discord', 'email', 'webhook'] as const;
export type ChannelKind = (typeof CHANNEL_KINDS)[number];

/** A regular expression given as text; refused when it does not compile. */
const pattern = z.string().min(1).max(500).refine((text) => {
  try {
    new RegExp(text);
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');
const seconds = z.number().int().positive().max(30 * 86_400);
const count = z.number().int().positive().max(1_000_000_000);

const ruleBase = {
  name: z.string().min(1).max(200).regex(/^[A-Za-z0-9][A-Za-z0-9._:-]*$/, 'letters, digits, ".", "_", ":" and "-", starting with a letter or digit'),
  enabled: z.boolean().default(true),
  description: z.string().max(2000).optional(),
  severity: z.enum(SEVERITIES).default('medium'),
  /** Channels of this rule; default: the settings' channels. */
  channels: z.array(z.string().min(1)).min(1, 'name at least one channel (an empty list would deliver this rule\'s alerts nowhere)').optional(),
  /** Send a "resolved" message when the condition clears; default: the settings' `notifyResolved`. */
  notifyResolved: z.boolean().optional(),
};

const atLeastOne = (fields: readonly string[]) => (conditions: Record<string, unknown>, ctx: z.RefinementCtx) => {
  if (!fields.some((field) => conditions[field] !== undefined)) ctx.addIssue({ code: 'custom', message: `needs one of: ${fields.join(', ')}` });
};

const JOB_FAILURE_TRIGGERS = ['consecutiveFailures', 'failureCount', 'failuresPerHour', 'timeouts'] as const;
export const jobFailureRuleSchema = z.strictObject({
  ...ruleBase,
  conditions: z
    .strictObject({
      /** Which job names the rule watches (default: every job). */
      jobPattern: pattern.optional(),
      /** The newest N finished jobs of a name all ended dead. */
      consecutiveFailures: count.optional(),
      /** At least N failed attempts (retried or dead) of a name within `timeWindow`. */
      failureCount: count.optional(),
      /** At least N failed attempts of a name within the last hour. */
      failuresPerHour: count.optional(),
      /** At least N attempts of a name ran past their timeout within `timeWindow`. */
      timeouts: count.optional(),
      /** Window of `failureCount`, seconds; default 3600. */
      timeWindow: seconds.optional(),
    })
    .superRefine(atLeastOne(JOB_FAILURE_TRIGGERS)),
});

const QUEUE_TRIGGERS = ['dlqSize', 'pendingJobs', 'delayedJobs', 'oldestDueSeconds', 'waitP95Seconds', 'noWorker', 'pausedForSeconds', 'saturatedForSeconds'] as const;
export const queueHealthRuleSchema = z.strictObject({
  ...ruleBase,
  conditions: z
    .strictObject({
      /** Which queues the rule watches (default: every queue). */
      queuePattern: pattern.optional(),
      /** At least N dead jobs in the queue. */
      dlqSize: count.optional(),
      /** At least N jobs waiting to run (available, scheduled or retryable). */
      pendingJobs: count.optional(),
      /** At least N jobs waiting for a later time (scheduled or retryable). */
      delayedJobs: count.optional(),
      /** The oldest due job has waited at least N seconds. */
      oldestDueSeconds: seconds.optional(),
      /** The 95th percentile of due → started over `timeWindow` is at least N seconds. */
      waitP95Seconds: seconds.optional(),
      /** true: due jobs and no live process consumes the queue. */
      noWorker: z.literal(true).optional(),
      /** The queue has been paused for at least N seconds. */
      pausedForSeconds: seconds.optional(),
      /**
       * Every live worker slot of the queue (summed concurrency of the processes consuming it,
       * capped by its `globalConcurrency`) has been busy at every evaluation for at least N
       * seconds. Read from the process registry (refreshed every 10 s) and remembered by each
       * evaluator, so N below `evaluateEvery` + 10 s is in effect rounded up to it.
       */
      saturatedForSeconds: seconds.optional(),
      /** Window of `waitP95Seconds`, seconds; default 3600. */
      timeWindow: seconds.optional(),
    })
    .superRefine(atLeastOne(QUEUE_TRIGGERS)),
});

const PERFORMANCE_TRIGGERS = ['successRate', 'durationIncrease'] as const;
export const performanceRuleSchema = z.strictObject({
  ...ruleBase,
  conditions: z
    .strictObject({
      jobPattern: pattern.optional(),
      /** Completed / ended attempts of a name within `timeWindow` is below this (0 … 1). */
      successRate: z.number().min(0).max(1).optional(),
      /** Average run time within `timeWindow` is at least this many times the day before it. */
      durationIncrease: z.number().gt(1).max(1000).optional(),
      /** Window, seconds; default 3600. */
      timeWindow: seconds.optional(),
      /** Fewer ended attempts than this in the window: the rule stays quiet; default 1. */
      minRuns: count.optional(),
    })
    .superRefine(atLeastOne(PERFORMANCE_TRIGGERS)),
});

export const scheduleRuleSchema = z.strictObject({
  ...ruleBase,
  conditions: z.strictObject({
    /** Which schedule ids the rule watches (default: every enabled schedule). */
    schedulePattern: pattern.optional(),
    /** A tick is this many seconds past its fire time and not claimed yet. */
    lateBySeconds: seconds,
  }),
});

export const alertSettingsSchema = z.strictObject({
  enabled: z.boolean().default(true),
  /** Channels every rule uses unless it names its own. */
  channels: z.array(z.string().min(1)).min(1, 'name at least one channel (an empty list would deliver alerts nowhere); leave it out for the default, log').default(['log']),
  slack: z.strictObject({ channel: z.string().optional(), username: z.string().optional(), iconEmoji: z.string().optional() }).optional(),
  discord: z.strictObject({ username: z.string().optional() }).optional(),
  email: z.strictObject({ from: z.string().optional(), to: z.array(z.string()).optional() }).optional(),
  webhook: z
    .strictObject({
      url: z
        .string()
        .optional()
        .superRefine((url, ctx) => {
          if (url === undefined) return;
          // The channel's own check, at load (its message names no part of the URL).
          const checked = checkHttpUrl(url);
          if ('problem' in checked) ctx.addIssue({ code: 'custom', message: checked.problem });
        }),
    })
    .optional(),
  throttle: z
    .strictObject({
      /** Seconds between two alerts of the same rule and subject; default 300. */
      minInterval: z.number().int().min(0).max(86_400).default(300),
      /** Most alerts about one job name per hour, all rules together; default 10. */
      maxAlertsPerJobPerHour: z.number().int().positive().max(10_000).default(10),
    })
    .default({ minInterval: 300, maxAlertsPerJobPerHour: 10 }),
  /** Seconds between two evaluations; default 30. */
  evaluateEvery: z.number().int().min(5).max(3600).default(30),
  /** Send a "resolved" message when a condition clears; default true. */
  notifyResolved: z.boolean().default(true),
  /** Public base URL of the dashboard, for links in messages. */
  dashboardUrl: z.string().url().optional(),
});

export const alertsFileSchema = z.strictObject({
  settings: alertSettingsSchema.default(alertSettingsSchema.parse({})),
  jobFailures: z.array(jobFailureRuleSchema).default([]),
  queueHealth: z.array(queueHealthRuleSchema).default([]),
  performance: z.array(performanceRuleSchema).default([]),
  schedules: z.array(scheduleRuleSchema).default([]),
});

export type AlertRules = z.output<typeof alertsFileSchema>;
export type AlertRulesInput = z.input<typeof alertsFileSchema>;
export type JobFailureRule = z.output<typeof jobFailureRuleSchema>;
export type QueueHealthRule = z.output<typeof queueHealthRuleSchema>;
export type PerformanceRule = z.output<typeof performanceRuleSchema>;
export type ScheduleRule = z.output<typeof scheduleRuleSchema>;

function issuePath(path: readonly PropertyKey[]): string {
  return path.map((part, index) => (typeof part === 'number' ? `[${part}]` : `${index === 0 ? '' : '.'}${String(part)}`)).join('');
}

/** Where rules come from, for errors, and the channel names besides `CHANNEL_KINDS` they may use. */
export interface AlertRulesSourceOptions {
  file?: string;
  lineAt?: (path: string) => number | undefined;
  /** Names of the channels code gives the runtime (`alerts.channels`), which rules may name too. */
  channels?: readonly string[];
}

interface RulesIssue {
  path: string;
  message: string;
  line: number | undefined;
}

/**
 * Every channel name of the rules (raw or parsed: the same shape) that is neither a channel kind
 * nor in `extra`. Entries that are not text are left to the schema.
 */
function channelIssues(input: unknown, extra: readonly string[], lineAt: AlertRulesSourceOptions['lineAt']): RulesIssue[] {
  const known = [...new Set<string>([...CHANNEL_KINDS, ...extra])];
  const record = (value: unknown): Record<string, unknown> | null => (typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : null);
  const issues: RulesIssue[] = [];
  const check = (channels: unknown, path: string, owner: string) => {
    if (!Array.isArray(channels)) return;
    channels.forEach((name, index) => {
      if (typeof name !== 'string' || known.includes(name)) return;
      const at = `${path}[${index}]`;
      issues.push({ path: at, message: `unknown channel ${JSON.stringify(name)} (${owner}); known channels: ${known.join(', ')}`, line: lineAt?.(at) });
    });
  };
  const root = record(input);
  if (root === null) return issues;
  check(record(root.settings)?.channels, 'settings.channels', 'the default of every rule');
  for (const family of ['jobFailures', 'queueHealth', 'performance', 'schedules'] as const) {
    const list = root[family];
    if (!Array.isArray(list)) continue;
    list.forEach((rule, index) => {
      const name = record(rule)?.name;
      check(record(rule)?.channels, `${family}[${index}].channels`, typeof name === 'string' ? `rule ${name}` : 'a rule');
    });
  }
  return issues;
}

/** One `ConfigError` listing every problem as `field: message`, at the line of the first one. */
function rulesError(issues: readonly RulesIssue[], file: string | undefined): ConfigError {
  const first = issues[0];
  const list = issues.map((issue) => `${issue.line !== undefined ? `line ${issue.line}: ` : ''}${issue.path}: ${issue.message}`).join('; ');
  return new ConfigError(`invalid alert rules: ${list}`, {
    ...(file ? { file } : {}),
    ...(first?.line !== undefined ? { line: first.line } : {}),
    issues: issues.map(({ path, message }) => ({ path, message })),
  });
}

/**
 * Validates alert rules (from code or a parsed file). Throws one `ConfigError` listing every
 * problem as `field: message`; `lineAt` (for a file) puts the line of the first one in it. A
 * channel name must be one of `CHANNEL_KINDS` or of `channels`.
 */
export function parseAlertRules(input: unknown, where: AlertRulesSourceOptions = {}): AlertRules {
  const result = alertsFileSchema.safeParse(input ?? {});
  const issues: RulesIssue[] = result.success
    ? []
    : result.error.issues.map((issue) => {
        const path = issuePath(issue.path);
        const field = issue.code === 'unrecognized_keys' ? `${path ? `${path}.` : ''}${issue.keys.join(', ')}` : path || '(top level)';
        const line = where.lineAt?.(issue.code === 'unrecognized_keys' ? `${path ? `${path}.` : ''}${issue.keys[0]}` : path);
        const message = issue.code === 'unrecognized_keys' ? `unknown field${issue.keys.length > 1 ? 's' : ''} (not a rule setting; check the spelling)` : issue.message;
        return { path: field, message, line };
      });
  // Checked on the input as well when the schema refused it: one error lists every problem.
  issues.push(...channelIssues(input, where.channels ?? [], where.lineAt));
  if (!result.success || issues.length > 0) throw rulesError(issues, where.file);
  const rules = result.data;
  const names = new Map<string, number>();
  for (const family of ['jobFailures', 'queueHealth', 'performance', 'schedules'] as const) {
    for (const rule of rules[family]) names.set(rule.name, (names.get(rule.name) ?? 0) + 1);
  }
  const duplicates = [...names].filter(([, n]) => n > 1).map(([name]) => name);
  if (duplicates.length > 0) throw new ConfigError(`invalid alert rules: rule names must be unique; repeated: ${duplicates.join(', ')}`, where.file ? { file: where.file } : {});
  return rules;
}

/**
 * Checks the channel names of rules parsed elsewhere (passed to the runtime as `AlertRules`)
 * against `CHANNEL_KINDS` and `channels`; throws the `ConfigError` `parseAlertRules` would.
 */
export function checkAlertRuleChannels(rules: AlertRules, channels: readonly string[] = []): void {
  const issues = channelIssues(rules, channels, undefined);
  if (issues.length > 0) throw rulesError(issues, undefined);
}

/**
 * Reads and validates an alerts file (YAML). Errors name the file and line. `channels`: names of
 * the channels code gives the runtime, which the rules may name besides `CHANNEL_KINDS`.
 */
export async function loadAlertRulesFile(file: string, options: { channels?: readonly string[] } = {}): Promise<AlertRules> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new ConfigError(`cannot read the alerts file: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, { file, cause: error });
  }
  const { root, lineAt } = parseYamlFile(text, file, 'a mapping of settings and rule lists (jobFailures, queueHealth, performance, schedules)');
  return parseAlertRules(root, { file, lineAt, ...(options.channels ? { channels: options.channels } : {}) });
}
