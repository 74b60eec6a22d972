/**
 * The mirror tasks (workers/protocol.ts), both reading table data and so run on the worker pool:
 *
 *   merge-mirror   applies one mirror batch's staged changes to some buckets of the table and returns
 *                  the file actions for the batch's single commit (docs/mirror.md);
 *   resync-diff    writes the change data of a resync's switch (live table → staged snapshot) for
 *                  some buckets and returns the cdc files and counts for the switch commit.
 *
 * Like channel tasks they never commit. The piscina entry (workers/entry.ts) runs them with the
 * thread's store; tests and benchmarks call them in-process with theirs.
 */
import { OtslakeError } from '../common/errors.js';
import type { ObjectStore } from '../lake/object-store.js';
import type { WrittenFile } from '../lake/parquet-file.js';
import type { MirrorFile } from '../lake/mirror/layout.js';
import { mergeBucket, type MergeStats, type MirrorAddFile } from '../lake/mirror/merge-bucket.js';
import { diffResyncBuckets } from '../lake/mirror/resync-diff.js';
import { readStagedChanges } from '../lake/mirror/staging.js';
import {
  contextOf,
  type MergeMirrorTaskInput,
  type MergeMirrorTaskOk,
  type MirrorFileMeta,
  type ResyncDiffTaskInput,
  type ResyncDiffTaskOk,
  type TaskInput,
} from './protocol.js';

/** Runs the merge against `store` (the table root). Throws OtslakeError with the task's context. */
export async function runMergeMirrorTask(input: MergeMirrorTaskInput, store: ObjectStore, signal?: AbortSignal): Promise<MergeMirrorTaskOk> {
  const started = performance.now();
  const owned = new Set(input.buckets);
  checkOwned(input, owned, input.files);
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
    throw withTaskContext(err, input);
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

/** A task handed a file of a bucket it does not own was planned wrong: refused before anything is written. */
function checkOwned(input: TaskInput, owned: ReadonlySet<number>, files: readonly MirrorFileMeta[]): void {
  for (const f of files) {
    if (!owned.has(f.bucket)) {
      throw new OtslakeError('OTSL_INTERNAL', `${input.kind} task got file ${f.path} of bucket ${f.bucket}, which it does not own`, {
        context: { ...contextOf(input), file: f.path },
      });
    }
  }
}

function withTaskContext(err: unknown, input: TaskInput): unknown {
  if (!(err instanceof OtslakeError)) return err;
  return new OtslakeError(err.code, err.message, { cause: err.cause, retriable: err.retriable, context: { ...contextOf(input), ...err.context } });
}

function byBucket(files: readonly MirrorFileMeta[]): Map<number, MirrorFileMeta[]> {
  const out = new Map<number, MirrorFileMeta[]>();
  for (const f of files) {
    let list = out.get(f.bucket);
    if (!list) out.set(f.bucket, (list = []));
    list.push(f);
  }
  return out;
}

/**
 * Runs a resync diff against `store` (the live table's root; the staged table is its `stagingPrefix` child). On
 * failure the task's change data is deleted (lake/mirror/resync-diff.ts) and the error thrown with its context.
 */
export async function runResyncDiffTask(input: ResyncDiffTaskInput, store: ObjectStore, signal?: AbortSignal): Promise<ResyncDiffTaskOk> {
  const owned = new Set(input.buckets);
  checkOwned(input, owned, input.liveFiles);
  checkOwned(input, owned, input.stagedFiles);
  try {
    const outcome = await diffResyncBuckets(input.buckets, byBucket(input.liveFiles), byBucket(input.stagedFiles), {
      live: store,
      staged: store.child(input.stagingPrefix),
      keyColumns: input.keyColumns,
      columns: input.columns,
      changeDataFeed: input.changeDataFeed,
      ...(input.metadataPrefix === undefined ? {} : { metadataPrefix: input.metadataPrefix }),
      ...(signal ? { signal } : {}),
    });
    return { kind: 'ok', cdc: outcome.cdc, counts: outcome.counts, rows: outcome.rows };
  } catch (err) {
    throw withTaskContext(err, input);
  }
}
