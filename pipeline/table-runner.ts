/**
 * Everything one table needs, and its loop of batches:
 *
 *   start(): tunnel (created if missing) → past InitBaseDataAndStreamShard → TunnelSession
 *            → Delta table (created on first start: DescribeTable keys + config columns + metadata)
 *            (retried with backoff while the source or the lake is unreachable; a configuration
 *            error, bad credentials among them, is thrown)
 *   loop():  runBatch → behind (a task ended on its budget)? next batch at once : the next starts
 *            batch.intervalMs after this one started (a channel change starts it early), never
 *            sooner than the table's commit budget allows (CommitPacer)
 *            → ended at the live tail? ask DescribeTunnel whether the table is caught up (idle)
 *            → a failed batch or channel task: wait out the backoff (TableHealth), never a hot loop
 *
 * One batch per table is in flight at any time; stop() lets the current batch finish and commit.
 */
import { EventEmitter } from 'node:events';
import { OtslakeError, deserializeError, isConfigurationError, isTableStopError, toOtslakeError } from '../common/errors.js';
import { sleep } from '../common/retry.js';
import type { Logger } from '../common/log.js';
import { WakeableDelay } from '../common/wakeable-delay.js';
import type { ObjectStore } from '../lake/object-store.js';
import { readCommitInfos } from '../lake/snapshot.js';
import { typeConflictPolicyOf, type ResolvedConfig, type TableConfig } from '../config/load.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';
import { TunnelSession } from '../tunnel/tunnel-session.js';
import type { WorkerPool } from '../workers/pool.js';
import { runBatch, type BatchReport, type TableContext, type TypeConflictCounts } from './batch-cycle.js';
import { ChannelPositions } from './channel-positions.js';
import { TableViewCache } from './table-view.js';
import { ChannelCap } from './channel-cap.js';
import { CommitPacer } from './commit-pacer.js';
import { committerForTable } from './committer-for-table.js';
import { fleetClients } from './fleet.js';
import { TableMaintenance, type MaintenanceRun } from './maintenance.js';
import { TableIceberg } from './table-iceberg.js';
import type { RunnerFleet, TableRunnerStatus } from './table-runner-status.js';
import type { PipelineMetrics } from './pipeline-metrics.js';
import { checkKeyNames, lakePrimaryKey, taskSelectionOf, type DescribeSourceTable } from './table-schema.js';
import { RetentionGuard, type RetentionStatus } from './retention-guard.js';
import { ensureDeltaTable } from './table-setup.js';
import { TableHealth } from './table-health.js';
import { assessTunnel, OwnerWatch, summarizeTunnel, type TunnelProgress } from './tunnel-progress.js';
import { waitUntilInitialised } from './tunnel-setup.js';
import { lostTunnel, resolveTableTunnel, tunnelLost } from './tunnel-binding.js';

/** The newest commits read at start to learn how many daemons write the table. */
const PACER_HISTORY_COMMITS = 200;

/** How old the last DescribeTunnel may get while the table is busy (the fleet view in /status). */
const PROGRESS_REFRESH_MS = 30_000;

/** Tablestore rows are at most a few MB; a bigger value is corrupt input, not data. */
const DEFAULT_MAX_ROW_BYTES = 4 * 1024 * 1024;

export interface SessionSettings {
  heartbeatIntervalMs?: number;
  heartbeatTimeoutMs?: number;
  clientTag?: string;
}

export interface TableRunnerOptions {
  config: ResolvedConfig;
  table: TableConfig;
  tunnelClient: TunnelClient;
  lakeRoot: ObjectStore;
  pool: WorkerPool;
  metrics: PipelineMetrics;
  log: Logger;
  describeTable: DescribeSourceTable;
  /** Health's and the retention guard's clock (ms since epoch); Date.now unless a test drives it. */
  clock?: () => number;
  /** This daemon's writer id in the commits it makes (commit pacing counts writers by it). */
  writer: string;
  session?: SessionSettings;
}

