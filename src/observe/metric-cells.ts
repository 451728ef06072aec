/**
 * Counters and histograms whose hot path is a plain field update on a cell the caller holds.
 *
 * prom-client's `inc`/`observe` take a labels object and validate and hash it on every call; at
 * tens of thousands of jobs a second that is a measurable share of a drain. Here the caller looks
 * a cell up once per label set (in its own maps, without building a string) and each event adds
 * to numbers in it. Nothing here loads prom-client: the cells count on their own, and are served
 * once `register()` puts them in a registry (which may happen long after the first count).
 * prom-client only sees the cells when the registry is read (`/metrics`):
 *
 * - `CellCounter` registers a real prom-client `Counter` whose `collect()` resets it and re-adds
 *   each cell's total. A cell only grows, so what is served is still a monotonic counter.
 * - `CellHistogram` is registered as a metric of its own, because prom-client has no public way
 *   to add bucket counts in bulk. Its `get()` returns what prom-client's `Histogram.get()` returns
 *   for the same observations (same values, label order, series order), so `/metrics` text is
 *   byte-for-byte the same. (It leaves out prom-client's `exemplar` field, which only carries
 *   something when exemplars are enabled, as they are not here.)
 *
 * Series are listed in the order they were first touched, as prom-client lists them; a cell that
 * was created but never touched is not served, as a label set prom-client never saw would not be.
 */
import type { Counter, Metric, Registry } from 'prom-client';

type Labels = Readonly<Record<string, string>>;

/** One counter series: its labels and its total. */
export interface CounterCell {
  readonly labels: Labels;
  value: number;
}

/** A counter fed through cells; served as a prom-client `Counter` once registered. */
export class CellCounter {
  readonly #touched: CounterCell[] = [];
  readonly #config: { name: string; help: string; labelNames: readonly string[]; beforeRead?: () => void };

  /** `beforeRead`: called each time the registry reads the counter, before it does (to bring cells up to date). */
  constructor(config: { name: string; help: string; labelNames: readonly string[]; beforeRead?: () => void }) {
    this.#config = config;
  }

  /**
   * Serves the cells in `registry` through a `Counter` made with `CounterClass` (prom-client's,
   * passed in so that counting never loads prom-client). Every cell counted before is served too.
   */
  register(registry: Registry, CounterClass: typeof Counter): void {
    const touched = this.#touched;
    const { name, help, labelNames, beforeRead } = this.#config;
    const counter = new CounterClass({
      name,
      help,
      labelNames,
      registers: [registry],
      collect() {
        beforeRead?.();
        clear();
        for (const cell of touched) this.inc(cell.labels, cell.value);
      },
    });
    const clear = counter.reset.bind(counter);
    // `registry.resetMetrics()` calls `reset()`: forget the cells too, or the next scrape would
    // bring every series back.
    counter.reset = () => {
      clear();
      for (const cell of touched) cell.value = 0;
      touched.length = 0;
    };
  }

  /** A new series for `labels` (keys in the order they should print); nothing is served until `inc`. */
  cell(labels: Labels): CounterCell {
    return { labels, value: 0 };
  }

  inc(cell: CounterCell): void {
    if (cell.value++ === 0) this.#touched.push(cell);
  }

  /** Adds `count` (≥ 0) at once. */
  add(cell: CounterCell, count: number): void {
    if (count <= 0) return;
    if (cell.value === 0) this.#touched.push(cell);
    cell.value += count;
  }
}

/** One histogram series: per-bucket (not cumulative) counts, sum and count. */
export interface HistogramCell {
  readonly labels: Labels;
  /** `counts[i]`: observations in (bounds[i-1], bounds[i]]; above the last bound only `count` grows. */
  readonly counts: Float64Array;
  sum: number;
  count: number;
}

/** One value as prom-client's `Histogram.get()` shapes it. */
interface HistogramValue {
  labels: Record<string, string | number>;
  value: number;
  metricName: string;
}

