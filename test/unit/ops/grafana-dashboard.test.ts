/**
 * ops/grafana-dashboard.json imports as it is (Prometheus data source as the ${DS_PROMETHEUS} input),
 * covers what an operator watches, and every query names only metrics that /metrics exposes.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { metricNamesIn, scrapeMetricNames } from '../../helpers/exposed-metrics.js';

interface Target {
  expr: string;
  refId: string;
  datasource?: { type: string; uid: string };
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type: string; uid: string };
  gridPos: { x: number; y: number; w: number; h: number };
  targets?: Target[];
}

const dashboard = JSON.parse(readFileSync(new URL('../../../ops/grafana-dashboard.json', import.meta.url), 'utf8')) as {
  __inputs: { name: string; type: string; pluginId: string }[];
  panels: Panel[];
  templating: { list: { name: string; type: string; query?: { query: string }; datasource?: { uid: string } }[] };
  uid: string;
  title: string;
};
const panels = dashboard.panels.filter((p) => p.type !== 'row');
const DS = '${DS_PROMETHEUS}';

describe('ops/grafana-dashboard.json', () => {
  it('is import-ready: a Prometheus data source input that every panel and query uses', () => {
    expect(dashboard.__inputs).toEqual([expect.objectContaining({ name: 'DS_PROMETHEUS', type: 'datasource', pluginId: 'prometheus' })]);
    expect(dashboard.uid).toMatch(/^[a-z0-9-]{1,40}$/);
    expect(panels.length).toBeGreaterThan(10);
    for (const p of panels) {
      expect(p.datasource, p.title).toEqual({ type: 'prometheus', uid: DS });
      expect(p.targets!.length, p.title).toBeGreaterThan(0);
      for (const t of p.targets!) expect(t.datasource, p.title).toEqual({ type: 'prometheus', uid: DS });
    }
    const ids = dashboard.panels.map((p) => p.id);
    expect(new Set(ids).size).toBe(ids.length);
    for (const p of dashboard.panels) expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
    for (const v of dashboard.templating.list) if (v.type === 'query') expect(v.datasource?.uid).toBe(DS);
  });

  it('covers throughput, lag, commit latency, conflicts, worker queue, maintenance, dead letters and errors', () => {
    const used = new Set(panels.flatMap((p) => p.targets!.flatMap((t) => metricNamesIn(t.expr))));
    for (const name of [
      'otslake_batch_rows_total',
      'otslake_tunnel_records_total',
      'otslake_channel_lag_seconds',
      'otslake_commit_latency_seconds_bucket',
      'otslake_commit_conflicts_total',
      'otslake_worker_waiting_tasks',
      'otslake_maintenance_runs_total',
      'otslake_dead_letters_total',
      'otslake_errors_total',
      'otslake_last_successful_batch_timestamp_seconds',
      'otslake_table_state',
    ]) {
      expect(used, name).toContain(name);
    }
  });

  it('names only metrics that a scrape of /metrics exposes', async () => {
    const exposed = await scrapeMetricNames();
    const queries = [
      ...panels.flatMap((p) => p.targets!.map((t) => ({ where: `panel "${p.title}" ${t.refId}`, expr: t.expr }))),
      ...dashboard.templating.list.filter((v) => v.query).map((v) => ({ where: `variable ${v.name}`, expr: v.query!.query })),
    ];
    const unknown = queries.flatMap((q) =>
      metricNamesIn(q.expr)
        .filter((n) => !exposed.has(n))
        .map((n) => `${q.where}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });
});
