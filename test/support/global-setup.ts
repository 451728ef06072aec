// Runs once before the whole suite. The PostgreSQL server for the Postgres suites is resolved here
// (see postgres-server.ts) so every test file shares one server.
export default async function setup(): Promise<void | (() => Promise<void>)> {
  return undefined;
}
