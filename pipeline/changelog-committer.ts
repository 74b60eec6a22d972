/**
 * The lake commit of a changelog table's batch: the commit plan's actions plus an add per data file
 * the channel tasks wrote, as one blind append (docs/exactly-once.md §How otslake keeps it).
 *
 *   results ──▶ planCommit ──▶ commitInfo + metaData (new columns) + txn × channel + add × file
 *           ──▶ commit() ──▶ committed | dropped (conflict; fenced when a winner holds one of our appIds)
 *
 * A dropped batch is never retried: its files stay invisible (not in the log) and every channel is
 * redone from the position in force, which the next snapshot tells.
 */
import type { Logger } from '../common/log.js';
import type { ObjectStore } from '../lake/object-store.js';
import { addActionFor, commit, type CommitOptions } from '../lake/transaction.js';
import { committedOutcome, type BatchCommit, type BatchCommitOutcome, type BatchCommitter } from './batch-committer.js';
import { planCommit, type CommitIdentity, type CommitPlan } from './commit-plan.js';

export interface ChangelogCommitterOptions {
  readonly store: ObjectStore;
  readonly identity: CommitIdentity;
  readonly log: Logger;
  /** The pause after a lost race (commit pacing: CommitPacer.backoffAfterLostRace); lake default otherwise. */
  readonly onLostRace?: CommitOptions['onLostRace'];
}

export function logDeferred(log: Logger, batchId: string, plan: CommitPlan): void {
  for (const d of plan.deferred) log.warn('channel result left out of the batch', { batchId, channelId: d.result.channelId, reason: d.reason });
}

export class ChangelogCommitter implements BatchCommitter {
  readonly taskOutput = { destination: 'table' as const };

  constructor(private readonly options: ChangelogCommitterOptions) {}

  async commit({ view, batchId, results, signal }: BatchCommit): Promise<BatchCommitOutcome> {
    const { store, identity, log } = this.options;
    const plan = planCommit(view, identity, batchId, results);
    logDeferred(log, batchId, plan);
    if (plan.included.length === 0) return { kind: 'nothing', plan };

    const files = plan.included.flatMap((r) => r.result.files.map((f) => addActionFor(f)));
    const started = Date.now();
    const result = await commit(store, [...plan.actions, ...files], {
      readVersion: view.version,
      readMetadata: view.metadata,
      operation: 'STREAMING UPDATE',
      operationParameters: { outputMode: 'Append', queryId: identity.tunnelId, epochId: batchId },
      commitInfo: plan.commitInfo,
      ...(this.options.onLostRace ? { onLostRace: this.options.onLostRace } : {}),
      ...(signal ? { signal } : {}),
    });
    if (result.kind === 'conflict') {
      return { kind: 'dropped', fenced: result.fenced, reason: result.reason, winningVersion: result.winningVersion, plan, others: result.others };
    }
    return committedOutcome(result, plan, started);
  }
}
