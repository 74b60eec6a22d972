/**
 * The daemon's metrics facade: event verbs (recordsRead, commitCompleted, …) so that the batch loop
 * never spells a metric name (kafka-delta-ingest's IngestMetrics). Names follow
 * otslake_<noun>_<unit>; durations are recorded in seconds, as Prometheus expects, and taken in ms.
 */
import type { PipelineMetrics } from '../pipeline/pipeline-metrics.js';
import { MetricsRegistry, type Counter, type Gauge, type Histogram } from './prometheus-registry.js';

export { CONTENT_TYPE as METRICS_CONTENT_TYPE } from './prometheus-registry.js';

/** Commit latency is an object-store round trip or a few: 10 ms (local disk) to tens of seconds (retries). */
const COMMIT_BUCKETS_S = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** A batch lasts up to batch.maxDurationMs (20 s by default) plus its commit. */
const BATCH_BUCKETS_S = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300];

const DAEMON_STATES = ['created', 'running', 'draining', 'stopped', 'failed'] as const;
export type DaemonStateName = (typeof DAEMON_STATES)[number];

/**
 * A table as an operator sees it (pipeline/table-health.ts owns it): starting (tunnel, session, Delta
 * table not set up yet), running, caught-up (every channel read to its end by a live owner), waiting
 * (channels held by a client that stopped heartbeating, until the Tunnel expires it) or failing (the
 * source or the lake keeps failing: retried with backoff), stopped, or resyncing (rebuilt from a fresh tunnel).
 */
const TABLE_STATES = ['starting', 'running', 'caught-up', 'waiting', 'failing', 'stopped', 'resyncing'] as const;
export type TableStateName = (typeof TABLE_STATES)[number];

/**
 * ok: committed or empty with every channel task done; failed: a channel task failed or the batch
 * threw; lost: dropped or fenced by another writer's commit (retried, neither progress nor an error).
 */
export type BatchResult = 'ok' | 'failed' | 'lost';

export function batchResultOf(report: { readonly outcome: string; readonly failedTasks: number }): BatchResult {
  if (report.failedTasks > 0) return 'failed';
  return report.outcome === 'committed' || report.outcome === 'empty' ? 'ok' : 'lost';
}

/** What the status page shows of a table's counters since the daemon started. */
export interface TableTotals {
  readonly rowsLanded: number;
  readonly recordsRead: number;
  readonly commits: number;
  readonly batches: number;
  readonly failedBatches: number;
  readonly deadLetters: { reason: string; count: number }[];
  /** Per channel held: age of the newest change landed, in seconds. */
  readonly channelLagSeconds: Record<string, number>;
}

export class Metrics implements PipelineMetrics {
  readonly registry = new MetricsRegistry();

  private readonly tunnelRecords: Counter;
  private readonly tunnelBytes: Counter;
  private readonly lakeFiles: Counter;
  private readonly lakeBytes: Counter;
  private readonly lakeRows: Counter;
  private readonly batches: Counter;
  private readonly batchRows: Counter;
  private readonly batchDuration: Histogram;
  private readonly lastBatch: Gauge;
  private readonly lastSuccessfulBatch: Gauge;
  private readonly batchFailures: Counter;
  private readonly tableStateGauge: Gauge;
  private readonly readyGauge: Gauge;
  private readonly commits: Counter;
  private readonly commitLatency: Histogram;
  private readonly commitConflicts: Counter;
  private readonly lakeVersion: Gauge;
  private readonly lag: Gauge;
  private readonly errors: Counter;
  private readonly deadLetters: Counter;
  private readonly tunnelCheckpoints: Counter;
  private readonly workerTasks: Gauge;
  private readonly workerWaiting: Gauge;
  private readonly state: Gauge;
  private readonly typeConflicts: Counter;
  private readonly maintenanceRuns: Counter;
  private readonly maintenanceDuration: Histogram;
  private readonly maintenanceFiles: Counter;
  private readonly mirrorRows: Counter;
  private readonly mirrorFilesRewritten: Counter;
  private readonly tableLag: Gauge;
  private readonly retentionWindow: Gauge;
  private readonly retentionHeadroom: Gauge;
  private readonly retentionUsed: Gauge;
  private readonly racesLost: Counter;
  private readonly tableCommitRate: Gauge;
  private readonly tableWriters: Gauge;
  private readonly pacingDelay: Histogram;

