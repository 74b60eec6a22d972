/**
 * Reading Parquet (checkpoints, sidecars, data files in tests) with hyparquet.
 *
 * hyparquet decodes SNAPPY itself; Spark and delta-rs also write ZSTD and GZIP checkpoints, so the
 * missing codecs are supplied here (zstd through the wasm build, the rest through node:zlib).
 * Nested columns come back assembled: structs as objects, lists as arrays, string-keyed maps as
 * plain objects; int64 as bigint. A null struct or column is absent or null on the row.
 *
 * Large checkpoints are the exception: a day of one-second batches leaves ~86k tombstones in every
 * checkpoint, and hyparquet's row assembly takes ~1.8 s for them where parquet-rs into Arrow, then
 * one pass per column, takes a few hundred ms (bench/checkpoint.ts). readSparseRows picks the path
 * by size and returns the same shapes either way.
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import * as arrow from './arrow.js';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { Compressors, FileMetaData, ParquetParsers } from 'hyparquet';
import { OtslakeError } from '../common/errors.js';
import { parquetWasm } from './parquet-wasm.js';

let zstdDecompress: ((buf: Uint8Array, opts?: { defaultHeapSize?: number }) => Uint8Array) | undefined;

/** Loads the zstd wasm module once; cheap after the first call. */
async function ensureZstd(): Promise<void> {
  if (zstdDecompress) return;
  const mod = await import('@bokuweb/zstd-wasm');
  await mod.init();
  zstdDecompress = mod.decompress;
}

const compressors: Compressors = {
  ZSTD: (input, outputLength) => {
    if (!zstdDecompress) throw new Error('zstd decoder not initialised');
    return zstdDecompress(input, { defaultHeapSize: Math.max(outputLength, 1024) });
  },
  GZIP: (input) => new Uint8Array(gunzipSync(input)),
  BROTLI: (input) => new Uint8Array(brotliDecompressSync(input)),
};

export interface ReadParquetOptions {
  /** Top-level column names to decode; all when omitted. Columns absent from the file are skipped. */
  columns?: string[];
  /** For error context: the key or path the bytes came from. */
  file?: string;
  /** false: un-annotated BYTE_ARRAY (Delta `binary`) stays Uint8Array instead of becoming a string. */
  utf8?: boolean;
  /** hyparquet's value parsers, e.g. `timestampFromMicroseconds: (us) => us` to keep µs exact. */
  parsers?: Partial<ParquetParsers>;
}

export type ParquetRow = Record<string, unknown>;

function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && bytes.buffer instanceof ArrayBuffer) return bytes.buffer;
  return bytes.slice().buffer as ArrayBuffer;
}

/** Names of the top-level columns of a file, from its footer. */
export function topLevelColumns(metadata: FileMetaData): string[] {
  return parquetSchema(metadata).children.map((c) => c.element.name);
}

/**
 * Decodes a whole Parquet file into row objects. Only the requested top-level columns are decoded,
 * which for checkpoints skips e.g. `add.stats_parsed` unless asked for.
 */
export async function readParquetRows(bytes: Uint8Array, options: ReadParquetOptions = {}): Promise<ParquetRow[]> {
  const file = toArrayBuffer(bytes);
  try {
    const metadata = parquetMetadata(file);
    if (metadata.row_groups.some((rg) => rg.columns.some((c) => c.meta_data?.codec === 'ZSTD'))) await ensureZstd();
    let columns = options.columns;
    if (columns) {
      const present = new Set(topLevelColumns(metadata));
      columns = columns.filter((c) => present.has(c));
      if (columns.length === 0) return Array.from({ length: Number(metadata.num_rows) }, () => ({}));
    }
    return (await parquetReadObjects({
      file,
      metadata,
      compressors,
      ...(columns ? { columns } : {}),
      ...(options.utf8 === undefined ? {} : { utf8: options.utf8 }),
      ...(options.parsers ? { parsers: options.parsers } : {}),
    })) as ParquetRow[];
  } catch (err) {
    if (err instanceof OtslakeError) throw err;
    throw new OtslakeError('OTSL_PARQUET_READ', `cannot decode Parquet file ${options.file ?? ''}: ${(err as Error).message}`.trim(), {
      cause: err,
      context: options.file === undefined ? {} : { file: options.file },
    });
  }
}

/** The footer of a Parquet file (schema, row groups, key-value metadata). */
export function readParquetMetadata(bytes: Uint8Array, file?: string): FileMetaData {
  try {
    return parquetMetadata(toArrayBuffer(bytes));
  } catch (err) {
    throw new OtslakeError('OTSL_PARQUET_READ', `cannot read the Parquet footer of ${file ?? 'a file'}: ${(err as Error).message}`, {
      cause: err,
      context: file === undefined ? {} : { file },
    });
  }
}

// ---- checkpoint-sized files through parquet-rs and Arrow ----

/** Reads the value at an index of one chunk; null checks are the caller's. */
type Read = (index: number) => unknown;
/**
 * Binds a converter to one chunk's Data once. Arrow's own get() builds a Vector per map or list
 * value and binary-searches chunks per call; reading offsets and child data directly is ~5x faster.
 */
type Bind = (data: arrow.Data) => Read;

const leaf =
  (wrap?: (v: unknown) => unknown): Bind =>
  (data) => {
    const vector = arrow.makeVector(data);
    return wrap ? (index) => wrap(vector.get(index)) : (index) => vector.get(index);
  };

