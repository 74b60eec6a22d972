/**
 * ops/prometheus-alerts.yml: promtool accepts it and its unit tests (ops/prometheus-alerts.test.yml)
 * pass; it covers the failures operators must act on; every expression names only metrics /metrics
 * exposes; every alert links a section that exists. Without promtool the promtool cases skip loudly;
 * OTSLAKE_REQUIRE_PROMTOOL=1 (set by .ci/run) makes that a failure.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { promtoolTool } from '../../helpers/external-tools.js';
import { metricNamesIn, scrapeMetricNames } from '../../helpers/exposed-metrics.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const RULES = `${ROOT}ops/prometheus-alerts.yml`;
const rules = (
  parse(readFileSync(RULES, 'utf8')) as { groups: { rules: { alert: string; expr: string; annotations: Record<string, string> }[] }[] }
).groups.flatMap((g) => g.rules);
const promtool = promtoolTool();

/** GitHub's heading anchors: lower case, punctuation other than - and _ dropped, spaces as dashes. */
function anchorsOf(markdown: string): Set<string> {
  return new Set(
    [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map((m) =>
      m[1]!
        .trim()
        .toLowerCase()
        .replace(/[^a-z0-9 _-]/g, '')
        .replace(/ /g, '-'),
    ),
  );
}

/** promtool's exit status and everything it printed (it reports on stdout and stderr). */
function runPromtool(args: string[]): { status: number | null; output: string } {
  const r = spawnSync(promtool.path!, args, { cwd: ROOT, encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('ops/prometheus-alerts.yml', () => {
  it('alerts on the failures operators must act on', () => {
    expect(rules.map((r) => r.alert).sort()).toEqual(
      [
        'OtslakeDeadLetters',
        'OtslakeDown',
        'OtslakeErrorsRising',
        'OtslakeFencedCommits',
        'OtslakeLagHigh',
        'OtslakeLagNearTunnelRetention',
        'OtslakeNotReady',
        'OtslakeTableFailing',
        'OtslakeTableStalled',
        'OtslakeTableStopped',
        'OtslakeTunnelRetentionCritical',
      ].sort(),
    );
  });

  it('names only metrics that a scrape of /metrics exposes (and Prometheus’ own `up`)', async () => {
    const exposed = await scrapeMetricNames();
    const unknown = rules.flatMap((r) =>
      metricNamesIn(r.expr)
        .filter((n) => n !== 'up' && !exposed.has(n))
        .map((n) => `${r.alert}: ${n}`),
    );
    expect(unknown).toEqual([]);
  });

  it('links every alert to a section that exists', () => {
    for (const r of rules) {
      for (const key of ['runbook_url', 'error_doc']) {
        const link = r.annotations[key];
        if (link === undefined) continue;
        const [file, anchor] = link.split('#') as [string, string];
        const doc = readFileSync(`${ROOT}${file}`, 'utf8');
        if (anchor.includes('{{')) continue; // per-code link (error_doc): docs/errors.md has a heading per code, checked by its own test
        expect(anchorsOf(doc), `${r.alert} ${key} ${link}`).toContain(anchor);
      }
      expect(r.annotations.runbook_url, r.alert).toBeDefined();
    }
  });

  it.skipIf(promtool.path === null)(`passes promtool check rules and promtool test rules ${promtool.path === null ? `(${promtool.skipReason})` : ''}`, () => {
    const check = runPromtool(['check', 'rules', RULES]);
    expect(check, check.output).toMatchObject({ status: 0 });
    expect(check.output).toContain(`SUCCESS: ${rules.length} rules found`);
    const unit = runPromtool(['test', 'rules', `${ROOT}ops/prometheus-alerts.test.yml`]);
    expect(unit, unit.output).toMatchObject({ status: 0 });
    expect(unit.output).toContain('SUCCESS');
  });
});