  constructor(nowMs: number = Date.now()) {
    const r = this.registry;
    r.gauge('otslake_start_time_seconds', 'Unix time the daemon started.').set({}, nowMs / 1000);
    this.state = r.gauge('otslake_daemon_state', 'Daemon lifecycle state: 1 for the current state, 0 for the others.', ['state']);
    this.tunnelRecords = r.counter('otslake_tunnel_records_total', 'Records read from the Tunnel.', ['table', 'channel']);
    this.tunnelBytes = r.counter('otslake_tunnel_bytes_total', 'Record bytes read from the Tunnel.', ['table', 'channel']);
    this.lakeFiles = r.counter('otslake_lake_files_total', 'Data files written to the lake (committed or not).', ['table']);
    this.lakeBytes = r.counter('otslake_lake_bytes_total', 'Bytes of data files written to the lake.', ['table']);
    this.lakeRows = r.counter('otslake_lake_rows_total', 'Rows in data files written to the lake.', ['table']);
    this.batches = r.counter('otslake_batches_total', 'Micro-batches committed.', ['table']);
    this.batchRows = r.counter('otslake_batch_rows_total', 'Changes landed by committed micro-batches.', ['table']);
    this.batchDuration = r.histogram(
      'otslake_batch_duration_seconds',
      'Duration of a micro-batch, from planning to Tunnel checkpoint.',
      ['table'],
      BATCH_BUCKETS_S,
    );
    this.lastBatch = r.gauge('otslake_last_batch_timestamp_seconds', 'Unix time the last micro-batch of a table completed; alert when it stops moving.', [
      'table',
    ]);
    this.lastSuccessfulBatch = r.gauge(
      'otslake_last_successful_batch_timestamp_seconds',
      'Unix time a batch of the table last ended with no failed channel task, committed or empty: moves on quiet tables too, so it tells stuck from quiet.',
      ['table'],
    );
    this.batchFailures = r.counter('otslake_batch_failures_total', 'Batches that ended with a failed channel task or an error.', ['table']);
    this.tableStateGauge = r.gauge(
      'otslake_table_state',
      'Table state (starting, running, caught-up, waiting, failing, stopped): 1 for the current one, 0 for the others.',
      ['table', 'state'],
    );
    this.readyGauge = r.gauge('otslake_ready', '1 while /readyz answers 200 (running, every table started), else 0.');
    this.readyGauge.set({}, 0);
    this.commits = r.counter('otslake_commits_total', 'Delta commits written.', ['table']);
    this.commitLatency = r.histogram('otslake_commit_latency_seconds', 'Latency of a Delta commit, including conflict retries.', ['table'], COMMIT_BUCKETS_S);
    this.commitConflicts = r.counter('otslake_commit_conflicts_total', 'Delta commits that lost a race; fenced="true" means another writer owns a channel.', [
      'table',
      'fenced',
    ]);
    this.racesLost = r.counter(
      'otslake_commit_races_lost_total',
      'Versions another writer took first while a commit of ours went through (blind appends move on to the next version).',
      ['table'],
    );
    this.tableCommitRate = r.gauge('otslake_table_commit_rate', "Commits per second on the table, every writer's, as this daemon sees them (last 10 s).", [
      'table',
    ]);
    this.tableWriters = r.gauge('otslake_table_writers', 'Daemons committing to the table over the last 10 s, this one included.', ['table']);
    this.pacingDelay = r.histogram(
      'otslake_commit_pacing_delay_seconds',
      'How long this daemon held back a batch beyond batch.intervalMs to keep the table within batch.maxTableCommitsPerSecond.',
      ['table'],
      [0, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60],
    );
    this.lakeVersion = r.gauge('otslake_lake_version', 'Latest Delta table version written.', ['table']);
    this.lag = r.gauge('otslake_channel_lag_seconds', 'Age of the newest change landed for a channel.', ['table', 'channel']);
    this.errors = r.counter('otslake_errors_total', 'Errors by kind (OTSL_* code).', ['kind']);
    this.deadLetters = r.counter('otslake_dead_letters_total', 'Rows quarantined instead of landed, by reason.', ['table', 'reason']);
    this.tunnelCheckpoints = r.counter('otslake_tunnel_checkpoints_total', 'Channel positions checkpointed to the Tunnel server.', ['table']);
    this.workerTasks = r.gauge('otslake_worker_tasks', 'Channel tasks running on worker threads.');
    this.workerWaiting = r.gauge('otslake_worker_waiting_tasks', 'Channel tasks waiting for a free worker thread.');
    this.typeConflicts = r.counter(
      'otslake_type_conflicts_total',
      'Values whose type contradicted their column, by the policy applied (companion, string, dead-letter).',
      ['table', 'column', 'policy'],
    );
    this.maintenanceRuns = r.counter(
      'otslake_maintenance_runs_total',
      'Maintenance runs (checkpoint, log-cleanup, compact, vacuum) by outcome: done, nothing-to-do, conflict, failed.',
      ['table', 'task', 'outcome'],
    );
    this.maintenanceDuration = r.histogram('otslake_maintenance_duration_seconds', 'Duration of a maintenance run.', ['table', 'task'], BATCH_BUCKETS_S);
    this.maintenanceFiles = r.counter(
      'otslake_maintenance_files_total',
      'Files a maintenance run wrote (checkpoint), rewrote (compact) or deleted (log-cleanup, vacuum).',
      ['table', 'task'],
    );
    this.mirrorRows = r.counter('otslake_mirror_rows_total', 'Net row changes applied to mirror tables by committed batches.', ['table', 'change']);
    this.mirrorFilesRewritten = r.counter('otslake_mirror_files_rewritten_total', 'Mirror data files replaced (copy-on-write) by committed batches.', [
      'table',
    ]);
    this.tableLag = r.gauge('otslake_table_lag_seconds', 'Age of the oldest change not yet in the lake, as far as the daemon knows; 0 when caught up.', [
      'table',
    ]);
    this.retentionWindow = r.gauge(
      'otslake_table_retention_window_seconds',
      "How long the Tunnel keeps the table's changes: the stream's expiration_time (DescribeTable), else source.streamRetentionMs.",
      ['table'],
    );
    this.retentionHeadroom = r.gauge(
      'otslake_table_retention_headroom_seconds',
      'Retention window minus the lag (the age of the oldest change not yet in the lake, or of a BaseAndStream tunnel still in its full phase): how long until unread changes are trimmed; 0 past the window.',
      ['table'],
    );
    this.retentionUsed = r.gauge(
      'otslake_table_retention_used_ratio',
      'Lag as a fraction of the retention window: 0 caught up, 1 at the edge (changes then expire and the table stops with OTSL_TUNNEL_LOST).',
      ['table'],
    );
    this.daemonState('created');
  }

