/**
 * The lake commit of a batch, behind one interface so that the batch cycle never asks which mode a
 * table is in: the table runner picks the committer once (changelog-committer.ts or
 * mirror-committer.ts). A commit conflict is an outcome on every path; only I/O failures and failed
 * merges throw (the batch is then redone from the positions in force).
 */
import type { Action, Metadata } from '../lake/actions.js';
import type { CommitSummary } from '../lake/commit-summary.js';
import type { CommitResult } from '../lake/transaction.js';
import type { ChannelTaskInput } from '../workers/protocol.js';
import type { ChannelResult, CommitPlan } from './commit-plan.js';
import type { TableView } from './table-view.js';

/** What a mirror batch's merges did (mode mirror only). */
export interface MirrorBatchStats {
  mergeTasks: number;
  keysChanged: number;
  filesRewritten: number;
  filesWritten: number;
  bytesWritten: number;
  inserted: number;
  updated: number;
  deleted: number;
  mergeMs: number;
}

/** `others`: the other writers' commits the commit raced (read once, for the cached view and the pacer); `attempts`: versions tried. */
export type BatchCommitOutcome =
  | { readonly kind: 'nothing'; readonly plan: CommitPlan }
  | {
      readonly kind: 'committed';
      readonly version: number;
      readonly metadata: Metadata;
      readonly plan: CommitPlan;
      readonly latencyMs: number;
      readonly attempts: number;
      readonly others: readonly CommitSummary[];
      /** The committed version as it is in the log (commit()'s `actions`). */
      readonly actions: readonly Action[];
      readonly mirror?: MirrorBatchStats;
    }
  | {
      readonly kind: 'dropped';
      readonly fenced: boolean;
      readonly reason: string;
      readonly winningVersion: number;
      readonly plan: CommitPlan;
      readonly others: readonly CommitSummary[];
      readonly mirror?: MirrorBatchStats;
    };

export interface BatchCommit {
  readonly view: TableView;
  readonly batchId: string;
  readonly results: readonly ChannelResult[];
  readonly signal?: AbortSignal;
}

export interface BatchCommitter {
  /** Where this mode's channel tasks write their rows. */
  readonly taskOutput: Pick<ChannelTaskInput, 'destination' | 'mirrorBuckets'>;
  commit(batch: BatchCommit): Promise<BatchCommitOutcome>;
}

/** A committed lake commit as the batch's outcome (either mode): `startedMs` is when the commit began. */
export function committedOutcome(
  result: Extract<CommitResult, { kind: 'committed' }>,
  plan: CommitPlan,
  startedMs: number,
  mirror?: MirrorBatchStats,
): Extract<BatchCommitOutcome, { kind: 'committed' }> {
  return {
    kind: 'committed',
    version: result.version,
    metadata: plan.metadata,
    plan,
    latencyMs: Date.now() - startedMs,
    attempts: result.attempts,
    others: result.others,
    actions: result.actions,
    ...(mirror ? { mirror } : {}),
  };
}
