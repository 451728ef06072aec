/**
 * Reads and checks the alert rules that load-config.ts located (`ResolvedConfig.alerts`), or the
 * file given on the command line (`daemon --alerts <file>`, which wins). Imported only by the
 * commands that alert — `daemon`, `serve`, `alerts …` — since it loads the rule schema.
 */
import { resolve } from 'node:path';
import { loadAlertRulesFile, parseAlertRules, type AlertRules } from '../alerts/alert-rules.js';
import { ConfigError } from '../errors.js';
import type { AlertRulesSource, ResolvedConfig } from './load-config.js';

/** Rules read and checked, and where they came from (a file path, or `<config file> (alerts)`). */
export interface LoadedAlertRules {
  rules: AlertRules;
  from: string;
}

/**
 * The alert rules in use: `file` (resolved from `cwd`, default the working directory) when given,
 * else the configuration's; null when there are none (alerting off). A file that cannot be read or
 * holds invalid rules is a `ConfigError` naming the file, line and field; invalid inline rules
 * name the config file and the field under `alerts`.
 */
export async function readAlertRules(config: ResolvedConfig, options: { file?: string | undefined; cwd?: string } = {}): Promise<LoadedAlertRules | null> {
  const source: AlertRulesSource | null = options.file !== undefined ? { kind: 'file', file: resolve(options.cwd ?? process.cwd(), options.file) } : config.alerts;
  if (source === null) return null;
  if (source.kind === 'file') return { rules: await loadAlertRulesFile(source.file), from: source.file };
  try {
    return { rules: parseAlertRules(source.rules), from: `${source.file ?? 'the config'} (alerts)` };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // The rules' own paths (`jobFailures[0].conditions`) are under the config's `alerts` key.
    const issues = error.issues.map((issue) => ({ path: `alerts.${issue.path}`, message: issue.message }));
    const list = issues.map((issue) => `${issue.path}: ${issue.message}`).join('; ');
    throw new ConfigError(`invalid configuration: ${list || error.message}`, { ...(source.file === null ? {} : { file: source.file }), issues, cause: error });
  }
}
