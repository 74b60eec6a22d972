/**
 * The JSON behind the status page (`/status/live`): per table its state, counters, the activity
 * window for the charts, channels with owner, position and lag, recent commits and maintenance runs,
 * dead letters and the last error. It carries no configuration, and every string in it is scrubbed
 * of the configured credentials, so that an error message quoting a key can never show one.
 */
import type { TableRunnerStatus } from '../../pipeline/table-runner-status.js';
import type { ResolvedConfig } from '../../config/load.js';
import { listConfigKeys } from '../../config/schema.js';
import type { Readiness } from '../http-server.js';
import type { Metrics } from '../metrics.js';
import { BUCKET_MS, WINDOW_MS, type DaemonActivity, type TableActivity } from './table-activity.js';

/** What a table runner's status() holds that the page reads (the rest passes through unread). */
/** What the page needs of a table runner's status (pipeline/table-runner-status.ts). */
export type RunnerStatus = Pick<
  TableRunnerStatus,
  | 'table'
  | 'mode'
  | 'stage'
  | 'tunnelId'
  | 'clientId'
  | 'lakeVersion'
  | 'channels'
  | 'tunnelChannels'
  | 'maintenance'
  | 'typeConflicts'
  | 'state'
  | 'since'
  | 'lastSuccessfulBatchAt'
  | 'lagMs'
  | 'failures'
  | 'lastError'
  | 'retention'
>;

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
    return {
      table: r.table,
      mode: r.mode,
      // All from the table's health (pipeline/table-health.ts), so that the page, /status and /readyz say the same thing.
      state: r.state,
      failingSinceMs: r.state === 'failing' ? Date.parse(r.since) : null,
      stage: r.stage,
      tunnelId: r.tunnelId,
      lakeVersion: r.lakeVersion,
      rowsLanded: totals.rowsLanded,
      recordsRead: totals.recordsRead,
      commits: totals.commits,
      batches: totals.batches,
      failedBatches: totals.failedBatches,
      lastSuccessMs: r.lastSuccessfulBatchAt === null ? null : Date.parse(r.lastSuccessfulBatchAt),
      lagSeconds: r.lagMs / 1000,
      retention: {
        fraction: r.retention.fraction,
        level: r.retention.level,
        windowSeconds: r.retention.windowSeconds,
        headroomSeconds: r.retention.headroomSeconds,
      },
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
