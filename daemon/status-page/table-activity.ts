/**
 * What the status page charts and lists about each table, kept in memory by the daemon: rows and
 * records per 5-second bucket over the last 15 minutes (a ring, so memory is fixed per table), the
 * lag seen at each batch, the last commits and maintenance runs, and the last error with when it
 * happened and when the table recovered from it — a history, which the table's health (its state, last
 * success and lag, pipeline/table-health.ts) does not keep. Fed by the daemon's own events; owns no other state.
 */
import type { BatchReport } from '../../pipeline/batch-cycle.js';
import type { MaintenanceRun } from '../../pipeline/maintenance.js';
import { batchResultOf, type Metrics } from '../metrics.js';

export const BUCKET_MS = 5_000;
export const WINDOW_MS = 15 * 60_000;
const BUCKETS = WINDOW_MS / BUCKET_MS;
const RECENT = 20;

export interface ActivityBucket {
  /** Start of the bucket, ms since epoch. */
  startMs: number;
  rows: number;
  records: number;
  batches: number;
  failedBatches: number;
  /** The largest channel lag seen by a batch in the bucket; null when no batch reported one. */
  lagSeconds: number | null;
}

export interface CommitLine {
  atMs: number;
  version: number;
  rows: number;
  records: number;
  channels: number;
  durationMs: number;
}

export interface ErrorLine {
  atMs: number;
  code: string;
  message: string;
  channelId: string | null;
  /** How many failed batches in a row carried it (or another error) so far. */
  failedBatches: number;
  /** When a batch next ended with no failure; null while the table still fails. */
  clearedAtMs: number | null;
}

/** One table's ring of buckets and recent lists. */
export class TableActivity {
  private readonly ring: (ActivityBucket | null)[] = new Array<ActivityBucket | null>(BUCKETS).fill(null);
  readonly commits: CommitLine[] = [];
  readonly maintenance: MaintenanceRun[] = [];
  lastError: ErrorLine | null = null;

  private bucket(nowMs: number): ActivityBucket {
    const startMs = nowMs - (nowMs % BUCKET_MS);
    const i = Math.floor(nowMs / BUCKET_MS) % BUCKETS;
    let b = this.ring[i];
    if (!b || b.startMs !== startMs) {
      b = { startMs, rows: 0, records: 0, batches: 0, failedBatches: 0, lagSeconds: null };
      this.ring[i] = b;
    }
    return b;
  }

  /** `lagSeconds`: the largest channel lag the metrics hold for the table after this batch. */
  batch(report: BatchReport, lagSeconds: number | null, nowMs: number): void {
    const b = this.bucket(nowMs);
    b.batches++;
    b.records += report.records;
    if (lagSeconds !== null) b.lagSeconds = Math.max(b.lagSeconds ?? 0, lagSeconds);
    if (report.outcome === 'committed') {
      b.rows += report.rows;
      push(this.commits, {
        atMs: nowMs,
        version: report.version,
        rows: report.rows,
        records: report.records,
        channels: report.channels,
        durationMs: report.durationMs,
      });
    }
    const result = batchResultOf(report);
    if (result === 'failed') {
      b.failedBatches++;
      const e = report.taskErrors?.[0];
      this.failed(e?.code ?? 'OTSL_INTERNAL', e?.message ?? `${report.failedTasks} channel task(s) failed`, e?.channelId ?? null, nowMs);
    } else if (result === 'ok') {
      if (this.lastError && this.lastError.clearedAtMs === null) this.lastError.clearedAtMs = nowMs;
    }
  }

  /** A batch that threw (nothing committed, no report). */
  batchFailed(code: string, message: string, nowMs: number): void {
    this.bucket(nowMs).failedBatches++;
    this.failed(code, message, null, nowMs);
  }

  private failed(code: string, message: string, channelId: string | null, nowMs: number): void {
    const ongoing = this.lastError !== null && this.lastError.clearedAtMs === null;
    // While failing, the error shown is the newest one, but "since" stays the first failure's time.
    this.lastError = {
      atMs: ongoing ? this.lastError!.atMs : nowMs,
      code,
      message,
      channelId,
      failedBatches: ongoing ? this.lastError!.failedBatches + 1 : 1,
      clearedAtMs: null,
    };
  }

  maintenanceRun(run: MaintenanceRun): void {
    push(this.maintenance, run);
  }

  /** The window's buckets, oldest first, with empty buckets where nothing happened. */
  series(nowMs: number): ActivityBucket[] {
    const last = nowMs - (nowMs % BUCKET_MS);
    const out: ActivityBucket[] = [];
    for (let startMs = last - (BUCKETS - 1) * BUCKET_MS; startMs <= last; startMs += BUCKET_MS) {
      const b = this.ring[Math.floor(startMs / BUCKET_MS) % BUCKETS];
      out.push(b && b.startMs === startMs ? { ...b } : { startMs, rows: 0, records: 0, batches: 0, failedBatches: 0, lagSeconds: null });
    }
    return out;
  }
}

function push<T>(list: T[], item: T): void {
  list.unshift(item);
  if (list.length > RECENT) list.length = RECENT;
}

/** The daemon events the activity follows (daemon/daemon.ts emits them). */
export interface ActivityEvents {
  on(event: 'batch', listener: (table: string, report: BatchReport) => void): unknown;
  on(event: 'batch-failed', listener: (table: string, err: { code: string; message: string }) => void): unknown;
  on(event: 'maintenance', listener: (table: string, run: MaintenanceRun) => void): unknown;
}

/** Every table's activity, fed by a daemon's events. */
export class DaemonActivity {
  private readonly tables = new Map<string, TableActivity>();

  constructor(
    /** Where the channel lags are kept (the batch cycle sets them). */
    private readonly metrics: Pick<Metrics, 'tableTotals'>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The largest channel lag of a table, in seconds; null when no channel has one. */
  private lagOf(table: string): number | null {
    const lags = Object.values(this.metrics.tableTotals(table).channelLagSeconds);
    return lags.length > 0 ? Math.max(...lags) : null;
  }

  table(name: string): TableActivity {
    let t = this.tables.get(name);
    if (!t) {
      t = new TableActivity();
      this.tables.set(name, t);
    }
    return t;
  }

  attach(daemon: ActivityEvents): void {
    daemon.on('batch', (table, report) => this.table(table).batch(report, this.lagOf(table), this.now()));
    daemon.on('batch-failed', (table, err) => this.table(table).batchFailed(err.code, err.message, this.now()));
    daemon.on('maintenance', (table, run) => this.table(table).maintenanceRun(run));
  }
}
