/**
 * What a Daemon emits (daemon/daemon.ts), with each event's arguments: tests and the status page's activity
 * record await these instead of sleeping or polling.
 */
import type { OtslakeError } from '../common/errors.js';
import type { BatchReport } from '../pipeline/batch-cycle.js';
import type { MaintenanceRun } from '../pipeline/maintenance.js';
import type { ResyncResult } from '../pipeline/resync.js';
import type { BoundAddress } from './http-server.js';
import type { DaemonStateName } from './metrics.js';

export interface DaemonEvents {
  state: [state: DaemonStateName, previous: DaemonStateName];
  'table-ready': [table: string];
  batch: [table: string, report: BatchReport];
  'batch-committed': [table: string, report: BatchReport];
  'batch-failed': [table: string, error: OtslakeError];
  idle: [];
  'table-idle': [table: string];
  /** A table stopped on an error of its own (common/errors.ts isTableStopError); the others go on. */
  'table-stopped': [table: string, error: OtslakeError];
  maintenance: [table: string, run: MaintenanceRun];
  'http-listening': [address: BoundAddress];
  /** A resync through the daemon began (POST /tables/NAME/resync): the table shows `resyncing` from now on. */
  'table-resync-started': [table: string];
  /** A resync through the daemon (startResync) ended: the table runs again, on the new tunnel or (failed) as before. */
  'table-resynced': [table: string, result: ResyncResult];
  'table-resync-failed': [table: string, error: OtslakeError];
}
