/**
 * The `read-channel` task: one channel's share of a micro-batch (docs/tunnel-protocol.md §Micro-batch cycle).
 *
 *   ReadRecords from startToken, page after page, until the budget, "finished", or the live tail
 *   → decode record by record straight into the Parquet column builders → files in the table folder
 *   → dead letters (if any) → claim the offset entry → return file metadata. Never commits.
 *
 * A batch ends on a page boundary: the end token is a page's next_token, so every record before it is
 * in a data file or in the dead letters, and none after it is. Records are decoded one at a time so
 * that a corrupt record costs only itself, never its neighbours.
 */
import { hasCode, OtslakeError } from '../common/errors.js';
import { claimOffsetEntry } from '../lake/offset-log.js';
import type { ObjectStore } from '../lake/object-store.js';
import { ParquetFileWriter, type WrittenFile } from '../lake/parquet-file.js';
import { encodeKey, keyColumnsOf } from '../lake/mirror/key-encoding.js';
import { bucketOf } from '../lake/mirror/layout.js';
import { stagingDirectory } from '../lake/mirror/staging-directory.js';
import { parseTypeConflictPolicy } from '../lake/mirror/type-conflict.js';
import { PlainBufferDecoder } from '../tunnel/plainbuffer.js';
import { FINISHED_TOKEN } from '../tunnel/proto.js';
import type { RecordPage } from '../tunnel/read-records-wire.js';
import { ColumnSelection } from './column-selection.js';
import { ColumnarRowSink } from './columnar-rows.js';
import { formatSequence } from './changelog-rows.js';
import { DeadLetters } from './dead-letters.js';
import type { ChannelTaskInput, ChannelTaskOk, TaskStats } from './protocol.js';
import { BatchSchema, columnTypeOfPrimaryKey } from './schema-map.js';
import { threadResources, type WorkerResources } from './worker-setup.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';

/** One decoder per thread: its column-name cache serves every task of the thread. */
const decoder = new PlainBufferDecoder();

function checkInput(input: ChannelTaskInput): void {
  const bad = (key: string, why: string) =>
    new OtslakeError('OTSL_CONFIG_INVALID', `channel task ${key} ${why}`, { context: { key, table: input.table, channelId: input.channelId } });
  if (input.mode === 'mirror') {
    if (input.destination !== 'staging') throw bad('destination', `must be "staging" for mode mirror, got ${JSON.stringify(input.destination)}`);
    const b = input.mirrorBuckets;
    if (b !== undefined && !(Number.isInteger(b) && b >= 1)) throw bad('mirrorBuckets', `must be an integer ≥ 1, got ${String(b)}`);
    if ((input.partitionColumns ?? []).length > 0) throw bad('partitionColumns', 'must be empty for mode mirror');
  } else if (input.mode !== 'changelog') {
    throw bad('mode', `is "${String(input.mode)}", expected changelog or mirror`);
  }
  if (input.typeConflictPolicy !== undefined) parseTypeConflictPolicy(String(input.typeConflictPolicy));
  for (const key of ['maxRecords', 'maxBytes', 'maxDurationMs'] as const) {
    const v = input.budget?.[key];
    if (!(typeof v === 'number' && v > 0)) throw bad(`budget.${key}`, `must be a positive number, got ${String(v)}`);
  }
  if (!(input.maxRowBytes > 0)) throw bad('maxRowBytes', `must be a positive number, got ${String(input.maxRowBytes)}`);
  if (!(input.targetFileBytes > 0)) throw bad('targetFileBytes', `must be a positive number, got ${String(input.targetFileBytes)}`);
  if (!Number.isInteger(input.committedSeq) || input.committedSeq < 0) throw bad('committedSeq', `must be an integer ≥ 0, got ${String(input.committedSeq)}`);
  if (typeof input.clientId !== 'string' || input.clientId === '') throw bad('clientId', 'is required');
}

function emptyStats(durationMs = 0): TaskStats {
  return { records: 0, bytesRead: 0, rowsWritten: 0, bytesWritten: 0, readRequests: 0, durationMs, lastRecordTimeMs: null };
}

/** The open file of one partition (the only one of an unpartitioned table). */
interface OpenWriter {
  writer: ParquetFileWriter;
  /** The schema version the writer's columns were taken from. */
  version: number;
}

/**
 * Rows → data files. A file's columns are fixed, so a discovered column closes the open writer (its
 * upload finishes in the background) and opens one with the wider schema; files without the new
 * column read it as null. A partitioned table has one writer per partition value met in the batch:
 * the partition values are carried in the file's directory and `partitionValues` (Delta), and, when
 * the table materializes them, by the writer as constant columns at the end of the file (never
 * through the row sink). Appending stays synchronous: no await per row.
 */
