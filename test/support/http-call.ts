// One JSON call to a test server over real loopback HTTP: the status, the text and, when it is
// JSON, the parsed body. Strings are sent as they are (to test non-JSON bodies), anything else as JSON.
export interface Reply {
  status: number;
  body: any; // eslint-disable-line @typescript-eslint/no-explicit-any -- JSON answers of many shapes
  text: string;
  headers: Headers;
}

export async function callJson(base: string, method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Reply> {
  const sent: Record<string, string> = { ...headers };
  const init: RequestInit = { method, headers: sent };
  if (body !== undefined) {
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
    sent['content-type'] ??= 'application/json';
  }
  const response = await fetch(`${base}${path}`, init);
  const text = await response.text();
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = null;
  }
  return { status: response.status, body: parsed, text, headers: response.headers };
}

/** How many jobs the store holds, whatever their state (for "nothing was stored" checks). */
export async function storedJobs(store: { jobStats(): Promise<{ totals: Record<string, number> }> }): Promise<number> {
  const stats = await store.jobStats();
  return Object.values(stats.totals).reduce((sum, n) => sum + n, 0);
}
