/**
 * Resolves the `tables` list: each entry is checked against TABLE_ENTRY_SCHEMA (and each declared column
 * against COLUMN_SCHEMA) by the same machinery as the top-level keys, then by the checks a schema cannot
 * express: keys allowed only with mode mirror, column names across a table (reserved, duplicate, equal
 * but for case), `partitionBy` against the declared columns, and folders and tunnels across entries.
 * Every problem is named by its index path (`tables[1].mode: must be one of …`).
 */
import { createHash } from 'node:crypto';
import { DEFAULT_METADATA_PREFIX, metadataColumnNames, reservedColumnNames } from '../common/metadata-columns.js';
import { checkSelection, NO_SELECTION, type ColumnSelectionConfig } from './column-selection.js';
import type { ConfigIssue } from './config-error.js';
import { tablePathProblem } from './formats.js';
import type { ValuesOf } from './key-spec.js';
import {
  COLUMN_SCHEMA,
  DEFAULT_TYPE_CONFLICT_POLICY,
  MIRROR_ONLY_KEYS,
  PARTITION_COLUMN_TYPES,
  TABLE_ENTRY_SCHEMA,
  type TypeConflictPolicyName,
} from './table-entry-schema.js';
import { checkList, type CheckedItem } from './validate.js';

type Entry = ValuesOf<typeof TABLE_ENTRY_SCHEMA>;

export type ColumnConfig = ValuesOf<typeof COLUMN_SCHEMA>;

export interface MirrorTableConfig {
  readonly buckets: Entry['mirror']['buckets'];
  readonly targetFileSizeBytes: Entry['mirror']['targetFileSize'];
  /** delta.enableChangeDataFeed on the table (`tables[].changeDataFeed`). */
  readonly changeDataFeed: Entry['changeDataFeed'];
}

/** One resolved `tables` entry: the entry schema's values, with the defaults that depend on `table` filled in. */
export interface TableConfig {
  readonly table: Entry['table'];
  /** `name` defaults to `otslake-<table>-<8 hex digits of the lake's identity>` (defaultTunnelName). */
  readonly tunnel: { readonly name: NonNullable<Entry['tunnel']['name']>; readonly type: Entry['tunnel']['type'] };
  readonly mode: Entry['mode'];
  /** Folder under lake.uri, normalised: no leading/trailing slash; defaults to the table name. */
  readonly path: NonNullable<Entry['path']>;
  /** Declared columns, by their lake names. */
  readonly columns: readonly ColumnConfig[];
  /** tables[].select: which source columns land, under which lake names (config/column-selection.ts). */
  readonly select: ColumnSelectionConfig;
  readonly partitionBy: Entry['partitionBy'];
  /** tables[].metadataPrefix: the metadata columns' names are this + op, ts, … (common/metadata-columns.ts). */
  readonly metadataPrefix: Entry['metadataPrefix'];
  /** tables[].retention in ms: changelog rows older than this leave the table (pipeline/maintenance.ts); 0 = keep everything. */
  readonly retentionMs: Entry['retention'];
  /** tables[].iceberg: Iceberg metadata for this table (with lake.iceberg). */
  readonly iceberg: boolean;
  /**
   * What a value whose type contradicts its column becomes (lake/mirror/type-conflict.ts). Present
   * only when the file sets it; use typeConflictPolicyOf() for the effective one.
   */
  readonly typeConflictPolicy?: Entry['typeConflictPolicy'];
  /** Present exactly when mode is mirror: the layout fixed at table creation (docs/mirror.md). */
  readonly mirror?: MirrorTableConfig;
}

/** The policy in force for a table: the configured one, else the default. */
export function typeConflictPolicyOf(table: Pick<TableConfig, 'typeConflictPolicy'>): TypeConflictPolicyName {
  return table.typeConflictPolicy ?? DEFAULT_TYPE_CONFLICT_POLICY;
}

/**
 * The changelog's metadata columns (docs/changelog.md §Columns; the workers' METADATA_COLUMNS and the derived
 * `_date`, a unit test keeps them equal).
 * A declared column must not shadow them, not even in another case: Delta names are case-insensitive.
 */
export const RESERVED_COLUMNS = reservedColumnNames();

const lower = (s: string) => s.toLowerCase();

