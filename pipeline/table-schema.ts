/**
 * The Delta schema a table starts with (docs/changelog.md §Columns): the primary-key columns as DescribeTable reports
 * them (tunnel/table-api-client.ts), the attribute
 * columns the config declares, and the changelog's metadata columns. Columns discovered later are
 * appended by the committer in the commit that carries their first data.
 */
import type { TablestoreConnection } from '../common/connections.js';
import { OtslakeError } from '../common/errors.js';
import { TableApiClient } from '../tunnel/table-api-client.js';
import type { StructField, StructType } from '../lake/actions.js';
import { columnTypeOf, deltaTypeOf, type ColumnType as LakeColumnType } from '../lake/parquet-columns.js';
import type { TableConfig } from '../config/load.js';
import type { ColumnType as SourceColumnType } from '../config/schema.js';
import type { ColumnSelectionSpec, PrimaryKeyColumn, PrimaryKeyType } from '../workers/protocol.js';
import { isIdentitySelection, lakeNameOf } from '../config/column-selection.js';
import { metadataColumnNames, reservedColumnNames } from '../common/metadata-columns.js';
import { metadataColumns } from '../workers/schema-map.js';

/** A primary-key column with its Tablestore type (the workers decode by it). */
export type KeyColumn = PrimaryKeyColumn;

/** The changelog metadata columns of a prefix (the workers' metadataColumns) as Delta fields, in the order they follow the data columns. */
function metadataFields(prefix: string): StructField[] {
  return metadataColumns(prefix).map((c) => ({ name: c.name, type: deltaTypeOf(c.type), nullable: true, metadata: {} }));
}

const SOURCE_TO_LAKE: Record<SourceColumnType, LakeColumnType> = {
  INTEGER: 'long',
  DOUBLE: 'double',
  BOOLEAN: 'boolean',
  STRING: 'string',
  BINARY: 'binary',
};

/** DescribeTable's PrimaryKeyType enum. */
const PK_TYPE_BY_NUMBER: Record<number, PrimaryKeyType> = { 1: 'INTEGER', 2: 'STRING', 3: 'BINARY' };

export function lakeTypeOf(type: SourceColumnType): LakeColumnType {
  return SOURCE_TO_LAKE[type];
}

export function initialSchema(primaryKey: readonly KeyColumn[], table: TableConfig): StructType {
  const fields: StructField[] = primaryKey.map((k) => ({ name: k.name, type: lakeTypeOf(k.type), nullable: false, metadata: {} }));
  for (const c of table.columns) fields.push({ name: c.name, type: lakeTypeOf(c.type), nullable: true, metadata: {} });
  fields.push(...metadataFields(table.metadataPrefix));
  // `_date` (the day of `_ts`) exists only as a partition column: its values live in the log, not the files.
  const date = metadataColumnNames(table.metadataPrefix).date;
  if (table.partitionBy.includes(date)) fields.push({ name: date, type: 'date', nullable: true, metadata: {} });
  return { type: 'struct', fields };
}

/** The data columns (primary key + attributes) of a schema: what a worker writes besides metadata. */
export function channelTaskColumnsOf(schema: StructType, metadataPrefix: string): { name: string; type: LakeColumnType }[] {
  const metadata = new Set(reservedColumnNames(metadataPrefix));
  return schema.fields.filter((f) => !metadata.has(f.name)).map((f) => ({ name: f.name, type: columnTypeOf(f.name, f.type) }));
}

function keyConflict(table: TableConfig, column: string, why: string, key: string): OtslakeError {
  return new OtslakeError('OTSL_TABLE_COLUMN_CONFLICT', `table ${table.table}: primary-key column "${column}" ${why}`, {
    context: { table: table.table, column, key },
  });
}

/**
 * What only Tablestore knows about the key, checked when the table starts and stopping only it: a key column
 * left out by tables[].select (a row without its key names no row), a key landing under the name of a metadata
 * column, or a rename that gives another column a key column's lake name.
 */