class ChangelogFiles {
  /** Keyed by the partition values ('' for an unpartitioned table). */
  private readonly writers = new Map<string, OpenWriter>();
  private readonly closing: Promise<WrittenFile[]>[] = [];
  private readonly partitioned: boolean;
  /** The last row's partition values (`schema.partitions` order) and their key; null before the first row. */
  private readonly partitionTexts: (string | null)[];
  private lastKey: string | null = null;
  rows = 0;

  constructor(
    private readonly store: ObjectStore,
    private readonly schema: BatchSchema,
    private readonly input: ChannelTaskInput,
    private readonly resources: WorkerResources,
  ) {
    this.partitioned = schema.partitions.length > 0;
    this.partitionTexts = schema.partitions.map(() => null);
  }

  /** One row, put into its partition's column builders by `sink`. */
  append(sink: ColumnarRowSink): void {
    let key = '';
    if (this.partitioned) key = this.partitionKey(sink);
    let open = this.writers.get(key);
    if (open !== undefined && open.version !== this.schema.version) {
      this.retire(open.writer);
      open = undefined;
    }
    if (open === undefined) {
      open = { writer: this.openWriter(this.partitioned ? sink.partitionValues() : null), version: this.schema.version };
      this.writers.set(key, open);
    }
    open.writer.appendWith(sink);
    this.rows++;
  }

  /**
   * The writers' key of the row's partition: the last row's key when the values are the same (rows of a
   * batch mostly share their partition), so a row costs no object, array or JSON text for it.
   */
  private partitionKey(sink: ColumnarRowSink): string {
    const texts = this.partitionTexts;
    let same = this.lastKey !== null;
    for (let k = 0; k < texts.length; k++) {
      const text = sink.partitionText(k);
      if (text !== texts[k]) {
        texts[k] = text;
        same = false;
      }
    }
    if (!same) this.lastKey = JSON.stringify(texts);
    return this.lastKey!;
  }

  /** Backpressure: lets the encoders catch up between pages. */
  async drain(): Promise<void> {
    for (const open of this.writers.values()) await open.writer.drain();
  }

  async close(): Promise<WrittenFile[]> {
    for (const open of this.writers.values()) this.retire(open.writer);
    this.writers.clear();
    return (await Promise.all(this.closing)).flat();
  }

  /** Best effort: files of a batch that never commits are invisible anyway, and vacuum removes them. */
  async abort(reason: unknown): Promise<void> {
    const open = [...this.writers.values()];
    this.writers.clear();
    await Promise.allSettled(open.map((o) => o.writer.abort(reason)));
    const settled = await Promise.allSettled(this.closing);
    const paths = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value.map((f) => f.path) : []));
    await Promise.allSettled(paths.map((p) => this.store.delete(p)));
  }

  private openWriter(partitionValues: Record<string, string | null> | null): ParquetFileWriter {
    const staging = this.input.destination === 'staging';
    return new ParquetFileWriter({
      store: this.store,
      columns: this.schema.fileColumns(this.input.fieldIds),
      // Without a directory the writer files a partition's rows under its Hive-style directory.
      ...(staging ? { directory: stagingDirectory(this.input.batchId) } : partitionValues ? { partitionValues } : { directory: '' }),
      ...(partitionValues && this.input.materializePartitions ? { partitionColumns: this.schema.partitionFileColumns(this.input.fieldIds) } : {}),
      targetFileBytes: this.input.targetFileBytes,
      rowGroupRows: this.resources.rowGroupRows,
      compression: this.resources.compression,
    });
  }

  private retire(writer: ParquetFileWriter): void {
    const closed = writer.close();
    // Awaited in close()/abort(); never an unhandled rejection in between.
    closed.catch(() => undefined);
    this.closing.push(closed);
  }
}

/** The mirror buckets the landed rows fall into, so the batch merges only those (docs/mirror.md). */
class BucketTracker {
  private readonly seen = new Set<number>();
  private readonly keyColumns;

  constructor(
    input: ChannelTaskInput,
    private readonly count: number,
  ) {
    this.keyColumns = keyColumnsOf(input.primaryKey.map((k) => ({ name: k.name, type: columnTypeOfPrimaryKey(k.type) })));
  }

  add(sink: ColumnarRowSink): void {
    this.seen.add(bucketOf(encodeKey(this.keyColumns, sink.primaryKeyRow(this.keyColumns)), this.count));
  }

  sorted(): number[] {
    return [...this.seen].sort((a, b) => a - b);
  }
}

