/**
 * The lake commit of a mirror table's batch (docs/mirror.md §How a batch runs):
 *
 *   channel results (staging files) ──▶ planCommit: which channels are in, new columns, txns
 *     ──▶ planMergeTasks over the live files of the touched buckets (cached between batches)
 *     ──▶ one merge-mirror task per assignment on the worker pool, in parallel
 *     ──▶ ONE commit: metaData (new columns) + txn per channel + remove/add/cdc of the merges
 *     ──▶ staging deleted
 *
 * The mirror commit accepts no winner at all (maxAttempts 1): the merges were computed against
 * exactly `view.version`, and another writer's rewrite of the same bucket could not be detected by
 * file names alone (two new files with overlapping key ranges). A lost race drops the batch like a
 * changelog conflict: nothing of it is visible, and it is redone from the positions in force.
 */
import { hasCode, OtslakeError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { parseSchema, type Action, type Add, type Metadata } from '../lake/actions.js';
import { mirrorFileActions, mirrorShapeOf } from '../lake/mirror/mirror-table.js';
import { planMergeTasks } from '../lake/mirror/plan.js';
import { deleteStaging } from '../lake/mirror/staging.js';
import type { ObjectStore } from '../lake/object-store.js';
import type { ColumnSpec } from '../lake/parquet-columns.js';
import { loadSnapshot } from '../lake/snapshot.js';
import { commit } from '../lake/transaction.js';
import type { WorkerPool } from '../workers/pool.js';
import { PROTOCOL_VERSION, type MergeMirrorTaskInput, type MergeMirrorTaskOk } from '../workers/protocol.js';
import { planCommit, type BatchCommitOutcome, type ChannelResult, type TableView } from './changelog-committer.js';

/** What a table runner keeps for a mirror table. `files` are the live adds at `filesVersion`. */
export interface MirrorState {
  /** From the table's properties (fixed at creation), not from the config. */
  readonly buckets: number;
  readonly changeDataFeed: boolean;
  readonly targetFileBytes: number;
  files: Map<string, Add> | null;
  filesVersion: number;
}

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

export interface MirrorCommitOptions {
  readonly store: ObjectStore;
  readonly pool: WorkerPool;
  readonly mirror: MirrorState;
  readonly view: TableView;
  readonly tunnelId: string;
  readonly table: string;
  readonly tablePath: string;
  readonly batchId: string;
  readonly results: readonly ChannelResult[];
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

/** Mirror files hold the data columns first, then `_ts`, `_seq` (new columns are appended to the schema after them). */
function mirrorFileColumns(columns: readonly ColumnSpec[]): ColumnSpec[] {
  const meta = columns.filter((c) => c.name === '_ts' || c.name === '_seq');
  return [...columns.filter((c) => c.name !== '_ts' && c.name !== '_seq'), ...meta];
}

/** The live files at `view.version`: the cache when it is at that version, else a snapshot load. */
async function liveFiles(options: MirrorCommitOptions): Promise<Map<string, Add>> {
  const { mirror, view } = options;
  if (mirror.files && mirror.filesVersion === view.version) return mirror.files;
  const snapshot = await loadSnapshot(options.store, { version: view.version, ...(options.signal ? { signal: options.signal } : {}) });
  mirror.files = snapshot.files;
  mirror.filesVersion = snapshot.version;
  return snapshot.files;
}

async function discard(store: ObjectStore, batchId: string, outcomes: readonly MergeMirrorTaskOk[]): Promise<void> {
  // Never committed, so invisible; deleting is tidiness (data files would also go to vacuum, staging would not).
  await Promise.allSettled([...outcomes.flatMap((o) => [...o.adds, ...o.cdc].map((f) => store.delete(f.path))), deleteStaging(store, batchId)]);
}

/** Runs the merges on the pool; any failure deletes every output and throws (the batch is redone). */
async function runMerges(options: MirrorCommitOptions, metadata: Metadata, stagedFiles: string[], touched: Set<number> | null): Promise<MergeMirrorTaskOk[]> {
  const { mirror, pool, signal } = options;
  const shape = mirrorShapeOf(metadata, parseSchema(metadata.schemaString));
  const files = await liveFiles(options);
  const assignments = planMergeTasks(files.values(), mirror.buckets, { maxTasks: pool.capacity, ...(touched ? { touchedBuckets: touched } : {}) });
  const outcomes: MergeMirrorTaskOk[] = [];
  const failures: OtslakeError[] = [];
  await Promise.all(
    assignments.map(async (a) => {
      const input: MergeMirrorTaskInput = {
        kind: 'merge-mirror',
        protocol: PROTOCOL_VERSION,
        batchId: options.batchId,
        table: options.table,
        tablePath: options.tablePath,
        stagedFiles,
        bucketCount: mirror.buckets,
        buckets: a.buckets,
        files: a.files,
        keyColumns: shape.keyColumns,
        columns: mirrorFileColumns(shape.columns),
        changeDataFeed: mirror.changeDataFeed,
        targetFileBytes: mirror.targetFileBytes,
      };
      try {
        const outcome = await pool.run(input, signal ? { signal } : {});
        if (outcome.kind === 'ok') outcomes.push(outcome);
        else failures.push(outcome.error);
      } catch (err) {
        failures.push(err instanceof OtslakeError ? err : new OtslakeError('OTSL_INTERNAL', String(err), { cause: err }));
      }
    }),
  );
  if (failures.length > 0) {
    await discard(options.store, options.batchId, outcomes);
    const first = failures[0]!;
    if (signal?.aborted) throw first;
    throw new OtslakeError(first.code, `mirror merge failed (${failures.length} of ${assignments.length} tasks); the batch is redone: ${first.message}`, {
      cause: first,
      retriable: first.retriable,
      context: { ...first.context, table: options.table, batchId: options.batchId },
    });
  }
  return outcomes;
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

/** Merges and commits a mirror batch. Conflicts are outcomes; failed merges and I/O failures throw. */
export async function commitMirrorBatch(options: MirrorCommitOptions): Promise<BatchCommitOutcome & { mirror: MirrorBatchStats | null }> {
  const { store, view, batchId, log, signal } = options;
  const plan = planCommit(view, options.tunnelId, batchId, options.results);
  for (const d of plan.deferred) log.warn('channel result left out of the batch', { batchId, channelId: d.result.channelId, reason: d.reason });
  if (plan.included.length === 0) {
    await deleteStaging(store, batchId).catch(() => undefined);
    return { kind: 'nothing', plan, mirror: null };
  }
  // planCommit made adds of the staged files: in a mirror they are input to the merge, never table files.
  const baseActions: Action[] = plan.actions.filter((a) => !('add' in a));
  const metadata = baseActions.find((a): a is { metaData: Metadata } => 'metaData' in a)?.metaData ?? view.metadata;
  const stagedFiles = plan.included.flatMap((r) => r.result.files.map((f) => f.path));
  let touched: Set<number> | null = new Set();
  for (const r of plan.included) {
    if (r.result.files.length === 0) continue;
    if (!r.result.touchedBuckets) touched = null;
    else for (const b of r.result.touchedBuckets) touched?.add(b);
  }

  const mergeStarted = Date.now();
  const outcomes = stagedFiles.length > 0 ? await runMerges(options, metadata, stagedFiles, touched) : [];
  const stats = statsOf(outcomes, Date.now() - mergeStarted);
  const fileActions = mirrorFileActions(outcomes);

  const started = Date.now();
  let result;
  try {
    result = await commit(store, [...baseActions, ...fileActions], {
      readVersion: view.version,
      readMetadata: view.metadata,
      operation: 'MERGE',
      operationParameters: { predicate: '[]', matchedPredicates: '[]', notMatchedPredicates: '[]' },
      commitInfo: { ...plan.commitInfo, otslake: { ...(plan.commitInfo.otslake as object), mirror: stats } },
      maxAttempts: 1,
      ...(signal ? { signal } : {}),
    });
  } catch (err) {
    if (!hasCode(err, 'OTSL_LAKE_COMMIT_CONFLICT')) {
      await discard(store, batchId, outcomes);
      throw err;
    }
    result = { kind: 'conflict' as const, fenced: false, winningVersion: view.version + 1, reason: 'another writer committed to the mirror table first' };
  }
  if (result.kind === 'conflict') {
    await discard(store, batchId, outcomes);
    options.mirror.files = null;
    return { kind: 'dropped', fenced: result.fenced, reason: result.reason, winningVersion: result.winningVersion, plan, mirror: stats };
  }
  advanceFiles(options.mirror, view.version, result.version, fileActions);
  await deleteStaging(store, batchId, signal).catch((err: unknown) => log.warn('staging files of a committed batch not deleted', { batchId, error: err }));
  return {
    kind: 'committed',
    version: result.version,
    metadata,
    plan: { ...plan, actions: [...baseActions, ...fileActions] },
    latencyMs: Date.now() - started,
    mirror: stats,
  };
}

/** Our own commit applied to the cached file list, when it sits right on top of the cache. */
function advanceFiles(mirror: MirrorState, readVersion: number, version: number, actions: readonly Action[]): void {
  if (!mirror.files || mirror.filesVersion !== readVersion || version !== readVersion + 1) {
    mirror.files = null;
    return;
  }
  for (const a of actions) {
    if ('remove' in a) mirror.files.delete(a.remove.path);
    else if ('add' in a) mirror.files.set(a.add.path, a.add);
  }
  mirror.filesVersion = version;
}
