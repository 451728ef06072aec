import { MAX_DELAY_MS, MAX_KEY_LENGTH, MAX_PRIORITY, MAX_RUN_AT_MS, MIN_RUN_AT_MS } from '../../job/input-bounds.js';
import type { SchemaNames } from './schema-name.js';

/**
 * The `<schema>.enqueue(job_name, payload, options)` SQL function: the entry point for other
 * languages and for triggers. It applies the same bounds as the core's enqueue
 * (job/input-bounds.ts), so a row it inserts is one the core could have inserted: `delay_ms`
 * 0 … 100 years, `run_at` 1970 … 9999, `key` 1 … 256 characters, `priority` in `minPriority` …
 * MAX_PRIORITY. Earlier versions accepted `run_at` in year 200 000 (a row every reader then saw as
 * an Invalid Date) and capped `delay_ms` at 2^31−1 ms (24 days).
 *
 * Each migration that (re)defines the function passes the bounds of its own version, so that the
 * text of an applied migration never changes: migration 8 keeps priorities at 0 and above,
 * migration 15 opens them to MIN_PRIORITY (−1 000 000) for `low` and other negative priorities,
 * migration 26 refuses payloads nested past MAX_PAYLOAD_DEPTH, as the core's serializePayload does,
 * and a `run_at` that is no timestamp with 22023 naming the option (it raised the cast's own error).
 * A pure SQL caller passes the number (`{"priority": -100}`); names are a client-side spelling.
 */
export function enqueueFunctionSql({ quoted: s }: SchemaNames, { minPriority, maxDepth }: { minPriority: number; maxDepth?: number }): string {
  // Nesting past maxDepth (MAX_PAYLOAD_DEPTH, from migration 26): the root is path depth 0 and
  // nesting level 1, so an array or object at path depth maxDepth is at level maxDepth + 1.
  // jsonb_path_exists walks the value once, with no recursion limit of its own to hit.
  const depthCheck =
    maxDepth === undefined
      ? ''
      : `
      IF payload IS NOT NULL AND jsonb_path_exists(payload, 'strict $.**{${maxDepth}} ? (@.type() == "array" || @.type() == "object")') THEN
        RAISE EXCEPTION 'payload nests arrays and objects more than ${maxDepth} levels deep, which Nightshift does not store'
          USING ERRCODE = '22023';
      END IF;`;
  const KEY_BLOCKING = `('scheduled', 'available', 'running', 'retryable', 'waiting')`;
  const minRunAt = new Date(MIN_RUN_AT_MS).toISOString();
  const maxRunAt = new Date(MAX_RUN_AT_MS).toISOString();
  return `
    CREATE OR REPLACE FUNCTION ${s}.enqueue(job_name text, payload jsonb, options jsonb DEFAULT '{}'::jsonb)
    RETURNS bigint LANGUAGE plpgsql AS $fn$
    DECLARE
      opts jsonb := coalesce(options, '{}'::jsonb);
      unknown text;
      job_queue text;
      job_priority integer;
      job_max_attempts integer;
      job_run_at timestamptz := now();
      delay numeric;
      job_key text;
      job_id bigint;
    BEGIN
      IF jsonb_typeof(opts) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object, got %', opts USING ERRCODE = '22023';
      END IF;
      SELECT k INTO unknown FROM jsonb_object_keys(opts) AS k
        WHERE k NOT IN ('queue', 'priority', 'run_at', 'delay_ms', 'max_attempts', 'key') LIMIT 1;
      IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'unknown option "%"; accepted: queue, priority, run_at, delay_ms, max_attempts, key', unknown
          USING ERRCODE = '22023';
      END IF;
      PERFORM ${s}.assert_valid_name('job name', job_name);${depthCheck}
      job_queue := coalesce(opts ->> 'queue', 'default');
      PERFORM ${s}.assert_valid_name('queue name', job_queue);
      job_priority := ${s}.integer_option(opts, 'priority', ${minPriority}, ${MAX_PRIORITY}, 0);
      job_max_attempts := ${s}.integer_option(opts, 'max_attempts', 1, 2147483647, 3);
      IF opts ? 'run_at' AND opts ? 'delay_ms' THEN
        RAISE EXCEPTION 'give either run_at or delay_ms, not both' USING ERRCODE = '22023';
      END IF;
      IF opts ? 'run_at' THEN
        ${
          maxDepth === undefined
            ? `job_run_at := (opts ->> 'run_at')::timestamptz;`
            : `BEGIN
          job_run_at := (opts ->> 'run_at')::timestamptz;
        EXCEPTION WHEN invalid_datetime_format OR datetime_field_overflow OR invalid_parameter_value THEN
          RAISE EXCEPTION 'option run_at must be an ISO 8601 timestamp (2026-11-30T09:00:00Z), got %', left(opts ->> 'run_at', 100)
            USING ERRCODE = '22023';
        END;`
        }
        IF job_run_at < '${minRunAt}'::timestamptz OR job_run_at > '${maxRunAt}'::timestamptz THEN
          RAISE EXCEPTION 'option run_at must be between ${minRunAt} and ${maxRunAt}, got %', opts ->> 'run_at'
            USING ERRCODE = '22023';
        END IF;
      ELSIF opts ? 'delay_ms' AND opts -> 'delay_ms' <> 'null'::jsonb THEN
        IF jsonb_typeof(opts -> 'delay_ms') <> 'number' THEN
          RAISE EXCEPTION 'option delay_ms must be a number, got %', opts -> 'delay_ms' USING ERRCODE = '22023';
        END IF;
        delay := (opts ->> 'delay_ms')::numeric;
        IF delay < 0 OR delay > ${MAX_DELAY_MS} THEN
          RAISE EXCEPTION 'option delay_ms must be from 0 to ${MAX_DELAY_MS} (100 years), got %', delay USING ERRCODE = '22023';
        END IF;
        job_run_at := now() + round(delay) * interval '1 millisecond';
      END IF;
      IF opts ? 'key' AND opts -> 'key' <> 'null'::jsonb THEN
        IF jsonb_typeof(opts -> 'key') <> 'string' OR opts ->> 'key' = '' OR length(opts ->> 'key') > ${MAX_KEY_LENGTH} THEN
          RAISE EXCEPTION 'option key must be a string of 1 to ${MAX_KEY_LENGTH} characters, got %', left((opts -> 'key')::text, 300)
            USING ERRCODE = '22023';
        END IF;
        job_key := opts ->> 'key';
      END IF;

      INSERT INTO ${s}.jobs (name, queue, payload, state, priority, max_attempts, run_at, created_at, key)
      VALUES (job_name, job_queue, coalesce(payload, 'null'::jsonb)::text,
              CASE WHEN job_run_at > now() THEN 'scheduled' ELSE 'available' END,
              job_priority, job_max_attempts, job_run_at, now(), job_key)
      ON CONFLICT (name, key) WHERE key IS NOT NULL AND state IN ${KEY_BLOCKING} DO NOTHING
      RETURNING id INTO job_id;
      IF job_id IS NULL THEN
        -- Same key already pending or running: return that job, like the core's enqueue does.
        SELECT id INTO job_id FROM ${s}.jobs
          WHERE name = job_name AND key = job_key AND state IN ${KEY_BLOCKING};
      END IF;
      RETURN job_id;
    END
    $fn$;
    COMMENT ON FUNCTION ${s}.enqueue(text, jsonb, jsonb) IS
      'Enqueues a Nightshift job and returns its id. options: queue, priority, run_at (1970..9999), delay_ms (0..100 years), max_attempts, key (1..256 characters).';
  `;
}
