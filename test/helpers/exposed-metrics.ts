/**
 * What `/metrics` exposes, read the way Prometheus reads it: a metrics facade behind the daemon's own
 * HTTP server, scraped over loopback, every `# TYPE` line a metric family (a histogram adds _bucket,
 * _sum and _count). Families are listed even before their first sample, so no event needs faking.
 */
import { createHttpServer } from '../../daemon/http-server.js';
import { Metrics } from '../../daemon/metrics.js';

export async function scrapeMetricNames(): Promise<Set<string>> {
  const metrics = new Metrics();
  const server = createHttpServer({ host: '127.0.0.1', port: 0, metrics: () => metrics.render(), readiness: () => ({ ready: true }), status: () => ({}) });
  const { url } = await server.start();
  try {
    const text = await (await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) })).text();
    const names = new Set<string>();
    for (const m of text.matchAll(/^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (\w+)$/gm)) {
      names.add(m[1]!);
      if (m[2] === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(m[1]! + suffix);
    }
    return names;
  } finally {
    await server.close();
  }
}

/** Metric names a PromQL expression selects: `otslake_*` names, and any other name followed by a label matcher. */
export function metricNamesIn(expr: string): string[] {
  const names = new Set<string>();
  for (const m of expr.matchAll(/\b(otslake_[a-zA-Z0-9_:]*)/g)) names.add(m[1]!);
  for (const m of expr.matchAll(/\b([a-zA-Z_:][a-zA-Z0-9_:]*)\s*\{/g)) names.add(m[1]!);
  return [...names];
}
