/**
 * The Delta table of a `tables` entry on a runner's start: created on first start (DescribeTable keys + the
 * config's columns + the metadata columns; a mirror with its layout), recording the tunnel its positions
 * will belong to (pipeline/tunnel-binding.ts), and checked against the config's mode afterwards.
 */
import { OtslakeError, hasCode } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { ResolvedConfig, TableConfig } from '../config/load.js';
import { metadataColumnNames } from '../common/metadata-columns.js';
import { parseSchema, type Metadata } from '../lake/actions.js';
import { MIRROR_MODE_PROPERTY } from '../lake/mirror/layout.js';
import { createMirrorTable } from '../lake/mirror/mirror-table.js';
import type { ObjectStore } from '../lake/object-store.js';
import { loadSnapshot } from '../lake/snapshot.js';
import { createTable } from '../lake/table-create.js';
import { initialSchema, lakeTypeOf, type KeyColumn } from './table-schema.js';
import { TUNNEL_ID_PROPERTY } from './tunnel-binding.js';

export interface EnsureTableOptions {
  readonly store: ObjectStore;
  readonly table: TableConfig;
  readonly config: ResolvedConfig;
  readonly log: Logger;
  readonly primaryKey: readonly KeyColumn[];
  readonly tunnelId: string;
  readonly signal: AbortSignal;
}

/** The table's metadata, after creating the table on first start. A mode that contradicts the config is OTSL_CONFIG_INVALID. */
export async function ensureDeltaTable(options: EnsureTableOptions): Promise<Metadata> {
  const { store, table, config, log, primaryKey, tunnelId, signal } = options;
  try {
    return checkMode(table, (await loadSnapshot(store, { signal })).metadata, primaryKey);
  } catch (err) {
    if (!hasCode(err, 'OTSL_LAKE_NOT_A_TABLE')) throw err;
  }
  // The lake records the tunnel its positions will belong to.
  const properties = { 'delta.checkpointInterval': String(config.lake.checkpointInterval), [TUNNEL_ID_PROPERTY]: tunnelId };
  const created =
    table.mode === 'mirror'
      ? await createMirrorTable(store, {
          schema: {
            type: 'struct',
            fields: [
              ...primaryKey.map((k) => ({ name: k.name, type: lakeTypeOf(k.type), nullable: false, metadata: {} })),
              ...table.columns.map((c) => ({ name: c.name, type: lakeTypeOf(c.type), nullable: true, metadata: {} })),
            ],
          },
          primaryKey: primaryKey.map((k) => k.name),
          buckets: table.mirror!.buckets,
          changeDataFeed: table.mirror!.changeDataFeed,
          configuration: properties,
          name: table.table,
          metadataPrefix: table.metadataPrefix,
          signal,
        })
      : await createTable(store, {
          schema: initialSchema(primaryKey, table),
          partitionColumns: [...table.partitionBy],
          // Retention removes data (dataChange true), which an appendOnly table forbids.
          configuration: { 'delta.appendOnly': table.retentionMs > 0 ? 'false' : 'true', ...properties },
          name: table.table,
          signal,
        });
  // A conflict means another daemon created it first: theirs is as good as ours.
  log.info(created.kind === 'committed' ? 'delta table created' : 'delta table created by another writer', { path: table.path, mode: table.mode });
  return created.kind === 'committed' ? created.metadata : checkMode(table, (await loadSnapshot(store, { signal })).metadata, primaryKey);
}

function checkMode(table: TableConfig, metadata: Metadata, primaryKey: readonly KeyColumn[]): Metadata {
  const lakeMode = metadata.configuration[MIRROR_MODE_PROPERTY] === 'mirror' ? 'mirror' : 'changelog';
  if (lakeMode !== table.mode) {
    throw new OtslakeError(
      'OTSL_CONFIG_INVALID',
      `table ${table.table}: the config says mode ${table.mode}, but the Delta table at ${table.path} is a ${lakeMode} table; a table's mode is fixed at creation`,
      { context: { table: table.table, key: 'tables.mode', path: table.path } },
    );
  }
  checkFixedColumns(table, metadata, primaryKey);
  return metadata;
}

/**
 * What is fixed at creation and stops only this table when the config contradicts it (OTSL_TABLE_COLUMN_CONFLICT):
 * the metadataPrefix (a mirror's changes would be staged under names the merge cannot find; a changelog would grow
 * a second set of metadata columns, its older rows null in them), and the key's lake
 * names (a key renamed by tables[].select after creation would be a column the table does not have).
 */
function checkFixedColumns(table: TableConfig, metadata: Metadata, primaryKey: readonly KeyColumn[]): void {
  const names = new Set(parseSchema(metadata.schemaString).fields.map((f) => f.name));
  const conflict = (message: string, column: string, key: string) =>
    new OtslakeError('OTSL_TABLE_COLUMN_CONFLICT', `table ${table.table}: ${message}`, { context: { table: table.table, column, key, path: table.path } });
  const { ts, seq } = metadataColumnNames(table.metadataPrefix);
  if (!(names.has(ts) && names.has(seq))) {
    throw conflict(
      `the config says metadataPrefix "${table.metadataPrefix}", but the ${table.mode} table at ${table.path} has no ${ts}, ${seq} columns; a table's metadataPrefix is fixed at creation`,
      ts,
      'tables[].metadataPrefix',
    );
  }
  const missing = primaryKey.find((k) => !names.has(k.name));
  if (missing !== undefined) {
    throw conflict(
      `primary-key column "${missing.name}" is not a column of the Delta table at ${table.path}: the key's lake names (tables[].select.rename) are fixed at creation; land the renamed key under a new path`,
      missing.name,
      'tables[].select.rename',
    );
  }
}
