/**
 * The Iceberg schema of a Delta table: types, field ids, identity partition spec, name mapping.
 *
 * Field ids are assigned once and never reused: a column keeps the id it was first given (the
 * assignment is stored in the Iceberg metadata's schemas and read back), a new column takes the
 * next ids after `last-column-id` in Delta schema order (a list takes one for itself, then one for
 * its element). Because otslake only ever appends columns to a Delta schema, the assignment is
 * also what `fieldIdsOf(deltaSchema)` computes from the Delta schema alone, which is how the
 * Parquet writer stamps the same ids into data files (Arrow `PARQUET:field_id`) before the
 * Iceberg sync has seen the column.
 */
import { OtslakeError } from '../../common/errors.js';
import type { DataType, StructField, StructType } from '../actions.js';

export type IcebergPrimitive = 'long' | 'int' | 'double' | 'float' | 'boolean' | 'string' | 'binary' | 'timestamptz' | 'timestamp' | 'date';

export interface IcebergListType {
  type: 'list';
  'element-id': number;
  element: IcebergPrimitive;
  'element-required': boolean;
}

export interface IcebergField {
  id: number;
  name: string;
  required: boolean;
  type: IcebergPrimitive | IcebergListType;
}

export interface IcebergSchema {
  type: 'struct';
  'schema-id': number;
  fields: IcebergField[];
}

export interface PartitionField {
  'source-id': number;
  'field-id': number;
  name: string;
  transform: 'identity';
}

export interface PartitionSpec {
  'spec-id': number;
  fields: PartitionField[];
}

/** Ids of one Delta column: the column's own, and its element's when it is a list. */
export interface ColumnIds {
  id: number;
  elementId?: number;
}

/** First partition field id (the spec's convention: 1000 and up). */
export const PARTITION_FIELD_ID_BASE = 1000;

function primitiveOf(name: string, type: DataType): IcebergPrimitive {
  switch (type) {
    case 'long':
      return 'long';
    case 'integer':
    case 'short':
    case 'byte':
      return 'int';
    case 'double':
      return 'double';
    case 'float':
      return 'float';
    case 'boolean':
      return 'boolean';
    case 'string':
      return 'string';
    case 'binary':
      return 'binary';
    // Delta `timestamp` is an instant (UTC-adjusted µs); `timestamp_ntz` is a local date-time.
    case 'timestamp':
      return 'timestamptz';
    case 'timestamp_ntz':
      return 'timestamp';
    case 'date':
      return 'date';
  }
  throw new OtslakeError('OTSL_LAKE_SCHEMA', `column "${name}" has type ${JSON.stringify(type)}, which has no Iceberg mapping here`, {
    context: { column: name },
  });
}

/** Extends `known` (name → ids) with ids for the fields it lacks, in order, after `lastColumnId`. */
export function assignFieldIds(
  fields: readonly StructField[],
  known: ReadonlyMap<string, ColumnIds> = new Map(),
  lastColumnId = 0,
): { ids: Map<string, ColumnIds>; lastColumnId: number } {
  const ids = new Map<string, ColumnIds>();
  let last = lastColumnId;
  for (const f of fields) {
    const prior = known.get(f.name);
    if (prior) {
      ids.set(f.name, prior);
      continue;
    }
    const id = ++last;
    ids.set(f.name, typeof f.type === 'object' && f.type.type === 'array' ? { id, elementId: ++last } : { id });
  }
  return { ids, lastColumnId: last };
}

/** The ids a table whose columns were only ever appended has: what the Parquet writer stamps. */
export function fieldIdsOf(schema: StructType): Map<string, ColumnIds> {
  return assignFieldIds(schema.fields).ids;
}

/** name → ids of an Iceberg schema (what was assigned before). */
export function idsOfSchema(schema: IcebergSchema): Map<string, ColumnIds> {
  const out = new Map<string, ColumnIds>();
  for (const f of schema.fields) out.set(f.name, typeof f.type === 'object' ? { id: f.id, elementId: f.type['element-id'] } : { id: f.id });
  return out;
}

/** The Iceberg schema of a Delta schema under the given ids (every field must have one). */
export function icebergSchemaOf(schema: StructType, ids: ReadonlyMap<string, ColumnIds>, schemaId: number): IcebergSchema {
  return {
    type: 'struct',
    'schema-id': schemaId,
    fields: schema.fields.map((f) => {
      const assigned = ids.get(f.name);
      if (!assigned) throw new OtslakeError('OTSL_INTERNAL', `no field id for column "${f.name}"`, { context: { column: f.name } });
      if (typeof f.type === 'object') {
        if (f.type.type !== 'array' || assigned.elementId === undefined) {
          throw new OtslakeError('OTSL_LAKE_SCHEMA', `column "${f.name}" has a nested type other than array, which has no Iceberg mapping here`, {
            context: { column: f.name },
          });
        }
        const list: IcebergListType = {
          type: 'list',
          'element-id': assigned.elementId,
          element: primitiveOf(f.name, f.type.elementType),
          'element-required': !f.type.containsNull,
        };
        return { id: assigned.id, name: f.name, required: !f.nullable, type: list };
      }
      return { id: assigned.id, name: f.name, required: !f.nullable, type: primitiveOf(f.name, f.type) };
    }),
  };
}

/** Same columns, types and ids (schema ids aside): no new schema needed. */
export function sameSchema(a: IcebergSchema, b: IcebergSchema): boolean {
  return JSON.stringify(a.fields) === JSON.stringify(b.fields);
}

/** Identity partitioning on the Delta partition columns, spec id 0 (a Delta table never changes them). */
export function partitionSpecOf(partitionColumns: readonly string[], schema: IcebergSchema): PartitionSpec {
  return {
    'spec-id': 0,
    fields: partitionColumns.map((name, i) => {
      const source = schema.fields.find((f) => f.name === name);
      if (!source) throw new OtslakeError('OTSL_LAKE_SCHEMA', `partition column "${name}" is not in the schema`, { context: { column: name } });
      return { 'source-id': source.id, 'field-id': PARTITION_FIELD_ID_BASE + i, name, transform: 'identity' };
    }),
  };
}

/**
 * `schema.name-mapping.default`: lets Iceberg readers resolve columns of Parquet files that carry
 * no field ids (written before the writer stamped them) by name.
 */
export function nameMappingOf(schema: IcebergSchema): string {
  return JSON.stringify(
    schema.fields.map((f) =>
      typeof f.type === 'object'
        ? { 'field-id': f.id, names: [f.name], fields: [{ 'field-id': f.type['element-id'], names: ['element'] }] }
        : { 'field-id': f.id, names: [f.name] },
    ),
  );
}