interface RunnerEvents {
  batch: [BatchReport];
  idle: [TunnelProgress];
  busy: [];
  failed: [OtslakeError];
  /** The table stopped on an error of its own; the daemon's other tables go on. */
  stopped: [OtslakeError];
  /** A batch threw (it committed nothing); retried after the batch interval. */
  'batch-failed': [OtslakeError];
  maintenance: [MaintenanceRun];
}

export class TableRunner extends EventEmitter<RunnerEvents> {
  readonly name: string;
  private ctx: TableContext | null = null;
  private session: TunnelSession | null = null;
  private stopping = false;
  /** Between quiet batches; stop() and a change of our channels end it. */
  private readonly pauseBetweenBatches = new WakeableDelay();
  private idleValue = false;
  private lastBatch: BatchReport | null = null;
  private progress: TunnelProgress | null = null;
  readonly health: TableHealth;
  private readonly retention: RetentionGuard;
  private readonly owners: OwnerWatch;
  private progressAtMs = 0;
  private maintenance: TableMaintenance | null = null;
  /** Iceberg metadata kept in step (lake.iceberg and tables[].iceberg); null when off. */
  private iceberg: TableIceberg | null = null;
  private readonly typeConflicts: TypeConflictCounts = new Map();
  /** confirmIdle() callers, answered by the next batch that starts after them. */
  private idleConfirmations: ((idle: boolean) => void)[] = [];

  constructor(private readonly options: TableRunnerOptions) {
    super();
    this.name = options.table.table;
    const { config } = options;
    this.health = new TableHealth({
      table: this.name,
      log: options.log,
      backoff: { initialMs: config.batch.retryInitialMs, maxMs: config.batch.retryMaxMs },
      ...(options.clock ? { now: options.clock } : {}),
    });
    this.retention = RetentionGuard.fromConfig(this.name, options.log, config.source, options.table.tunnel.type);
    this.owners = new OwnerWatch(options.session?.heartbeatTimeoutMs ?? config.source.heartbeatTimeoutMs);
  }

  /** The `tables` entry this runner lands. */
  get table(): TableConfig {
    return this.options.table;
  }

  get ready(): boolean {
    return this.ctx !== null;
  }

  get idle(): boolean {
    return this.idleValue;
  }

  /**
   * Tunnel, session and Delta table, retried with backoff until they answer: an endpoint that is
   * down during a boot or a deploy is an outage like any other. Configuration errors (bad
   * credentials, a table that contradicts the config) are thrown. `signal` aborts (shutdown).
   */
  async start(signal: AbortSignal): Promise<void> {
    for (;;) {
      try {
        await this.startOnce(signal);
        this.health.started();
        return;
      } catch (err) {
        if (signal.aborted || isConfigurationError(err) || isTableStopError(err)) throw err;
        await this.session?.shutdown(signal).catch(() => undefined);
        this.session = null;
        const error = toOtslakeError(err, { table: this.name });
        this.options.metrics.errorOccurred(error.code);
        await sleep(this.health.failed(error, 'start'), signal);
      }
    }
  }

