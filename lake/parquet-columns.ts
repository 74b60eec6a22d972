/**
 * The columns of a data file: their types, how Delta types map to them and to Arrow, and the order
 * strings compare in. The builders that fill them row by row are in column-builders.ts.
 */
import * as arrow from './arrow.js';
import { OtslakeError } from '../common/errors.js';
import type { DataType, StructType } from './actions.js';
import { fieldIdsOf, type ColumnIds } from './iceberg/schema.js';

/** The Arrow field metadata key parquet-rs writes as the Parquet field_id. */
const PARQUET_FIELD_ID = 'PARQUET:field_id';

export type ColumnType = 'long' | 'double' | 'boolean' | 'string' | 'binary' | 'timestamp' | 'array<string>';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  nullable: boolean;
  /** Iceberg field id (and its list element's), stamped as Arrow `PARQUET:field_id` (lake/iceberg/schema.ts). */
  fieldId?: number;
  elementFieldId?: number;
}

/** File-level statistics of one column, as JS values (strings untruncated, timestamps in µs). */
export interface ColumnStats {
  nullCount: number;
  min: bigint | number | string | undefined;
  max: bigint | number | string | undefined;
  /** A NaN or ±Infinity was seen: JSON cannot carry it, so no bounds are emitted. */
  unbounded: boolean;
}

/** The Delta schema's columns minus partition columns, in schema order: what a data file holds. */
export function dataColumnsOf(schema: StructType, partitionColumns: readonly string[] = []): ColumnSpec[] {
  const partitions = new Set(partitionColumns);
  const ids = fieldIdsOf(schema);
  return schema.fields
    .filter((f) => !partitions.has(f.name))
    .map((f) => ({ name: f.name, type: columnTypeOf(f.name, f.type), nullable: f.nullable, ...withIds(ids.get(f.name)) }));
}

const withIds = (ids: ColumnIds | undefined) => (ids ? { fieldId: ids.id, ...(ids.elementId === undefined ? {} : { elementFieldId: ids.elementId }) } : {});

export function columnTypeOf(name: string, type: DataType): ColumnType {
  if (typeof type === 'string') {
    if (type === 'long' || type === 'double' || type === 'boolean' || type === 'string' || type === 'binary' || type === 'timestamp') return type;
  } else if (type.type === 'array' && type.elementType === 'string') {
    return 'array<string>';
  }
  throw new OtslakeError('OTSL_LAKE_SCHEMA', `column "${name}" has type ${JSON.stringify(type)}, which the Parquet writer does not support`, {
    context: { column: name },
  });
}

/** The Delta type of a column type: the inverse of columnTypeOf. */
export function deltaTypeOf(type: ColumnType): DataType {
  return type === 'array<string>' ? { type: 'array', elementType: 'string', containsNull: true } : type;
}

export function arrowTypeOf(type: ColumnType): arrow.DataType {
  switch (type) {
    case 'long':
      return new arrow.Int64();
    case 'double':
      return new arrow.Float64();
    case 'boolean':
      return new arrow.Bool();
    case 'string':
      return new arrow.Utf8();
    case 'binary':
      return new arrow.Binary();
    case 'timestamp':
      return new arrow.TimestampMicrosecond('UTC');
    case 'array<string>':
      return new arrow.List(new arrow.Field('element', new arrow.Utf8(), true));
  }
}

/** Code-point order, i.e. the UTF-8 byte order Delta and Parquet use; JS `<` is UTF-16 order. */
export function compareStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // Only surrogates (D800–DFFF) sort differently from code points against E000–FFFF.
    if (x >= 0xd800 && y >= 0xd800) return (x >= 0xe000 ? x - 0x800 : x + 0x2000) - (y >= 0xe000 ? y - 0x800 : y + 0x2000);
    return x - y;
  }
  return a.length - b.length;
}

/** The Arrow field metadata that stamps Iceberg field id `id` into the Parquet schema (none without an id). */
export function fieldIdMetadata(id: number | undefined): Map<string, string> | undefined {
  return id === undefined ? undefined : new Map([[PARQUET_FIELD_ID, String(id)]]);
}

/** The Arrow schema of a data file; Parquet nullability (OPTIONAL/REQUIRED) follows `nullable`. */
export function arrowSchemaOf(columns: readonly ColumnSpec[]): arrow.Schema {
  return new arrow.Schema(
    columns.map((c) => {
      const type =
        c.type === 'array<string>'
          ? new arrow.List(new arrow.Field('element', new arrow.Utf8(), true, fieldIdMetadata(c.elementFieldId)))
          : arrowTypeOf(c.type);
      return new arrow.Field(c.name, type, c.nullable, fieldIdMetadata(c.fieldId));
    }),
  );
}
