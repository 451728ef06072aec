import type { FastifyInstance } from 'fastify';
import type { Service } from '../service.js';
import { createApiServer, listenApiServer, type ApiServerOptions } from './server.js';

/** Where and how the API listens (the `http` option of `createNightshift`). */
export interface HttpListenOptions {
  /** Default 127.0.0.1. Anything but loopback needs a token (or `insecure`). */
  host?: string;
  /** 0 picks a free port (see `address`). */
  port: number;
  /** Listen beyond loopback without a token, on a network you trust; logs a warning at every start. */
  insecure?: boolean;
  /** At stop, how long requests still in flight may take before their connections are cut, ms; default 5000. */
  closeGraceMs?: number;
}

const CLOSE_GRACE_MS = 5_000;

/** The API server as a runtime service: listens on start, closes on stop. */
export interface ApiService extends Service {
  /** `http://host:port` once listening, else null. */
  readonly address: string | null;
}

export function createApiService(options: ApiServerOptions & HttpListenOptions): ApiService {
  let app: FastifyInstance | null = null;
  let address: string | null = null;
  let starting: Promise<void> | null = null;
  return {
    name: 'api',
    get address() {
      return address;
    },
    start() {
      starting ??= (async () => {
        const created = await createApiServer(options);
        try {
          address = await listenApiServer(created, options);
        } catch (error) {
          await created.close();
          starting = null;
          throw error;
        }
        app = created;
        options.logger?.info({ address }, 'HTTP API listening');
      })();
      return starting;
    },
    async stop() {
      if (starting) await starting.catch(() => undefined);
      const running = app;
      app = null;
      address = null;
      starting = null;
      if (!running) return;
      // In-flight requests get a grace period; then every connection is cut, so a client that
      // stopped reading (a large /metrics reply it never drains) cannot hold the shutdown forever.
      const timer = setTimeout(() => running.server.closeAllConnections(), options.closeGraceMs ?? CLOSE_GRACE_MS);
      try {
        await running.close();
      } finally {
        clearTimeout(timer);
      }
    },
  };
}
