/**
 * The `merge-mirror` task (workers/protocol.ts): applies one mirror batch's staged changes to some
 * buckets of the table and returns the file actions for the batch's single commit (docs/mirror.md).
 * Like channel tasks it never commits; unlike them it reads table data (the files it rewrites),
 * which is why it runs on the worker pool too. The piscina entry (workers/entry.ts) runs it with
 * the thread's store; tests and benchmarks call it in-process with theirs.
 */
import { OtslakeError } from '../common/errors.js';
import type { ObjectStore } from '../lake/object-store.js';
import type { WrittenFile } from '../lake/parquet-file.js';
import type { MirrorFile } from '../lake/mirror/layout.js';
import { mergeBucket, type MergeStats, type MirrorAddFile } from '../lake/mirror/merge-bucket.js';
import { readStagedChanges } from '../lake/mirror/staging.js';
import { contextOf, type MergeMirrorTaskInput, type MergeMirrorTaskOk } from './protocol.js';

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
  const prefix = input.metadataPrefix === undefined ? {} : { metadataPrefix: input.metadataPrefix };
  const staged = await readStagedChanges(store, input.stagedFiles, input.keyColumns, input.bucketCount, {
    buckets: owned,
    ...prefix,
    ...(signal ? { signal } : {}),
  });
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
        ...prefix,
        ...(input.minFileBytes === undefined ? {} : { minFileBytes: input.minFileBytes }),
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
