/**
 * The metrics every request updates, kept in plain maps and handed to prom-client's registry only
 * when /metrics is scraped. prom-client's own Counter and Histogram validate and hash the label
 * object on every update: measured inside the running proxy under load, the five updates per request
 * cost about 15 µs, 5% of the proxy's CPU per request; a map lookup on the joined label values costs
 * a fraction of that. They implement what the registry reads (`name`, `get()`), so the exposition
 * format, and every rarely-updated metric, stay prom-client's.
 */
import type { Registry } from 'prom-client';

type Labels<L extends string> = Readonly<Record<L, string>>;

interface MetricValue {
  labels: Record<string, string | number>;
  value: number;
  metricName?: string;
}

interface MetricSnapshot {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  values: MetricValue[];
  aggregator: 'sum';
}

abstract class RegisteredMetric<S> {
  /** Every series, in the order they were made (the exposition order). */
  protected readonly series: S[] = [];
  /** One map level per label: its values are the next level's maps, the last level's the series. */
  private readonly root = new Map<string, unknown>();

  constructor(
    readonly name: string,
    readonly help: string,
    protected readonly labelNames: readonly string[],
    registry: Registry,
  ) {
    // The registry only reads `name` and `get()` (prom-client's Metric is a class, hence the cast).
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  abstract get(): Promise<MetricSnapshot>;

  /** A new series for a label set (given as a copy the metric may keep). */
  protected abstract create(labels: Record<string, string>): S;

  /**
   * The series for a label set, made on first use. Nested maps rather than one map on the joined
   * values: the label values are mostly strings that already exist (route, target, status), whose
   * hash is cached, where a joined key is a new string to build and hash on every update.
   */
  protected at(labels: Readonly<Record<string, string>>): S {
    const names = this.labelNames;
    let node = this.root;
    for (let i = 0; i < names.length - 1; i++) {
      const value = labels[names[i] as string] as string;
      let next = node.get(value) as Map<string, unknown> | undefined;
      if (next === undefined) {
        next = new Map();
        node.set(value, next);
      }
      node = next;
    }
    const value = names.length === 0 ? '' : (labels[names[names.length - 1] as string] as string);
    let series = node.get(value) as S | undefined;
    if (series === undefined) {
      series = this.create(this.copy(labels));
      node.set(value, series);
      this.series.push(series);
    }
    return series;
  }

  private copy(labels: Readonly<Record<string, string>>): Record<string, string> {
    const out: Record<string, string> = {};
    for (const name of this.labelNames) out[name] = labels[name] as string;
    return out;
  }
}

export class LabelledCounter<L extends string> extends RegisteredMetric<{
  labels: Labels<L>;
  value: number;
}> {
  constructor(name: string, help: string, labelNames: readonly L[], registry: Registry) {
    super(name, help, labelNames, registry);
  }

  inc(labels: Labels<L>, value = 1): void {
    this.at(labels).value += value;
  }

  protected create(labels: Record<string, string>): { labels: Labels<L>; value: number } {
    return { labels: labels as Labels<L>, value: 0 };
  }

  async get(): Promise<MetricSnapshot> {
    const values = this.series.map((s) => ({ labels: { ...s.labels }, value: s.value }));
    return { name: this.name, help: this.help, type: 'counter', values, aggregator: 'sum' };
  }
}

interface HistogramSeries<L extends string> {
  labels: Labels<L>;
  /** Per bucket, not cumulative; the last slot is +Inf. */
  counts: Float64Array;
  sum: number;
  count: number;
}

export class LabelledHistogram<L extends string> extends RegisteredMetric<HistogramSeries<L>> {
  constructor(
    name: string,
    help: string,
    labelNames: readonly L[],
    private readonly buckets: readonly number[],
    registry: Registry,
  ) {
    super(name, help, labelNames, registry);
  }

  observe(labels: Labels<L>, value: number): void {
    if (!Number.isFinite(value)) return;
    const s = this.at(labels);
    let i = 0;
    while (i < this.buckets.length && value > (this.buckets[i] as number)) i++;
    (s.counts[i] as number)++;
    s.sum += value;
    s.count++;
  }

  protected create(labels: Record<string, string>): HistogramSeries<L> {
    return {
      labels: labels as Labels<L>,
      counts: new Float64Array(this.buckets.length + 1),
      sum: 0,
      count: 0,
    };
  }

  async get(): Promise<MetricSnapshot> {
    const values: MetricValue[] = [];
    const bucket = `${this.name}_bucket`;
    for (const s of this.series) {
      let cumulative = 0;
      this.buckets.forEach((le, i) => {
        cumulative += s.counts[i] as number;
        values.push({ labels: { le, ...s.labels }, value: cumulative, metricName: bucket });
      });
      values.push({ labels: { le: '+Inf', ...s.labels }, value: s.count, metricName: bucket });
      values.push({ labels: { ...s.labels }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { ...s.labels }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: 'histogram', values, aggregator: 'sum' };
  }
}

/** A gauge without labels: a number. */
export class PlainGauge {
  private value = 0;

  constructor(
    readonly name: string,
    readonly help: string,
    registry: Registry,
  ) {
    registry.registerMetric(this as unknown as Parameters<Registry['registerMetric']>[0]);
  }

  inc(): void {
    this.value++;
  }

  dec(): void {
    this.value--;
  }

  async get(): Promise<MetricSnapshot> {
    return {
      name: this.name,
      help: this.help,
      type: 'gauge',
      values: [{ labels: {}, value: this.value }],
      aggregator: 'sum',
    };
  }
}
