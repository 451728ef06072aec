/**
 * Opens a real store of each kind for tests that must hold on both: a fresh SQLite file in a temp
 * dir, and a fresh schema on the test PostgreSQL server. Each comes with a way to make the
 * database itself refuse one job's finishing write (a trigger), which is how the fault tests
 * poison a batch without touching the store's code.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { createPostgresStore } from '../../src/store/postgres/postgres-store.js';
import { createSqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Clock, Store } from '../../src/store/types.js';
import { postgresUrl, testSchema } from '../support/postgres-server.js';

export interface OpenedStore {
  kind: 'sqlite' | 'postgres';
  store: Store;
  /**
   * Makes the database refuse (raise an error on) any update that moves job `id` to `state`,
   * as a database refuses a value it cannot store. Other jobs and other states are untouched.
   */
  refuseFinish(id: string, state: string): Promise<void>;
  /** Makes the database refuse (raise an error on) inserting any job whose payload contains `marker`. */
  refuseInsert(marker: string): Promise<void>;
  /**
   * PostgreSQL only: installs a trigger that fails every completion with a retryable SQLSTATE
   * (40001) while switched on; returns the switch.
   */
  transientFinishFailures?(): Promise<(on: boolean) => Promise<void>>;
  cleanup(): Promise<void>;
}

export interface StoreKind {
  kind: 'sqlite' | 'postgres';
  /** Null when this kind cannot run here (no PostgreSQL server outside CI). */
  available: boolean;
  /** `poolSize`: PostgreSQL's pool (default 4); SQLite has one connection. */
  open(options?: { clock?: Clock; poolSize?: number }): Promise<OpenedStore>;
}

const url = postgresUrl();

export const STORE_KINDS: readonly StoreKind[] = [
  {
    kind: 'sqlite',
    available: true,
    async open(options = {}) {
      const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'nightshift-fault-'));
      const file = path.join(dir, 'jobs.db');
      const store = createSqliteStore({ path: file, ...(options.clock ? { clock: options.clock } : {}) });
      await store.migrate();
      return {
        kind: 'sqlite',
        store,
        async refuseFinish(id, state) {
          // A second connection, as an operator (or a broken migration) would add it.
          const { default: Database } = await import('better-sqlite3');
          const db = new Database(file);
          const name = `refuse_${Number(id)}_${state.replace(/[^a-z]/g, '')}`;
          db.exec(
            `CREATE TRIGGER ${name} BEFORE UPDATE OF state ON nightshift_jobs
             WHEN NEW.id = ${Number(id)} AND NEW.state = '${state.replace(/[^a-z]/g, '')}'
             BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END`,
          );
          db.close();
        },
        async refuseInsert(marker) {
          const { default: Database } = await import('better-sqlite3');
          const db = new Database(file);
          db.exec(
            `CREATE TRIGGER refuse_insert BEFORE INSERT ON nightshift_jobs
             WHEN instr(NEW.payload, '${marker.replace(/'/g, "''")}') > 0
             BEGIN SELECT RAISE(ABORT, 'refused by a test trigger'); END`,
          );
          db.close();
        },
        async cleanup() {
          await store.close();
          fs.rmSync(dir, { recursive: true, force: true });
        },
      };
    },
  },
  {
    kind: 'postgres',
    available: url !== null,
    async open(options = {}) {
      const { schema, drop } = testSchema(url!, 'fault');
      const store = createPostgresStore({ connectionString: url!, schema, poolSize: options.poolSize ?? 4, ...(options.clock ? { clock: options.clock } : {}) });
      await store.migrate();
      /** A trigger named `name` that makes the database refuse every `event` on jobs whose row meets `when`. */
      const refuseWith = async (name: string, event: 'INSERT' | 'UPDATE', when: string) => {
        const client = new pg.Client({ connectionString: url! });
        await client.connect();
        try {
          const s = pg.escapeIdentifier(schema);
          await client.query(`CREATE OR REPLACE FUNCTION ${s}.refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION 'refused by a test trigger'; END $$`);
          await client.query(`CREATE TRIGGER ${pg.escapeIdentifier(name)} BEFORE ${event} ON ${s}.jobs FOR EACH ROW WHEN (${when}) EXECUTE FUNCTION ${s}.refuse_change()`);
        } finally {
          await client.end();
        }
      };
      return {
        kind: 'postgres',
        store,
        async refuseFinish(id, state) {
          await refuseWith(`refuse_${Number(id)}_${state}`, 'UPDATE', `NEW.id = ${Number(id)} AND NEW.state = ${pg.escapeLiteral(state)}`);
        },
        async refuseInsert(marker) {
          await refuseWith('refuse_insert', 'INSERT', `strpos(NEW.payload::text, ${pg.escapeLiteral(marker)}) > 0`);
        },
        async transientFinishFailures() {
          const client = new pg.Client({ connectionString: url! });
          await client.connect();
          const s = pg.escapeIdentifier(schema);
          try {
            await client.query(`CREATE TABLE ${s}.fault_switch (on_since timestamptz)`);
            await client.query(`CREATE OR REPLACE FUNCTION ${s}.transient_finish() RETURNS trigger LANGUAGE plpgsql AS $$
              BEGIN
                IF EXISTS (SELECT 1 FROM ${s}.fault_switch) THEN
                  RAISE EXCEPTION 'finishes fail for a while (test)' USING ERRCODE = '40001';
                END IF;
                RETURN NEW;
              END $$`);
            await client.query(
              `CREATE TRIGGER transient_finish BEFORE UPDATE ON ${s}.jobs FOR EACH ROW
               WHEN (NEW.state = 'completed') EXECUTE FUNCTION ${s}.transient_finish()`,
            );
          } finally {
            await client.end();
          }
          return async (on) => {
            const admin = new pg.Client({ connectionString: url! });
            await admin.connect();
            try {
              await admin.query(on ? `INSERT INTO ${s}.fault_switch VALUES (now())` : `DELETE FROM ${s}.fault_switch`);
            } finally {
              await admin.end();
            }
          };
        },
        async cleanup() {
          await store.close();
          await drop();
        },
      };
    },
  },
];
