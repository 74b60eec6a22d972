/**
 * The `merge-mirror` task: applies one mirror batch's staged changes to some buckets of the table
 * and returns the file actions for the batch's single commit (docs/mirror.md). Like channel tasks it
 * never commits; unlike them it reads table data (the files it rewrites), which is why it runs on
 * the worker pool too.
 *
 * The piscina entry dispatches here by `kind` (`handleMergeMirrorTask`); tests and benchmarks call
 * `runMergeMirrorTask` in-process with a store.
 */
import { OtslakeError, serializeError, type SerializedError } from '../common/errors.js';
import type { ObjectStore } from '../lake/object-store.js';
import type { WrittenFile } from '../lake/parquet-file.js';
import type { MirrorFile } from '../lake/mirror/layout.js';
import { mergeBucket, type MergeOptions, type MergeStats, type MirrorAddFile } from '../lake/mirror/merge-bucket.js';
import { readStagedChanges } from '../lake/mirror/staging.js';
import { PROTOCOL_VERSION } from './protocol.js';
import { threadResources } from './worker-setup.js';

/** The merge settings (keys, columns, CDF, file sizes) travel as they are; the store is the worker's own. */
export interface MergeMirrorTaskInput extends Omit<MergeOptions, 'store' | 'signal'> {
  readonly kind: 'merge-mirror';
  readonly protocol: typeof PROTOCOL_VERSION;
  readonly batchId: string;
  readonly table: string;
  /** The table's folder under the lake root (as for channel tasks). */
  readonly tablePath: string;
  /** Staging files of the batch, relative to the table root, in the order the channel tasks wrote them. */
  readonly stagedFiles: readonly string[];
  /** `otslake.mirror.buckets` of the table. */
  readonly bucketCount: number;
  /** The buckets this task owns (planMergeTasks). */
  readonly buckets: readonly number[];
  /** The live files of those buckets, from the snapshot the batch commits on. */
  readonly files: readonly MirrorFile[];
}

export interface MergeMirrorTaskStats extends MergeStats {
  readonly stagedRowsRead: number;
  readonly stagedBytesRead: number;
  readonly bucketsChanged: number;
  readonly durationMs: number;
}

export interface MergeMirrorTaskOk {
  readonly kind: 'ok';
  /** Files to remove, as the snapshot names them. */
  readonly removes: MirrorFile[];
  /** New data files; their adds must carry `tags`. */
  readonly adds: MirrorAddFile[];
  /** `_change_data/` files; empty without CDF. */
  readonly cdc: WrittenFile[];
  readonly stats: MergeMirrorTaskStats;
}

export type MergeMirrorTaskResult = MergeMirrorTaskOk | { readonly kind: 'failed'; readonly error: SerializedError };

function contextOf(input: MergeMirrorTaskInput) {
  return { table: input.table, batchId: input.batchId, buckets: input.buckets.join(',') };
}

/** Runs the merge against `store` (the table root). Throws OtslakeError with the task's context. */
export async function runMergeMirrorTask(input: MergeMirrorTaskInput, store: ObjectStore, signal?: AbortSignal): Promise<MergeMirrorTaskOk> {
  const started = performance.now();
  const owned = new Set(input.buckets);
  for (const f of input.files) {
    if (!owned.has(f.bucket)) {
      throw new OtslakeError('OTSL_INTERNAL', `merge task got file ${f.path} of bucket ${f.bucket}, which it does not own`, {
        context: { ...contextOf(input), file: f.path },
      });
    }
  }
  const staged = await readStagedChanges(store, input.stagedFiles, input.keyColumns, input.bucketCount, { buckets: owned, ...(signal ? { signal } : {}) });
  const removes: MirrorFile[] = [];
  const adds: MirrorAddFile[] = [];
  const cdc: WrittenFile[] = [];
  const totals: MergeStats = {
    keysChanged: 0,
    filesRead: 0,
    bytesRead: 0,
    rowsRead: 0,
    filesWritten: 0,
    rowsWritten: 0,
    bytesWritten: 0,
    inserted: 0,
    updated: 0,
    deleted: 0,
  };
  try {
    for (const bucket of [...staged.byBucket.keys()].sort((a, b) => a - b)) {
      const files = input.files.filter((f) => f.bucket === bucket).sort((a, b) => (a.keyMin < b.keyMin ? -1 : 1));
      const outcome = await mergeBucket(bucket, files, staged.byBucket.get(bucket)!, {
        store,
        keyColumns: input.keyColumns,
        columns: input.columns,
        changeDataFeed: input.changeDataFeed,
        targetFileBytes: input.targetFileBytes,
        ...(input.minFileBytes === undefined ? {} : { minFileBytes: input.minFileBytes }),
        ...(input.compression ? { compression: input.compression } : {}),
        ...(signal ? { signal } : {}),
      });
      removes.push(...outcome.removes);
      adds.push(...outcome.adds);
      cdc.push(...outcome.cdc);
      for (const k of Object.keys(totals) as (keyof MergeStats)[]) totals[k] += outcome.stats[k];
    }
  } catch (err) {
    // Another bucket's output is as orphaned as this one's: nothing of the task gets committed.
    await Promise.allSettled([...adds, ...cdc].map((f) => store.delete(f.path)));
    if (err instanceof OtslakeError) {
      throw new OtslakeError(err.code, err.message, { cause: err.cause, retriable: err.retriable, context: { ...contextOf(input), ...err.context } });
    }
    throw err;
  }
  return {
    kind: 'ok',
    removes,
    adds,
    cdc,
    stats: {
      ...totals,
      stagedRowsRead: staged.rowsRead,
      stagedBytesRead: staged.bytesRead,
      bucketsChanged: staged.byBucket.size,
      durationMs: performance.now() - started,
    },
  };
}

/** The worker-thread entry for this kind: the table store comes from the thread's setup; errors become data. */
export async function handleMergeMirrorTask(input: MergeMirrorTaskInput): Promise<MergeMirrorTaskResult> {
  try {
    if (input.protocol !== PROTOCOL_VERSION) {
      throw new OtslakeError('OTSL_INTERNAL', `worker speaks protocol ${PROTOCOL_VERSION}, task has ${String(input.protocol)}: dist/ is stale, rebuild`);
    }
    return await runMergeMirrorTask(input, threadResources().tableStore(input.tablePath));
  } catch (err) {
    const error = serializeError(err);
    return { kind: 'failed', error: { ...error, context: { ...contextOf(input), ...error.context } } };
  }
}
