import type { HttpListenOptions } from '../server/api-service.js';
import type { ApiServerOptions } from '../server/server.js';
import type { HttpConfig } from './define-config.js';
import type { ListenAddress } from './env.js';

/*
 * The HTTP API of `nightshift daemon` and `nightshift serve`, from the command line, the
 * environment and the config's `http` section, in the order every setting follows: flag, then
 * environment, then file, then default.
 *
 * Where it listens is one setting, host and port together: the first of `--http`,
 * `NIGHTSHIFT_HTTP` and `HEALTH_CHECK_PORT` (on 127.0.0.1) that is set (cli/http-listen.ts), else
 * the config's `host`/`port`, else 127.0.0.1:8080. Taking the host from one place and the port
 * from another could open a port on an interface nobody asked for: `--http 9000` means
 * 127.0.0.1:9000 whatever `http.host` says. The other settings have no flag or variable and come
 * from the config alone, wherever the API listens; `--insecure` can only add `insecure`.
 */

/** Port of the API when nothing names one: `serve`, and `daemon` with an `http` section without `port`. */
export const DEFAULT_HTTP_PORT = 8080;

/** What `createNightshift({ http })` gets from `daemon` and `serve`. */
export type CliHttpOptions = HttpListenOptions &
  Pick<ApiServerOptions, 'tokens' | 'allowedOrigins' | 'allowedHosts' | 'bodyLimitBytes' | 'authFailureLimit' | 'scheduleFile'>;

/**
 * Where the config's `http` section says to listen: its `host` (default 127.0.0.1) and `port`
 * (default `DEFAULT_HTTP_PORT`). Null without the section: the config does not ask for the API.
 */
export function configListenAddress(http: HttpConfig | undefined): ListenAddress | null {
  if (http === undefined) return null;
  const port = http.port ?? DEFAULT_HTTP_PORT;
  return http.host === undefined ? { port } : { host: http.host, port };
}

/**
 * The API's options: `listen` (already chosen, see above) with the config's other `http`
 * settings. `insecure` is the `--insecure` flag, which turns it on; the config's can too.
 * `scheduleFile` is the YAML schedule file the process syncs, named in the 409 that refuses to
 * change a schedule it declares.
 */
export function cliHttpOptions(listen: ListenAddress, http: HttpConfig | undefined, options: { insecure?: boolean; scheduleFile?: string | undefined } = {}): CliHttpOptions {
  const result: CliHttpOptions = { ...listen, insecure: options.insecure === true || http?.insecure === true };
  if (options.scheduleFile !== undefined) result.scheduleFile = options.scheduleFile;
  if (http === undefined) return result;
  if (http.allowedOrigins !== undefined) result.allowedOrigins = [...http.allowedOrigins];
  if (http.allowedHosts !== undefined) result.allowedHosts = [...http.allowedHosts];
  if (http.bodyLimitBytes !== undefined) result.bodyLimitBytes = http.bodyLimitBytes;
  if (http.closeGraceMs !== undefined) result.closeGraceMs = http.closeGraceMs;
  if (http.authFailureLimit !== undefined) result.authFailureLimit = http.authFailureLimit;
  // Digests only: validation refuses a plain `token` in the file.
  if (http.tokens !== undefined) result.tokens = http.tokens.map(({ name, sha256, scope }) => ({ name, sha256, scope }));
  return result;
}