export async function readChannel(input: ChannelTaskInput, resources: WorkerResources = threadResources()): Promise<ChannelTaskOk> {
  const startedMs = performance.now();
  checkInput(input);
  if (input.startToken === FINISHED_TOKEN) {
    return {
      kind: 'ok',
      endToken: FINISHED_TOKEN,
      finished: true,
      endedOnBudget: false,
      files: [],
      deadLetters: [],
      offsetSeq: null,
      newColumns: [],
      lastSequence: null,
      stats: emptyStats(),
    };
  }
  const store = resources.tableStore(input.tablePath);
  const lander = new RecordLander(input, store, resources);
  try {
    const read = await readPages(input, resources.tunnelClient(), lander, startedMs);
    return await finish(input, store, lander, read, startedMs);
  } catch (err) {
    await lander.output.abort(err);
    throw err;
  }
}

/** Where reading stopped. */
interface ReadEnd {
  readonly token: string;
  readonly finished: boolean;
  /** Reading stopped on the record, byte or time budget, not at the channel's live tail. */
  readonly endedOnBudget: boolean;
  readonly records: number;
  readonly readRequests: number;
}

/**
 * ReadRecords page after page until the budget, "finished", or the live tail; every record to the lander.
 * The next page is requested before this one is decoded (its token is this page's next_token, so one
 * request ahead is as far as a channel can go), so decoding overlaps the round trip. No request is made
 * past a budget this page already reaches; only the time budget can leave a read page unused.
 */
async function readPages(input: ChannelTaskInput, client: TunnelClient, lander: RecordLander, startedMs: number): Promise<ReadEnd> {
  const { maxRecords, maxBytes, maxDurationMs } = input.budget;
  const read = (token: string): Promise<RecordPage> => {
    const page = client.readRecordPage({ tunnel_id: input.tunnelId, client_id: input.clientId, channel_id: input.channelId, token });
    page.catch(() => undefined); // awaited below, or abandoned at the time budget: never unhandled
    return page;
  };
  let token = input.startToken;
  let pending = read(token);
  let records = 0;
  let readRequests = 1;
  for (;;) {
    const pageToken = token;
    const page = await pending;
    token = page.next_token;
    // The live tail (an empty page, or the server saying no more is there), or a budget this page reaches.
    const last =
      token === FINISHED_TOKEN ||
      page.count === 0 ||
      page.may_more_record === false ||
      records + page.count >= maxRecords ||
      lander.bytesRead + page.recordBytes >= maxBytes ||
      performance.now() - startedMs >= maxDurationMs;
    if (!last) {
      pending = read(token);
      readRequests++;
    }
    for (let i = 0; i < page.count; i++) lander.land(page, i, pageToken);
    records += page.count;
    // The builders copied what they keep, dead letters their base64: the body can serve the next response.
    page.release();
    await lander.output.drain();
    if (token === FINISHED_TOKEN) return { token, finished: true, endedOnBudget: false, records, readRequests };
    // The live tail (an empty page, or the server saying no more is there): stop instead of spinning.
    const atTail = page.count === 0 || page.may_more_record === false;
    if (atTail) break;
    if (last || performance.now() - startedMs >= maxDurationMs) return { token, finished: false, endedOnBudget: true, records, readRequests };
  }
  return { token, finished: false, endedOnBudget: false, records, readRequests };
}

/** Files closed, dead letters written, the offset entry claimed (when the position moved): the task's result. */
async function finish(input: ChannelTaskInput, store: ObjectStore, lander: RecordLander, read: ReadEnd, startedMs: number): Promise<ChannelTaskOk> {
  const files = await lander.output.close();
  const dead = await lander.deadLetters.write(store);
  const moved = read.records > 0 || read.token !== input.startToken;
  const entry = moved
    ? await claimOffsetEntry(store, input.committedSeq, {
        tunnelId: input.tunnelId,
        channelId: input.channelId,
        batchId: input.batchId,
        startToken: input.startToken,
        endToken: read.token,
        finished: read.finished,
        records: read.records,
        lastSequence: lander.lastSequence,
      })
    : null;
  return {
    kind: 'ok',
    endToken: read.token,
    finished: read.finished,
    endedOnBudget: read.endedOnBudget,
    files,
    deadLetters: dead ? [dead] : [],
    offsetSeq: entry?.seq ?? null,
    newColumns: [...lander.schema.newColumns],
    lastSequence: lander.lastSequence,
    ...(lander.buckets ? { touchedBuckets: lander.buckets.sorted() } : {}),
    typeConflicts: lander.typeConflicts(),
    stats: {
      records: read.records,
      bytesRead: lander.bytesRead,
      rowsWritten: lander.output.rows,
      bytesWritten: files.reduce((sum, f) => sum + f.size, 0),
      readRequests: read.readRequests,
      durationMs: Math.round(performance.now() - startedMs),
      lastRecordTimeMs: lander.newestUs >= 0 ? Math.floor(lander.newestUs / 1000) : null,
    },
  };
}

