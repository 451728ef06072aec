/**
 * The client handlers use to enqueue follow-up jobs. The CLI hands it over through the config's
 * `setup` hook (see nightshift.config.ts) once the store is open.
 */
import type { ConfigSetupContext } from 'nightshift';

type Client = ConfigSetupContext['client'];

let client: Client | null = null;

export function provideClient(value: Client): void {
  client = value;
}

export function appClient(): Client {
  if (!client) throw new Error('no Nightshift client yet: run this job through `nightshift daemon` or `nightshift run`');
  return client;
}
