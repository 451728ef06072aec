// Deeply nested data through the real `nightshift` binary (dist/, SQLite project): `enqueue` and
// `run` refuse nesting past the limit with the typed error and the validation exit code (2), not a
// stack overflow (exit 1); a job whose stored payload is deeper (written straight into the database
// file) still lists and shows, `--json` included.
import Database from 'better-sqlite3';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { assertBuilt, fixtureConfig, Project } from './cli-harness.js';

/** The JSON text of `levels` arrays nested in one another. */
const nestedText = (levels: number): string => `${'['.repeat(levels)}0${']'.repeat(levels)}`;

const REFUSAL = 'error [PAYLOAD_NOT_SERIALIZABLE]: payload nests arrays and objects more than 256 levels deep (at payload.n.0.0.0.0.…)';

describe('nightshift CLI and deeply nested data', () => {
  let project: Project;

  beforeAll(() => assertBuilt());
  beforeEach(() => {
    project = new Project({ 'nightshift.config.ts': fixtureConfig() });
  });
  afterEach(() => project.cleanup());

  it('enqueue and run refuse 3,000 levels with exit code 2 and store nothing', async () => {
    const data = `{"label":"x","n":${nestedText(3_000)}}`;
    const enqueued = await project.run(['enqueue', 'explode', '--data', data]);
    expect(enqueued.code, enqueued.stderr).toBe(2);
    expect(enqueued.stderr).toContain(REFUSAL);
    expect(enqueued.stderr).not.toContain('Maximum call stack');
    const ran = await project.run(['run', 'explode', '--input', data]);
    expect(ran.code, ran.stderr).toBe(2);
    expect(ran.stderr).toContain(REFUSAL);
    const { jobs } = await project.json<{ jobs: unknown[] }>(['jobs']);
    expect(jobs).toEqual([]);
  });

  it('a stored payload deeper than the limit still lists and shows, as text and as JSON', async () => {
    const job = await project.json<{ id: string }>(['enqueue', 'explode', '--data', '{"label":"x"}']);
    const deep = `{"label":"x","n":${nestedText(5_000)}}`;
    const db = new Database(project.dbPath);
    try {
      db.prepare('UPDATE nightshift_jobs SET payload = ? WHERE id = ?').run(deep, Number(job.id));
    } finally {
      db.close();
    }
    const table = await project.run(['jobs']);
    expect(table.code, table.stderr).toBe(0);
    expect(table.stdout).toMatch(new RegExp(`^\\s*${job.id}\\s+explode`, 'm'));
    const { jobs } = await project.json<{ jobs: { id: string; payload: unknown; parseErrors: { field: string; message: string }[] }[] }>(['jobs']);
    expect(jobs).toHaveLength(1);
    expect(jobs[0]).toMatchObject({ id: job.id, payload: null, parseErrors: [{ field: 'payload', message: expect.stringContaining('more than 256 levels deep') }] });
    const details = await project.json<{ job: { payload: unknown; parseErrors: unknown[] } }>(['job', job.id]);
    expect(details.job).toMatchObject({ payload: null, parseErrors: [{ field: 'payload' }] });
    // The text view prints the stored text as it is.
    const shown = await project.run(['job', job.id]);
    expect(shown.code, shown.stderr).toBe(0);
    expect(shown.stdout).toContain('{"label":"x","n":[[[[');
  });
});
