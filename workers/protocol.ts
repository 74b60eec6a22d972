/**
 * The whole contract between the pipeline and its worker threads: nothing else crosses.
 *
 *   TaskInput = ChannelTaskInput ('read-channel') | MergeMirrorTaskInput ('merge-mirror')
 *             | ResyncDiffTaskInput ('resync-diff')
 *   result    = the kind's Ok result | TaskFailed
 *
 * Inputs and results are plain data (structured clone), spelled out here as wire types: no type of
 * another layer appears on the wire, so a change inside lake/ cannot silently change what crosses
 * (the lake types are checked against these where they are converted). Errors cross as
 * `SerializedError` data, because a cloned Error keeps only message/stack/cause and loses `code`
 * (docs/errors.md). Bytes never cross: workers write Parquet straight to the lake and return file
 * metadata. Unions are tagged by `kind`; a new task kind is a new member of TaskInput and TaskResults,
 * and the compiler then names every switch that must handle it.
 */
import { OtslakeError, serializeError, type ErrorContext, type SerializedError } from '../common/errors.js';
import type { LakeConnection, TablestoreConnection } from '../common/connections.js';

/** Bumped on any incompatible change; a worker built from another version refuses the task. */
export const PROTOCOL_VERSION = 6 as const;

/** Column types of the lake's data files (the Delta primitive types otslake writes, and `_deleted_columns`). */
export type ColumnType = 'long' | 'double' | 'boolean' | 'string' | 'binary' | 'timestamp' | 'array<string>';

/** What a value whose type contradicts its column becomes (tables[].typeConflictPolicy). */
export type TypeConflictPolicy = 'companion' | 'string' | 'dead-letter';

/** How a table lands in the lake (docs/changelog.md §Table modes); the workers implement 'changelog'. */
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

/**
 * tables[].select as a task applies it (workers/column-selection.ts): source names in include/exclude and as
 * rename keys, lake names as rename values. The pipeline adds the primary key's source names to a non-empty
 * include list, and never sends an exclude that names one.
 */
