/**
 * Writes rows into Parquet data files of a Delta table: rows are appended to typed column buffers,
 * each full row group is handed to parquet-rs (parquet-wasm) at once and its buffers reused, and the
 * encoded bytes stream into the object store while later rows arrive. So a batch is never held twice:
 * only the row group being filled lives in JS, and only what parquet-rs has not yet emitted lives in
 * wasm. Files roll at a target size; each closed file comes back with the stats of its rows.
 *
 * Encoder choice, page format and figures: docs/parquet.md.
 */
import { randomUUID } from 'node:crypto';
import * as arrow from './arrow.js';
import type * as pw from 'parquet-wasm';
import { OtslakeError, hasCode } from '../common/errors.js';
import type { FileStats } from './actions.js';
import { computeFileStats, type StatsOptions } from './file-stats.js';
import type { ObjectStore } from './object-store.js';
import { createColumnBuilder, type ColumnBuilder } from './column-builders.js';
import { ConstantColumn, type PartitionColumnSpec } from './partition-columns.js';
import { arrowSchemaOf, type ColumnSpec } from './parquet-columns.js';
import { parquetWasm } from './parquet-wasm.js';
import { partitionDirectory } from './partition-path.js';

export type ParquetCompression = 'zstd' | 'snappy' | 'uncompressed';

export const DEFAULT_TARGET_FILE_BYTES = 128 * 1024 * 1024;
export const DEFAULT_ROW_GROUP_ROWS = 100_000;
const DEFAULT_ROW_GROUP_BYTES = 64 * 1024 * 1024;
const ENGINE = 'otslake (parquet-rs via parquet-wasm)';

export interface ParquetFileWriterOptions {
  store: ObjectStore;
  /** The columns of the file, in order, filled by the rows; partition columns are not among them. */
  columns: readonly ColumnSpec[];
  partitionValues?: Record<string, string | null>;
  /**
   * Materialized partition columns (lake/partition-columns.ts): written after `columns`, every row
   * holding the file's value from `partitionValues`. None (the Delta default): not in the file.
   */
  partitionColumns?: readonly PartitionColumnSpec[];
  /** Directory inside the table ('' = root, else ending in '/'); by default the Hive-style partition path. */
  directory?: string;
  /** Files roll once their estimated size reaches this (approximate: it is known exactly only after encoding). */
  targetFileBytes?: number;
  rowGroupRows?: number;
  /** Uncompressed bytes of buffered column data that close a row group early (wide rows). */
  rowGroupBytes?: number;
  compression?: ParquetCompression;
  stats?: StatsOptions;
  signal?: AbortSignal;
}

/** One finished data file, ready to become an `add` action (see `addActionFor`). */
export interface WrittenFile {
  /** Key relative to the table root, not URI-encoded. */
  path: string;
  size: number;
  numRecords: number;
  modificationTime: number;
  partitionValues: Record<string, string | null>;
  stats: FileStats;
}

interface OpenFile {
  path: string;
  /** Per column, from the file's first row group (dictionaryChoice). */
  dictionary: boolean[];
  rows: number;
  rawBytes: number;
  emittedBytes: number;
  controller: ReadableStreamDefaultController<pw.RecordBatch>;
  /** Resolves when parquet-rs asks for more input: the backlog is consumed. */
  pulled: Promise<void>;
  upload: Promise<WrittenFile>;
  /** Set when the file is finished: everything but what the store reports. */
  result?: WrittenFile;
}

function codecOf(compression: ParquetCompression): pw.Compression {
  const { Compression } = parquetWasm();
  return compression === 'zstd' ? Compression.ZSTD : compression === 'snappy' ? Compression.SNAPPY : Compression.UNCOMPRESSED;
}

