/**
 * Materialized partition columns (Delta writer feature `materializePartitionColumns`, docs/delta-rules.md
 * §Materialized partition columns): a table whose protocol lists the feature has its partition columns
 * in every data file too, after the data columns, each row holding the file's partition value. Delta
 * readers keep taking the values from `add.partitionValues`; Iceberg readers (which resolve a column
 * present in the file by its field id) and plain Parquet readers get them from the file.
 *
 * The values are constant per file, so no row path touches them: the Parquet writer appends one
 * constant Arrow column per partition column to each row group (`constantColumn`), built from the
 * partition value the file is written for. That keeps the hot path (workers/columnar-rows.ts) as it is
 * and makes the file value the Delta partition value by construction (`''` and null are both null).
 */
import * as arrow from './arrow.js';
import { OtslakeError } from '../common/errors.js';
import type { Metadata, Protocol, StructType } from './actions.js';
import { fieldIdsOf } from './iceberg/schema.js';
import { arrowTypeOf, fieldIdMetadata } from './parquet-columns.js';

const MATERIALIZE_PARTITION_COLUMNS = 'materializePartitionColumns';

/**
 * The protocol of a new partitioned table: writer version 7 with the features writer version 2 implies
 * (appendOnly, invariants: what a (1,2) table supports) plus materializePartitionColumns. Readers are
 * not affected (the feature is writer-only; reader version stays 1).
 */
export const MATERIALIZED_PARTITIONS_PROTOCOL: Protocol = {
  minReaderVersion: 1,
  minWriterVersion: 7,
  writerFeatures: ['appendOnly', 'invariants', MATERIALIZE_PARTITION_COLUMNS],
};

/** Whether writers of this table must put the partition columns into every new data file. */
export function materializesPartitions(protocol: Protocol): boolean {
  return protocol.minWriterVersion >= 7 && (protocol.writerFeatures ?? []).includes(MATERIALIZE_PARTITION_COLUMNS);
}

/** The Delta types a partition column may have (lake/table-create.ts). */
export type PartitionColumnType = 'string' | 'long' | 'integer' | 'boolean' | 'date';

export interface PartitionColumnSpec {
  readonly name: string;
  readonly type: PartitionColumnType;
  /** Iceberg field id, stamped like the data columns' (lake/parquet-columns.ts). */
  readonly fieldId?: number;
}

const PARTITION_TYPES = new Set<unknown>(['string', 'long', 'integer', 'boolean', 'date']);

/** The spec of partition column `name` of Delta type `type`; OTSL_LAKE_SCHEMA for a type a partition column cannot have. */
export function partitionColumnSpec(name: string, type: unknown, fieldId: number | undefined): PartitionColumnSpec {
  if (!PARTITION_TYPES.has(type)) {
    throw new OtslakeError('OTSL_LAKE_SCHEMA', `partition column "${name}" must be a string, long, integer, boolean or date column`, {
      context: { column: name },
    });
  }
  return { name, type: type as PartitionColumnType, ...(fieldId === undefined ? {} : { fieldId }) };
}

/** The partition columns a data file of this table holds: the table's partition columns when the protocol asks for them, else none. */
export function materializedPartitionsOf(protocol: Protocol, metadata: Metadata, schema: StructType): PartitionColumnSpec[] {
  if (!materializesPartitions(protocol) || metadata.partitionColumns.length === 0) return [];
  const ids = fieldIdsOf(schema);
  return metadata.partitionColumns.map((name) => partitionColumnSpec(name, schema.fields.find((f) => f.name === name)?.type, ids.get(name)?.id));
}

/** The Arrow type of a partition column: a data column's where the type is one (lake/parquet-columns.ts), else int32 or date. */
function arrowTypeOfPartition(type: PartitionColumnType): arrow.DataType {
  if (type === 'integer') return new arrow.Int32();
  if (type === 'date') return new arrow.DateDay();
  return arrowTypeOf(type);
}

