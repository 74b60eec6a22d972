/** What `/status` answers (Daemon.status()): the daemon's state, each table as its runner reports it, the pool. */
import type { TableRunnerStatus } from '../pipeline/table-runner-status.js';
import type { DaemonStateName } from './metrics.js';
import type { ResyncRecord } from './table-resyncs.js';

export interface DaemonStatus {
  readonly state: DaemonStateName;
  /** Each table, with its last resync through this daemon (null when none). */
  readonly tables: (TableRunnerStatus & { readonly resync: ResyncRecord | null })[];
  readonly workers: { readonly capacity: number; readonly running: number; readonly waiting: number };
  /** The running config with every secret replaced. */
  readonly config: Record<string, unknown>;
}
