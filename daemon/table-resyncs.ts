/**
 * The last resync of each table through this daemon (POST /tables/NAME/resync), for /status and for
 * `otslake resync`, which follows it there. It cannot live in the table's health: a resync ends with a new
 * runner for the table (and a new TableHealth), and a failed one leaves the table running as before — its
 * outcome would otherwise be visible only in the log.
 */
import type { OtslakeError } from '../common/errors.js';
import type { ResyncResult } from '../pipeline/resync.js';

export interface ResyncRecord {
  state: 'resyncing' | 'done' | 'failed';
  startedAt: string;
  endedAt: string | null;
  /** The new tunnel (done). */
  tunnelId: string | null;
  /** The RESYNC commit (done; null when an earlier run had made it). */
  version: number | null;
  error: { code: string; message: string } | null;
}

export class TableResyncs {
  private readonly records = new Map<string, ResyncRecord>();

  constructor(private readonly now: () => number = Date.now) {}

  begin(table: string): void {
    const at = new Date(this.now()).toISOString();
    this.records.set(table, { state: 'resyncing', startedAt: at, endedAt: null, tunnelId: null, version: null, error: null });
  }

  done(table: string, result: ResyncResult): void {
    this.end(table, { state: 'done', tunnelId: result.tunnelId, version: result.version });
  }

  failed(table: string, error: OtslakeError): void {
    this.end(table, { state: 'failed', error: { code: error.code, message: error.message } });
  }

  of(table: string): ResyncRecord | null {
    return this.records.get(table) ?? null;
  }

  private end(table: string, fields: Partial<ResyncRecord>): void {
    const record = this.records.get(table);
    if (record) this.records.set(table, { ...record, ...fields, endedAt: new Date(this.now()).toISOString() });
  }
}