export interface ColumnSelectionSpec {
  readonly include?: readonly string[];
  readonly exclude?: readonly string[];
  readonly rename?: Readonly<Record<string, string>>;
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
  /**
   * Iceberg field ids of the table's columns, metadata columns included (lake/iceberg/schema.ts),
   * stamped into the Parquet files; a column discovered in this batch has none yet and is resolved
   * by name (the Iceberg name mapping).
   */
  readonly fieldIds?: Readonly<Record<string, { readonly id: number; readonly elementId?: number }>>;
  /**
   * The table's partition columns (`metaData.partitionColumns`), names among `columns`: each row goes to a
   * file of its partition (Hive-style directory, `partitionValues`); the columns are in the files only
   * with `materializePartitions`.
   */
  readonly partitionColumns?: readonly string[];
  /**
   * The table's protocol has materializePartitionColumns: the files hold the partition columns too, after the
   * others (lake/partition-columns.ts). New in protocol 5: an older worker would leave them out.
   */
  readonly materializePartitions?: boolean;
  /** tables[].metadataPrefix: the metadata columns are `<prefix>op`, `<prefix>ts`, … (common/metadata-columns.ts); absent = `_`. */
  readonly metadataPrefix?: string;
  /**
   * tables[].select: source columns left out or landed under another name; absent = every column under its
   * own name. `primaryKey`, `columns`, `partitionColumns` and `fieldIds` name lake columns.
   */
  readonly select?: ColumnSelectionSpec;
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
 * Per-thread setup, sent once through piscina `workerData` (not per task): the connections the
 * config resolved (the same objects the main thread's clients are built from), Parquet options.
 * Secrets ride here because workerData never leaves the process.
 */
export interface WorkerSetup {
  readonly protocol: typeof PROTOCOL_VERSION;
  readonly tablestore: TablestoreConnection;
  /** The lake root; tables live at `tablePath` below it. */
  readonly lake: LakeConnection;
  readonly parquet: {
    readonly compression: 'zstd' | 'snappy' | 'uncompressed';
    readonly rowGroupRows: number;
  };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error' | 'silent';
}

/** Statistics of one data file as Delta's `add.stats` carries them. */
export interface DataFileStats {
  numRecords: number;
  minValues?: Record<string, unknown>;
  maxValues?: Record<string, unknown>;
  nullCount?: Record<string, unknown>;
  tightBounds?: boolean;
}

/** One data file a worker wrote; the pipeline turns it into an `add` action (lake/transaction.ts addActionFor). */
export interface AddFileMeta {
  /** Key relative to the table root, not URI-encoded. */
  path: string;
  size: number;
  numRecords: number;
  modificationTime: number;
  partitionValues: Record<string, string | null>;
  stats: DataFileStats;
}

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
  /** Reading stopped on the task's budget, not at the live tail: the channel has more (the next batch may start at once). */
  readonly endedOnBudget: boolean;
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
export interface TaskFailed {
  readonly kind: 'failed';
  readonly error: SerializedError;
}
export type ChannelTaskResult = ChannelTaskOk | TaskFailed;

// ── merge-mirror ───────────────────────────────────────────────────────────────────────────────

/** A live file of a mirror table, as the snapshot the batch commits on names it. */
export interface MirrorFileMeta {
  /** `add.path` as in the log (URI-encoded): what a remove must name. */
  readonly path: string;
  readonly bucket: number;
  readonly keyMin: string;
  readonly keyMax: string;
  readonly size: number;
  readonly numRecords: number;
}

/** A new mirror data file; its add carries `tags` (bucket and key range). */
export interface MirrorAddFileMeta extends AddFileMeta {
  readonly tags: Record<string, string>;
}

/** A column of a mirror data file. */
export interface FileColumn {
  readonly name: string;
  readonly type: ColumnType;
  readonly nullable: boolean;
}

/** A primary-key column as the mirror's key encoding orders it. */
export interface KeyColumnSpec {
  readonly name: string;
  readonly type: 'long' | 'string' | 'binary';
}

/**
 * Applies one mirror batch's staged changes to some buckets of the table and returns the file
 * actions for the batch's single commit (docs/mirror.md). Never commits.
 */
export interface MergeMirrorTaskInput {
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
  /** The buckets this task owns. */
  readonly buckets: readonly number[];
  /** The live files of those buckets, from the snapshot the batch commits on. */
  readonly files: readonly MirrorFileMeta[];
  readonly keyColumns: readonly KeyColumnSpec[];
  /** Every column of a mirror file: data columns (as of this batch, new ones included), then `_ts`, `_seq`. */
  readonly columns: readonly FileColumn[];
  /** tables[].metadataPrefix: the staged rows' metadata columns and the rows' `ts`, `seq` are `<prefix>…`; absent = `_`. */
  readonly metadataPrefix?: string;
  readonly changeDataFeed: boolean;
  /** Files are cut to about this size. */
  readonly targetFileBytes: number;
  /** A touched file below this merges with a neighbour; default targetFileBytes / 4. */
  readonly minFileBytes?: number;
}

export interface MergeMirrorTaskStats {
  readonly keysChanged: number;
  readonly filesRead: number;
  readonly bytesRead: number;
  readonly rowsRead: number;
  readonly filesWritten: number;
  readonly rowsWritten: number;
  readonly bytesWritten: number;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  readonly stagedRowsRead: number;
  readonly stagedBytesRead: number;
  readonly bucketsChanged: number;
  readonly durationMs: number;
}

export interface MergeMirrorTaskOk {
  readonly kind: 'ok';
  /** Files to remove, as the snapshot names them. */
  readonly removes: MirrorFileMeta[];
  readonly adds: MirrorAddFileMeta[];
  /** `_change_data/` files; empty without CDF. */
  readonly cdc: AddFileMeta[];
  readonly stats: MergeMirrorTaskStats;
}

// ── resync-diff ────────────────────────────────────────────────────────────────────────────────

/**
 * The change data of a mirror resync's switch for some buckets: the live table's rows against the staged
 * snapshot's (lake/mirror/resync-diff.ts). Writes `_change_data/` files (with CDF) under the live table and
 * returns them with the counts, for the switch's single commit. Never commits. New in protocol 6.
 */
export interface ResyncDiffTaskInput {
  readonly kind: 'resync-diff';
  readonly protocol: typeof PROTOCOL_VERSION;
  readonly table: string;
  /** The live table's folder under the lake root (as for channel tasks). */
  readonly tablePath: string;
  /** The staged table's folder, relative to the live table's root (`_otslake/staging/resync-<id>/`). */
  readonly stagingPrefix: string;
  /** The buckets this task owns, in the order it diffs them. */
  readonly buckets: readonly number[];
  /** The live files of those buckets (paths relative to the live table). */
  readonly liveFiles: readonly MirrorFileMeta[];
  /** The staged files of those buckets (paths relative to the staged table). */
  readonly stagedFiles: readonly MirrorFileMeta[];
  readonly keyColumns: readonly KeyColumnSpec[];
  /** Every column of a mirror file of the switched table (the union of both schemas): data columns, then `_ts`, `_seq`. */
  readonly columns: readonly FileColumn[];
  /** tables[].metadataPrefix: the names of `_ts`/`_seq`; absent = `_`. */
  readonly metadataPrefix?: string;
  readonly changeDataFeed: boolean;
}

export interface ResyncDiffTaskOk {
  readonly kind: 'ok';
  /** `_change_data/` files, relative to the live table; empty without CDF. */
  readonly cdc: AddFileMeta[];
  readonly counts: { readonly inserted: number; readonly updated: number; readonly deleted: number };
  /** Staged rows seen in the task's buckets. */
  readonly rows: number;
}

// ── the union ─────────────────────────────────────────────────────────────────────────────────

/** Every task kind the workers accept. */
export type TaskInput = ChannelTaskInput | MergeMirrorTaskInput | ResyncDiffTaskInput;
export type TaskKind = TaskInput['kind'];

/** The Ok result of each kind. */
export interface TaskResults {
  'read-channel': ChannelTaskOk;
  'merge-mirror': MergeMirrorTaskOk;
  'resync-diff': ResyncDiffTaskOk;
}

export type TaskInputOf<K extends TaskKind> = Extract<TaskInput, { kind: K }>;

/**
 * Kinds that run alone on their thread even when a thread may run several tasks: a merge-mirror
 * task streams Parquet from several files through the thread's one wasm instance, and two of them
 * interleaved on a thread were seen to stall a mirror batch under load. A resync-diff task reads
 * and writes Parquet the same way, and holds a whole bucket of two tables in memory.
 */
export function runsAlone(kind: TaskKind): boolean {
  return kind === 'merge-mirror' || kind === 'resync-diff';
}
export type TaskResultOf<K extends TaskKind> = TaskResults[K] | TaskFailed;

/** The identifying fields of a task, for its errors and logs. */
export function contextOf(input: TaskInput): ErrorContext {
  switch (input.kind) {
    case 'read-channel':
      return { table: input.table, tunnelId: input.tunnelId, channelId: input.channelId, batchId: input.batchId };
    case 'merge-mirror':
      return { table: input.table, batchId: input.batchId, buckets: input.buckets.join(',') };
    case 'resync-diff':
      return { table: input.table, path: input.stagingPrefix, buckets: input.buckets.join(',') };
    default:
      return exhausted(input);
  }
}

/** How a task is named in the pool's errors and logs. */
export function describeTask(input: TaskInput): { noun: string; description: string } {
  switch (input.kind) {
    case 'read-channel':
      return { noun: 'channel task', description: `channel ${input.channelId} of table ${input.table}` };
    case 'merge-mirror':
      return { noun: 'merge-mirror task', description: `the merge of buckets ${input.buckets.join(',')} of table ${input.table}` };
    case 'resync-diff':
      return { noun: 'resync-diff task', description: `the resync diff of buckets ${input.buckets.join(',')} of table ${input.table}` };
    default:
      return exhausted(input);
  }
}

function exhausted(input: never): never {
  throw new OtslakeError('OTSL_INTERNAL', `unknown task kind "${String((input as { kind?: unknown }).kind)}"`);
}

/** Builds the failed result for any error, keeping its code and adding the task's context. */
export function failedResult(err: unknown, input?: TaskInput): TaskFailed {
  const error = serializeError(err);
  return { kind: 'failed', error: input ? { ...error, context: { ...contextOf(input), ...error.context } } : error };
}

/** The implementation of each kind a worker module runs; a kind without one is refused as data. */
export type TaskHandlers = { readonly [K in TaskKind]?: (input: TaskInputOf<K>) => Promise<TaskResultOf<K>> };

const KINDS: readonly string[] = ['read-channel', 'merge-mirror', 'resync-diff'] satisfies TaskKind[];

/**
 * The piscina entry of a worker module (`export default createTaskHandler({...})`): the one place
 * that checks the protocol version and the kind and dispatches, and that turns every thrown error
 * into `{kind:'failed'}` data so that its code survives the thread boundary. Only a dying thread is
 * left for the pool to report. It does not insist on running in a worker thread, so that handlers
 * can be unit-tested in-process.
 */
export function createTaskHandler(handlers: TaskHandlers): (input: unknown) => Promise<TaskResultOf<TaskKind>> {
  return async (raw: unknown) => {
    if (typeof raw !== 'object' || raw === null || !KINDS.includes(String((raw as { kind?: unknown }).kind))) {
      return failedResult(new OtslakeError('OTSL_INTERNAL', `worker received a task that is not one of ${KINDS.join(', ')}`));
    }
    const input = raw as TaskInput;
    if (input.protocol !== PROTOCOL_VERSION) {
      return failedResult(
        new OtslakeError('OTSL_INTERNAL', `worker speaks protocol ${PROTOCOL_VERSION}, task has ${String(input.protocol)}: dist/ is stale, rebuild`),
        input,
      );
    }
    try {
      switch (input.kind) {
        case 'read-channel':
          return await run(handlers['read-channel'], input);
        case 'merge-mirror':
          return await run(handlers['merge-mirror'], input);
        case 'resync-diff':
          return await run(handlers['resync-diff'], input);
        default:
          return exhausted(input);
      }
    } catch (err) {
      return failedResult(err, input);
    }
  };
}

async function run<T extends TaskInput, R>(handler: ((input: T) => Promise<R>) | undefined, input: T): Promise<R | TaskFailed> {
  if (handler === undefined) return failedResult(new OtslakeError('OTSL_INTERNAL', `this worker does not run ${input.kind} tasks`), input);
  return handler(input);
}
