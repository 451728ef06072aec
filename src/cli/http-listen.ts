import type { EnvSettings, ListenAddress } from '../config/env.js';
import { parseListenAddress } from '../config/env.js';
import { UsageError } from './cli-errors.js';

/**
 * Where `daemon` and `serve` serve the HTTP API: `--http [host:]port`, else `NIGHTSHIFT_HTTP`,
 * else `HEALTH_CHECK_PORT` (on 127.0.0.1), else `fallback`: the config's `http` address, or the
 * command's default (null: no HTTP server).
 */
export function httpListenOf(flag: string | undefined, env: EnvSettings, fallback: ListenAddress | null = null): ListenAddress | null {
  if (flag !== undefined) {
    const parsed = parseListenAddress(flag);
    if ('problem' in parsed) throw new UsageError(`--http ${parsed.problem}`);
    return parsed;
  }
  if (env.http) return env.http;
  if (env.healthCheckPort !== undefined) return { port: env.healthCheckPort };
  return fallback;
}
