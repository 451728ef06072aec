/**
 * How the built-in maintenance jobs (`maintenance.retry`, `maintenance.cleanup`) reach the store
 * they act on. A handler's context offers `enqueue` but no listing, retrying or deleting, so —
 * like `command` and `http` take their allow-lists — these jobs take their store when they are
 * built: a `Store` instance (code that already holds one), or an opener called once per run.
 *
 * Jobs built from a config (`builtins: { maintenance: true }`) exist before any store is open, so
 * they get `configuredStoreOpener`: each run opens the store the config and environment name
 * (`resolveStore`, the same rules as every command) and closes it when the run ends — a second,
 * short-lived connection beside the worker's, which keeps nothing open between runs. A store
 * instance written in the config is used as it is and never closed here.
 */
import type { StoreConfig } from '../config/define-config.js';
import type { EnvSettings } from '../config/env.js';
import type { Store } from '../store/types.js';

/** A store held for one run of a maintenance job. */
export interface StoreLease {
  readonly store: Store;
  /** Called once when the run ends, however it ends. */
  release(): Promise<void>;
}

/** Where a maintenance job's store comes from: a store to use as it is, or an opener called once per run. */
export type MaintenanceStore = Store | (() => Promise<StoreLease>);

/** The store for one run (see `MaintenanceStore`). */
export async function leaseStore(source: MaintenanceStore): Promise<StoreLease> {
  if (typeof source === 'function') return source();
  return { store: source, release: async () => {} };
}

/**
 * An opener of the store `config` and `env` name (see `resolveStore`): opened per run and closed
 * after it, unless it is the config's own store instance.
 */
export function configuredStoreOpener(config: StoreConfig | undefined, env: EnvSettings = {}): () => Promise<StoreLease> {
  return async () => {
    // Loaded on the first run: a process that never runs a maintenance job never loads a driver for it.
    const { resolveStore } = await import('../config/resolve-store.js');
    const { store, spec } = await resolveStore({ config, env });
    return { store, release: spec.kind === 'instance' ? async () => {} : () => store.close() };
  };
}