/**
 * Each record to exactly one place: a row in the data files, or the dead letters (oversized,
 * corrupt, a value or column that cannot land). Keeps what the result reports about them.
 */
class RecordLander {
  readonly schema: BatchSchema;
  readonly output: ChangelogFiles;
  readonly deadLetters: DeadLetters;
  readonly buckets: BucketTracker | null;
  private readonly sink: ColumnarRowSink;
  private readonly deadLetteredConflicts = new Map<string, number>();
  /** One options object for every record: a literal per record would be garbage per record. */
  private readonly decodeOptions: { channelId: string; firstRecordIndex: number };
  bytesRead = 0;
  newestUs = -1;
  /** The last sequence seen, kept as numbers: formatting it per record would cost a string each. */
  private seqSeen = false;
  private seqEpoch = 0;
  private seqTimestampUs = 0;
  private seqRowIndex = 0;

  constructor(
    private readonly input: ChannelTaskInput,
    store: ObjectStore,
    resources: WorkerResources,
  ) {
    const selection = ColumnSelection.of(input.select);
    this.schema = new BatchSchema(input.columns, input.primaryKey, input.discoverColumns, input.partitionColumns ?? [], input.metadataPrefix, selection);
    this.sink = new ColumnarRowSink(this.schema, input.channelId, input.typeConflictPolicy ?? 'dead-letter');
    this.decodeOptions = { channelId: input.channelId, firstRecordIndex: 0 };
    this.buckets = input.mode === 'mirror' && input.mirrorBuckets !== undefined ? new BucketTracker(input, input.mirrorBuckets) : null;
    this.deadLetters = new DeadLetters(input.channelId, input.batchId);
    this.output = new ChangelogFiles(store, this.schema, input, resources);
  }

  /** Record `recordIndex` of `page`. */
  land(page: RecordPage, recordIndex: number, pageToken: string): void {
    const { input, sink } = this;
    const size = page.sizeOf(recordIndex);
    this.bytesRead += size;
    if (size > input.maxRowBytes) {
      this.deadLetters.addRawRecord('oversized-row', page.record(recordIndex), { token: pageToken, recordIndex }, { bytes: size });
      return;
    }
    try {
      this.decodeOptions.firstRecordIndex = recordIndex;
      decoder.decodePageRecordRaw(page, recordIndex, sink, this.decodeOptions);
    } catch (err) {
      if (!hasCode(err, 'OTSL_DECODE_CORRUPT_RECORD')) throw err;
      const e = err as OtslakeError;
      const record = page.record(recordIndex);
      this.deadLetters.addRawRecord('corrupt-record', record, { token: pageToken, recordIndex }, { error: { code: e.code, message: e.message } });
      return;
    }
    if (sink.hasSequence) {
      this.seqSeen = true;
      this.seqEpoch = sink.seqEpoch;
      this.seqTimestampUs = sink.seqTimestampUs;
      this.seqRowIndex = sink.seqRowIndex;
    }
    if (sink.timestampUs > this.newestUs) this.newestUs = sink.timestampUs;
    if (sink.verdict !== 'ok') {
      const column = sink.problem!.column;
      if (sink.verdict === 'type-mismatch') this.deadLetteredConflicts.set(column, (this.deadLetteredConflicts.get(column) ?? 0) + 1);
      this.deadLetters.addRow(sink.verdict, page.record(recordIndex), { token: pageToken, recordIndex }, sink.problem!);
      return;
    }
    sink.acceptRow();
    this.output.append(sink);
    this.buckets?.add(sink);
  }

  /** `_seq` of the last record read that had one. */
  get lastSequence(): string | null {
    return this.seqSeen ? formatSequence(this.seqEpoch, this.seqTimestampUs, this.seqRowIndex) : null;
  }

  /** Values of the wrong type: landed in companions per the policy, or rows dead-lettered for it. */
  typeConflicts(): NonNullable<ChannelTaskOk['typeConflicts']> {
    const deadLettered = [...this.deadLetteredConflicts].map(([column, count]) => ({ column, policy: 'dead-letter' as const, count }));
    return [...this.sink.typeConflicts(), ...deadLettered];
  }
}