/**
 * The dictionary rule (docs/parquet.md §Settings of the channel task): a column gets a dictionary when, in a sample of
 * the file's first row group, at most this share of the values is distinct. Mostly-distinct columns (ids,
 * timestamps, `_seq`, free text) would fill a dictionary, overflow it and fall back to PLAIN, paying for
 * both: ~2x the time and ~1.6x the bytes of PLAIN + zstd. Enums (`_op`, status, cities) shrink to almost nothing.
 */
export const DICTIONARY_MAX_DISTINCT_RATIO = 0.5;

/** Per column: dictionary or not, from the row group in the builders (types without an estimate keep their default). */
export function dictionaryChoice(builders: readonly ColumnBuilder[]): boolean[] {
  return builders.map((b) => {
    const ratio = b.distinctRatio();
    if (ratio < 0) return !(b.spec.type === 'long' || b.spec.type === 'timestamp' || b.spec.type === 'double');
    return ratio <= DICTIONARY_MAX_DISTINCT_RATIO;
  });
}

function writerProperties(
  columns: readonly ColumnSpec[],
  compression: ParquetCompression,
  rowGroupRows: number,
  dictionary: readonly boolean[],
): pw.WriterProperties {
  // Data Page V1: the Delta spec's default `delta.parquet.format.version` 1.0.0 and what every engine reads.
  const { WriterPropertiesBuilder, WriterVersion, EnabledStatistics } = parquetWasm();
  let builder = new WriterPropertiesBuilder()
    .setWriterVersion(WriterVersion.V1)
    .setCompression(codecOf(compression))
    .setStatisticsEnabled(EnabledStatistics.Chunk)
    .setMaxRowGroupSize(rowGroupRows)
    .setCreatedBy(ENGINE);
  // DELTA_BINARY_PACKED would make int64 columns smaller still, but Spark before 3.3 cannot read it vectorized.
  columns.forEach((c, i) => {
    if (c.type !== 'array<string>') builder = builder.setColumnDictionaryEnabled(c.name, dictionary[i] ?? true);
  });
  return builder.build();
}

/** Fills one row: exactly one value (or null) per builder. */
export interface RowFiller {
  fillRow(builders: readonly ColumnBuilder[]): void;
}

export class ParquetFileWriter {
  private readonly columns: readonly ColumnSpec[];
  private readonly builders: ColumnBuilder[];
  private readonly constants: readonly ConstantColumn[];
  private readonly schema: arrow.Schema;
  private readonly structType: arrow.Struct;
  private readonly directory: string;
  private readonly partitionValues: Record<string, string | null>;
  private readonly targetFileBytes: number;
  private readonly rowGroupRows: number;
  private readonly rowGroupBytes: number;
  private readonly compression: ParquetCompression;
  private current: OpenFile | null = null;
  private readonly uploads: Promise<WrittenFile>[] = [];
  private fileSeq = 0;
  /** Observed compressed/raw ratio, used to estimate a file's size before parquet-rs emits it. */
  private ratio = 0.35;
  private failure: unknown = null;
  private closed = false;

  constructor(private readonly options: ParquetFileWriterOptions) {
    if (options.columns.length === 0) throw new OtslakeError('OTSL_PARQUET_WRITE', 'a Parquet file needs at least one column');
    const names = new Set<string>();
    for (const c of options.columns) {
      if (names.has(c.name.toLowerCase())) throw new OtslakeError('OTSL_LAKE_SCHEMA', `duplicate column "${c.name}"`, { context: { column: c.name } });
      names.add(c.name.toLowerCase());
    }
    this.columns = options.columns;
    this.builders = options.columns.map(createColumnBuilder);
    this.partitionValues = options.partitionValues ?? {};
    this.constants = (options.partitionColumns ?? []).map((spec) => {
      if (names.has(spec.name.toLowerCase())) throw new OtslakeError('OTSL_LAKE_SCHEMA', `duplicate column "${spec.name}"`, { context: { column: spec.name } });
      if (!(spec.name in this.partitionValues)) {
        throw new OtslakeError('OTSL_INTERNAL', `materialized partition column "${spec.name}" has no partition value`, { context: { column: spec.name } });
      }
      return new ConstantColumn(spec, this.partitionValues[spec.name]);
    });
    const data = arrowSchemaOf(options.columns);
    this.schema = this.constants.length === 0 ? data : new arrow.Schema([...data.fields, ...this.constants.map((c) => c.field)]);
    this.structType = new arrow.Struct(this.schema.fields);
    this.directory = options.directory ?? partitionDirectory(this.partitionValues);
    this.targetFileBytes = options.targetFileBytes ?? DEFAULT_TARGET_FILE_BYTES;
    this.rowGroupRows = options.rowGroupRows ?? DEFAULT_ROW_GROUP_ROWS;
    this.rowGroupBytes = Math.min(options.rowGroupBytes ?? DEFAULT_ROW_GROUP_BYTES, this.targetFileBytes);
    this.compression = options.compression ?? 'zstd';
  }