function checkColumns(items: CheckedItem<typeof COLUMN_SCHEMA>[], prefix: string, issues: ConfigIssue[]): ColumnConfig[] {
  const reservedNames = reservedColumnNames(prefix);
  const byLowerName = new Map<string, string>();
  for (const item of items) {
    if (item.invalid.has('name')) continue;
    const { name } = item.values;
    const key = `${item.at}.name`;
    const reserved = reservedNames.find((r) => lower(r) === lower(name));
    const earlier = byLowerName.get(lower(name));
    if (reserved === name) {
      issues.push({
        key,
        problem: `"${name}" is reserved for otslake's metadata columns (${reservedNames.join(', ')}); to land a source column of this name, set metadataPrefix (e.g. "otslake_")`,
      });
    } else if (reserved !== undefined) {
      issues.push({ key, problem: `"${name}" differs from the metadata column "${reserved}" only in case (Delta column names are case-insensitive)` });
    } else if (earlier === name) {
      issues.push({ key, problem: `column "${name}" is declared twice` });
    } else if (earlier !== undefined) {
      issues.push({ key, problem: `column "${name}" differs from column "${earlier}" only in case (Delta column names are case-insensitive)` });
    } else {
      byLowerName.set(lower(name), name);
    }
  }
  return items.map((i) => i.values);
}

/**
 * A partition column must be a declared column of a partitionable type. Requiring the declaration lets
 * validate-config decide offline what `run` would refuse; the primary key (known only to Tablestore) is
 * left out on purpose: a partition column is not stored in the data files, and a key column out of the
 * files would break every reader that merges or deduplicates by key.
 */
function checkPartitionBy(partitionBy: readonly string[], columns: readonly ColumnConfig[], prefix: string, at: string, issues: ConfigIssue[]): void {
  const dateColumn = metadataColumnNames(prefix).date;
  partitionBy.forEach((name, j) => {
    const key = `${at}.partitionBy[${j}]`;
    const earlier = partitionBy.slice(0, j).find((p) => lower(p) === lower(name));
    if (name === dateColumn && earlier === undefined) return; // derived from _ts: nothing to declare
    const declared = columns.find((c) => c.name === name);
    const sameButCase = columns.find((c) => lower(c.name) === lower(name));
    if (earlier !== undefined) {
      issues.push({ key, problem: earlier === name ? `column "${name}" is listed twice` : `"${name}" and "${earlier}" differ only in case` });
    } else if (declared === undefined && sameButCase !== undefined) {
      issues.push({ key, problem: `"${name}" is not a declared column; the declared column is "${sameButCase.name}" (names must match exactly)` });
    } else if (declared === undefined) {
      issues.push({
        key,
        problem: `"${name}" is not a declared column: declare it in ${at}.columns with type ${PARTITION_COLUMN_TYPES.join(', ')} (primary-key columns cannot be partition columns)`,
      });
    } else if (!(PARTITION_COLUMN_TYPES as readonly string[]).includes(declared.type)) {
      issues.push({ key, problem: `"${name}" is ${declared.type}: a partition column must be ${PARTITION_COLUMN_TYPES.join(', ')}` });
    }
  });
}

function checkMirrorOnly(entry: CheckedItem<typeof TABLE_ENTRY_SCHEMA>, issues: ConfigIssue[]): MirrorTableConfig | undefined {
  const { values, given, at } = entry;
  if (values.mode === 'mirror' && values.retention > 0)
    issues.push({ key: `${at}.retention`, problem: 'is only allowed with mode changelog (a mirror holds the current rows, not their history)' });
  if (values.mode !== 'mirror') {
    for (const k of MIRROR_ONLY_KEYS) {
      if (!given.has(k)) continue;
      const why = k === 'changeDataFeed' ? ' (a changelog table is its own change feed)' : '';
      issues.push({ key: `${at}.${k}`, problem: `is only allowed with mode mirror${why}` });
    }
    return undefined;
  }
  if (!entry.invalid.has('partitionBy') && values.partitionBy.length > 0)
    issues.push({ key: `${at}.partitionBy`, problem: 'must be empty with mode mirror (mirror tables are laid out by primary-key hash buckets)' });
  return { buckets: values.mirror.buckets, targetFileSizeBytes: values.mirror.targetFileSize, changeDataFeed: values.changeDataFeed };
}

/**
 * The default tunnel of a table: unique per lake (lake.uri and the table's path), so that two deployments
 * writing different lakes never share a tunnel's channels by accident (docs/errors.md §OTSL_TUNNEL_LAKE_MISMATCH).
 */
