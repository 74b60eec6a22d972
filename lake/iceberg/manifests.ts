/**
 * Manifests and manifest lists (Iceberg spec §Manifests, §Manifest Lists, format v2) as Avro
 * container files. Field names and ids are the spec's; maps are Avro arrays of key/value records
 * (`logicalType: map`), as Iceberg writes them; optional fields are unions with null first.
 */
import { randomUUID } from 'node:crypto';
import type { ObjectStore } from '../object-store.js';
import { decodeAvroFile, encodeAvroFile, type AvroSchema, type ExactLongRecords } from './avro-file.js';
import type { IcebergPrimitive, IcebergSchema, PartitionSpec } from './schema.js';
import { compareValues, serializeValue, type FileMetrics, type PartitionValue } from './values.js';

export const METADATA_DIR = 'metadata';

export const STATUS_EXISTING = 0;
export const STATUS_ADDED = 1;
export const STATUS_DELETED = 2;

export interface DataFileRecord extends FileMetrics {
  content: 0;
  file_path: string;
  file_format: 'PARQUET';
  partition: Record<string, unknown>;
  record_count: number;
  file_size_in_bytes: number;
  column_sizes: null;
  nan_value_counts: null;
  key_metadata: null;
  split_offsets: null;
  equality_ids: null;
  sort_order_id: null;
}

export interface ManifestEntry {
  status: number;
  snapshot_id: number;
  sequence_number: number;
  file_sequence_number: number;
  data_file: DataFileRecord;
}

export interface PartitionSummary {
  contains_null: boolean;
  contains_nan: boolean | null;
  lower_bound: Buffer | null;
  upper_bound: Buffer | null;
}

export interface ManifestFile {
  manifest_path: string;
  manifest_length: number;
  partition_spec_id: number;
  content: 0;
  sequence_number: number;
  min_sequence_number: number;
  added_snapshot_id: number;
  added_files_count: number;
  existing_files_count: number;
  deleted_files_count: number;
  added_rows_count: number;
  existing_rows_count: number;
  deleted_rows_count: number;
  partitions: PartitionSummary[] | null;
  key_metadata: null;
}

const optional = (type: unknown, name: string, id: number): Record<string, unknown> => ({ name, type: ['null', type], default: null, 'field-id': id });
const map = (name: string, id: number, keyId: number, valueId: number, value: string): Record<string, unknown> =>
  optional(
    {
      type: 'array',
      logicalType: 'map',
      items: {
        type: 'record',
        name: `k${keyId}_v${valueId}`,
        fields: [
          { name: 'key', type: 'int', 'field-id': keyId },
          { name: 'value', type: value, 'field-id': valueId },
        ],
      },
    },
    name,
    id,
  );

