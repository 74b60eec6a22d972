/**
 * The JSON behind the status page (`/status/live`): per table its state, counters, the activity
 * window for the charts, channels with owner, position and lag, recent commits and maintenance runs,
 * dead letters and the last error. It carries no configuration, and every string in it is scrubbed
 * of the configured credentials, so that an error message quoting a key can never show one.
 */
import type { RetentionStatus } from '../../pipeline/retention-guard.js';
import type { ResolvedConfig } from '../../config/load.js';
import { listConfigKeys } from '../../config/schema.js';
import type { Readiness } from '../http-server.js';
import type { Metrics, TableStateName } from '../metrics.js';
import { BUCKET_MS, WINDOW_MS, type DaemonActivity, type TableActivity } from './table-activity.js';

/** What a table runner's status() holds that the page reads (the rest passes through unread). */
export interface RunnerStatus {
  readonly table: string;
  readonly ready: boolean;
  readonly idle: boolean;
  readonly state?: TableStateName;
  readonly mode: string;
  readonly stage: string | null;
  readonly tunnelId: string | null;
  readonly clientId: string | null;
  readonly lakeVersion: number | null;
  readonly channels: readonly { channelId: string; committedSeq: number; finished: boolean; checkpointed: boolean }[];
  readonly tunnelChannels: readonly { channelId: string; type: string; status: string; owner: string | null; checkpointedChangeAtMs: number | null }[] | null;
  readonly maintenance: Record<string, unknown> | null;
  readonly typeConflicts: readonly { column: string; policy: string; count: number }[];
  /** The table's health (pipeline/table-health.ts), the one source of its state, error, last success and lag. */
  readonly since?: string;
  readonly lastSuccessfulBatchAt?: string | null;
  readonly lagMs?: number;
  readonly failures?: number;
  readonly lastError?: { code: string; message: string; at: string } | null;
  /** The table's lag against the Tunnel's stream retention (pipeline/retention-guard.ts). */
  readonly retention?: RetentionStatus;
}

export interface LiveStatusInput {
  readonly state: string;
  readonly readiness: Readiness;
  readonly startedAtMs: number;
  readonly workers: { capacity: number; running: number; waiting: number };
  readonly tables: readonly RunnerStatus[];
  readonly activity: DaemonActivity;
  readonly metrics: Metrics;
  /** Strings that must never appear in the answer (secretsOf(config)). */
  readonly secrets: readonly string[];
  readonly nowMs: number;
}

export function tableStateOf(runner: { ready: boolean; idle: boolean; state?: TableStateName }, activity: TableActivity): TableStateName {
  // The runner's own health (pipeline/table-health.ts) when it reports one: it also knows 'waiting'.
  if (runner.state !== undefined) return runner.state;
  if (!runner.ready) return 'starting';
  if (activity.failingSinceMs !== null) return 'failing';
  return runner.idle ? 'caught-up' : 'running';
}

/** The configured credentials: every sensitive key's value, and the access key ids beside them. */
export function secretsOf(config: ResolvedConfig): string[] {
  const out: string[] = [];
  for (const k of listConfigKeys()) {
    if (!k.sensitive && !k.key.endsWith('accessKeyId')) continue;
    let v: unknown = config;
    for (const part of k.key.split('.')) v = v !== null && typeof v === 'object' ? (v as Record<string, unknown>)[part] : undefined;
    if (typeof v === 'string' && v.length >= 4) out.push(v);
  }
  return out;
}

function scrub(value: unknown, secrets: readonly string[]): unknown {
  if (typeof value === 'string') return secrets.reduce((s, secret) => s.split(secret).join('[Redacted]'), value);
  if (Array.isArray(value)) return value.map((v) => scrub(v, secrets));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, scrub(v, secrets)]));
  }
  return value;
}

function channelsOf(runner: RunnerStatus, lags: Record<string, number>) {
  const byId = new Map<string, Record<string, unknown>>();
  for (const c of runner.tunnelChannels ?? []) {
    byId.set(c.channelId, {
      channelId: c.channelId,
      type: c.type,
      state: c.status,
      owner: c.owner === null ? null : c.owner === runner.clientId ? 'this daemon' : c.owner,
      committedSeq: null,
      finished: c.status === 'TERMINATED',
      checkpointed: null,
      lagSeconds: lags[c.channelId] ?? null,
    });
  }
  for (const c of runner.channels) {
    byId.set(c.channelId, {
      type: null,
      state: 'OPEN',
      ...byId.get(c.channelId),
      channelId: c.channelId,
      owner: 'this daemon',
      committedSeq: c.committedSeq,
      finished: c.finished,
      checkpointed: c.checkpointed,
      lagSeconds: lags[c.channelId] ?? null,
    });
  }
  return [...byId.values()].sort((a, b) => String(a.channelId).localeCompare(String(b.channelId)));
}

/**
 * The error the page shows: the batch history's (it also keeps a recovered one, marked so), unless the
 * table's health has a current error that history never saw (a failed start, a failed DescribeTunnel).
 */
function lastErrorOf(r: RunnerStatus, activity: TableActivity): TableActivity['lastError'] {
  const current = r.lastError;
  const seen = activity.lastError;
  if (!current || (seen && seen.clearedAtMs === null && seen.code === current.code)) return seen;
  return { code: current.code, message: current.message, channelId: null, atMs: Date.parse(current.at), clearedAtMs: null, failedBatches: r.failures ?? 0 };
}

export function liveStatus(input: LiveStatusInput): unknown {
  const tables = input.tables.map((r) => {
    const activity = input.activity.table(r.table);
    const totals = input.metrics.tableTotals(r.table);
    const lags = Object.values(totals.channelLagSeconds);
    return {
      table: r.table,
      mode: r.mode,
      state: tableStateOf(r, activity),
      // From the table's health when it reports one, so that the page, /status and /readyz say the same thing.
      failingSinceMs: r.state === undefined ? activity.failingSinceMs : r.state === 'failing' && r.since ? Date.parse(r.since) : null,
      stage: r.stage,
      tunnelId: r.tunnelId,
      lakeVersion: r.lakeVersion,
      rowsLanded: totals.rowsLanded,
      recordsRead: totals.recordsRead,
      commits: totals.commits,
      batches: totals.batches,
      failedBatches: totals.failedBatches,
      lastSuccessMs:
        r.lastSuccessfulBatchAt !== undefined ? (r.lastSuccessfulBatchAt === null ? null : Date.parse(r.lastSuccessfulBatchAt)) : activity.lastSuccessMs,
      lagSeconds: r.lagMs !== undefined ? r.lagMs / 1000 : lags.length > 0 ? Math.max(...lags) : null,
      retention: r.retention
        ? { fraction: r.retention.fraction, level: r.retention.level, windowSeconds: r.retention.windowSeconds, headroomSeconds: r.retention.headroomSeconds }
        : null,
      channels: channelsOf(r, totals.channelLagSeconds),
      series: activity.series(input.nowMs),
      recentCommits: activity.commits,
      maintenance: { schedule: r.maintenance, recentRuns: activity.maintenance },
      deadLetters: totals.deadLetters,
      typeConflicts: r.typeConflicts,
      lastError: lastErrorOf(r, activity),
    };
  });
  return scrub(
    {
      nowMs: input.nowMs,
      state: input.state,
      ready: input.readiness.ready,
      notReadyReason: input.readiness.ready ? null : (input.readiness.reason ?? 'unknown'),
      startedAtMs: input.startedAtMs,
      bucketMs: BUCKET_MS,
      windowMs: WINDOW_MS,
      workers: input.workers,
      tables,
    },
    input.secrets,
  );
}