export function defaultTunnelName(table: string, lakeUri: string | null, path: string): string {
  if (lakeUri === null) return `otslake-${table}`;
  const identity = createHash('sha256')
    .update(`${lakeUri.replace(/\/+$/, '')}\n${path}`)
    .digest('hex')
    .slice(0, 8);
  return `otslake-${table}-${identity}`;
}

function resolveEntry(entry: CheckedItem<typeof TABLE_ENTRY_SCHEMA>, lakeUri: string | null, issues: ConfigIssue[]): TableConfig | null {
  const { values, given, invalid, at } = entry;
  const before = issues.length;
  const columnItems = invalid.has('columns') ? [] : checkList(COLUMN_SCHEMA, values.columns, `${at}.columns`, issues);
  const prefix = invalid.has('metadataPrefix') ? DEFAULT_METADATA_PREFIX : values.metadataPrefix;
  const columns = checkColumns(columnItems, prefix, issues);
  const selectInvalid = ['select.include', 'select.exclude', 'select.rename'].some((k) => invalid.has(k));
  const select = selectInvalid ? NO_SELECTION : checkSelection(values.select, invalid.has('columns') ? [] : columns, prefix, at, issues);
  if (issues.length === before && !invalid.has('partitionBy')) checkPartitionBy(values.partitionBy, columns, prefix, at, issues);
  const mirror = invalid.has('mode') ? undefined : checkMirrorOnly(entry, issues);
  const defaultPathProblem = values.path === null && !invalid.has('table') ? tablePathProblem(values.table) : null;
  if (defaultPathProblem !== null)
    issues.push({ key: `${at}.path`, problem: `the default, the table name "${values.table}", is not a valid folder (${defaultPathProblem}): set a path` });
  if (!entry.ok || issues.length > before) return null;
  const path = (values.path ?? values.table).replace(/^\/+|\/+$/g, '');
  return {
    table: values.table,
    tunnel: { name: values.tunnel.name ?? defaultTunnelName(values.table, lakeUri, path), type: values.tunnel.type },
    mode: values.mode,
    path,
    columns,
    select,
    partitionBy: values.partitionBy,
    retentionMs: values.retention,
    metadataPrefix: values.metadataPrefix,
    iceberg: values.iceberg,
    ...(given.has('typeConflictPolicy') ? { typeConflictPolicy: values.typeConflictPolicy } : {}),
    ...(mirror === undefined ? {} : { mirror }),
  };
}

/** Two entries must not write the same folder, nor one inside the other (a table's files would mix). */
function checkOverlaps(tables: { index: number; cfg: TableConfig }[], issues: ConfigIssue[]): void {
  for (let a = 0; a < tables.length; a++) {
    for (let b = 0; b < a; b++) {
      const x = tables[a]!;
      const y = tables[b]!;
      if (x.cfg.path === y.cfg.path) {
        issues.push({ key: `tables[${x.index}].path`, problem: `"${x.cfg.path}" is already used by tables[${y.index}]` });
      } else if (x.cfg.path.startsWith(y.cfg.path + '/') || y.cfg.path.startsWith(x.cfg.path + '/')) {
        issues.push({ key: `tables[${x.index}].path`, problem: `"${x.cfg.path}" and tables[${y.index}].path "${y.cfg.path}" are nested` });
      }
      if (x.cfg.table === y.cfg.table && x.cfg.tunnel.name === y.cfg.tunnel.name) {
        issues.push({
          key: `tables[${x.index}].tunnel.name`,
          problem: `tunnel "${x.cfg.tunnel.name}" of table "${x.cfg.table}" is already read by tables[${y.index}]`,
        });
      }
    }
  }
}

/** The `tables` value (already known to be a list, or reported as not one) → the resolved entries. */
export function resolveTables(value: unknown, issues: ConfigIssue[], lakeUri: string | null = null): TableConfig[] {
  const ok: { index: number; cfg: TableConfig }[] = [];
  for (const entry of checkList(TABLE_ENTRY_SCHEMA, value, 'tables', issues)) {
    const cfg = resolveEntry(entry, lakeUri, issues);
    if (cfg) ok.push({ index: entry.index, cfg });
  }
  checkOverlaps(ok, issues);
  return ok.map((t) => t.cfg);
}