export function checkKeyNames(table: TableConfig, primaryKey: readonly { name: string }[]): void {
  const reserved = new Map(reservedColumnNames(table.metadataPrefix).map((n) => [n.toLowerCase(), n]));
  const { select } = table;
  for (const k of primaryKey) {
    if (select.exclude.includes(k.name)) {
      throw keyConflict(table, k.name, 'is excluded by tables[].select.exclude: the primary key identifies a row and always lands', 'tables[].select.exclude');
    }
    const lake = lakeNameOf(select, k.name, new Set([k.name]))!;
    const clash = reserved.get(lake.toLowerCase());
    if (clash !== undefined) {
      throw keyConflict(
        table,
        k.name,
        `${lake === k.name ? '' : `(renamed to "${lake}") `}has the name of the metadata column "${clash}"; set tables[].metadataPrefix (e.g. "otslake_") or rename it in tables[].select.rename so that they are named apart`,
        'tables[].metadataPrefix',
      );
    }
    const renamedOnto = Object.entries(select.rename).find(([source, target]) => source !== k.name && target.toLowerCase() === lake.toLowerCase());
    if (renamedOnto !== undefined) {
      throw keyConflict(table, k.name, `lands as "${lake}", the lake name tables[].select.rename gives "${renamedOnto[0]}"`, 'tables[].select.rename');
    }
  }
}

/** The primary key by lake names (tables[].select.rename): how the Delta table, the tasks and the mirror merge name it. */
export function lakePrimaryKey(table: TableConfig, primaryKey: readonly KeyColumn[]): KeyColumn[] {
  return primaryKey.map((k) => ({ name: lakeNameOf(table.select, k.name, new Set([k.name]))!, type: k.type }));
}

/** tables[].select as the channel tasks apply it (undefined: every column as is); the key's source names always land. */
export function taskSelectionOf(table: TableConfig, primaryKey: readonly KeyColumn[]): ColumnSelectionSpec | undefined {
  const { include, exclude, rename } = table.select;
  if (isIdentitySelection(table.select)) return undefined;
  const keys = primaryKey.map((k) => k.name).filter((n) => !include.includes(n));
  return {
    ...(include.length > 0 ? { include: [...include, ...keys] } : {}),
    ...(exclude.length > 0 ? { exclude } : {}),
    ...(Object.keys(rename).length > 0 ? { rename } : {}),
  };
}

/** What the pipeline reads of DescribeTable: the primary key, and how long the table's stream keeps changes. */
export interface SourceTableDescription {
  primaryKey: KeyColumn[];
  /** `stream_details.expiration_time` in hours; null when the table reports no stream (or no retention). */
  streamExpirationHours: number | null;
}

export type DescribeSourceTable = (table: string, signal?: AbortSignal) => Promise<SourceTableDescription>;

/**
 * DescribeTable over the daemon's own transport: its failures are already named by cause (auth codes
 * OTSL_TUNNEL_AUTH, a configuration error; socket errors OTSL_TUNNEL_HTTP, an outage; the rest classified like
 * the Tunnel RPCs), with the table in their context.
 */
export function tableDescriber(source: TablestoreConnection): DescribeSourceTable {
  const client = new TableApiClient(source);
  return async (table, signal) => {
    const described = await client.describeTable(table, signal);
    const stream = described.stream_details;
    const hours = stream?.enable_stream === true && typeof stream.expiration_time === 'number' && stream.expiration_time > 0 ? stream.expiration_time : null;
    const primaryKey = described.table_meta.primary_key.map((k) => {
      const type = PK_TYPE_BY_NUMBER[k.type];
      if (type === undefined) {
        throw new OtslakeError('OTSL_LAKE_SCHEMA', `primary-key column ${k.name} of ${table} has unsupported type ${String(k.type)}`, {
          context: { table, column: k.name },
        });
      }
      return { name: k.name, type };
    });
    return { primaryKey, streamExpirationHours: hours };
  };
}