  private async startOnce(signal: AbortSignal): Promise<void> {
    const { table, tunnelClient, config, log } = this.options;
    const store = this.options.lakeRoot.child(table.path);
    const tunnelId = await resolveTableTunnel(tunnelClient, table, store, log, signal);
    this.retention.tunnelPhase(summarizeTunnel(await waitUntilInitialised(tunnelClient, table, tunnelId, log, signal)));
    const { primaryKey: sourceKey, streamExpirationHours } = await this.options.describeTable(table.table, signal);
    this.retention.tableWindow(streamExpirationHours);
    checkKeyNames(table, sourceKey);
    const primaryKey = lakePrimaryKey(table, sourceKey);
    const metadata = await ensureDeltaTable({ store, table, config, log, primaryKey, tunnelId, signal });
    this.maintenance = new TableMaintenance({ config, table, store, metrics: this.options.metrics, log, onRun: (run) => this.afterMaintenance(run) });
    if (config.lake.iceberg && table.iceberg) {
      const vacuum = config.maintenance.vacuum;
      this.iceberg = new TableIceberg({
        store,
        table: table.table,
        log,
        metrics: this.options.metrics,
        ...(vacuum.enabled ? { vacuumRetentionMs: vacuum.retentionMs } : {}),
      });
      // Delta commits a previous life made without their Iceberg commit (a crash between the two).
      await this.iceberg.catchUp();
    }

    const s = this.options.session ?? {};
    const session = new TunnelSession({
      client: tunnelClient,
      tunnelId,
      logger: log,
      heartbeatIntervalMs: s.heartbeatIntervalMs ?? config.source.heartbeatIntervalMs,
      heartbeatTimeoutMs: s.heartbeatTimeoutMs ?? config.source.heartbeatTimeoutMs,
      ...(s.clientTag !== undefined ? { clientTag: s.clientTag } : {}),
    });
    session.on('failed', (err) => void this.sessionFailed(err, tunnelId));
    session.on('channels', () => {
      // Our channels moved, so the fleet changed: describe the tunnel after the next batch (the pacer counts its clients).
      this.progressAtMs = 0;
      this.pauseBetweenBatches.wake();
    });
    this.session = session;
    await session.start(signal);
    const positions = new ChannelPositions(log, tunnelId);
    const pacer = new CommitPacer({ commitsPerSecond: config.batch.maxTableCommitsPerSecond, writer: this.options.writer });
    const identity = { tunnelId, writer: this.options.writer };
    this.ctx = {
      table,
      tunnelId,
      store,
      session,
      pool: this.options.pool,
      primaryKey,
      select: taskSelectionOf(table, sourceKey),
      budget: { maxRecords: config.batch.maxRecordsPerChannel, maxBytes: config.batch.maxBytesPerChannel, maxDurationMs: config.batch.maxDurationMs },
      targetFileBytes: config.lake.targetFileSizeBytes,
      maxRowBytes: DEFAULT_MAX_ROW_BYTES,
      log,
      metrics: this.options.metrics,
      committer: committerForTable({ table, metadata, store, identity, pacer, pool: this.options.pool, log }),
      view: new TableViewCache(store, positions, log, (others) => pacer.observe(others)),
      positions,
      pacer,
      typeConflicts: this.typeConflicts,
      // The Iceberg sync is handed the commit it mirrors: no listing or reading of the log in the usual case.
      onCommitted: (version, actions) => this.iceberg?.afterCommit({ version, actions }),
      channelCap: new ChannelCap(config.source.maxChannelsPerTable, 3 * (s.heartbeatIntervalMs ?? config.source.heartbeatIntervalMs)),
    };
    // A daemon joining a busy table paces itself from its first batch: it reads who committed lately.
    const view = await this.ctx.view.refresh(signal);
    pacer.observeHistory(await readCommitInfos(store, Math.max(0, view.version - PACER_HISTORY_COMMITS + 1), { toVersion: view.version, signal }));
    // …and counts the tunnel's clients: a crowd starting together is counted before it commits. A fleet forming
    // (another client holds channels) gets the slow start; a lone daemon does not (channels waiting for an owner
    // are no sign of one: a BaseAndStream tunnel's stream channels wait for the end of the base phase).
    const progress = await this.assess(this.ctx, signal);
    if (fleetClients(progress.channels).clients.some((c) => c.clientId !== session.clientId))
      pacer.observeChannels(progress.channels.length, Date.now() + 2 * (s.heartbeatIntervalMs ?? config.source.heartbeatIntervalMs));
    log.info('table ready', { tunnelId, clientId: session.clientId, path: table.path });
  }

