/**
 * A small Prometheus registry: counters, gauges and histograms with fixed label names, rendered in the
 * text exposition format 0.0.4 by hand (no dependency; the format is a page of rules).
 * https://prometheus.io/docs/instrumenting/exposition_formats/
 *
 * Label sets are checked on every call: a wrong label name is a bug in the caller, and letting it
 * through would silently split a series.
 */
import { OtslakeError } from '../common/errors.js';

export type Labels = Readonly<Record<string, string>>;
type MetricType = 'counter' | 'gauge' | 'histogram';

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabelValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatSampleValue(v: number): string {
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  if (Number.isNaN(v)) return 'NaN';
  return String(v);
}

function renderLabels(names: readonly string[], values: readonly string[], extra?: [string, string]): string {
  const pairs = names.map((n, i) => `${n}="${escapeLabelValue(values[i]!)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabelValue(extra[1])}"`);
  return pairs.length === 0 ? '' : `{${pairs.join(',')}}`;
}

abstract class Metric<S> {
  protected readonly series = new Map<string, { values: string[]; state: S }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly type: MetricType,
  ) {
    if (!METRIC_NAME.test(name)) throw new OtslakeError('OTSL_INTERNAL', `invalid metric name "${name}"`);
    for (const l of labelNames) {
      if (!LABEL_NAME.test(l) || l.startsWith('__') || l === 'le') throw new OtslakeError('OTSL_INTERNAL', `invalid label name "${l}" on ${name}`);
    }
  }

  protected abstract initial(): S;

  protected stateFor(labels: Labels): S {
    const keys = Object.keys(labels);
    if (keys.length !== this.labelNames.length || !this.labelNames.every((n) => typeof labels[n] === 'string')) {
      throw new OtslakeError('OTSL_INTERNAL', `metric ${this.name} takes labels {${this.labelNames.join(', ')}}, got {${keys.join(', ')}}`);
    }
    const values = this.labelNames.map((n) => labels[n]!);
    const key = JSON.stringify(values);
    let entry = this.series.get(key);
    if (!entry) {
      entry = { values, state: this.initial() };
      this.series.set(key, entry);
    }
    return entry.state;
  }

  /** Drops the series of one label set (e.g. a channel that finished), so cardinality does not grow forever. */
  remove(labels: Labels): void {
    this.series.delete(JSON.stringify(this.labelNames.map((n) => labels[n] ?? '')));
  }

  /** Drops every series whose labels include all of `partial`. */
  removeMatching(partial: Labels): void {
    for (const [key, entry] of this.series) {
      if (this.labelNames.every((n, i) => partial[n] === undefined || partial[n] === entry.values[i])) this.series.delete(key);
    }
  }

  protected abstract renderSeries(values: string[], state: S): string[];

  /** Every series' labels and state, for in-process readers (the status page); never mutate the states. */
  protected *entries(): Generator<{ labels: Labels; state: S }> {
    for (const { values, state } of this.series.values()) yield { labels: Object.fromEntries(this.labelNames.map((n, i) => [n, values[i]!])), state };
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`];
    for (const { values, state } of this.series.values()) lines.push(...this.renderSeries(values, state));
    return lines.join('\n') + '\n';
  }
}

export class Counter extends Metric<{ value: number }> {
  protected initial() {
    return { value: 0 };
  }

  inc(labels: Labels = {}, n = 1): void {
    if (!(n >= 0)) throw new OtslakeError('OTSL_INTERNAL', `counter ${this.name} can only go up, got ${n}`);
    this.stateFor(labels).value += n;
  }

  get(labels: Labels = {}): number {
    return this.series.get(JSON.stringify(this.labelNames.map((n) => labels[n] ?? '')))?.state.value ?? 0;
  }

  /** Every series with its value. */
  values(): { labels: Labels; value: number }[] {
    return [...this.entries()].map((e) => ({ labels: e.labels, value: e.state.value }));
  }

  protected renderSeries(values: string[], state: { value: number }): string[] {
    return [`${this.name}${renderLabels(this.labelNames, values)} ${formatSampleValue(state.value)}`];
  }
}

export class Gauge extends Metric<{ value: number }> {
  protected initial() {
    return { value: 0 };
  }

  set(labels: Labels, v: number): void {
    this.stateFor(labels).value = v;
  }

  inc(labels: Labels = {}, n = 1): void {
    this.stateFor(labels).value += n;
  }

  /** Every series with its value. */
  values(): { labels: Labels; value: number }[] {
    return [...this.entries()].map((e) => ({ labels: e.labels, value: e.state.value }));
  }

  protected renderSeries(values: string[], state: { value: number }): string[] {
    return [`${this.name}${renderLabels(this.labelNames, values)} ${formatSampleValue(state.value)}`];
  }
}

interface HistogramState {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram extends Metric<HistogramState> {
  readonly buckets: readonly number[];

  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames, 'histogram');
    const sorted = [...buckets].sort((a, b) => a - b);
    if (sorted.length === 0 || sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new OtslakeError('OTSL_INTERNAL', `histogram ${name} needs distinct finite buckets`);
    }
    this.buckets = sorted;
  }

  protected initial(): HistogramState {
    return { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
  }

  observe(labels: Labels, v: number): void {
    const s = this.stateFor(labels);
    // Counts are per bucket here and made cumulative when rendered.
    const i = this.buckets.findIndex((b) => v <= b);
    if (i >= 0) s.counts[i]! += 1;
    s.sum += v;
    s.count += 1;
  }

  protected renderSeries(values: string[], s: HistogramState): string[] {
    const lines: string[] = [];
    let cumulative = 0;
    this.buckets.forEach((b, i) => {
      cumulative += s.counts[i]!;
      lines.push(`${this.name}_bucket${renderLabels(this.labelNames, values, ['le', formatSampleValue(b)])} ${cumulative}`);
    });
    lines.push(`${this.name}_bucket${renderLabels(this.labelNames, values, ['le', '+Inf'])} ${s.count}`);
    lines.push(`${this.name}_sum${renderLabels(this.labelNames, values)} ${formatSampleValue(s.sum)}`);
    lines.push(`${this.name}_count${renderLabels(this.labelNames, values)} ${s.count}`);
    return lines;
  }
}

export class MetricsRegistry {
  private readonly metrics = new Map<string, Metric<unknown>>();

  private add<M extends Metric<any>>(metric: M): M {
    if (this.metrics.has(metric.name)) throw new OtslakeError('OTSL_INTERNAL', `metric ${metric.name} registered twice`);
    this.metrics.set(metric.name, metric);
    return metric;
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    if (!name.endsWith('_total')) throw new OtslakeError('OTSL_INTERNAL', `counter ${name} must end in _total`);
    return this.add(new Counter(name, help, labelNames, 'counter'));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Gauge {
    return this.add(new Gauge(name, help, labelNames, 'gauge'));
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.add(new Histogram(name, help, labelNames, buckets));
  }

  /** Names and types of every registered metric (a histogram also exposes _bucket, _sum and _count). */
  described(): { name: string; type: MetricType }[] {
    return [...this.metrics.values()].map((m) => ({ name: m.name, type: m.type }));
  }

  /** The whole exposition, one block per metric in registration order. */
  render(): string {
    return [...this.metrics.values()].map((m) => m.render()).join('');
  }
}