/** A converter to hyparquet's shapes for the Arrow type, or null for a type this path leaves to hyparquet. */
function converterOf(type: arrow.DataType): Bind | null {
  if (arrow.DataType.isStruct(type)) {
    const fields = type.children.map((f) => ({ name: f.name, bind: converterOf(f.type) }));
    if (fields.some((c) => c.bind === null)) return null;
    return (data) => {
      if (data.children.length !== fields.length) throw new Error(`struct ${String(data.type)} has ${data.children.length} child arrays`);
      const bound = fields.map((c, k) => ({ name: c.name, child: data.children[k]!, read: c.bind!(data.children[k]!) }));
      return (index) => {
        const out: Record<string, unknown> = {};
        for (const c of bound) out[c.name] = c.child.getValid(index) ? c.read(index) : null;
        return out;
      };
    };
  }
  if (arrow.DataType.isMap(type) || arrow.DataType.isList(type)) {
    const isMap = arrow.DataType.isMap(type);
    const entry = type.children[0]!.type;
    // Maps: string-keyed, as plain objects (hyparquet's shape). Lists: arrays.
    const key = isMap ? converterOf((entry as arrow.Struct).children[0]!.type) : null;
    const value = isMap ? converterOf((entry as arrow.Struct).children[1]!.type) : converterOf(entry);
    if (value === null || (isMap && key === null)) return null;
    return (data) => {
      const offsets = data.valueOffsets;
      const items = isMap ? data.children[0]!.children[1]! : data.children[0]!;
      const readValue = value(items);
      if (!isMap) {
        return (index) => {
          const out: unknown[] = [];
          for (let j = offsets[index]!; j < offsets[index + 1]!; j++) out.push(items.getValid(j) ? readValue(j) : null);
          return out;
        };
      }
      const readKey = key!(data.children[0]!.children[0]!);
      return (index) => {
        const out: Record<string, unknown> = {};
        for (let j = offsets[index]!; j < offsets[index + 1]!; j++) out[String(readKey(j))] = items.getValid(j) ? readValue(j) : null;
        return out;
      };
    };
  }
  if (arrow.DataType.isTimestamp(type) || arrow.DataType.isDate(type)) return leaf((ms) => new Date(ms as number));
  if (
    arrow.DataType.isUtf8(type) ||
    arrow.DataType.isLargeUtf8(type) ||
    arrow.DataType.isBool(type) ||
    arrow.DataType.isInt(type) ||
    arrow.DataType.isFloat(type)
  ) {
    return leaf();
  }
  return null;
}

/**
 * parquet-rs costs ~7 ms per file before the first row, hyparquet ~20 µs per row: small checkpoints
 * and sidecars (most tables' ones) stay with hyparquet.
 */
const ARROW_MIN_ROWS = 1_000;

/**
 * The requested top-level columns of a file as sparse rows: a row holds only its non-null columns,
 * in hyparquet's shapes (structs as objects, maps as plain objects, int64 as bigint, dates as Date).
 * Decoded by parquet-rs into Arrow (readRowsViaArrow) from ARROW_MIN_ROWS rows when it can, else by
 * hyparquet, which reports a corrupt file as OTSL_PARQUET_READ.
 */
export async function readSparseRows(bytes: Uint8Array, options: { columns: string[]; file?: string }): Promise<ParquetRow[]> {
  const metadata = readParquetMetadata(bytes, options.file);
  const present = new Set(topLevelColumns(metadata));
  const columns = options.columns.filter((c) => present.has(c));
  const rows = Number(metadata.num_rows);
  if (columns.length === 0) return Array.from({ length: rows }, () => ({}));
  const arrowRows = rows >= ARROW_MIN_ROWS ? readRowsViaArrow(bytes, columns) : null;
  return arrowRows ?? sparse(await readParquetRows(bytes, { columns, ...(options.file === undefined ? {} : { file: options.file }) }));
}

/**
 * readSparseRows through parquet-rs and Arrow; null when parquet-rs refuses the file or a column
 * holds a type or layout this path does not convert. `columns` must all exist in the file.
 */
export function readRowsViaArrow(bytes: Uint8Array, columns: string[]): ParquetRow[] | null {
  try {
    const table = arrow.tableFromIPC(parquetWasm().readParquet(bytes, { columns, batchSize: 65_536 }).intoIPCStream());
    const converters = table.schema.fields.map((f) => ({ name: f.name, bind: converterOf(f.type) }));
    if (converters.some((c) => c.bind === null)) return null;
    const rows: ParquetRow[] = Array.from({ length: table.numRows }, () => ({}));
    let base = 0;
    for (const batch of table.batches) {
      for (const { name, bind } of converters) {
        const data = batch.getChild(name)!.data[0]!;
        if (data.length === 0) continue;
        const read = bind!(data);
        for (let i = 0; i < data.length; i++) if (data.getValid(i)) rows[base + i]![name] = read(i);
      }
      base += batch.numRows;
    }
    return rows;
  } catch {
    return null;
  }
}

/** hyparquet rows with their null columns dropped, the shape readRowsViaArrow returns. */
export function sparse(rows: ParquetRow[]): ParquetRow[] {
  for (const row of rows) for (const k of Object.keys(row)) if (row[k] === null || row[k] === undefined) delete row[k];
  return rows;
}