  /** Maintenance commits (compaction) and deletions (vacuum) reach the Iceberg metadata too. */
  private afterMaintenance(run: MaintenanceRun): void {
    this.emit('maintenance', run);
    if (run.outcome !== 'done') return;
    if (run.task === 'compact' || run.task === 'retention') this.iceberg?.afterCommit();
    if (run.task === 'vacuum') this.iceberg?.afterVacuum();
  }

  /** Batches until stop(); `signal` (destroy) aborts the batch in flight. */
  async loop(signal: AbortSignal): Promise<void> {
    const ctx = this.ctx;
    if (!ctx) throw new OtslakeError('OTSL_DAEMON_STATE', 'table runner loop before start', { context: { table: this.name } });
    // Daemons that start together (a deploy) spread their first commits over one paced interval.
    await this.holdUntil(Date.now() + ctx.pacer.startDelayMs(), signal);
    while (!this.stopping && !signal.aborted) {
      const startedMs = Date.now();
      const confirming = this.idleConfirmations.splice(0);
      let confirmed = false;
      let behind = false;
      let backoffMs = 0;
      try {
        const report = await runBatch(ctx, signal);
        this.lastBatch = report;
        this.emit('batch', report);
        if (report.outcome === 'committed') {
          this.maintenance?.afterCommit(report.version, ctx.view.current?.version === report.version ? ctx.view.current.metadata : undefined, signal);
        }
        if (report.taskError?.context.serverCode === 'OTSTunnelExpired' || report.taskError?.context.serverCode === 'OTSParameterInvalid') {
          // A channel read refused for good: if the tunnel itself is gone or expired, this table stops here.
          const lost = await lostTunnel(this.options.tunnelClient, this.options.table, ctx.tunnelId);
          if (lost !== null) {
            for (const answer of confirming) answer(false);
            this.halt(lost);
            break;
          }
        }
        if (report.taskError) {
          // The failed channels are redone by the next batch: after the backoff, not at once.
          this.setBusy();
          const failedChannels = (report.taskErrors ?? []).map((e) => e.channelId);
          backoffMs = this.health.failed(deserializeError(report.taskError), 'channel tasks', report.failedTasks, failedChannels);
        } else {
          // A batch that read something shows the table was not caught up when it started.
          if (!report.quiet) this.setBusy();
          const progress = report.atTail ? await this.assess(ctx, signal) : null;
          this.health.batchSucceeded(report.reads ?? []);
          if (progress) this.applyProgress(progress);
          // A busy table never asks whether it is idle: keep the fleet view in /status fresh anyway.
          else if (Date.now() - this.progressAtMs > PROGRESS_REFRESH_MS)
            await this.assess(ctx, signal).catch((err: unknown) => this.options.log.warn('describe tunnel failed', { error: err }));
          behind = report.behind;
          confirmed = report.quiet && this.idleValue;
        }
        this.retentionStatus(); // logs when the lag crosses a retention threshold
        await this.maintenance?.runDue(signal);
      } catch (err) {
        if (signal.aborted) {
          for (const answer of confirming) answer(false);
          break;
        }
        const error = toOtslakeError(err, { table: this.name });
        if (!isTableStopError(error)) this.options.metrics.errorOccurred(error.code);
        if (isTableStopError(error)) {
          // Nothing a retry cures: this table stops (its channels go back to the Tunnel), the others go on.
          for (const answer of confirming) answer(false);
          this.halt(error);
          break;
        }
        this.emit('batch-failed', error);
        this.setBusy();
        backoffMs = this.health.failed(error, 'batch', 0, ctx.positions.channelIds());
      }
      for (const answer of confirming) answer(confirmed);
      await this.pauseBeforeNextBatch(ctx, startedMs, behind, signal);
      // After a failure: the backoff, which only stop() cuts short (a channel change does not).
      await this.holdUntil(Date.now() + backoffMs, signal);
    }
    for (const answer of this.idleConfirmations.splice(0)) answer(false);
    await this.maintenance?.settle();
    await this.iceberg?.settle();
  }