/**
 * A histogram fed through cells, registered with `registry.registerMetric`. It implements what a
 * prom-client `Registry` reads from a metric: `name`, `help`, `type`, `aggregator`, `get()` (text
 * exposition, JSON, cluster aggregation) and `reset()` (`registry.resetMetrics()`).
 */
export class CellHistogram {
  readonly name: string;
  readonly help: string;
  readonly type = 'histogram';
  readonly aggregator = 'sum';
  readonly #bounds: readonly number[];
  readonly #touched: HistogramCell[] = [];
  readonly #beforeRead: (() => void) | undefined;

  /** `buckets`: upper bounds, ascending, as prom-client's `buckets` option; `beforeRead` as for `CellCounter`. */
  constructor(config: { name: string; help: string; buckets: readonly number[]; beforeRead?: () => void }) {
    this.name = config.name;
    this.help = config.help;
    this.#bounds = [...config.buckets];
    this.#beforeRead = config.beforeRead;
  }

  /** Serves the cells in `registry`; every observation made before is served too. */
  register(registry: Registry): void {
    // prom-client types `registerMetric` as taking one of its own metric classes, but the registry
    // only reads the members this class has (see the class comment); this is the one cast.
    registry.registerMetric(this as unknown as Metric);
  }

  /** A new series for `labels` (keys in the order they should print); nothing is served until `observe`. */
  cell(labels: Labels): HistogramCell {
    return { labels, counts: new Float64Array(this.#bounds.length), sum: 0, count: 0 };
  }

  /** Adds one observation; a value that is not a finite number is ignored (prom-client would throw). */
  observe(cell: HistogramCell, value: number): void {
    if (!Number.isFinite(value)) return;
    const bounds = this.#bounds;
    for (let i = 0; i < bounds.length; i++) {
      if (value <= bounds[i]!) {
        cell.counts[i]!++;
        break;
      }
    }
    cell.sum += value;
    if (cell.count++ === 0) this.#touched.push(cell);
  }

  /**
   * Adds observations counted elsewhere over the same bounds: `counts[i]` in bucket i, one more
   * entry (or more) for those above the last bound, `sum` their total.
   */
  addCounts(cell: HistogramCell, counts: ArrayLike<number>, sum: number): void {
    let total = 0;
    for (let i = 0; i < counts.length; i++) {
      if (i < cell.counts.length) cell.counts[i]! += counts[i]!;
      total += counts[i]!;
    }
    if (total <= 0) return;
    cell.sum += sum;
    if (cell.count === 0) this.#touched.push(cell);
    cell.count += total;
  }

  /** The same shape as prom-client's `Histogram.get()`: per series each bucket, `+Inf`, `_sum`, `_count`. */
  async get(): Promise<{ name: string; help: string; type: 'histogram'; values: HistogramValue[]; aggregator: 'sum' }> {
    this.#beforeRead?.();
    const bucketName = `${this.name}_bucket`;
    const values: HistogramValue[] = [];
    for (const cell of this.#touched) {
      let cumulative = 0;
      for (let i = 0; i < this.#bounds.length; i++) {
        cumulative += cell.counts[i]!;
        // `le` first, then the series' labels: the key order prom-client's `get()` gives, which is
        // the order the registry prints them in.
        values.push({ labels: { le: this.#bounds[i]!, ...cell.labels }, value: cumulative, metricName: bucketName });
      }
      values.push({ labels: { le: '+Inf', ...cell.labels }, value: cell.count, metricName: bucketName });
      values.push({ labels: { ...cell.labels }, value: cell.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...cell.labels }, value: cell.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, values, aggregator: this.aggregator };
  }

  /** Forgets every observation, as `Histogram.reset()` does; cells held by callers start again from zero. */
  reset(): void {
    for (const cell of this.#touched) {
      cell.counts.fill(0);
      cell.sum = 0;
      cell.count = 0;
    }
    this.#touched.length = 0;
  }
}