  /** Rows appended to the open row group so far. */
  get bufferedRows(): number {
    return this.builders[0]!.length;
  }

  /**
   * Appends one row whose values `filler` puts into the builders itself (columnar callers: one value,
   * possibly null, per builder, in column order). Like appendRow, a throw leaves the writer unusable.
   */
  appendWith(filler: RowFiller): void {
    this.checkUsable();
    try {
      filler.fillRow(this.builders);
    } catch (err) {
      this.failure = err;
      throw err;
    }
    const rows = this.builders[0]!.length;
    // Summing every builder's size per row costs more than the check is worth: every 64 rows is enough.
    if (rows >= this.rowGroupRows || ((rows & 63) === 0 && this.bufferedBytes() >= this.rowGroupBytes)) this.flushRowGroup();
  }

  /**
   * Appends one row (column name → value; a missing key is null). A value of the wrong type throws
   * OTSL_LAKE_SCHEMA and leaves the writer unusable (its columns would no longer line up): abort it.
   */
  appendRow(row: Readonly<Record<string, unknown>>): void {
    this.checkUsable();
    try {
      for (let i = 0; i < this.builders.length; i++) this.builders[i]!.append(row[this.columns[i]!.name]);
    } catch (err) {
      this.failure = err;
      throw err;
    }
    if (this.builders[0]!.length >= this.rowGroupRows || this.bufferedBytes() >= this.rowGroupBytes) this.flushRowGroup();
  }

  /** Waits until the encoder has taken every flushed row group (backpressure), surfacing upload errors. */
  async drain(): Promise<void> {
    this.checkUsable();
    const file = this.current;
    // desiredSize ≤ 0: row groups are queued that parquet-rs has not taken yet; wait for its next pull.
    while (file && this.current === file && (file.controller.desiredSize ?? 1) <= 0 && !this.failure) {
      await Promise.race([file.pulled, file.upload.then(() => undefined)]);
    }
    this.checkUsable();
  }

  /** Flushes and closes the last file; returns every file written, in order. No rows → no file. */
  async close(): Promise<WrittenFile[]> {
    this.checkUsable();
    this.closed = true;
    // A file of one row group (a channel task's usual output) is encoded in one call, no stream.
    if (this.current === null && this.bufferedRows > 0) this.writeWholeFile();
    if (this.bufferedRows > 0) this.flushRowGroup();
    if (this.current) this.finishFile();
    // Every row is serialized and the stats are taken: the next writer on this thread may have the buffers.
    for (const b of this.builders) b.releaseBuffers();
    const files = await Promise.all(this.uploads);
    return files;
  }

  /** Stops writing and deletes the files already uploaded (best effort; vacuum removes leftovers). */
  async abort(reason?: unknown): Promise<void> {
    this.closed = true;
    this.failure ??= reason ?? new OtslakeError('OTSL_ABORTED', 'Parquet writer aborted');
    if (this.current) {
      try {
        this.current.controller.error(this.failure);
      } catch {
        /* already closed */
      }
      this.current = null;
    }
    const settled = await Promise.allSettled(this.uploads);
    await Promise.allSettled(settled.map((s) => (s.status === 'fulfilled' ? this.options.store.delete(s.value.path) : undefined)));
  }

