/**
 * Classic single-file V1 checkpoints (docs/delta-rules.md §Checkpoints) in the schema Spark writes:
 * one row per action, each action a nullable top-level struct; partitionValues, tags, configuration
 * and format.options as real Parquet MAPs (`key_value{required key, optional value}`), lists 3-level.
 * Nested types rule out hyparquet-writer, so checkpoints go through Arrow and parquet-rs (parquet-wasm).
 * The Arrow columns are built here from typed arrays (columnData): apache-arrow's row builders took
 * ~1.1 s for a day's 86k tombstones, a cost the daemon would pay every checkpointInterval commits.
 *
 * Order of writes is what keeps readers safe: the checkpoint is one whole-object put (never visible
 * half-written), and only then `_last_checkpoint` names it. A crash in between leaves a stale hint,
 * which readers treat as a hint only (they list the log). An existing checkpoint is left alone:
 * every writer would produce the same content for a version.
 */
import * as arrow from './arrow.js';
import { parquetWasm } from './parquet-wasm.js';
import { OtslakeError, hasCode } from '../common/errors.js';
import type { Add, DomainMetadata, Metadata, Protocol, Remove, Txn } from './actions.js';
import { readLastCheckpoint } from './last-checkpoint.js';
import { checkpointKey, LAST_CHECKPOINT } from './log-path.js';
import type { ObjectStore } from './object-store.js';
import { loadSnapshot, type Snapshot } from './snapshot.js';
import { ENGINE_INFO } from './transaction.js';

const DEFAULT_CHECKPOINT_INTERVAL = 10;

const f = (name: string, type: arrow.DataType, nullable = true) => new arrow.Field(name, type, nullable);
const utf8 = () => new arrow.Utf8();
const int64 = () => new arrow.Int64();
const int32 = () => new arrow.Int32();
const bool = () => new arrow.Bool();
const stringMap = () => {
  const entries = new arrow.Field(
    'key_value',
    new arrow.Struct<{ key: arrow.Utf8; value: arrow.Utf8 }>([new arrow.Field('key', utf8(), false), new arrow.Field('value', utf8(), true)]),
    false,
  );
  const map = new arrow.Map_(entries, false);
  // apache-arrow renames the entries field to 'entries' (ARROW-8716); Spark's checkpoints and the
  // Parquet spec's convention say 'key_value', and parquet-rs takes the name from the Arrow field.
  (map.children[0] as { name: string }).name = 'key_value';
  return map;
};
const stringList = () => new arrow.List(f('element', utf8(), true));
const deletionVector = () =>
  new arrow.Struct([
    f('storageType', utf8()),
    f('pathOrInlineDv', utf8()),
    f('offset', int32()),
    f('sizeInBytes', int32()),
    f('cardinality', int64()),
    f('maxRowIndex', int64()),
  ]);

/** Field order and types as in Spark's checkpoints (golden dv-partitioned-with-checkpoint). */
const CHECKPOINT_FIELDS = [
  f('txn', new arrow.Struct([f('appId', utf8()), f('version', int64()), f('lastUpdated', int64())])),
  f(
    'add',
    new arrow.Struct([
      f('path', utf8()),
      f('partitionValues', stringMap()),
      f('size', int64()),
      f('modificationTime', int64()),
      f('dataChange', bool()),
      f('tags', stringMap()),
      f('deletionVector', deletionVector()),
      f('baseRowId', int64()),
      f('defaultRowCommitVersion', int64()),
      f('stats', utf8()),
    ]),
  ),
  f(
    'remove',
    new arrow.Struct([
      f('path', utf8()),
      f('deletionTimestamp', int64()),
      f('dataChange', bool()),
      f('extendedFileMetadata', bool()),
      f('partitionValues', stringMap()),
      f('size', int64()),
      f('deletionVector', deletionVector()),
      f('baseRowId', int64()),
      f('defaultRowCommitVersion', int64()),
    ]),
  ),
  f(
    'metaData',
    new arrow.Struct([
      f('id', utf8()),
      f('name', utf8()),
      f('description', utf8()),
      f('format', new arrow.Struct([f('provider', utf8()), f('options', stringMap())])),
      f('schemaString', utf8()),
      f('partitionColumns', stringList()),
      f('configuration', stringMap()),
      f('createdTime', int64()),
    ]),
  ),
  f(
    'protocol',
    new arrow.Struct([f('minReaderVersion', int32()), f('minWriterVersion', int32()), f('readerFeatures', stringList()), f('writerFeatures', stringList())]),
  ),
  f('domainMetadata', new arrow.Struct([f('domain', utf8()), f('configuration', utf8()), f('removed', bool())])),
];

