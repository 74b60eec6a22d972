import { describe, expect, it } from 'vitest';
import { Metrics, batchResultOf } from '../../../daemon/metrics.js';
import { MetricsRegistry } from '../../../daemon/prometheus-registry.js';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A strict reader of the 0.0.4 text format: every line must be a comment of a known kind or a sample. */
function parseExposition(text: string): { samples: Sample[]; types: Map<string, string> } {
  expect(text.endsWith('\n')).toBe(true);
  const samples: Sample[] = [];
  const types = new Map<string, string>();
  for (const line of text.slice(0, -1).split('\n')) {
    const type = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (type) {
      expect(types.has(type[1]!), `duplicate TYPE ${type[1]}`).toBe(false);
      types.set(type[1]!, type[2]!);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    expect(m, `not a valid sample line: ${line}`).not.toBeNull();
    const labels: Record<string, string> = {};
    const body = m![2] ?? '';
    const re = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/gy;
    let consumed = 0;
    for (let lm = re.exec(body); lm; lm = re.exec(body)) {
      labels[lm[1]!] = lm[2]!.replace(/\\(.)/g, (_e, c: string) => (c === 'n' ? '\n' : c));
      consumed = re.lastIndex;
    }
    expect(consumed, `bad labels in: ${line}`).toBe(body.length);
    const raw = m![3]!;
    const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    expect(Number.isNaN(value) && raw !== 'NaN', `bad value in: ${line}`).toBe(false);
    samples.push({ name: m![1]!, labels, value });
  }
  return { samples, types };
}

function find(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  return samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;
}

describe('Metrics facade', () => {
  it('exposes the daemon events as otslake_* series in valid exposition format', () => {
    const m = new Metrics(1_700_000_000_000);
    m.recordsRead('orders', 'ch-1', 100, 4096);
    m.recordsRead('orders', 'ch-1', 50, 1024);
    m.filesWritten('orders', 2, 9000, 150);
    m.batchCompleted('orders', 1500, 150, 1_700_000_001_000);
    m.commitCompleted('orders', 40, 7);
    m.commitCompleted('orders', 3000, 8);
    m.commitConflicted('orders', true);
    m.channelLag('orders', 'ch-1', 2500);
    m.errorOccurred('OTSL_TUNNEL_TIMEOUT');
    m.errorOccurred('OTSL_TUNNEL_TIMEOUT');
    m.deadLettered('orders', 'type-mismatch', 3);
    m.workerTasksObserved(1, 4);
    m.daemonState('running');

    const { samples, types } = parseExposition(m.render());
    expect(types.get('otslake_commit_latency_seconds')).toBe('histogram');
    expect(types.get('otslake_tunnel_records_total')).toBe('counter');
    for (const name of types.keys()) expect(name).toMatch(/^otslake_[a-z_]+$/);

    expect(find(samples, 'otslake_tunnel_records_total', { table: 'orders', channel: 'ch-1' })).toBe(150);
    expect(find(samples, 'otslake_tunnel_bytes_total', { table: 'orders', channel: 'ch-1' })).toBe(5120);
    expect(find(samples, 'otslake_lake_files_total', { table: 'orders' })).toBe(2);
    expect(find(samples, 'otslake_lake_bytes_total', { table: 'orders' })).toBe(9000);
    expect(find(samples, 'otslake_batch_rows_total', { table: 'orders' })).toBe(150);
    expect(find(samples, 'otslake_batch_duration_seconds_sum', { table: 'orders' })).toBe(1.5);
    expect(find(samples, 'otslake_last_batch_timestamp_seconds', { table: 'orders' })).toBe(1_700_000_001);
    expect(find(samples, 'otslake_commits_total', { table: 'orders' })).toBe(2);
    expect(find(samples, 'otslake_lake_version', { table: 'orders' })).toBe(8);
    expect(find(samples, 'otslake_commit_conflicts_total', { table: 'orders', fenced: 'true' })).toBe(1);
    expect(find(samples, 'otslake_channel_lag_seconds', { table: 'orders', channel: 'ch-1' })).toBe(2.5);
    expect(find(samples, 'otslake_errors_total', { kind: 'OTSL_TUNNEL_TIMEOUT' })).toBe(2);
    expect(find(samples, 'otslake_dead_letters_total', { table: 'orders', reason: 'type-mismatch' })).toBe(3);
    expect(find(samples, 'otslake_worker_waiting_tasks')).toBe(4);
    expect(find(samples, 'otslake_daemon_state', { state: 'running' })).toBe(1);
    expect(find(samples, 'otslake_daemon_state', { state: 'created' })).toBe(0);
    expect(find(samples, 'otslake_start_time_seconds')).toBe(1_700_000_000);
  });

  it('renders histograms with cumulative buckets, +Inf, _sum and _count', () => {
    const m = new Metrics();
    for (const ms of [5, 40, 40, 3000, 120_000]) m.commitCompleted('t', ms);
    const { samples } = parseExposition(m.render());
    const buckets = samples.filter((s) => s.name === 'otslake_commit_latency_seconds_bucket');
    const les = buckets.map((b) => Number(b.labels.le === '+Inf' ? Infinity : b.labels.le));
    expect(les).toEqual([...les].sort((a, b) => a - b));
    const counts = buckets.map((b) => b.value);
    counts.forEach((c, i) => expect(c).toBeGreaterThanOrEqual(i === 0 ? 0 : counts[i - 1]!));
    expect(find(samples, 'otslake_commit_latency_seconds_bucket', { le: '0.01' })).toBe(1);
    expect(find(samples, 'otslake_commit_latency_seconds_bucket', { le: '0.05' })).toBe(3);
    expect(find(samples, 'otslake_commit_latency_seconds_bucket', { le: '30' })).toBe(4);
    expect(find(samples, 'otslake_commit_latency_seconds_bucket', { le: '+Inf' })).toBe(5);
    expect(find(samples, 'otslake_commit_latency_seconds_count')).toBe(5);
    expect(find(samples, 'otslake_commit_latency_seconds_sum')).toBeCloseTo(123.085, 6);
  });

  it('drops the series of a removed channel', () => {
    const m = new Metrics();
    m.recordsRead('t', 'gone', 1, 1);
    m.channelLag('t', 'gone', 1);
    m.channelLag('t', 'kept', 1);
    m.channelRemoved('t', 'gone');
    const text = m.render();
    expect(text).not.toContain('channel="gone"');
    expect(text).toContain('channel="kept"');
  });

  it('tells stuck from quiet: the last good batch moves on empty batches, not on failed or fenced ones', () => {
    const m = new Metrics();
    m.batchFinished('t', batchResultOf({ outcome: 'empty', failedTasks: 0 }), 1_000_000);
    m.batchFinished('t', batchResultOf({ outcome: 'fenced', failedTasks: 0 }), 2_000_000);
    m.batchFinished('t', batchResultOf({ outcome: 'empty', failedTasks: 2 }), 3_000_000);
    m.batchFinished('t', 'failed', 4_000_000);
    m.tableState('t', 'failing');
    m.readiness(true);
    const { samples } = parseExposition(m.render());
    expect(find(samples, 'otslake_last_successful_batch_timestamp_seconds', { table: 't' })).toBe(1_000);
    expect(find(samples, 'otslake_batch_failures_total', { table: 't' })).toBe(2);
    expect(find(samples, 'otslake_table_state', { table: 't', state: 'failing' })).toBe(1);
    expect(find(samples, 'otslake_table_state', { table: 't', state: 'running' })).toBe(0);
    expect(find(samples, 'otslake_ready')).toBe(1);
    expect(m.tableTotals('t')).toMatchObject({ failedBatches: 2, rowsLanded: 0 });
  });

  it('exposes what is set from the table health at scrape and from commit pacing: lag, last good cycle, races lost, rate, writers, pacing delay', () => {
    const m = new Metrics();
    m.tableHealth('t', { lastSuccessMs: 5_000_000, lagMs: 2_500 });
    // Before a first good cycle the last-success series keeps its previous value; the lag is always set.
    m.tableHealth('u', { lastSuccessMs: null, lagMs: 0 });
    m.tableHealth('r', { lastSuccessMs: null, lagMs: 0, retention: { windowSeconds: 86_400, headroomSeconds: 21_600, fraction: 0.75 } });
    m.commitRacesLost('t', 2);
    m.commitRacesLost('t', 1);
    m.commitPacing('t', { commitRate: 4.5, writers: 3, delayMs: 700 });
    const { samples, types } = parseExposition(m.render());
    expect(find(samples, 'otslake_last_successful_batch_timestamp_seconds', { table: 't' })).toBe(5_000);
    expect(find(samples, 'otslake_last_successful_batch_timestamp_seconds', { table: 'u' })).toBeUndefined();
    expect(find(samples, 'otslake_table_lag_seconds', { table: 't' })).toBe(2.5);
    expect(find(samples, 'otslake_table_lag_seconds', { table: 'u' })).toBe(0);
    expect(find(samples, 'otslake_table_retention_window_seconds', { table: 'r' })).toBe(86_400);
    expect(find(samples, 'otslake_table_retention_headroom_seconds', { table: 'r' })).toBe(21_600);
    expect(find(samples, 'otslake_table_retention_used_ratio', { table: 'r' })).toBe(0.75);
    expect(find(samples, 'otslake_commit_races_lost_total', { table: 't' })).toBe(3);
    expect(find(samples, 'otslake_table_commit_rate', { table: 't' })).toBe(4.5);
    expect(find(samples, 'otslake_table_writers', { table: 't' })).toBe(3);
    expect(types.get('otslake_commit_pacing_delay_seconds')).toBe('histogram');
    expect(find(samples, 'otslake_commit_pacing_delay_seconds_sum', { table: 't' })).toBe(0.7);
    expect(find(samples, 'otslake_commit_pacing_delay_seconds_bucket', { table: 't', le: '0.5' })).toBe(0);
    expect(find(samples, 'otslake_commit_pacing_delay_seconds_bucket', { table: 't', le: '1' })).toBe(1);
  });
});

describe('MetricsRegistry', () => {
  it('escapes label values and help text', () => {
    const r = new MetricsRegistry();
    r.counter('x_total', 'line one\nback\\slash', ['table']).inc({ table: 'we"ird\\na\nme' });
    const text = r.render();
    expect(text).toContain('# HELP x_total line one\\nback\\\\slash\n');
    expect(text).toContain('x_total{table="we\\"ird\\\\na\\nme"} 1\n');
    const { samples } = parseExposition(text);
    expect(samples[0]!.labels.table).toBe('we"ird\\na\nme');
  });

  it('rejects wrong label sets, decreasing counters, bad names and duplicates', () => {
    const r = new MetricsRegistry();
    const c = r.counter('a_total', 'a', ['table']);
    expect(() => c.inc({ tabel: 'x' })).toThrow(/takes labels \{table\}, got \{tabel\}/);
    expect(() => c.inc({ table: 'x' }, -1)).toThrow(/can only go up/);
    expect(() => r.counter('a_total', 'again')).toThrow(/registered twice/);
    expect(() => r.counter('b', 'no suffix')).toThrow(/must end in _total/);
    expect(() => r.gauge('bad-name', 'x')).toThrow(/invalid metric name/);
    expect(() => r.histogram('h', 'x', ['le'], [1])).toThrow(/invalid label name/);
    expect(() => r.histogram('h2', 'x', [], [])).toThrow(/distinct finite buckets/);
  });
});
