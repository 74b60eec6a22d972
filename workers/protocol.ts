/**
 * The whole contract between the daemon and its worker threads: nothing else crosses.
 *
 * Inputs and results are plain data (structured clone). Errors cross as `SerializedError` data,
 * because a cloned Error keeps only message/stack/cause and loses `code` (docs/errors.md).
 * Bytes never cross: workers write Parquet straight to the lake and return file metadata.
 * Unions are tagged by `kind`; add a new task kind as a new member, never by overloading a field.
 */
import { OtslakeError, serializeError, type ErrorContext, type SerializedError } from '../common/errors.js';
import type { WrittenFile } from '../lake/parquet-file.js';
import type { OssConnection } from '../lake/store.js';
import type { ColumnType } from '../lake/parquet-columns.js';
import type { TypeConflictPolicy } from '../lake/mirror/type-conflict.js';

export type { ColumnType } from '../lake/parquet-columns.js';

/** Bumped on any incompatible change; a worker built from another version refuses the task. */
export const PROTOCOL_VERSION = 2 as const;

/** How a table lands in the lake (design §3); the workers implement 'changelog'. */
export type TableMode = 'changelog' | 'mirror';

/** Tablestore primary-key column types. */
export type PrimaryKeyType = 'INTEGER' | 'STRING' | 'BINARY';

export interface PrimaryKeyColumn {
  readonly name: string;
  readonly type: PrimaryKeyType;
}

/** A data column of the Delta table (never one of the metadata columns `_op`, `_ts`, …). */
export interface DataColumn {
  readonly name: string;
  readonly type: ColumnType;
}

export interface TaskBudget {
  /** Stop after this many records (batch.maxRecordsPerChannel). */
  readonly maxRecords: number;
  /** Stop after this many raw record bytes (batch.maxBytesPerChannel). */
  readonly maxBytes: number;
  /** Stop reading after this long (batch.maxDurationMs); the files are still finished and returned. */
  readonly maxDurationMs: number;
}

export interface ChannelTaskInput {
  readonly kind: 'read-channel';
  readonly protocol: typeof PROTOCOL_VERSION;
  readonly batchId: string;
  readonly table: string;
  readonly tunnelId: string;
  readonly channelId: string;
  /** The Tunnel client id the channel is assigned to (ReadRecords is refused for anyone else). */
  readonly clientId: string;
  /** The table's folder under the lake root; the worker writes into `openStore(lake.uri).child(tablePath)`. */
  readonly tablePath: string;
  /** Token to read from: the offset entry in force, or the Tunnel checkpoint on a first batch. */
  readonly startToken: string;
  /** txn version in force for this channel (0 = none); the worker claims the first free entry above it. */
  readonly committedSeq: number;
  readonly mode: TableMode;
  /** The table's primary key, in order, with Tablestore types. */
  readonly primaryKey: readonly PrimaryKeyColumn[];
  /** The table's current data columns (primary key and attributes), without the metadata columns. */
  readonly columns: readonly DataColumn[];
  /** Unknown attribute columns become new columns (reported in `newColumns`) instead of dead letters. */
  readonly discoverColumns: boolean;
  /** A record whose raw bytes exceed this is dead-lettered, not decoded. */
  readonly maxRowBytes: number;
  /** Data files roll at about this size. */
  readonly targetFileBytes: number;
  readonly budget: TaskBudget;
  /**
   * Where the changelog rows go: 'table' (data files of a changelog table, the default) or
   * 'staging' (`_otslake/staging/<batchId>/`, read back by the batch's merge-mirror tasks).
   * Mode mirror requires 'staging': a worker that does not know the field refuses mode mirror.
   */
  readonly destination?: 'table' | 'staging';
  /** Mode mirror: `otslake.mirror.buckets`, so the task can report the buckets its rows touch. */
  readonly mirrorBuckets?: number;
  /** What a value of the wrong type becomes (tables[].typeConflictPolicy); absent = 'dead-letter'. */
  readonly typeConflictPolicy?: TypeConflictPolicy;
}

/**
 * Per-thread setup, sent once through piscina `workerData` (not per task): endpoints, credentials,
 * lake root, Parquet options. Plain data carved from ResolvedConfig by `workerSetupFrom()`
 * (workers/worker-setup.ts). Secrets ride here because workerData never leaves the process.
 */