  /**
   * Set at each scrape from the table's health (pipeline/table-health.ts): the last successful batch
   * cycle (a batch, and the DescribeTunnel after it, both succeeded: during a Tablestore outage an empty
   * batch alone is not a success) and the lag. The state goes through tableState().
   */
  tableHealth(
    table: string,
    health: { lastSuccessMs: number | null; lagMs: number; retention?: { windowSeconds: number; headroomSeconds: number; fraction: number } },
  ): void {
    if (health.lastSuccessMs !== null) this.lastSuccessfulBatch.set({ table }, health.lastSuccessMs / 1000);
    this.tableLag.set({ table }, health.lagMs / 1000);
    if (health.retention) {
      this.retentionWindow.set({ table }, health.retention.windowSeconds);
      this.retentionHeadroom.set({ table }, health.retention.headroomSeconds);
      this.retentionUsed.set({ table }, health.retention.fraction);
    }
  }

  typeConflicted(table: string, column: string, policy: string, n: number): void {
    this.typeConflicts.inc({ table, column, policy }, n);
  }

  maintenanceCompleted(table: string, task: string, outcome: string, durationMs: number, files: number): void {
    this.maintenanceRuns.inc({ table, task, outcome });
    this.maintenanceDuration.observe({ table, task }, durationMs / 1000);
    if (files > 0) this.maintenanceFiles.inc({ table, task }, files);
  }

  mirrorMerged(table: string, stats: { inserted: number; updated: number; deleted: number; filesRewritten: number }): void {
    this.mirrorRows.inc({ table, change: 'insert' }, stats.inserted);
    this.mirrorRows.inc({ table, change: 'update' }, stats.updated);
    this.mirrorRows.inc({ table, change: 'delete' }, stats.deleted);
    this.mirrorFilesRewritten.inc({ table }, stats.filesRewritten);
  }

