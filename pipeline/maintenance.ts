/**
 * Scheduled maintenance of one table, run by its runner between batches (issue 5):
 *
 * | task        | when                                        | how it meets the batches                                   |
 * |-------------|---------------------------------------------|------------------------------------------------------------|
 * | checkpoint  | after our commits at multiples of delta.checkpointInterval (batches and compactions) | in the background; no commit |
 * | log cleanup | every maintenance.logCleanupIntervalMs      | deletes only JSON/checkpoints behind a checkpoint, and      |
 * |             |                                             | offset entries below the ones in force (10 min old)         |
 * | compact     | every maintenance.compact.intervalMs, changelog tables with ≥ minFiles small files | in the background; dataChange:false |
 * | vacuum      | every maintenance.vacuum.intervalMs         | only while no compaction is in flight                       |
 * | retention   | every maintenance.logCleanupIntervalMs, changelog tables with tables[].retention | inline; removes (dataChange:true) |
 *
 * Checkpoints run in the background, one at a time: with a day of tombstones one takes ~0.3 s,
 * which the batch that reached the version must not wait for (freshness); a multiple reached while
 * one is being written is left to the next multiple.
 *
 * Compaction runs in the background so that a long rewrite never delays a batch: its commit
 * (removes + adds, no txn, no metadata) and the daemon's appends retry past each other under the
 * normal optimistic concurrency (lake/transaction.ts findConflict), neither fences the other.
 * Vacuum and log cleanup are listings plus deletes and run inline. Vacuum never overlaps a batch of
 * this runner nor its compaction, whose files are not in the log yet. Every run is logged and
 * counted (otslake_maintenance_runs_total{task,outcome}); a failure is a warning, never fatal.
 */