  private checkUsable(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new OtslakeError('OTSL_INTERNAL', 'Parquet writer used after close');
  }

  private bufferedBytes(): number {
    let sum = 0;
    for (let i = 0; i < this.builders.length; i++) sum += this.builders[i]!.byteSize;
    return sum;
  }

  private flushRowGroup(): void {
    const rows = this.bufferedRows;
    if (rows === 0) return;
    const rawBytes = this.bufferedBytes();
    const file = (this.current ??= this.openFile());
    const ipc = this.takeRowGroupIPC(rows);
    try {
      const table = parquetWasm().Table.fromIPCStream(ipc);
      // The batches share the table's buffers; freeing the table now (not at some GC) drops its references,
      // and parquet-rs frees each batch once written, so wasm memory holds about one row group.
      const batches = table.recordBatches();
      table.free();
      for (const batch of batches) file.controller.enqueue(batch);
    } catch (err) {
      this.failure = new OtslakeError('OTSL_PARQUET_WRITE', `encoding a row group failed: ${(err as Error).message}`, {
        cause: err,
        context: { file: file.path },
      });
      throw this.failure;
    }
    file.rows += rows;
    file.rawBytes += rawBytes;
    if (Math.max(file.emittedBytes, file.rawBytes * this.ratio) >= this.targetFileBytes) this.finishFile();
  }

  /** The builders' row group as an Arrow IPC stream (the builders start an empty one). */
  private takeRowGroupIPC(rows: number): Uint8Array {
    const children = this.builders.map((b) => b.takeRowGroup());
    for (const c of this.constants) children.push(c.data(rows));
    const struct = arrow.makeData({ type: this.structType, length: rows, nullCount: 0, children });
    return arrow.tableToIPC(new arrow.Table([new arrow.RecordBatch(this.schema, struct)]), 'stream');
  }

  /** The rows in the builders as one whole file, encoded by one writeParquet call, uploaded in one put. */
  private writeWholeFile(): void {
    const rows = this.bufferedRows;
    const rawBytes = this.bufferedBytes();
    const path = this.nextPath();
    const dictionary = dictionaryChoice(this.builders);
    const stats = this.takeFileStats(rows);
    let bytes: Uint8Array;
    try {
      // writeParquet consumes (frees) the wasm table.
      const { writeParquet, Table } = parquetWasm();
      bytes = writeParquet(Table.fromIPCStream(this.takeRowGroupIPC(rows)), writerProperties(this.columns, this.compression, this.rowGroupRows, dictionary));
    } catch (err) {
      this.failure = new OtslakeError('OTSL_PARQUET_WRITE', `encoding ${path} failed: ${(err as Error).message}`, { cause: err, context: { file: path } });
      throw this.failure;
    }
    const result: WrittenFile = { path, size: 0, numRecords: rows, modificationTime: 0, partitionValues: { ...this.partitionValues }, stats };
    const upload = this.put(path, bytes).then((meta) => {
      if (rawBytes > 0) this.ratio = meta.size / rawBytes;
      return { ...result, size: meta.size, modificationTime: meta.lastModified };
    });
    upload.catch((err: unknown) => {
      this.failure ??= err;
    });
    this.uploads.push(upload);
  }

  private nextPath(): string {
    const suffix = this.compression === 'uncompressed' ? '' : `.${this.compression}`;
    return `${this.directory}part-${String(this.fileSeq++).padStart(5, '0')}-${randomUUID()}.c000${suffix}.parquet`;
  }

  /** The Delta stats of the file's rows so far; the builders' stats restart for the next file. */
  private takeFileStats(rows: number): FileStats {
    const stats = computeFileStats(
      this.columns,
      this.builders.map((b) => ({ ...b.currentStats() })),
      rows,
      this.options.stats,
    );
    for (const b of this.builders) b.resetStats();
    return stats;
  }