const AVRO_PRIMITIVE: Record<IcebergPrimitive, unknown> = {
  long: 'long',
  int: 'int',
  double: 'double',
  float: 'float',
  boolean: 'boolean',
  string: 'string',
  binary: 'bytes',
  date: { type: 'int', logicalType: 'date' },
  timestamp: { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': false },
  timestamptz: { type: 'long', logicalType: 'timestamp-micros', 'adjust-to-utc': true },
};

/** The record of a data file's partition data: its long fields hold any int64 (values.ts, avro-file.ts). */
const PARTITION_RECORD = 'r102';
export const EXACT_LONGS: ExactLongRecords = [PARTITION_RECORD];

/** The Avro schema of a manifest of `spec` over `schema` (the partition record depends on both). */
export function manifestEntrySchema(spec: PartitionSpec, schema: IcebergSchema): AvroSchema {
  const partitionFields = spec.fields.map((f) => {
    const source = schema.fields.find((s) => s.id === f['source-id'])!;
    return optional(AVRO_PRIMITIVE[source.type as IcebergPrimitive], f.name, f['field-id']);
  });
  return {
    type: 'record',
    name: 'manifest_entry',
    fields: [
      { name: 'status', type: 'int', 'field-id': 0 },
      optional('long', 'snapshot_id', 1),
      optional('long', 'sequence_number', 3),
      optional('long', 'file_sequence_number', 4),
      {
        name: 'data_file',
        'field-id': 2,
        type: {
          type: 'record',
          name: 'r2',
          fields: [
            { name: 'content', type: 'int', 'field-id': 134 },
            { name: 'file_path', type: 'string', 'field-id': 100 },
            { name: 'file_format', type: 'string', 'field-id': 101 },
            { name: 'partition', type: { type: 'record', name: PARTITION_RECORD, fields: partitionFields }, 'field-id': 102 },
            { name: 'record_count', type: 'long', 'field-id': 103 },
            { name: 'file_size_in_bytes', type: 'long', 'field-id': 104 },
            map('column_sizes', 108, 117, 118, 'long'),
            map('value_counts', 109, 119, 120, 'long'),
            map('null_value_counts', 110, 121, 122, 'long'),
            map('nan_value_counts', 137, 138, 139, 'long'),
            map('lower_bounds', 125, 126, 127, 'bytes'),
            map('upper_bounds', 128, 129, 130, 'bytes'),
            optional('bytes', 'key_metadata', 131),
            optional({ type: 'array', items: 'long', 'element-id': 133 }, 'split_offsets', 132),
            optional({ type: 'array', items: 'int', 'element-id': 136 }, 'equality_ids', 135),
            optional('int', 'sort_order_id', 140),
          ],
        },
      },
    ],
  };
}

export const MANIFEST_LIST_SCHEMA: AvroSchema = {
  type: 'record',
  name: 'manifest_file',
  fields: [
    { name: 'manifest_path', type: 'string', 'field-id': 500 },
    { name: 'manifest_length', type: 'long', 'field-id': 501 },
    { name: 'partition_spec_id', type: 'int', 'field-id': 502 },
    { name: 'content', type: 'int', 'field-id': 517 },
    { name: 'sequence_number', type: 'long', 'field-id': 515 },
    { name: 'min_sequence_number', type: 'long', 'field-id': 516 },
    { name: 'added_snapshot_id', type: 'long', 'field-id': 503 },
    { name: 'added_files_count', type: 'int', 'field-id': 504 },
    { name: 'existing_files_count', type: 'int', 'field-id': 505 },
    { name: 'deleted_files_count', type: 'int', 'field-id': 506 },
    { name: 'added_rows_count', type: 'long', 'field-id': 512 },
    { name: 'existing_rows_count', type: 'long', 'field-id': 513 },
    { name: 'deleted_rows_count', type: 'long', 'field-id': 514 },
    optional(
      {
        type: 'array',
        'element-id': 508,
        items: {
          type: 'record',
          name: 'r508',
          fields: [
            { name: 'contains_null', type: 'boolean', 'field-id': 509 },
            optional('boolean', 'contains_nan', 518),
            optional('bytes', 'lower_bound', 510),
            optional('bytes', 'upper_bound', 511),
          ],
        },
      },
      'partitions',
      507,
    ),
    optional('bytes', 'key_metadata', 519),
  ],
};

/** Per partition field: nulls seen and the value range, for the manifest list (manifest pruning). */
function partitionSummaries(spec: PartitionSpec, schema: IcebergSchema, entries: readonly ManifestEntry[]): PartitionSummary[] {
  return spec.fields.map((f) => {
    const type = schema.fields.find((s) => s.id === f['source-id'])!.type as IcebergPrimitive;
    let containsNull = false;
    let min: PartitionValue | undefined;
    let max: PartitionValue | undefined;
    for (const e of entries) {
      if (e.status === STATUS_DELETED) continue;
      const v = e.data_file.partition[f.name] as PartitionValue | null;
      if (v === null || v === undefined) containsNull = true;
      else {
        if (min === undefined || compareValues(v, min) < 0) min = v;
        if (max === undefined || compareValues(v, max) > 0) max = v;
      }
    }
    return {
      contains_null: containsNull,
      contains_nan: null,
      lower_bound: min === undefined ? null : serializeValue(type, min),
      upper_bound: max === undefined ? null : serializeValue(type, max),
    };
  });
}

export interface ManifestContext {
  store: ObjectStore;
  /** The table location as readers see it (`file:///…`, `oss://…`): manifests hold absolute paths. */
  location: string;
  schema: IcebergSchema;
  spec: PartitionSpec;
  snapshotId: number;
  sequenceNumber: number;
}

/**
 * Encodes one manifest of `entries` and starts its upload (`put`, awaited by the caller with the
 * others: a manifest list needs the manifests' lengths, not their uploads).
 */
export async function writeManifest(
  ctx: ManifestContext,
  entries: readonly ManifestEntry[],
): Promise<{ file: ManifestFile; key: string; put: Promise<unknown> }> {
  const key = `${METADATA_DIR}/${randomUUID()}-m0.avro`;
  const bytes = encodeAvroFile(
    manifestEntrySchema(ctx.spec, ctx.schema),
    entries,
    {
      schema: JSON.stringify(ctx.schema),
      'schema-id': String(ctx.schema['schema-id']),
      'partition-spec': JSON.stringify(ctx.spec.fields),
      'partition-spec-id': String(ctx.spec['spec-id']),
      'format-version': '2',
      content: 'data',
    },
    EXACT_LONGS,
  );
  const put = ctx.store.put(key, bytes);
  put.catch(() => undefined); // awaited by the caller; never an unhandled rejection meanwhile
  const count = (status: number) => entries.filter((e) => e.status === status);
  const rows = (es: ManifestEntry[]) => es.reduce((n, e) => n + e.data_file.record_count, 0);
  const live = entries.filter((e) => e.status !== STATUS_DELETED);
  return {
    key,
    put,
    file: {
      manifest_path: `${ctx.location}/${key}`,
      manifest_length: bytes.byteLength,
      partition_spec_id: ctx.spec['spec-id'],
      content: 0,
      sequence_number: ctx.sequenceNumber,
      min_sequence_number: live.length === 0 ? ctx.sequenceNumber : Math.min(...live.map((e) => e.sequence_number)),
      added_snapshot_id: ctx.snapshotId,
      added_files_count: count(STATUS_ADDED).length,
      existing_files_count: count(STATUS_EXISTING).length,
      deleted_files_count: count(STATUS_DELETED).length,
      added_rows_count: rows(count(STATUS_ADDED)),
      existing_rows_count: rows(count(STATUS_EXISTING)),
      deleted_rows_count: rows(count(STATUS_DELETED)),
      partitions: partitionSummaries(ctx.spec, ctx.schema, entries),
      key_metadata: null,
    },
  };
}

export async function writeManifestList(
  ctx: Omit<ManifestContext, 'schema' | 'spec'> & { parentSnapshotId: number | null },
  manifests: readonly ManifestFile[],
): Promise<string> {
  const key = `${METADATA_DIR}/snap-${ctx.snapshotId}-1-${randomUUID()}.avro`;
  const bytes = encodeAvroFile(MANIFEST_LIST_SCHEMA, manifests, {
    'snapshot-id': String(ctx.snapshotId),
    'parent-snapshot-id': ctx.parentSnapshotId === null ? 'null' : String(ctx.parentSnapshotId),
    'sequence-number': String(ctx.sequenceNumber),
    'format-version': '2',
  });
  await ctx.store.put(key, bytes);
  return key;
}

/** The table-relative key of a metadata path written under `location`, or null when it is elsewhere. */
export function keyOfLocation(location: string, path: string): string | null {
  return path.startsWith(`${location}/`) ? path.slice(location.length + 1) : null;
}

export async function readManifestList(store: ObjectStore, key: string): Promise<ManifestFile[]> {
  return (await decodeAvroFile(await store.get(key), key)).records as unknown as ManifestFile[];
}

export async function readManifest(store: ObjectStore, key: string): Promise<ManifestEntry[]> {
  return (await decodeAvroFile(await store.get(key), key, EXACT_LONGS)).records as unknown as ManifestEntry[];
}
