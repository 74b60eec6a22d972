/**
 * A table's Iceberg metadata (docs/iceberg.md), kept in step by its runner: caught up on start (a
 * daemon that stopped between a Delta commit and its Iceberg commit, or ran with Iceberg off),
 * synced after every commit — the batch cycle's (handed the commit as written, so the log is not
 * read back) and the maintenance's compactions and retention — and expired
 * after a vacuum. Syncs run in the background, one at a time; commits that land meanwhile are
 * mirrored by the next one, which reads every Delta version it lacks. A failure is logged and
 * counted, never fails a batch: Delta is the source of truth, and the next sync repairs.
 */
import { toOtslakeError, type OtslakeError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { IcebergSync, type CommittedVersion, type IcebergSyncResult } from '../lake/iceberg/sync.js';
import type { ObjectStore } from '../lake/object-store.js';
import type { PipelineMetrics } from './pipeline-metrics.js';

/** Commits kept for the next sync at most (a sync slower than this many commits reads the rest from the log). */
const MAX_HANDED = 64;

export interface TableIcebergOptions {
  readonly store: ObjectStore;
  readonly table: string;
  readonly log: Logger;
  readonly metrics: PipelineMetrics;
  /** maintenance.vacuum.retention when vacuum runs: no Iceberg snapshot may outlive its files. */
  readonly vacuumRetentionMs?: number;
  /** Clock for expiry (tests). */
  readonly nowMs?: () => number;
}

/** `/status`'s `iceberg` of a table: the Delta version its Iceberg metadata mirrors, and the sync's last error. */
export interface TableIcebergStatus {
  readonly deltaVersion: number | null;
  readonly metadataVersion: number | null;
  readonly syncing: boolean;
  readonly lastError: { code: string; message: string } | null;
}

export class TableIceberg {
  private readonly sync: IcebergSync;
  private running: Promise<void> | null = null;
  /** Work asked for while a sync ran: done by the same background loop, in order. */
  private pendingSync = false;
  private pendingExpire = false;
  /** Commits handed over since the last sync began, in order: mirrored without reading the log back. */
  private handed: CommittedVersion[] = [];
  private last: IcebergSyncResult | null = null;
  private lastError: OtslakeError | null = null;

  constructor(private readonly options: TableIcebergOptions) {
    this.sync = new IcebergSync(options.store, {
      logger: options.log,
      ...(options.nowMs === undefined ? {} : { nowMs: options.nowMs }),
      ...(options.vacuumRetentionMs === undefined ? {} : { vacuumRetentionMs: options.vacuumRetentionMs }),
    });
  }

  /** On start: mirrors every Delta version the Iceberg metadata lacks (awaited, failures logged). */
  async catchUp(): Promise<void> {
    await this.runOnce('catch-up');
  }

  /**
   * After a Delta commit: a sync in the background (or one more after the running one). `committed`
   * (the batch cycle's own commit, as written) spares the sync listing and reading the log; without it
   * (maintenance commits), or when it does not follow the mirrored version (another writer's commits
   * in between), the sync reads the log.
   */
  afterCommit(committed?: CommittedVersion): void {
    if (committed) {
      // Only a gap-free run helps the sync; a bounded one is enough (a longer backlog is read from the log).
      if (this.handed.length >= MAX_HANDED || (this.handed.length > 0 && this.handed.at(-1)!.version + 1 !== committed.version)) this.handed = [];
      this.handed.push(committed);
    }
    this.pendingSync = true;
    this.kick();
  }

  /** After a vacuum deleted files: expire the snapshots that referenced them. */
  afterVacuum(): void {
    this.pendingExpire = true;
    this.kick();
  }

  private kick(): void {
    if (this.running) return;
    this.running = (async () => {
      while (this.pendingSync || this.pendingExpire) {
        if (this.pendingSync) {
          this.pendingSync = false;
          await this.runOnce('sync');
        } else {
          this.pendingExpire = false;
          await this.expireOnce();
        }
      }
    })().finally(() => {
      this.running = null;
    });
  }

  private async expireOnce(): Promise<void> {
    try {
      const { expired } = await this.sync.expire();
      if (expired > 0) this.options.log.info('iceberg snapshots expired after vacuum', { table: this.options.table, expired });
    } catch (err) {
      this.failed(err);
    }
  }

  /** Waits for the sync in flight (shutdown). */
  async settle(): Promise<void> {
    while (this.running) await this.running;
  }

  status(): TableIcebergStatus {
    return {
      deltaVersion: this.last?.deltaVersion ?? null,
      metadataVersion: this.last?.metadataVersion ?? null,
      syncing: this.running !== null,
      lastError: this.lastError ? { code: this.lastError.code, message: this.lastError.message } : null,
    };
  }

  private async runOnce(what: 'catch-up' | 'sync'): Promise<void> {
    const handed = this.handed;
    this.handed = [];
    try {
      const result = await this.sync.sync(handed);
      this.last = result;
      this.lastError = null;
      if (result.kind === 'synced' && (what === 'catch-up' || result.snapshots > 1)) {
        this.options.log.info(`iceberg ${what}: mirrored up to Delta version ${result.deltaVersion}`, {
          table: this.options.table,
          deltaVersion: result.deltaVersion,
          metadataVersion: result.metadataVersion,
          snapshots: result.snapshots,
        });
      }
    } catch (err) {
      this.failed(err);
    }
  }

  private failed(err: unknown): void {
    const e = toOtslakeError(err);
    this.lastError = e;
    this.options.metrics.errorOccurred(e.code);
    this.options.log.warn('iceberg sync failed; the next commit retries it', { table: this.options.table, error: e });
  }
}