type Row = Partial<Record<'txn' | 'add' | 'remove' | 'metaData' | 'protocol' | 'domainMetadata', unknown>>;

const big = (n: number | null | undefined): bigint | null => (n === null || n === undefined ? null : BigInt(Math.trunc(n)));
const toMap = (o: Record<string, string | null> | null | undefined): Map<string, string | null> | null => (o ? new Map(Object.entries(o)) : null);

function dvRow(dv: Add['deletionVector']): unknown {
  if (!dv) return null;
  return {
    storageType: dv.storageType,
    pathOrInlineDv: dv.pathOrInlineDv,
    offset: dv.offset ?? null,
    sizeInBytes: dv.sizeInBytes,
    cardinality: big(dv.cardinality),
    maxRowIndex: big(dv.maxRowIndex),
  };
}

function addRow(a: Add): Row {
  return {
    add: {
      path: a.path,
      partitionValues: toMap(a.partitionValues),
      size: big(a.size),
      modificationTime: big(a.modificationTime),
      dataChange: a.dataChange,
      tags: toMap(a.tags),
      deletionVector: dvRow(a.deletionVector),
      baseRowId: big(a.baseRowId),
      defaultRowCommitVersion: big(a.defaultRowCommitVersion),
      stats: a.stats ?? null,
    },
  };
}

function removeRow(r: Remove): Row {
  // Checkpoints carry no stats or tags for removes (docs/delta-rules.md §Checkpoints).
  return {
    remove: {
      path: r.path,
      deletionTimestamp: big(r.deletionTimestamp),
      dataChange: r.dataChange,
      extendedFileMetadata: r.extendedFileMetadata ?? null,
      partitionValues: toMap(r.partitionValues),
      size: big(r.size),
      deletionVector: dvRow(r.deletionVector),
      baseRowId: big(r.baseRowId),
      defaultRowCommitVersion: big(r.defaultRowCommitVersion),
    },
  };
}

function metadataRow(m: Metadata): Row {
  return {
    metaData: {
      id: m.id,
      name: m.name ?? null,
      description: m.description ?? null,
      format: { provider: m.format.provider, options: toMap(m.format.options ?? {}) },
      schemaString: m.schemaString,
      partitionColumns: m.partitionColumns,
      configuration: toMap(m.configuration),
      createdTime: big(m.createdTime),
    },
  };
}

const protocolRow = (p: Protocol): Row => ({
  protocol: {
    minReaderVersion: p.minReaderVersion,
    minWriterVersion: p.minWriterVersion,
    readerFeatures: p.readerFeatures ?? null,
    writerFeatures: p.writerFeatures ?? null,
  },
});
const txnRow = (t: Txn): Row => ({ txn: { appId: t.appId, version: big(t.version), lastUpdated: big(t.lastUpdated) } });
const domainRow = (d: DomainMetadata): Row => ({ domainMetadata: { domain: d.domain, configuration: d.configuration, removed: d.removed } });

// ---- Arrow data from JS values, one column at a time ----

/**
 * A column of `length` rows given by its non-null values only: `values[k]` is the value of row
 * `at[k]` (ascending). Action columns are mostly null (one action per row), so building from the
 * valid rows only, with native fills in between, keeps the cost at the rows that exist.
 */
interface SparseColumn {
  readonly length: number;
  readonly at: readonly number[];
  readonly values: readonly unknown[];
}

const utf8Encoder = new TextEncoder();

function sparseOf(values: readonly unknown[]): SparseColumn {
  const at: number[] = [];
  const present: unknown[] = [];
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v !== null && v !== undefined) {
      at.push(i);
      present.push(v);
    }
  }
  return { length: values.length, at, values: present };
}

