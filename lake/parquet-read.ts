/**
 * Reading Parquet (checkpoints, sidecars, data files in tests) with hyparquet.
 *
 * hyparquet decodes SNAPPY itself; Spark and delta-rs also write ZSTD and GZIP checkpoints, so the
 * missing codecs are supplied here (zstd through the wasm build, the rest through node:zlib).
 * Nested columns come back assembled: structs as objects, lists as arrays, string-keyed maps as
 * plain objects; int64 as bigint. A null struct or column is absent or null on the row.
 */
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { parquetMetadata, parquetReadObjects, parquetSchema } from 'hyparquet';
import type { Compressors, FileMetaData, ParquetParsers } from 'hyparquet';
import { OtslakeError } from '../common/errors.js';

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
