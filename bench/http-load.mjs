// What the HTTP tables share: the server process (http-server-process.mjs) started and stopped
// from the runner, a keep-alive HTTP client on Node's own `http` module (for the read routes), and
// percentiles.
import { fork } from 'node:child_process';
import http from 'node:http';

/** Name of the job the HTTP tables enqueue (queue `http`). */
export const HTTP_JOB_NAME = 'bench.http';

/** Longest wait for the server process to start (migrate, listen) or to answer a command, ms. */
const SERVER_REPLY_MS = 120_000;

/**
 * Forks the server process on a store and waits until it listens.
 * @param {{ store: 'sqlite' | 'postgres', sqlitePath?: string, pgUrl?: string, schema?: string, extraJobs?: { name: string, queue: string }[] }} spec
 * @returns {Promise<{ address: string, pid: number, ask: (message: object, replyType: string, timeoutMs?: number) => Promise<any>, stop: () => Promise<void> }>}
 */
export async function startServerProcess(spec) {
  const env = { ...process.env, BENCH_HTTP_SPEC: JSON.stringify({ jobName: HTTP_JOB_NAME, ...spec }) };
  // A token in the environment would close the API; a log level or preloaded module would change what is measured.
  for (const key of ['NIGHTSHIFT_API_TOKEN', 'LOG_LEVEL', 'NODE_OPTIONS']) delete env[key];
  const child = fork(new URL('./http-server-process.mjs', import.meta.url), [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let exited = false;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = true;
    resolve(code ?? signal);
  }));
  const next = (replyType, timeoutMs = SERVER_REPLY_MS) =>
    new Promise((resolve, reject) => {
      const done = (fn, value) => {
        clearTimeout(timer);
        child.off('message', onMessage);
        child.off('exit', onExit);
        fn(value);
      };
      const onMessage = (message) => {
        if (message?.type === replyType) done(resolve, message);
        else if (message?.type === 'error') done(reject, new Error(`server process: ${message.message}`));
      };
      const onExit = (code) => done(reject, new Error(`server process exited (${code}) before answering "${replyType}"`));
      const timer = setTimeout(() => done(reject, new Error(`server process did not answer "${replyType}" within ${timeoutMs} ms`)), timeoutMs);
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  const kill = async () => {
    if (exited) return;
    child.kill('SIGKILL');
    await exit;
  };
  let ready;
  try {
    ready = await next('ready');
  } catch (error) {
    await kill();
    throw error;
  }
  return {
    address: ready.address,
    pid: child.pid,
    ask: (message, replyType, timeoutMs) => {
      const reply = next(replyType, timeoutMs);
      child.send(message);
      return reply;
    },
    stop: async () => {
      if (exited) return;
      child.send({ type: 'stop' });
      const stopped = await Promise.race([exit.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 15_000).unref())]);
      if (!stopped) await kill();
    },
  };
}

/**
 * A keep-alive client on `node:http` with at most `sockets` connections (one per concurrent caller).
 * `request` resolves with the status and the body as text; it never throws on a status.
 * @param {string} address `http://127.0.0.1:port`
 * @param {{ sockets: number }} options
 */
export function createHttpClient(address, { sockets }) {
  const url = new URL(address);
  if (url.hostname !== '127.0.0.1') throw new Error(`the HTTP tables only load loopback, not ${url.hostname}`);
  const agent = new http.Agent({ keepAlive: true, maxSockets: sockets });
  /** @returns {Promise<{ status: number, text: string }>} */
  const request = (method, path, body) =>
    new Promise((resolve, reject) => {
      const payload = body === undefined ? null : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
      const req = http.request(
        { host: url.hostname, port: url.port, method, path, agent, headers: payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {} },
        (res) => {
          const chunks = [];
          res.on('data', (chunk) => chunks.push(chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload ?? undefined);
    });
  return { request, close: () => agent.destroy() };
}

/** The p-th percentile (0–100) of `values` by the nearest-rank method; NaN when empty. */
export function percentile(values, p) {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** A fixed-width text table: the first `leftColumns` columns left-aligned, the others right-aligned. */
export function renderTextTable(header, rows, leftColumns = 1) {
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => String(row[column]).length)));
  const line = (cells) => cells.map((text, column) => (column < leftColumns ? String(text).padEnd(widths[column]) : String(text).padStart(widths[column]))).join('  ').trimEnd();
  return [line(header), widths.map((width) => '-'.repeat(width)).join('  '), ...rows.map(line)].join('\n');
}