  recordsRead(table: string, channel: string, n: number, bytes: number): void {
    this.tunnelRecords.inc({ table, channel }, n);
    this.tunnelBytes.inc({ table, channel }, bytes);
  }

  filesWritten(table: string, n: number, bytes: number, rows: number): void {
    this.lakeFiles.inc({ table }, n);
    this.lakeBytes.inc({ table }, bytes);
    this.lakeRows.inc({ table }, rows);
  }

  batchCompleted(table: string, durationMs: number, rows: number, nowMs: number = Date.now()): void {
    this.batches.inc({ table });
    this.batchRows.inc({ table }, rows);
    this.batchDuration.observe({ table }, durationMs / 1000);
    this.lastBatch.set({ table }, nowMs / 1000);
  }

  /** Every batch's end, whatever its outcome (see batchResultOf). */
  batchFinished(table: string, result: BatchResult, nowMs: number = Date.now()): void {
    if (result === 'ok') this.lastSuccessfulBatch.set({ table }, nowMs / 1000);
    else if (result === 'failed') this.batchFailures.inc({ table });
  }

  tableState(table: string, current: TableStateName): void {
    for (const s of TABLE_STATES) this.tableStateGauge.set({ table, state: s }, s === current ? 1 : 0);
  }

  readiness(ready: boolean): void {
    this.readyGauge.set({}, ready ? 1 : 0);
  }

  /** A table's counters as the status page shows them (read from the series, so the two never disagree). */
  tableTotals(table: string): TableTotals {
    const of = (c: Counter) => c.values().reduce((sum, s) => (s.labels.table === table ? sum + s.value : sum), 0);
    const lags: Record<string, number> = {};
    for (const s of this.lag.values()) if (s.labels.table === table) lags[s.labels.channel!] = s.value;
    return {
      rowsLanded: of(this.batchRows),
      recordsRead: of(this.tunnelRecords),
      commits: of(this.commits),
      batches: of(this.batches),
      failedBatches: of(this.batchFailures),
      deadLetters: this.deadLetters
        .values()
        .filter((s) => s.labels.table === table)
        .map((s) => ({ reason: s.labels.reason!, count: s.value })),
      channelLagSeconds: lags,
    };
  }

  commitCompleted(table: string, latencyMs: number, version?: number): void {
    this.commits.inc({ table });
    this.commitLatency.observe({ table }, latencyMs / 1000);
    if (version !== undefined) this.lakeVersion.set({ table }, version);
  }

  commitConflicted(table: string, fenced: boolean): void {
    this.commitConflicts.inc({ table, fenced: String(fenced) });
  }

  commitRacesLost(table: string, n: number): void {
    this.racesLost.inc({ table }, n);
  }

  commitPacing(table: string, pacing: { commitRate: number; writers: number; delayMs: number }): void {
    this.tableCommitRate.set({ table }, pacing.commitRate);
    this.tableWriters.set({ table }, pacing.writers);
    this.pacingDelay.observe({ table }, pacing.delayMs / 1000);
  }

  tunnelCheckpointed(table: string, channels = 1): void {
    this.tunnelCheckpoints.inc({ table }, channels);
  }

  channelLag(table: string, channel: string, lagMs: number): void {
    this.lag.set({ table, channel }, lagMs / 1000);
  }

  /** A channel that finished (split parent) or moved to another daemon: drop its series. */
  channelRemoved(table: string, channel: string): void {
    for (const m of [this.lag, this.tunnelRecords, this.tunnelBytes]) m.remove({ table, channel });
  }

  errorOccurred(kind: string): void {
    this.errors.inc({ kind });
  }

  deadLettered(table: string, reason: string, n: number): void {
    this.deadLetters.inc({ table, reason }, n);
  }

  workerTasksObserved(running: number, waiting: number): void {
    this.workerTasks.set({}, running);
    this.workerWaiting.set({}, waiting);
  }

  daemonState(current: DaemonStateName): void {
    for (const s of DAEMON_STATES) this.state.set({ state: s }, s === current ? 1 : 0);
  }

  /** Prometheus text exposition 0.0.4, served with METRICS_CONTENT_TYPE. */
  render(): string {
    return this.registry.render();
  }
}
