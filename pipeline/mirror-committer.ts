/**
 * The lake commit of a mirror table's batch (docs/mirror.md §How a batch runs), the BatchCommitter
 * of mode mirror; it owns the cache of the table's live files between batches:
 *
 *   channel results (staging files) ──▶ planCommit: which channels are in, new columns, txns
 *     ──▶ planMergeTasks over the live files of the touched buckets (cached between batches)
 *     ──▶ one merge-mirror task per assignment on the worker pool, in parallel
 *     ──▶ ONE commit: metaData (new columns) + txn per channel + remove/add/cdc of the merges
 *     ──▶ staging deleted
 *
 * The mirror commit accepts no winner at all (maxAttempts 1): the merges were computed against
 * exactly `view.version`, and another writer's rewrite of the same bucket could not be detected by
 * file names alone (two new files with overlapping key ranges). A lost race is an outcome like a
 * changelog conflict: nothing of it is visible, and it is redone from the positions in force.
 */
import { OtslakeError, toOtslakeError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { parseSchema, type Action, type Add, type Metadata } from '../lake/actions.js';
import { DEFAULT_METADATA_PREFIX } from '../common/metadata-columns.js';
import { mirrorMetadataNames } from '../lake/mirror/apply.js';
import type { MirrorSettings } from '../lake/mirror/layout.js';
import { mirrorFileActions, mirrorShapeOf } from '../lake/mirror/mirror-table.js';
import { planMergeTasks } from '../lake/mirror/plan.js';
import { deleteStaging } from '../lake/mirror/staging.js';
import type { ObjectStore } from '../lake/object-store.js';
import type { ColumnSpec } from '../lake/parquet-columns.js';
import { loadSnapshot } from '../lake/snapshot.js';
import { commit } from '../lake/transaction.js';
import type { WorkerPool } from '../workers/pool.js';
import { PROTOCOL_VERSION, type MergeMirrorTaskInput, type MergeMirrorTaskOk } from '../workers/protocol.js';
import { committedOutcome, type BatchCommit, type BatchCommitOutcome, type BatchCommitter, type MirrorBatchStats } from './batch-committer.js';
import { logDeferred } from './changelog-committer.js';
import { planCommit, type CommitIdentity } from './commit-plan.js';
import type { TableView } from './table-view.js';

/** The mirror layout, from the table's properties (fixed at creation), and the file size from the config. */
export type MirrorCommitSettings = Pick<MirrorSettings, 'buckets' | 'changeDataFeed'> & { readonly targetFileBytes: number };

export interface MirrorCommitterOptions {
  readonly store: ObjectStore;
  readonly pool: WorkerPool;
  readonly settings: MirrorCommitSettings;
  readonly identity: CommitIdentity;
  readonly table: string;
  readonly tablePath: string;
  readonly log: Logger;
  /** tables[].metadataPrefix (fixed at creation): the names of the staged and the mirror metadata columns. */
  readonly metadataPrefix: string;
}

/** Mirror files hold the data columns first, then `_ts`, `_seq` (new columns are appended to the schema after them). */
export function mirrorFileColumns(columns: readonly ColumnSpec[], metadataPrefix: string): ColumnSpec[] {
  const { ts, seq } = mirrorMetadataNames(metadataPrefix);
  const meta = columns.filter((c) => c.name === ts || c.name === seq);
  return [...columns.filter((c) => c.name !== ts && c.name !== seq), ...meta];
}

function statsOf(outcomes: readonly MergeMirrorTaskOk[], mergeMs: number): MirrorBatchStats {
  const s: MirrorBatchStats = {
    mergeTasks: outcomes.length,
    keysChanged: 0,
    filesRewritten: 0,
    filesWritten: 0,
    bytesWritten: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
    mergeMs,
  };
  for (const o of outcomes) {
    s.keysChanged += o.stats.keysChanged;
    s.filesRewritten += o.removes.length;
    s.filesWritten += o.adds.length + o.cdc.length;
    s.bytesWritten += o.stats.bytesWritten;
    s.inserted += o.stats.inserted;
    s.updated += o.stats.updated;
    s.deleted += o.stats.deleted;
  }
  return s;
}

/** The buckets the included results touched; null when a result did not say (then every bucket is merged). */
function touchedBuckets(results: readonly { result: { files: readonly unknown[]; touchedBuckets?: readonly number[] } }[]): Set<number> | null {
  const touched = new Set<number>();
  for (const { result } of results) {
    if (result.files.length === 0) continue;
    if (!result.touchedBuckets) return null;
    for (const b of result.touchedBuckets) touched.add(b);
  }
  return touched;
}

export class MirrorCommitter implements BatchCommitter {
  readonly taskOutput;
  /** The live adds at `filesVersion`; null = unknown (read from the snapshot when next needed). */
  private files: Map<string, Add> | null = null;
  private filesVersion = -1;

  constructor(private readonly options: MirrorCommitterOptions) {
    this.taskOutput = { destination: 'staging' as const, mirrorBuckets: options.settings.buckets };
  }

  /** Merges and commits a mirror batch. Conflicts are outcomes; failed merges and I/O failures throw. */
  async commit({ view, batchId, results, signal }: BatchCommit): Promise<BatchCommitOutcome> {
    const { store, log } = this.options;
    const plan = planCommit(view, this.options.identity, batchId, results);
    logDeferred(log, batchId, plan);
    if (plan.included.length === 0) {
      await deleteStaging(store, batchId).catch(() => undefined);
      return { kind: 'nothing', plan };
    }
    // The staged files are input to the merge, never table files.
    const stagedFiles = plan.included.flatMap((r) => r.result.files.map((f) => f.path));
    const mergeStarted = Date.now();
    const outcomes = stagedFiles.length > 0 ? await this.runMerges(view, plan.metadata, batchId, stagedFiles, touchedBuckets(plan.included), signal) : [];
    const stats = statsOf(outcomes, Date.now() - mergeStarted);
    const fileActions = mirrorFileActions(outcomes);

    const started = Date.now();
    let result;
    try {
      result = await commit(store, [...plan.actions, ...fileActions], {
        readVersion: view.version,
        readMetadata: view.metadata,
        operation: 'MERGE',
        operationParameters: { predicate: '[]', matchedPredicates: '[]', notMatchedPredicates: '[]' },
        commitInfo: { otslake: { ...plan.commitInfo.otslake, mirror: stats } },
        maxAttempts: 1,
        ...(signal ? { signal } : {}),
      });
    } catch (err) {
      await this.discard(batchId, outcomes);
      throw err;
    }
    if (result.kind === 'conflict') {
      await this.discard(batchId, outcomes);
      this.files = null;
      return {
        kind: 'dropped',
        fenced: result.fenced,
        reason: result.reason,
        winningVersion: result.winningVersion,
        plan,
        others: result.others,
        mirror: stats,
      };
    }
    this.advanceFiles(view.version, result.version, fileActions);
    await deleteStaging(store, batchId, signal).catch((err: unknown) => log.warn('staging files of a committed batch not deleted', { batchId, error: err }));
    return committedOutcome(result, plan, started, stats);
  }

  /** The live files at `view.version`: the cache when it is at that version, else a snapshot load. */
  private async liveFiles(view: TableView, signal?: AbortSignal): Promise<Map<string, Add>> {
    if (this.files && this.filesVersion === view.version) return this.files;
    const snapshot = await loadSnapshot(this.options.store, { version: view.version, ...(signal ? { signal } : {}) });
    this.files = snapshot.files;
    this.filesVersion = snapshot.version;
    return snapshot.files;
  }

  /** Runs the merges on the pool; any failure deletes every output and throws (the batch is redone). */
  private async runMerges(
    view: TableView,
    metadata: Metadata,
    batchId: string,
    stagedFiles: string[],
    touched: Set<number> | null,
    signal?: AbortSignal,
  ): Promise<MergeMirrorTaskOk[]> {
    const { settings, pool, table, tablePath } = this.options;
    const shape = mirrorShapeOf(metadata, parseSchema(metadata.schemaString));
    const files = await this.liveFiles(view, signal);
    const assignments = planMergeTasks(files.values(), settings.buckets, { maxTasks: pool.capacity, ...(touched ? { touchedBuckets: touched } : {}) });
    const outcomes: MergeMirrorTaskOk[] = [];
    const failures: OtslakeError[] = [];
    await Promise.all(
      assignments.map(async (a) => {
        const input: MergeMirrorTaskInput = {
          kind: 'merge-mirror',
          protocol: PROTOCOL_VERSION,
          batchId,
          table,
          tablePath,
          stagedFiles,
          bucketCount: settings.buckets,
          buckets: a.buckets,
          files: a.files,
          keyColumns: shape.keyColumns,
          columns: mirrorFileColumns(shape.columns, this.options.metadataPrefix),
          ...(this.options.metadataPrefix === DEFAULT_METADATA_PREFIX ? {} : { metadataPrefix: this.options.metadataPrefix }),
          changeDataFeed: settings.changeDataFeed,
          targetFileBytes: settings.targetFileBytes,
        };
        try {
          const outcome = await pool.run(input, signal ? { signal } : {});
          if (outcome.kind === 'ok') outcomes.push(outcome);
          else failures.push(outcome.error);
        } catch (err) {
          failures.push(toOtslakeError(err));
        }
      }),
    );
    if (failures.length > 0) {
      await this.discard(batchId, outcomes);
      const first = failures[0]!;
      if (signal?.aborted) throw first;
      throw new OtslakeError(first.code, `mirror merge failed (${failures.length} of ${assignments.length} tasks); the batch is redone: ${first.message}`, {
        cause: first,
        retriable: first.retriable,
        context: { ...first.context, table, batchId },
      });
    }
    return outcomes;
  }

  private async discard(batchId: string, outcomes: readonly MergeMirrorTaskOk[]): Promise<void> {
    const { store } = this.options;
    // Never committed, so invisible; deleting is tidiness (data files would also go to vacuum, staging would not).
    await Promise.allSettled([...outcomes.flatMap((o) => [...o.adds, ...o.cdc].map((f) => store.delete(f.path))), deleteStaging(store, batchId)]);
  }

  /** Our own commit applied to the cached file list, when it sits right on top of the cache. */
  private advanceFiles(readVersion: number, version: number, actions: readonly Action[]): void {
    if (!this.files || this.filesVersion !== readVersion || version !== readVersion + 1) {
      this.files = null;
      return;
    }
    for (const a of actions) {
      if ('remove' in a) this.files.delete(a.remove.path);
      else if ('add' in a) this.files.set(a.add.path, a.add);
    }
    this.filesVersion = version;
  }
}