type Typed = string | bigint | number | boolean | null;

/** A Delta partition value (docs/delta-rules.md §Partition values and paths) as the typed value the file holds. */
function typedPartitionValue(spec: PartitionColumnSpec, value: string | null | undefined): Typed {
  if (value === null || value === undefined || value === '') return null;
  const bad = () =>
    new OtslakeError('OTSL_LAKE_SCHEMA', `partition value ${JSON.stringify(value)} of "${spec.name}" is not a ${spec.type}`, {
      context: { column: spec.name, columnType: spec.type },
    });
  switch (spec.type) {
    case 'string':
      return value;
    case 'long':
    case 'integer': {
      if (!/^-?\d+$/.test(value)) throw bad();
      const v = BigInt(value);
      if (spec.type === 'integer') {
        if (v < -(2n ** 31n) || v >= 2n ** 31n) throw bad();
        return Number(v);
      }
      if (v < -(2n ** 63n) || v >= 2n ** 63n) throw bad();
      return v;
    }
    case 'boolean':
      if (value !== 'true' && value !== 'false') throw bad();
      return value === 'true';
    case 'date': {
      const ms = /^\d{4}-\d{2}-\d{2}$/.test(value) ? Date.parse(`${value}T00:00:00Z`) : NaN;
      if (!Number.isFinite(ms)) throw bad();
      return Math.floor(ms / 86_400_000);
    }
  }
}

/** One partition column of one file: its Arrow field and a row group's worth of its value. */
export class ConstantColumn {
  readonly field: arrow.Field;
  private readonly value: Typed;
  private readonly utf8: Uint8Array;

  constructor(
    readonly spec: PartitionColumnSpec,
    partitionValue: string | null | undefined,
  ) {
    // Nullable: the null partition.
    this.field = new arrow.Field(spec.name, arrowTypeOfPartition(spec.type), true, fieldIdMetadata(spec.fieldId));
    this.value = typedPartitionValue(spec, partitionValue);
    this.utf8 = typeof this.value === 'string' ? new TextEncoder().encode(this.value) : new Uint8Array(0);
  }

  /** `rows` copies of the value (or nulls) as Arrow data. */
  data(rows: number): arrow.Data {
    const type = this.field.type as arrow.DataType;
    const isNull = this.value === null;
    const nullBitmap = isNull ? new Uint8Array((rows + 7) >> 3) : undefined;
    const nullCount = isNull ? rows : 0;
    switch (this.spec.type) {
      case 'string': {
        const len = this.utf8.length;
        const offsets = new Int32Array(rows + 1);
        for (let i = 1; i <= rows; i++) offsets[i] = isNull ? 0 : i * len;
        const bytes = new Uint8Array(isNull ? 0 : rows * len);
        if (!isNull && len > 0) {
          bytes.set(this.utf8, 0);
          // Doubling copies: log2(rows) calls instead of one per row.
          for (let filled = len; filled < bytes.length; filled *= 2) bytes.copyWithin(filled, 0, Math.min(filled, bytes.length - filled));
        }
        return arrow.makeData({ type: type as arrow.Utf8, length: rows, nullCount, nullBitmap, valueOffsets: offsets, data: bytes });
      }
      case 'long':
        return arrow.makeData({
          type: type as arrow.Int64,
          length: rows,
          nullCount,
          nullBitmap,
          data: new BigInt64Array(rows).fill(isNull ? 0n : (this.value as bigint)),
        });
      case 'integer':
      case 'date':
        return arrow.makeData({
          type: type as arrow.Int32,
          length: rows,
          nullCount,
          nullBitmap,
          data: new Int32Array(rows).fill(isNull ? 0 : (this.value as number)),
        });
      case 'boolean':
        return arrow.makeData({
          type: type as arrow.Bool,
          length: rows,
          nullCount,
          nullBitmap,
          data: new Uint8Array((rows + 7) >> 3).fill(this.value === true ? 0xff : 0),
        });
    }
  }
}