  /**
   * The cadence (docs/operations.md §Commit cadence): batches start batch.intervalMs apart, start to
   * start, unless the last one ended on a budget (the daemon is behind: go on at once). A change of
   * our channels or an idle confirmation ends that wait early — but never the commit budget's share
   * (CommitPacer), which keeps every daemon of the table together within its commits per second.
   */
  private async pauseBeforeNextBatch(ctx: TableContext, startedMs: number, behind: boolean, signal: AbortSignal): Promise<void> {
    const now = Date.now();
    const cadenceMs = behind ? 0 : Math.max(0, startedMs + this.options.config.batch.intervalMs - now);
    const pacedMs = ctx.pacer.pacedDelayMs(startedMs, now);
    const pacing = ctx.pacer.status(now);
    this.options.metrics.commitPacing(this.name, { commitRate: pacing.commitRate, writers: pacing.writers, delayMs: Math.max(0, pacedMs - cadenceMs) });
    if (cadenceMs > 0 && this.idleConfirmations.length === 0) await this.pauseBetweenBatches.wait(cadenceMs, signal);
    await this.holdUntil(now + pacedMs, signal);
  }

  /** Waits until `untilMs`; only stop() (or the signal) ends it early, not a change of our channels. */
  private async holdUntil(untilMs: number, signal: AbortSignal): Promise<void> {
    while (!this.stopping && !signal.aborted && Date.now() < untilMs) await this.pauseBetweenBatches.wait(untilMs - Date.now(), signal);
  }

  /**
   * Runs a batch now (ending the pause between quiet batches) and tells whether it still found the
   * table caught up. The idle flag alone may be an interval old: `--until-idle` over several tables
   * must not exit on a table that got writes since its last quiet batch.
   */
  confirmIdle(): Promise<boolean> {
    if (this.stopping) return Promise.resolve(false);
    const answer = new Promise<boolean>((resolve) => this.idleConfirmations.push(resolve));
    this.pauseBetweenBatches.wake();
    return answer;
  }

  /** DescribeTunnel after a quiet batch; a failure fails the cycle (the source is down: not caught up, not quiet). */
  private async assess(ctx: TableContext, signal: AbortSignal): Promise<TunnelProgress> {
    const progress = await assessTunnel(
      this.options.tunnelClient,
      ctx.table,
      ctx.tunnelId,
      ctx.session.clientId ?? '',
      ctx.positions.channelIds(),
      this.owners,
      signal,
    );
    this.progress = progress;
    this.retention.tunnelPhase(progress);
    this.progressAtMs = Date.now();
    ctx.pacer.observeClients(fleetClients(progress.channels).clients.length);
    this.options.log.debug('tunnel progress', { stage: progress.stage, unowned: progress.unowned, caughtUp: progress.caughtUp, reading: ctx.positions.size });
    if (!progress.caughtUp && !ctx.channelCap?.full(ctx.positions.size)) {
      // Channels wait for an owner (children of a finished parent, the stream after the base stage), or
      // our TERMINATED/CLOSE reports wait for a heartbeat: heartbeat now instead of at the next tick. Not
      // at our cap: we would hand them back, and the Tunnel would offer them again, heartbeat after heartbeat.
      await ctx.session.heartbeatNow(signal).catch(() => undefined);
    }
    return progress;
  }

  private applyProgress(progress: TunnelProgress): void {
    if (progress.caughtUp) {
      this.health.caughtUp();
      if (!this.idleValue) {
        this.idleValue = true;
        this.options.log.info('table caught up', { stage: progress.stage, channels: progress.channels.length });
        this.emit('idle', progress);
      }
      return;
    }
    this.health.notCaughtUp(progress.waitingFor);
    this.setBusy();
  }

  private setBusy(): void {
    this.health.busy();
    if (!this.idleValue) return;
    this.idleValue = false;
    this.emit('busy');
  }