function validity(column: SparseColumn): { nullBitmap: Uint8Array; nullCount: number } {
  const nullBitmap = new Uint8Array((column.length + 7) >> 3);
  for (const i of column.at) nullBitmap[i >> 3]! |= 1 << (i & 7);
  return { nullBitmap, nullCount: column.length - column.at.length };
}

/** Arrow offsets for the rows, given the size of each valid row; null rows are empty. */
function offsetsOf(column: SparseColumn, sizes: readonly number[]): Int32Array {
  const offsets = new Int32Array(column.length + 1);
  let end = 0;
  let next = 0;
  column.at.forEach((i, k) => {
    offsets.fill(end, next + 1, i + 1);
    end += sizes[k]!;
    offsets[i + 1] = end;
    next = i + 1;
  });
  offsets.fill(end, next + 1, column.length + 1);
  return offsets;
}

function utf8Data(type: arrow.Utf8, column: SparseColumn): arrow.Data {
  let bytes = new Uint8Array(Math.max(64, column.values.length * 32));
  let end = 0;
  const sizes = column.values.map((v) => {
    const text = String(v);
    // UTF-8 takes at most 3 bytes per UTF-16 unit.
    if (end + text.length * 3 > bytes.length) {
      const grown = new Uint8Array(Math.max(bytes.length * 2, end + text.length * 3));
      grown.set(bytes.subarray(0, end));
      bytes = grown;
    }
    const written = utf8Encoder.encodeInto(text, bytes.subarray(end)).written;
    end += written;
    return written;
  });
  return arrow.makeData({ type, length: column.length, ...validity(column), valueOffsets: offsetsOf(column, sizes), data: bytes.subarray(0, end) });
}

/** One column's Arrow data for the checkpoint types: struct, map<string,string>, list<string>, utf8, int64, int32, bool. */
function columnData(type: arrow.DataType, column: SparseColumn): arrow.Data {
  const { length, at, values } = column;
  if (arrow.DataType.isStruct(type)) {
    const children = type.children.map((f) => {
      const childAt: number[] = [];
      const childValues: unknown[] = [];
      values.forEach((v, k) => {
        const x = (v as Record<string, unknown>)[f.name];
        if (x !== null && x !== undefined) {
          childAt.push(at[k]!);
          childValues.push(x);
        }
      });
      return columnData(f.type, { length, at: childAt, values: childValues });
    });
    return arrow.makeData({ type, length, ...validity(column), children });
  }
  if (arrow.DataType.isMap(type) || arrow.DataType.isList(type)) {
    const items: unknown[] = [];
    const sizes = values.map((v) => {
      const before = items.length;
      if (v instanceof Map) for (const [key, value] of v) items.push({ key, value });
      else for (const x of v as unknown[]) items.push(x);
      return items.length - before;
    });
    const child = columnData(type.children[0]!.type, sparseOf(items));
    return arrow.makeData({ type: type as arrow.Map_, length, ...validity(column), valueOffsets: offsetsOf(column, sizes), child });
  }
  if (arrow.DataType.isUtf8(type)) return utf8Data(type, column);
  if (arrow.DataType.isBool(type)) {
    const data = new Uint8Array((length + 7) >> 3);
    values.forEach((v, k) => {
      if (v === true) data[at[k]! >> 3]! |= 1 << (at[k]! & 7);
    });
    return arrow.makeData({ type, length, ...validity(column), data });
  }
  if (type instanceof arrow.Int64) {
    const data = new BigInt64Array(length);
    values.forEach((v, k) => (data[at[k]!] = BigInt(v as bigint | number)));
    return arrow.makeData({ type, length, ...validity(column), data });
  }
  if (type instanceof arrow.Int32) {
    const data = new Int32Array(length);
    values.forEach((v, k) => (data[at[k]!] = Number(v)));
    return arrow.makeData({ type, length, ...validity(column), data });
  }
  throw new OtslakeError('OTSL_INTERNAL', `checkpoint column type ${String(type)} has no Arrow encoding`);
}

