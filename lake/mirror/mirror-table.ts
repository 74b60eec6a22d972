/**
 * Creating a mirror table and turning merge outcomes into the batch commit's actions.
 * Mirror tables are never appendOnly: every batch removes the files it rewrites (dataChange true).
 */
import { OtslakeError } from '../../common/errors.js';
import type { Action, Metadata, StructType } from '../actions.js';
import type { ObjectStore } from '../object-store.js';
import { columnTypeOf, dataColumnsOf, type ColumnSpec } from '../parquet-columns.js';
import type { WrittenFile } from '../parquet-file.js';
import { newTableMetadata } from '../table-create.js';
import { addActionFor, commit, type CommitResult } from '../transaction.js';
import { mirrorMetadataColumns } from './apply.js';
import { cdcActionFor } from './change-data.js';
import { keyColumnsOf, type KeyColumn } from './key-encoding.js';
import { mirrorProtocol, mirrorSettingsOf, mirrorTableConfiguration, type MirrorFile, type MirrorSettings } from './layout.js';

export interface CreateMirrorTableOptions {
  /** Data columns (primary key first is customary); `_ts` and `_seq` (under metadataPrefix) are appended here. */
  readonly schema: StructType;
  readonly primaryKey: readonly string[];
  readonly buckets?: number;
  readonly changeDataFeed?: boolean;
  /** Extra table properties (delta.checkpointInterval, …). */
  readonly configuration?: Record<string, string>;
  readonly name?: string;
  readonly signal?: AbortSignal;
  /** tables[].metadataPrefix: `<prefix>ts` and `<prefix>seq` are appended; absent = `_`. */
  readonly metadataPrefix?: string;
}

/** The schema with the mirror metadata columns appended (unless present). */
function withMirrorColumns(schema: StructType, metadataPrefix?: string): StructType {
  const fields = [...schema.fields];
  for (const c of mirrorMetadataColumns(metadataPrefix)) {
    if (!fields.some((f) => f.name === c.name)) fields.push({ name: c.name, type: c.type, nullable: true, metadata: {} });
  }
  return { type: 'struct', fields };
}

/** Version 0 of a mirror table; `{kind:'conflict'}` when the table exists. */
export async function createMirrorTable(store: ObjectStore, options: CreateMirrorTableOptions): Promise<CommitResult & { metadata: Metadata }> {
  const schema = withMirrorColumns(options.schema, options.metadataPrefix);
  for (const name of options.primaryKey) {
    const field = schema.fields.find((f) => f.name === name);
    if (!field) throw new OtslakeError('OTSL_LAKE_SCHEMA', `primary-key column "${name}" is not in the schema`, { context: { column: name } });
    if (field.nullable) throw new OtslakeError('OTSL_LAKE_SCHEMA', `primary-key column "${name}" must be non-nullable`, { context: { column: name } });
  }
  const settings = {
    primaryKey: options.primaryKey,
    ...(options.buckets === undefined ? {} : { buckets: options.buckets }),
    changeDataFeed: options.changeDataFeed ?? false,
  };
  const metadata = newTableMetadata({
    schema,
    configuration: { ...options.configuration, ...mirrorTableConfiguration(settings) },
    ...(options.name === undefined ? {} : { name: options.name }),
  });
  const result = await commit(store, [{ protocol: mirrorProtocol(settings.changeDataFeed) }, { metaData: metadata }], {
    readVersion: -1,
    operation: 'CREATE TABLE',
    operationParameters: { partitionBy: '[]', properties: JSON.stringify(metadata.configuration) },
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { ...result, metadata };
}

/** What the merge tasks need from the table's metadata. */
export interface MirrorShape {
  readonly settings: MirrorSettings;
  readonly keyColumns: KeyColumn[];
  /** Every column of a mirror file, in schema order (`_ts`, `_seq` included). */
  readonly columns: ColumnSpec[];
}

export function mirrorShapeOf(metadata: Metadata, schema: StructType): MirrorShape {
  const settings = mirrorSettingsOf(metadata.configuration);
  const keyColumns = keyColumnsOf(
    settings.primaryKey.map((name) => {
      const f = schema.fields.find((x) => x.name === name);
      if (!f) throw new OtslakeError('OTSL_LAKE_SCHEMA', `primary-key column "${name}" is missing from the table schema`, { context: { column: name } });
      return { name, type: columnTypeOf(name, f.type) };
    }),
  );
  return { settings, keyColumns, columns: dataColumnsOf(schema) };
}

/** The file actions of a mirror batch: removes (dataChange true), adds with layout tags, cdc. */
export function mirrorFileActions(
  outcomes: readonly { removes: readonly MirrorFile[]; adds: readonly (WrittenFile & { tags: Record<string, string> })[]; cdc: readonly WrittenFile[] }[],
  nowMs = Date.now(),
): Action[] {
  const actions: Action[] = [];
  for (const o of outcomes) {
    for (const r of o.removes) {
      actions.push({ remove: { path: r.path, deletionTimestamp: nowMs, dataChange: true, extendedFileMetadata: true, partitionValues: {}, size: r.size } });
    }
    for (const a of o.adds) {
      const { add } = addActionFor(a, true);
      actions.push({ add: { ...add, tags: a.tags } });
    }
    for (const c of o.cdc) actions.push(cdcActionFor(c));
  }
  return actions;
}