  private openFile(): OpenFile {
    const path = this.nextPath();
    let controller!: ReadableStreamDefaultController<pw.RecordBatch>;
    let onPull!: () => void;
    const file = { path, dictionary: dictionaryChoice(this.builders), rows: 0, rawBytes: 0, emittedBytes: 0 } as OpenFile;
    const renewPulled = () => {
      file.pulled = new Promise<void>((resolve) => {
        onPull = resolve;
      });
    };
    renewPulled();
    const input = new ReadableStream<pw.RecordBatch>(
      {
        start: (c) => {
          controller = c;
        },
        pull: () => {
          onPull();
          renewPulled();
        },
      },
      { highWaterMark: 1 },
    );
    file.controller = controller;
    file.upload = this.upload(file, input);
    // Reported through checkUsable/close; never an unhandled rejection in between.
    file.upload.catch((err: unknown) => {
      this.failure ??= err;
    });
    this.uploads.push(file.upload);
    return file;
  }

  private async upload(file: OpenFile, input: ReadableStream<pw.RecordBatch>): Promise<WrittenFile> {
    const properties = writerProperties(this.columns, this.compression, this.rowGroupRows, file.dictionary);
    const body = (async function* () {
      const output = await parquetWasm().transformParquetStream(input, properties);
      const reader = (output as ReadableStream<Uint8Array>).getReader();
      try {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          file.emittedBytes += value.byteLength;
          yield value;
        }
      } finally {
        reader.releaseLock();
      }
    })();
    const meta = await this.put(file.path, body);
    return { ...file.result!, size: meta.size, modificationTime: meta.lastModified };
  }

  private async put(path: string, body: Uint8Array | AsyncIterable<Uint8Array>): Promise<{ size: number; lastModified: number }> {
    try {
      return await this.options.store.put(path, body, this.options.signal ? { signal: this.options.signal } : {});
    } catch (err) {
      // The store's own failures (I/O, OSS unreachable after its retries, abort) keep their code: their fix
      // is the store's, not the batch budgets'. Only what the encoder threw is a Parquet write error.
      if (isStoreError(err)) throw err;
      throw new OtslakeError('OTSL_PARQUET_WRITE', `writing ${path} failed: ${(err as Error).message}`, {
        cause: err,
        context: { file: path, uri: this.options.store.uri },
      });
    }
  }

  /** Ends the current file: its stats are taken now, its upload completes in the background. */
  private finishFile(): void {
    const file = this.current;
    if (!file) return;
    this.current = null;
    const stats = this.takeFileStats(file.rows);
    file.result = { path: file.path, size: 0, numRecords: file.rows, modificationTime: 0, partitionValues: { ...this.partitionValues }, stats };
    void file.upload.then(
      (w) => {
        if (file.rawBytes > 0) this.ratio = w.size / file.rawBytes;
      },
      () => undefined,
    );
    file.controller.close();
  }
}

/** Writes `rows` into as many files as the target size asks for. */
export async function writeParquetFiles(rows: Iterable<Readonly<Record<string, unknown>>>, options: ParquetFileWriterOptions): Promise<WrittenFile[]> {
  const writer = new ParquetFileWriter(options);
  try {
    let n = 0;
    for (const row of rows) {
      writer.appendRow(row);
      if (++n % 8192 === 0) await writer.drain();
    }
    return await writer.close();
  } catch (err) {
    await writer.abort(err);
    throw err;
  }
}

function isStoreError(err: unknown): boolean {
  return (
    typeof err === 'object' &&
    err !== null &&
    typeof (err as { code?: unknown }).code === 'string' &&
    (err as { code: string }).code.startsWith('OTSL_') &&
    !hasCode(err, 'OTSL_INTERNAL')
  );
}
