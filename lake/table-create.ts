/**
 * Version 0 of a table: protocol (1,2), or (1,7) with materializePartitionColumns when partitioned, and the first metaData (docs/delta-rules.md §Protocol versions, §Schema), and the
 * metaData that adds nullable columns later (schema evolution by addition only; old files read the
 * new columns as null).
 */
import { randomUUID } from 'node:crypto';
import { OtslakeError } from '../common/errors.js';
import { parseSchema, type Metadata, type StructField, type StructType } from './actions.js';
import type { ObjectStore } from './object-store.js';
import { columnTypeOf } from './parquet-columns.js';
import { MATERIALIZED_PARTITIONS_PROTOCOL } from './partition-columns.js';
import { commit, DEFAULT_PROTOCOL, type CommitResult } from './transaction.js';

export interface CreateTableOptions {
  schema: StructType;
  partitionColumns?: string[];
  /** Table properties, e.g. delta.appendOnly, delta.checkpointInterval, delta.logRetentionDuration. */
  configuration?: Record<string, string>;
  /**
   * A partitioned table declares the writer feature materializePartitionColumns (its data files hold
   * the partition columns too; lake/partition-columns.ts) unless this is false. Ignored when unpartitioned.
   */
  materializePartitionColumns?: boolean;
  name?: string;
  description?: string;
  signal?: AbortSignal;
  nowMs?: number;
}

function validateSchema(schema: StructType, partitionColumns: readonly string[]): void {
  const seen = new Set<string>();
  for (const f of schema.fields) {
    const lower = f.name.toLowerCase();
    if (seen.has(lower)) throw new OtslakeError('OTSL_LAKE_SCHEMA', `column names must be unique ignoring case: "${f.name}"`, { context: { column: f.name } });
    seen.add(lower);
    if (!partitionColumns.includes(f.name)) columnTypeOf(f.name, f.type);
  }
  for (const p of partitionColumns) {
    const f = schema.fields.find((x) => x.name === p);
    if (!f) throw new OtslakeError('OTSL_LAKE_SCHEMA', `partition column "${p}" is not in the schema`, { context: { column: p } });
    if (typeof f.type !== 'string' || !['string', 'long', 'integer', 'date', 'boolean'].includes(f.type)) {
      throw new OtslakeError('OTSL_LAKE_SCHEMA', `partition column "${p}" must be string, long, integer, date or boolean`, { context: { column: p } });
    }
  }
}

export function newTableMetadata(options: CreateTableOptions): Metadata {
  const partitionColumns = options.partitionColumns ?? [];
  validateSchema(options.schema, partitionColumns);
  return {
    id: randomUUID(),
    ...(options.name === undefined ? {} : { name: options.name }),
    ...(options.description === undefined ? {} : { description: options.description }),
    format: { provider: 'parquet', options: {} },
    schemaString: JSON.stringify(options.schema),
    partitionColumns,
    configuration: options.configuration ?? {},
    createdTime: options.nowMs ?? Date.now(),
  };
}

/** Creates the table; `{kind:'conflict'}` when a version 0 already exists (written by someone else). */
export async function createTable(store: ObjectStore, options: CreateTableOptions): Promise<CommitResult & { metadata: Metadata }> {
  const metadata = newTableMetadata(options);
  const materialize = metadata.partitionColumns.length > 0 && options.materializePartitionColumns !== false;
  const protocol = materialize ? MATERIALIZED_PARTITIONS_PROTOCOL : DEFAULT_PROTOCOL;
  const result = await commit(store, [{ protocol }, { metaData: metadata }], {
    readVersion: -1,
    operation: 'CREATE TABLE',
    operationParameters: { partitionBy: JSON.stringify(metadata.partitionColumns), properties: JSON.stringify(metadata.configuration) },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { ...result, metadata };
}

/**
 * The metaData that appends `fields` as nullable columns (to be committed with the first file that
 * holds them). Existing columns are never changed; a name already present is OTSL_LAKE_SCHEMA.
 */
export function addColumns(metadata: Metadata, fields: readonly Omit<StructField, 'nullable' | 'metadata'>[]): Metadata {
  const schema = parseSchema(metadata.schemaString);
  const next: StructType = { type: 'struct', fields: [...schema.fields] };
  for (const f of fields) {
    if (next.fields.some((g) => g.name.toLowerCase() === f.name.toLowerCase())) {
      throw new OtslakeError('OTSL_LAKE_SCHEMA', `column "${f.name}" already exists`, { context: { column: f.name } });
    }
    next.fields.push({ name: f.name, type: f.type, nullable: true, metadata: {} });
  }
  validateSchema(next, metadata.partitionColumns);
  return { ...metadata, schemaString: JSON.stringify(next) };
}
