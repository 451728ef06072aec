/**
 * A TCP proxy on loopback for fault-injection tests: it sits between a process and a server (here
 * PostgreSQL) and can be told, at any moment, to
 *
 * - `pass`:  forward bytes both ways (the default);
 * - `stall`: keep every socket open but forward nothing in either direction, for current and new
 *            connections alike (a black-holed network, a hung middlebox or a frozen server: the
 *            kernel still ACKs, so TCP keepalive sees nothing wrong). Bytes read meanwhile are
 *            held and delivered, in order, when `pass` comes back, as TCP would after a partition
 *            heals;
 * - `reset`: destroy every current connection on both sides with a TCP RST, and reset new ones
 *            at once while the mode lasts (the server or a load balancer dropping everyone);
 * - `stall-replies`: forward what clients send, hold what the server answers: a request goes
 *            through and is executed, its answer does not arrive (the client times out, as when a
 *            partition starts right after a statement was sent).
 *
 * `resetAll()` resets the current connections without changing the mode (one blow, then traffic
 * flows again). Listens on 127.0.0.1 only; `close()` resets whatever is left and stops listening.
 */
import net from 'node:net';

export type ProxyMode = 'pass' | 'stall' | 'reset' | 'stall-replies';

export interface TcpProxy {
  /** Port the proxy listens on (127.0.0.1). */
  readonly port: number;
  readonly mode: ProxyMode;
  /** Client connections currently open through the proxy. */
  readonly connections: number;
  /** Connections accepted since the start. */
  readonly accepted: number;
  /** `postgres://…` URL `url` rewritten to go through the proxy. */
  rewrite(url: string): string;
  setMode(mode: ProxyMode): void;
  /** Resets every current connection (RST on both sides); the mode stays as it was. Returns how many. */
  resetAll(): number;
  close(): Promise<void>;
}

/** One proxied connection: the accepted socket and the one to the target. */
interface Pair {
  readonly client: net.Socket;
  readonly upstream: net.Socket;
  /** Chunks read while stalled, per direction, delivered when traffic flows again. */
  readonly toUpstream: Buffer[];
  readonly toClient: Buffer[];
}

export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  let mode: ProxyMode = 'pass';
  let accepted = 0;
  const pairs = new Set<Pair>();

  const reset = (pair: Pair): void => {
    pairs.delete(pair);
    // resetAndDestroy sends RST instead of FIN; a socket not connected yet is simply destroyed.
    for (const socket of [pair.client, pair.upstream]) {
      if (socket.destroyed) continue;
      if (socket.readyState === 'open' || socket.readyState === 'readOnly' || socket.readyState === 'writeOnly') socket.resetAndDestroy();
      else socket.destroy();
    }
  };

  /** Whether traffic in this direction is held in the current mode. */
  const holding = (direction: 'request' | 'reply'): boolean => mode === 'stall' || (mode === 'stall-replies' && direction === 'reply');

  /** Forwards `from` → `to`, holding chunks while stalled and honouring back-pressure. */
  const forward = (pair: Pair, from: net.Socket, to: net.Socket, held: Buffer[], direction: 'request' | 'reply'): void => {
    from.on('data', (chunk: Buffer) => {
      if (holding(direction) || held.length > 0) {
        held.push(chunk);
        from.pause();
        return;
      }
      if (!to.write(chunk)) from.pause();
    });
    to.on('drain', () => {
      if (!holding(direction) && pairs.has(pair)) from.resume();
    });
    // A FIN from one side is passed on as a FIN to the other (pg's Terminate, a server shutdown).
    from.on('end', () => {
      if (held.length === 0) to.end();
    });
  };

  /** Delivers what was held and lets traffic flow again, in each direction no longer held. */
  const flow = (pair: Pair): void => {
    for (const [held, to, from, direction] of [
      [pair.toUpstream, pair.upstream, pair.client, 'request'],
      [pair.toClient, pair.client, pair.upstream, 'reply'],
    ] as const) {
      if (holding(direction)) continue;
      while (held.length > 0) to.write(held.shift()!);
      if (from.readableEnded) to.end();
      else from.resume();
    }
  };

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    accepted++;
    if (mode === 'reset') {
      client.resetAndDestroy();
      return;
    }
    const upstream = net.connect({ host: target.host, port: target.port, allowHalfOpen: true });
    upstream.pause();
    const pair: Pair = { client, upstream, toUpstream: [], toClient: [] };
    pairs.add(pair);
    const close = () => {
      if (!pairs.has(pair)) return;
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    // An error or close on either side ends the pair: the other side sees the connection go away.
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
    }
    forward(pair, client, upstream, pair.toUpstream, 'request');
    forward(pair, upstream, client, pair.toClient, 'reply');
    if (!holding('request')) client.resume();
    if (!holding('reply')) upstream.resume();
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;

  return {
    port,
    get mode() {
      return mode;
    },
    get connections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    rewrite(url) {
      const parsed = new URL(url);
      parsed.hostname = '127.0.0.1';
      parsed.port = String(port);
      return parsed.toString();
    },
    setMode(next) {
      mode = next;
      if (next === 'reset') {
        for (const pair of [...pairs]) reset(pair);
        return;
      }
      for (const pair of pairs) {
        if (holding('request')) pair.client.pause();
        if (holding('reply')) pair.upstream.pause();
        flow(pair);
      }
    },
    resetAll() {
      const count = pairs.size;
      for (const pair of [...pairs]) reset(pair);
      return count;
    },
    async close() {
      for (const pair of [...pairs]) reset(pair);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Host and port of a `postgres://` URL (defaults as libpq's). */
export function targetOf(url: string): { host: string; port: number } {
  const parsed = new URL(url);
  return { host: parsed.hostname || '127.0.0.1', port: Number(parsed.port || 5432) };
}