export interface WorkerSetup {
  readonly protocol: typeof PROTOCOL_VERSION;
  readonly tunnel: {
    readonly endpoint: string;
    readonly instanceName: string;
    readonly accessKeyId: string;
    readonly accessKeySecret: string;
    readonly securityToken: string | null;
    readonly requestTimeoutMs: number;
  };
  readonly lake: {
    /** file:///abs/path or oss://bucket/prefix: the lake root; tables live at `tablePath` below it. */
    readonly uri: string;
    /** Present exactly when `uri` is oss://. */
    readonly oss: OssConnection | null;
  };
  readonly parquet: {
    readonly compression: 'zstd' | 'snappy' | 'uncompressed';
    readonly rowGroupRows: number;
  };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

/** Every task kind the workers accept; a union so that new kinds extend it. */
export type TaskInput = ChannelTaskInput;

/** One data file the worker wrote; the daemon turns it into an `add` action (lake/transaction.ts addActionFor). */
export type AddFileMeta = WrittenFile;

/**
 * Records that could not be landed, written aside and counted, never dropped: NDJSON at
 * `_otslake/dead-letters/<encoded channelId>/<batchId>.jsonl` in the table folder, not in the Delta log.
 */
export interface DeadLetterMeta {
  /** Key relative to the table root, under _otslake/ (not URI-encoded). */
  readonly path: string;
  readonly rows: number;
  /** Count per reason: 'corrupt-record' | 'type-mismatch' | 'unknown-column' | 'oversized-row' | 'column-name-conflict'. */
  readonly reasons: Readonly<Record<string, number>>;
}

export interface TaskStats {
  readonly records: number;
  readonly bytesRead: number;
  readonly rowsWritten: number;
  readonly bytesWritten: number;
  readonly readRequests: number;
  readonly durationMs: number;
  /** Commit time of the newest record read (ms since epoch), for the lag metric; null if none. */
  readonly lastRecordTimeMs: number | null;
}

export interface ChannelTaskOk {
  readonly kind: 'ok';
  readonly endToken: string;
  /** The channel was read to its end: a parent whose children may start once this batch commits. */
  readonly finished: boolean;
  readonly files: readonly AddFileMeta[];
  readonly deadLetters: readonly DeadLetterMeta[];
  /**
   * The offset entry this task claimed: the txn version the daemon must commit for the channel.
   * null when nothing was read and the token did not move: then nothing is committed for it.
   */
  readonly offsetSeq: number | null;
  /** Attribute columns seen for the first time (discovery on): add them as nullable columns in the same commit. */
  readonly newColumns: readonly DataColumn[];
  /** `%08x:%016x:%08x` (epoch, timestamp µs, row index) of the last stream record read; null if none. */
  readonly lastSequence: string | null;
  readonly stats: TaskStats;
  /** Destination 'staging' with mirrorBuckets: the buckets of the rows written (sorted). */
  readonly touchedBuckets?: readonly number[];
  /** Values of the wrong type per column and policy: landed in companions, or rows dead-lettered for it. */
  readonly typeConflicts?: readonly { readonly column: string; readonly policy: TypeConflictPolicy; readonly count: number }[];
}

/** A failure the worker handled: an expected outcome, sent as data. */
export interface ChannelTaskFailed {
  readonly kind: 'failed';
  readonly error: SerializedError;
}

export type ChannelTaskResult = ChannelTaskOk | ChannelTaskFailed;

export function contextOf(input: ChannelTaskInput): ErrorContext {
  return { table: input.table, tunnelId: input.tunnelId, channelId: input.channelId, batchId: input.batchId };
}

/** Builds the failed result for any error, keeping its code and adding the task's context. */
export function failedResult(err: unknown, input?: ChannelTaskInput): ChannelTaskFailed {
  const error = serializeError(err);
  return { kind: 'failed', error: input ? { ...error, context: { ...contextOf(input), ...error.context } } : error };
}

function isTaskInput(x: unknown): x is { kind: unknown; protocol: unknown } {
  return typeof x === 'object' && x !== null && 'kind' in x;
}

export type ChannelTaskImpl = (input: ChannelTaskInput) => Promise<ChannelTaskResult>;

/**
 * Wraps a worker's implementation as the piscina entry (`export default createTaskHandler(impl)`):
 * checks the protocol version and the kind, and turns every thrown error into `{kind:'failed'}` data,
 * so that its code survives the thread boundary. Only a dying thread is left for the pool to report.
 * It does not insist on running in a worker thread, so that the implementation can be unit-tested in-process.
 */
export function createTaskHandler(impl: ChannelTaskImpl): (input: unknown) => Promise<ChannelTaskResult> {
  return async (input: unknown) => {
    if (!isTaskInput(input)) return failedResult(new OtslakeError('OTSL_INTERNAL', 'worker received a task that is not an object with a kind'));
    if (input.protocol !== PROTOCOL_VERSION) {
      return failedResult(
        new OtslakeError('OTSL_INTERNAL', `worker speaks protocol ${PROTOCOL_VERSION}, task has ${String(input.protocol)}: dist/ is stale, rebuild`),
      );
    }
    const task = input as TaskInput;
    switch (task.kind) {
      case 'read-channel':
        try {
          return await impl(task);
        } catch (err) {
          return failedResult(err, task);
        }
      default: {
        const unknownKind: never = task.kind;
        return failedResult(new OtslakeError('OTSL_INTERNAL', `worker does not know task kind "${String(unknownKind)}"`));
      }
    }
  };
}
