/**
 * What a table runner reports of itself (`/status`'s `tables[]`, the status page's data): one shape, typed, so
 * that the daemon and the page read fields the runner really sets.
 */
import type { TableConfig, typeConflictPolicyOf } from '../config/load.js';
import type { BatchReport } from './batch-cycle.js';
import type { FleetClient } from './fleet.js';
import type { RetentionStatus } from './retention-guard.js';
import type { HealthSnapshot } from './table-health.js';
import type { TableIcebergStatus } from './table-iceberg.js';
import type { ChannelProgress } from './tunnel-progress.js';

/** The tunnel's clients (last DescribeTunnel) and the table's commit pacing as this daemon sees it. */
export interface RunnerFleet {
  readonly writer: string;
  readonly clients: readonly FleetClient[];
  readonly unownedChannels: readonly string[];
  readonly describedAtMs: number | null;
  readonly commitsPerSecond: number;
  /** Writers known: distinct committers lately, or the tunnel's clients holding channels. */
  readonly writers: number;
  /** More than `writers` during the slow start after a start: a daemon per tunnel channel is presumed. */
  readonly pacedForWriters: number;
  readonly commitBudgetPerSecond: number;
  readonly pacedIntervalMs: number;
}

export interface TableRunnerStatus {
  readonly table: string;
  readonly ready: boolean;
  readonly idle: boolean;
  readonly state: HealthSnapshot['state'];
  readonly since: string;
  readonly lastSuccessfulBatchAt: string | null;
  readonly lagMs: number;
  readonly retention: RetentionStatus;
  readonly waitingFor: HealthSnapshot['waitingFor'];
  readonly failures: number;
  readonly nextAttemptInMs: number | null;
  readonly reason: string | null;
  readonly tunnelId: string | null;
  readonly clientId: string | null;
  readonly lakeVersion: number | null;
  /** The channels this daemon reads, with their committed positions. */
  readonly channels: { channelId: string; committedSeq: number; finished: boolean; checkpointed: boolean }[];
  readonly lastBatch: BatchReport | null;
  readonly stage: string | null;
  /** Every channel of the tunnel as the last DescribeTunnel saw it (after a batch at the tail, else at most 30 s old). */
  readonly tunnelChannels: ChannelProgress[] | null;
  readonly fleet: RunnerFleet | null;
  readonly lastError: HealthSnapshot['lastError'];
  readonly mode: TableConfig['mode'];
  readonly typeConflictPolicy: ReturnType<typeof typeConflictPolicyOf>;
  readonly typeConflicts: { column: string; policy: string; count: number }[];
  readonly maintenance: Record<string, unknown> | null;
  readonly iceberg: TableIcebergStatus | 'disabled';
}