import { toOtslakeError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { ResolvedConfig, TableConfig } from '../config/load.js';
import { checkpointIntervalOf, writeCheckpoint } from '../lake/checkpoint-writer.js';
import type { Metadata } from '../lake/actions.js';
import { compactTable } from '../lake/compaction.js';
import { cleanupExpiredLogs } from '../lake/log-cleanup.js';
import type { ObjectStore } from '../lake/object-store.js';
import { pruneOffsetEntries } from '../lake/offset-log.js';
import { expireOldRows } from '../lake/retention.js';
import { advanceSnapshot, loadSnapshot, type Snapshot } from '../lake/snapshot.js';
import { vacuum } from '../lake/vacuum.js';
import { metadataColumnNames } from '../common/metadata-columns.js';
import type { PipelineMetrics } from './pipeline-metrics.js';

export type MaintenanceTask = 'checkpoint' | 'log-cleanup' | 'compact' | 'vacuum' | 'retention';

/**
 * The state at the last checkpoint is kept and advanced to the next by reading only the commits in
 * between (~0.3 s saved per checkpoint at a day's tombstones), unless it is this large: a table of
 * millions of files is better reloaded than held.
 */
const CHECKPOINT_BASE_MAX_ACTIONS = 250_000;

/** Offset entries below the one in force are kept this long for daemons whose snapshot is a little behind. */
const OFFSET_ENTRY_MIN_AGE_MS = 10 * 60_000;

export interface MaintenanceRun {
  readonly task: MaintenanceTask;
  readonly outcome: 'done' | 'nothing-to-do' | 'conflict' | 'failed' | 'not-applicable';
  readonly atMs: number;
  readonly durationMs: number;
  /** Files rewritten (compact), deleted (log-cleanup, vacuum) or removed from the table (retention). */
  readonly files: number;
  readonly version?: number;
  readonly error?: string;
}

export interface TableMaintenanceOptions {
  readonly config: ResolvedConfig;
  readonly table: TableConfig;
  readonly store: ObjectStore;
  readonly metrics: PipelineMetrics;
  readonly log: Logger;
  readonly nowMs?: () => number;
  /** Told of every finished run (the daemon's 'maintenance' event). */
  readonly onRun?: (run: MaintenanceRun) => void;
}

export class TableMaintenance {
  private readonly now: () => number;
  private readonly lastRun = new Map<MaintenanceTask, number>();
  private readonly lastResult = new Map<MaintenanceTask, MaintenanceRun>();
  private compaction: Promise<void> | null = null;
  private checkpointing: Promise<void> | null = null;
  private checkpointBase: Snapshot | null = null;
  /** Compaction commits that landed: the runner's cached view is behind by them (it refreshes by itself). */
  compactions = 0;

  constructor(private readonly options: TableMaintenanceOptions) {
    this.now = options.nowMs ?? Date.now;
    // Schedules start with the runner: a restart loop must not turn into a vacuum loop.
    const start = this.now();
    for (const t of ['log-cleanup', 'compact', 'vacuum', 'retention'] as const) this.lastRun.set(t, start);
  }

  private due(task: MaintenanceTask, intervalMs: number): boolean {
    return this.now() - (this.lastRun.get(task) ?? 0) >= intervalMs;
  }

  /** Between two batches: starts what is due. Returns once the inline tasks are done. */
  async runDue(signal: AbortSignal): Promise<void> {
    const m = this.options.config.maintenance;
    if (this.options.table.mode === 'changelog' && m.compact.enabled && this.compaction === null && this.due('compact', m.compact.intervalMs)) {
      this.lastRun.set('compact', this.now());
      const running = this.run('compact', signal, () => this.compact(signal));
      this.compaction = running.finally(() => {
        this.compaction = null;
      });
    }
    // Before vacuum: what retention removes is vacuum's to delete once its retention has passed.
    const { table } = this.options;
    if (table.mode === 'changelog' && table.retentionMs > 0 && this.due('retention', m.logCleanupIntervalMs)) {
      this.lastRun.set('retention', this.now());
      await this.run('retention', signal, () => this.expire(signal));
    }
    if (m.vacuum.enabled && this.compaction === null && this.due('vacuum', m.vacuum.intervalMs)) {
      this.lastRun.set('vacuum', this.now());
      await this.run('vacuum', signal, () => this.vacuum(signal));
    }
    if (this.due('log-cleanup', m.logCleanupIntervalMs)) {
      this.lastRun.set('log-cleanup', this.now());
      await this.run('log-cleanup', signal, () => this.cleanupLogs(signal));
    }
  }

  /**
   * After a commit of this daemon at `version`: at a multiple of delta.checkpointInterval, starts
   * writing its checkpoint in the background unless one is being written. `metadata` is the table's
   * metadata at that version when the caller has it (else the checkpoint writer loads it).
   */
  afterCommit(version: number, metadata: Metadata | undefined, signal: AbortSignal): void {
    if (this.checkpointing !== null) return;
    let due: boolean;
    try {
      due = version > 0 && (metadata === undefined || version % checkpointIntervalOf(metadata) === 0);
    } catch {
      due = true; // a bad property: the checkpoint run reports it as a failed run
    }
    if (!due) return;
    const running = this.run('checkpoint', signal, () => this.checkpoint(version, signal));
    this.checkpointing = running.finally(() => {
      this.checkpointing = null;
    });
  }

  /** Waits for background work (shutdown); `signal` (destroy) aborts it. */
  async settle(): Promise<void> {
    await this.compaction;
    await this.checkpointing;
  }

  status(): Record<string, unknown> {
    const m = this.options.config.maintenance;
    return {
      compact:
        this.options.table.mode === 'mirror'
          ? 'not applicable: mirror merges keep file sizes'
          : m.compact.enabled
            ? (this.lastResult.get('compact') ?? 'scheduled')
            : 'disabled',
      vacuum: m.vacuum.enabled ? (this.lastResult.get('vacuum') ?? 'scheduled') : 'disabled',
      logCleanup: this.lastResult.get('log-cleanup') ?? 'scheduled',
      retention:
        this.options.table.retentionMs > 0 && this.options.table.mode === 'changelog'
          ? (this.lastResult.get('retention') ?? 'scheduled')
          : 'keeps every row (tables[].retention 0)',
      checkpoint: this.lastResult.get('checkpoint') ?? 'at the next multiple of delta.checkpointInterval',
      compacting: this.compaction !== null,
      checkpointing: this.checkpointing !== null,
    };
  }

  private async run(task: MaintenanceTask, signal: AbortSignal, body: () => Promise<Omit<MaintenanceRun, 'task' | 'atMs' | 'durationMs'>>): Promise<void> {
    const started = this.now();
    let result: MaintenanceRun;
    try {
      result = { task, atMs: started, durationMs: 0, ...(await body()) };
    } catch (err) {
      if (signal.aborted) return;
      const e = toOtslakeError(err);
      this.options.metrics.errorOccurred(e.code);
      this.options.log.warn(`maintenance ${task} failed; tried again at its next interval`, { task, error: e });
      result = { task, atMs: started, durationMs: 0, outcome: 'failed', files: 0, error: `${e.code}: ${e.message}` };
    }
    result = { ...result, durationMs: this.now() - started };
    this.lastResult.set(task, result);
    this.options.metrics.maintenanceCompleted(this.options.table.table, task, result.outcome, result.durationMs, result.files);
    this.options.onRun?.(result);
    if (result.outcome !== 'failed') {
      this.options.log.info(`maintenance ${task}: ${result.outcome}`, {
        task,
        outcome: result.outcome,
        files: result.files,
        durationMs: result.durationMs,
        ...(result.version === undefined ? {} : { version: result.version }),
      });
    }
  }

  private async compact(signal: AbortSignal): Promise<Omit<MaintenanceRun, 'task' | 'atMs' | 'durationMs'>> {
    const { config, store } = this.options;
    const targetFileBytes = config.lake.targetFileSizeBytes;
    const snapshot = await loadSnapshot(store, { signal });
    let small = 0;
    for (const add of snapshot.files.values()) if (add.size < targetFileBytes / 2) small++;
    if (small < config.maintenance.compact.minFiles) return { outcome: 'nothing-to-do', files: 0 };
    const result = await compactTable(store, { targetFileBytes, signal });
    switch (result.kind) {
      case 'compacted': {
        this.compactions++;
        this.afterCommit(result.version, snapshot.metadata, signal);
        return { outcome: 'done', files: result.removed, version: result.version };
      }
      case 'conflict':
        // Lost to a commit that removed one of its files: nothing is visible, try at the next interval.
        return { outcome: 'conflict', files: 0, error: result.result.reason };
      case 'not-applicable':
        return { outcome: 'not-applicable', files: 0 };
      default:
        return { outcome: 'nothing-to-do', files: 0 };
    }
  }

  /** tables[].retention: files whose rows are all older leave the table in one commit (lake/retention.ts). */
  private async expire(signal: AbortSignal): Promise<Omit<MaintenanceRun, 'task' | 'atMs' | 'durationMs'>> {
    const { store, table } = this.options;
    const names = metadataColumnNames(table.metadataPrefix);
    const result = await expireOldRows(store, { retentionMs: table.retentionMs, timestampColumn: names.ts, dateColumn: names.date, nowMs: this.now(), signal });
    switch (result.kind) {
      case 'expired':
        this.afterCommit(result.version, undefined, signal);
        return { outcome: 'done', files: result.removed, version: result.version };
      case 'conflict':
        return { outcome: 'conflict', files: 0, error: result.result.reason };
      default:
        return { outcome: 'nothing-to-do', files: 0 };
    }
  }

  private async checkpoint(version: number, signal: AbortSignal): Promise<Omit<MaintenanceRun, 'task' | 'atMs' | 'durationMs'>> {
    const { store } = this.options;
    const base = this.checkpointBase;
    // advanceSnapshot reuses the base's maps: if anything below fails, the next checkpoint loads afresh.
    this.checkpointBase = null;
    const opts = { version, signal };
    const snapshot = base !== null && base.version < version ? await advanceSnapshot(store, base, opts) : await loadSnapshot(store, opts);
    let written = false;
    if (version % checkpointIntervalOf(snapshot.metadata) === 0) written = (await writeCheckpoint(store, snapshot, signal)).written;
    if (snapshot.files.size + snapshot.tombstones.size <= CHECKPOINT_BASE_MAX_ACTIONS) this.checkpointBase = snapshot;
    return { outcome: written ? 'done' : 'nothing-to-do', files: written ? 1 : 0, version };
  }

  private async vacuum(signal: AbortSignal): Promise<Omit<MaintenanceRun, 'task' | 'atMs' | 'durationMs'>> {
    const { store, config } = this.options;
    const retentionMs = config.maintenance.vacuum.retentionMs;
    // The configured retention is the operator's decision, even below the table's property.
    const result = await vacuum(store, { retentionMs, allowShortRetention: true, dryRun: false, signal, nowMs: this.now() });
    const files = result.files.length;
    return { outcome: files > 0 ? 'done' : 'nothing-to-do', files, version: result.snapshotVersion };
  }

  private async cleanupLogs(signal: AbortSignal): Promise<Omit<MaintenanceRun, 'task' | 'atMs' | 'durationMs'>> {
    const { store, config } = this.options;
    const result = await cleanupExpiredLogs(store, { retentionMs: config.maintenance.logRetentionMs, signal, nowMs: this.now() });
    // Offset entries below the ones in force are history nobody resumes from.
    const snapshot = await loadSnapshot(store, { signal });
    const txns = new Map([...snapshot.txns].map(([appId, t]) => [appId, t.version] as const));
    const pruned = await pruneOffsetEntries(store, txns, { minAgeMs: OFFSET_ENTRY_MIN_AGE_MS, nowMs: this.now(), signal });
    const files = result.deleted.length + pruned;
    return { outcome: files > 0 ? 'done' : 'nothing-to-do', files, ...(result.anchorVersion === null ? {} : { version: result.anchorVersion }) };
  }
}