  /**
   * The Tunnel refused our session for good. When the tunnel itself is gone or expired, that is this table's
   * loss alone (OTSL_TUNNEL_LOST): it stops, the others go on. Anything else fails the daemon, as before.
   */
  private async sessionFailed(err: OtslakeError, tunnelId: string): Promise<void> {
    const lost =
      err.context.serverCode === 'OTSTunnelExpired'
        ? tunnelLost(this.options.table, tunnelId, 'expired')
        : await lostTunnel(this.options.tunnelClient, this.options.table, tunnelId);
    if (lost !== null) {
      this.halt(lost);
      return;
    }
    this.health.failed(err, 'tunnel session');
    this.emit('failed', err);
    this.stop();
  }

  /** Stops this table for good on an error of its own (isTableStopError): shown as `stopped` with the error. */
  halt(error: OtslakeError): void {
    this.options.metrics.errorOccurred(error.code);
    this.health.stopped(error);
    this.stop();
    // Our channels go back to the Tunnel at once (when it still exists), not at the daemon's exit.
    void this.session?.shutdown().catch(() => undefined);
    this.emit('stopped', error);
  }

  /** The table's lag against the Tunnel's log retention (pipeline/retention-guard.ts); logs a change of level. */
  retentionStatus(): RetentionStatus {
    return this.retention.assess(this.health.lagMs(), (this.options.clock ?? Date.now)());
  }

  get halted(): boolean {
    return this.health.state === 'stopped';
  }

  /** No new batch after the current one. Idempotent. */
  stop(): void {
    this.stopping = true;
    this.pauseBetweenBatches.wake();
  }

  /** Releases our channels to the server (ShutdownTunnel). */
  async close(signal?: AbortSignal): Promise<void> {
    await this.session?.shutdown(signal);
  }

  private fleet(ctx: TableContext): RunnerFleet {
    const pacing = ctx.pacer.status();
    return {
      writer: this.options.writer,
      ...(this.progress ? fleetClients(this.progress.channels) : { clients: [], unownedChannels: [] }),
      describedAtMs: this.progressAtMs || null,
      commitsPerSecond: Number(pacing.commitRate.toFixed(2)),
      writers: pacing.writers,
      pacedForWriters: pacing.pacedForWriters,
      commitBudgetPerSecond: pacing.budget,
      pacedIntervalMs: pacing.minIntervalMs,
    };
  }

  status(): TableRunnerStatus {
    const ctx = this.ctx;
    const health = this.health.snapshot();
    return {
      table: this.name,
      ready: this.ready,
      idle: this.idleValue,
      state: health.state,
      since: health.since,
      lastSuccessfulBatchAt: health.lastSuccessfulBatchAt,
      lagMs: health.lagMs,
      retention: this.retentionStatus(),
      waitingFor: health.waitingFor,
      failures: health.failures,
      nextAttemptInMs: health.nextAttemptInMs,
      reason: health.reason,
      tunnelId: ctx?.tunnelId ?? null,
      clientId: this.session?.clientId ?? null,
      lakeVersion: ctx?.view.current?.version ?? null,
      channels: ctx
        ? ctx.positions.list().map((s) => ({
            channelId: s.channelId,
            committedSeq: s.committedSeq,
            finished: s.finished,
            checkpointed: s.token === s.checkpointedToken,
          }))
        : [],
      lastBatch: this.lastBatch,
      stage: this.progress?.stage ?? null,
      tunnelChannels: this.progress?.channels ?? null,
      fleet: ctx ? this.fleet(ctx) : null,
      lastError: health.lastError,
      mode: this.options.table.mode,
      typeConflictPolicy: typeConflictPolicyOf(this.options.table),
      typeConflicts: [...this.typeConflicts.values()],
      maintenance: this.maintenance?.status() ?? null,
      iceberg: this.iceberg?.status() ?? 'disabled',
    };
  }
}