/** The checkpoint file's bytes and counts for one snapshot. */
export function encodeCheckpoint(snapshot: Snapshot): { bytes: Uint8Array; actions: number; addFiles: number } {
  const rows: Row[] = [protocolRow(snapshot.protocol), metadataRow(snapshot.metadata)];
  for (const t of snapshot.txns.values()) rows.push(txnRow(t));
  for (const d of snapshot.domainMetadata?.values() ?? []) rows.push(domainRow(d));
  for (const a of snapshot.files.values()) rows.push(addRow(a));
  for (const r of snapshot.tombstones.values()) rows.push(removeRow(r));

  const columns: Record<string, arrow.Vector> = {};
  for (const field of CHECKPOINT_FIELDS)
    columns[field.name] = arrow.makeVector(columnData(field.type, sparseOf(rows.map((row) => row[field.name as keyof Row]))));
  const table = new arrow.Table(columns);
  const pw = parquetWasm();
  const props = new pw.WriterPropertiesBuilder().setWriterVersion(pw.WriterVersion.V1).setCompression(pw.Compression.SNAPPY).setCreatedBy(ENGINE_INFO).build();
  try {
    const bytes = pw.writeParquet(pw.Table.fromIPCStream(arrow.tableToIPC(table, 'stream')), props);
    return { bytes, actions: rows.length, addFiles: snapshot.files.size };
  } catch (err) {
    throw new OtslakeError('OTSL_PARQUET_WRITE', `encoding the checkpoint of version ${snapshot.version} failed: ${(err as Error).message}`, {
      cause: err,
      context: { version: snapshot.version },
    });
  }
}

export interface CheckpointResult {
  version: number;
  /** false when a checkpoint for this version already existed. */
  written: boolean;
  sizeInBytes: number;
  actions: number;
}

/** Writes the checkpoint of `snapshot`, then `_last_checkpoint` (unless it already names a newer one). */
export async function writeCheckpoint(store: ObjectStore, snapshot: Snapshot, signal?: AbortSignal): Promise<CheckpointResult> {
  const { bytes, actions, addFiles } = encodeCheckpoint(snapshot);
  const opts = signal ? { signal } : {};
  let written = true;
  try {
    await store.put(checkpointKey(snapshot.version), bytes, { ifAbsent: true, ...opts });
  } catch (err) {
    if (!hasCode(err, 'OTSL_LAKE_ALREADY_EXISTS')) throw err;
    written = false;
  }
  const hint = await readLastCheckpoint(store, signal);
  if (!hint || hint.version < snapshot.version) {
    const body = JSON.stringify({ version: snapshot.version, size: actions, sizeInBytes: bytes.length, numOfAddFiles: addFiles });
    await store.put(LAST_CHECKPOINT, new TextEncoder().encode(body), opts);
  }
  return { version: snapshot.version, written, sizeInBytes: bytes.length, actions };
}

export function checkpointIntervalOf(metadata: Metadata): number {
  const raw = metadata.configuration['delta.checkpointInterval'];
  const n = raw === undefined ? DEFAULT_CHECKPOINT_INTERVAL : Number(raw);
  if (!Number.isSafeInteger(n) || n <= 0) {
    throw new OtslakeError('OTSL_LAKE_SCHEMA', `delta.checkpointInterval must be a positive integer, got "${raw}"`, {
      context: { property: 'delta.checkpointInterval' },
    });
  }
  return n;
}

/**
 * After committing `version`: checkpoints it when it is a multiple of delta.checkpointInterval
 * (Spark's rule). `metadata` is the table's current metadata if the caller has it (saves nothing
 * but a decision: the snapshot is loaded only when a checkpoint is due).
 */
export async function checkpointIfDue(store: ObjectStore, version: number, metadata?: Metadata, signal?: AbortSignal): Promise<CheckpointResult | null> {
  if (version <= 0) return null;
  if (metadata && version % checkpointIntervalOf(metadata) !== 0) return null;
  const snapshot = await loadSnapshot(store, { version, ...(signal ? { signal } : {}) });
  if (version % checkpointIntervalOf(snapshot.metadata) !== 0) return null;
  return writeCheckpoint(store, snapshot, signal);
}
