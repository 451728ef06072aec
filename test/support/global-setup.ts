// Runs once before the whole suite. The PostgreSQL server for the Postgres suites is resolved here
// (see postgres-server.ts) so every test file shares one server. Its URL goes out as
// NIGHTSHIFT_TEST_DATABASE_URL, inherited by the forked test workers and their child processes;
// test files read it with `postgresUrl()`.
import { resolvePostgresServer, TEST_DATABASE_URL_ENV } from './postgres-server.js';

export default async function setup(): Promise<void | (() => Promise<void>)> {
  const server = await resolvePostgresServer((line) => {
    if (process.env.NIGHTSHIFT_TEST_PG_LOG) process.stderr.write(`[postgres] ${line}\n`);
  });
  if (server) {
    process.env[TEST_DATABASE_URL_ENV] = server.url;
    if (server.source === 'embedded') process.stderr.write(`[postgres] started a throwaway server for this run: ${server.url.replace(/:[^:@/]+@/, ':***@')}\n`);
  }
  return async () => {
    await server?.stop();
  };
}
