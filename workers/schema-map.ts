/**
 * Tablestore types → Delta/Parquet column types, and the schema of one channel batch.
 *
 * Mapping (docs/changelog.md §Type mapping): INTEGER → long, DOUBLE → double, BOOLEAN → boolean, STRING → string,
 * BINARY → binary. A column's type is fixed by the table schema, or, for a column discovered in this
 * batch, by its first value. A value of another type is never coerced: coercion would land a wrong
 * value silently (a STRING "12abc" in a long column), so the row goes to the dead letters instead.
 */
import { OtslakeError } from '../common/errors.js';
import { DEFAULT_METADATA_PREFIX, metadataColumnNames, reservedColumnNames } from '../common/metadata-columns.js';
import type { ColumnSpec, ColumnType } from '../lake/parquet-columns.js';
import { partitionColumnSpec, type PartitionColumnSpec } from '../lake/partition-columns.js';
import { resolveTypeConflict, type TypeConflictPolicy } from '../lake/mirror/type-conflict.js';
import { VT, type CellValue, type ValueType } from '../tunnel/plainbuffer.js';
import type { ColumnSelection, Route } from './column-selection.js';
import type { ChannelTaskInput, DataColumn, PrimaryKeyColumn, PrimaryKeyType } from './protocol.js';

/** The metadata columns of a data file with `prefix` (tables[].metadataPrefix), in file order, after the data columns (docs/changelog.md §Columns). */
export function metadataColumns(prefix: string = DEFAULT_METADATA_PREFIX): ColumnSpec[] {
  const n = metadataColumnNames(prefix);
  return [
    { name: n.op, type: 'string', nullable: true },
    { name: n.ts, type: 'timestamp', nullable: true },
    { name: n.seq, type: 'string', nullable: true },
    { name: n.channel, type: 'string', nullable: true },
    { name: n.deletedColumns, type: 'array<string>', nullable: true },
  ];
}

/** The metadata columns with the default prefix. */
export const METADATA_COLUMNS: readonly ColumnSpec[] = metadataColumns();

/**
 * The derived metadata column (default prefix): the UTC day of `_ts`, Delta `date`. It exists only in tables
 * partitioned by it, so it is never filled by rows: its value is the file's partition value (in the file
 * only when the table materializes its partition columns).
 */
export const DATE_COLUMN = metadataColumnNames().date;

/** The Tablestore wire type a column accepts; null for types no Tablestore value has (timestamp, arrays). */
export function valueTypeOfColumn(type: ColumnType): ValueType | null {
  switch (type) {
    case 'long':
      return VT.INTEGER;
    case 'double':
      return VT.DOUBLE;
    case 'boolean':
      return VT.BOOLEAN;
    case 'string':
      return VT.STRING;
    case 'binary':
      return VT.BINARY;
    default:
      return null;
  }
}

/** The column type a Tablestore value lands as; null for VT.NONE (a delete cell has no value). */
export function columnTypeOfValue(type: ValueType): ColumnType | null {
  switch (type) {
    case VT.INTEGER:
      return 'long';
    case VT.DOUBLE:
      return 'double';
    case VT.BOOLEAN:
      return 'boolean';
    case VT.STRING:
      return 'string';
    case VT.BINARY:
      return 'binary';
    default:
      return null;
  }
}

export function columnTypeOfPrimaryKey(type: PrimaryKeyType): ColumnType {
  switch (type) {
    case 'INTEGER':
      return 'long';
    case 'STRING':
      return 'string';
    case 'BINARY':
      return 'binary';
    default:
      throw new OtslakeError('OTSL_LAKE_SCHEMA', `primary-key type must be INTEGER, STRING or BINARY, got ${JSON.stringify(type)}`, {
        context: { columnType: String(type) },
      });
  }
}

/** Tablestore's name of a wire type, for dead letters and messages. */
export function valueTypeName(type: ValueType): string {
  switch (type) {
    case VT.INTEGER:
      return 'INTEGER';
    case VT.DOUBLE:
      return 'DOUBLE';
    case VT.BOOLEAN:
      return 'BOOLEAN';
    case VT.STRING:
      return 'STRING';
    case VT.BINARY:
      return 'BINARY';
    default:
      return 'NONE';
  }
}

/** One data column as the row sink sees it. */
export interface ColumnSlot {
  readonly name: string;
  readonly type: ColumnType;
  /** The only wire type accepted; VT.NONE (matches no value) for columns no value may fill. */
  readonly valueType: ValueType;
  /** Position among the data columns: the column's builder in a data file of this schema. */
  readonly index: number;
}

/** Where a partition value comes from: a data column's slot, or (null) the day of `_ts`. */
export interface PartitionSource {
  readonly name: string;
  readonly slot: ColumnSlot | null;
}

/**
 * What a source column left out by the selection resolves to: a slot no value's wire type matches (so the
 * sinks' common path, a value of its column's type, needs no test for it) and no builder has.
 */
export const LEFT_OUT: ColumnSlot = Object.freeze({ name: '', type: 'string', valueType: -1 as ValueType, index: -1 });

/** Why a name cannot become a column: it shadows a metadata column or differs from one only in case. */
export type NameConflict = 'reserved' | 'case-duplicate';

/**
 * The data columns of one batch: the table's, plus those discovered while reading. Delta column names
 * are case-insensitive while Tablestore's are not, hence the lower-cased index.
 */
export class BatchSchema {
  /** By lake name. */
  private readonly slots = new Map<string, ColumnSlot>();
  /** By source name (the decoder's): `slots` itself without a selection, else aliases and LEFT_OUT entries. */
  private readonly bySource: Map<string, ColumnSlot>;
  private readonly lowerNames = new Set<string>();
  private readonly ordered: ColumnSlot[] = [];
  private readonly discovered: DataColumn[] = [];
  /** Bumped whenever a column is added: the Parquet writer must then be reopened. */
  version = 0;
  /** The data columns a file holds, as slot indices in file order: every column but the partition columns. */
  fileSlots = new Int32Array(0);
  /** This table's metadata columns (file order) and their lower-cased names with the derived date: reserved. */
  private readonly metadata: readonly ColumnSpec[];
  private readonly metadataNames: ReadonlySet<string>;
  private readonly dateColumn: string;
  /** The partition columns in the table's order, each with its slot (null: `_date`, derived from `_ts`); none when unpartitioned. */
  readonly partitions: readonly PartitionSource[];

  /**
   * `columns` may or may not list the primary key (it is added from `primaryKey` when absent), and may
   * carry the metadata columns of the table's Delta schema (skipped when their type is the expected one).
   */
  constructor(
    columns: readonly DataColumn[],
    primaryKey: readonly PrimaryKeyColumn[],
    readonly discover: boolean,
    partitionColumns: readonly string[] = [],
    metadataPrefix: string = DEFAULT_METADATA_PREFIX,
    private readonly selection: ColumnSelection | null = null,
  ) {
    this.bySource = selection === null ? this.slots : new Map();
    this.metadata = metadataColumns(metadataPrefix);
    this.metadataNames = new Set(reservedColumnNames(metadataPrefix).map((n) => n.toLowerCase()));
    this.dateColumn = metadataColumnNames(metadataPrefix).date;
    const metadataTypes = new Map(this.metadata.map((c) => [c.name, c.type]));
    const listed = new Set(columns.map((c) => c.name));
    for (const pk of primaryKey) {
      if (!listed.has(pk.name)) this.insert(pk.name, columnTypeOfPrimaryKey(pk.type));
    }
    for (const c of columns) {
      if (metadataTypes.get(c.name) === c.type) continue;
      const conflict = this.conflictOf(c.name);
      if (conflict !== null) {
        throw new OtslakeError(
          'OTSL_LAKE_SCHEMA',
          `table column "${c.name}" ${conflict === 'reserved' ? 'shadows a changelog metadata column' : 'appears twice (Delta names ignore case)'}`,
          {
            context: { column: c.name },
          },
        );
      }
      this.insert(c.name, c.type);
    }
    for (const pk of primaryKey) {
      const slot = this.slots.get(pk.name)!;
      const expected = columnTypeOfPrimaryKey(pk.type);
      if (slot.type !== expected) {
        throw new OtslakeError(
          'OTSL_LAKE_SCHEMA',
          `primary-key column "${pk.name}" (${String(pk.type)}) must be a ${expected} column, the table has ${slot.type}`,
          {
            context: { column: pk.name, columnType: slot.type },
          },
        );
      }
    }
    this.partitions = partitionColumns.map((name) => {
      if (name === this.dateColumn) return { name, slot: null };
      const slot = this.slots.get(name);
      if (slot === undefined) {
        throw new OtslakeError('OTSL_LAKE_SCHEMA', `partition column "${name}" is not a column of the table`, { context: { column: name } });
      }
      return { name, slot };
    });
    this.refreshFileSlots();
  }

  /** The column of a lake name. */
  lookup(name: string): ColumnSlot | undefined {
    return this.slots.get(name);
  }

  /**
   * The column a source column (as the decoder names it) lands in: LEFT_OUT when the selection leaves it out
   * (known after its first routeOf), undefined when it is not (yet) a column.
   */
  sourceSlot(name: string): ColumnSlot | undefined {
    return this.bySource.get(name);
  }

  /** Whether source and lake names may differ: only then do deleted-column names need routeOf. */
  get selective(): boolean {
    return this.selection !== null;
  }

  /** Where a source column goes (the rare path: a name sourceSlot does not know); a left-out one is remembered. */
  routeOf(source: string): Route {
    if (this.selection === null) return source;
    const route = this.selection.route(source);
    if (route === null) this.bySource.set(source, LEFT_OUT);
    return route;
  }

  /** The lake name a deleted source column is reported under in `_deleted_columns`: null when left out, TAKEN when its name is another column's rename. */
  deletedRouteOf(source: string): Route {
    const slot = this.sourceSlot(source);
    if (slot === undefined) return this.routeOf(source);
    return slot === LEFT_OUT ? null : slot.name;
  }

  /** Data columns in file order. */
  get columns(): readonly ColumnSlot[] {
    return this.ordered;
  }

  /** Columns discovered in this batch, in the order they were first seen. */
  get newColumns(): readonly DataColumn[] {
    return this.discovered;
  }

  /**
   * What a Parquet data file of this batch holds: the data columns, then the metadata columns, each
   * with its Iceberg field id when `fieldIds` has one (columns discovered in this batch have none).
   */
  fileColumns(fieldIds: ChannelTaskInput['fieldIds'] = {}): ColumnSpec[] {
    const withId = (c: ColumnSpec): ColumnSpec => {
      const ids = fieldIds[c.name];
      return ids === undefined ? c : { ...c, fieldId: ids.id, ...(ids.elementId === undefined ? {} : { elementFieldId: ids.elementId }) };
    };
    const data = Array.from(this.fileSlots, (i) => this.ordered[i]!).map((s) => ({ name: s.name, type: s.type, nullable: true }));
    return [...data, ...this.metadata].map(withId);
  }

  /**
   * The partition columns as materialized in a file (after `fileColumns`), with their field ids: `_date`
   * is a Delta date, the others keep their column's type.
   */
  partitionFileColumns(fieldIds: ChannelTaskInput['fieldIds'] = {}): PartitionColumnSpec[] {
    return this.partitions.map(({ name, slot }) => partitionColumnSpec(name, slot === null ? 'date' : slot.type, fieldIds[name]?.id));
  }

  conflictOf(name: string): NameConflict | null {
    const lower = name.toLowerCase();
    if (this.metadataNames.has(lower)) return 'reserved';
    return this.lowerNames.has(lower) ? 'case-duplicate' : null;
  }

  /**
   * Whether a value of `type` in column `name`, which the schema does not have, may land as a new
   * column of this row: 'stage' it, 'staged' (the row already has it with this type), or why not. The
   * one rule of discovery for both row sinks; `staged` are the columns the row discovered so far.
   */
  discoveryOf(
    name: string,
    type: ValueType,
    staged: readonly { readonly name: string; readonly valueType: ValueType }[],
  ): 'stage' | 'staged' | { verdict: 'unknown-column' | 'type-mismatch' | 'column-name-conflict'; column: string; expectedType?: string; actualType: string } {
    const actualType = valueTypeName(type);
    if (!this.discover) return { verdict: 'unknown-column', column: name, actualType };
    const same = staged.find((s) => s.name === name);
    if (same !== undefined) {
      return same.valueType === type
        ? 'staged'
        : { verdict: 'type-mismatch', column: name, expectedType: columnTypeOfValue(same.valueType) ?? 'none', actualType };
    }
    const lower = name.toLowerCase();
    if (this.conflictOf(name) !== null || type === VT.NONE || staged.some((s) => s.name.toLowerCase() === lower)) {
      return { verdict: 'column-name-conflict', column: name, actualType };
    }
    return 'stage';
  }

  /**
   * Where a value of the wrong type for `slot` lands under the table's type-conflict policy — the one rule for
   * both row sinks: its companion column (`target`, or a new column named `column` of `type` when the schema
   * has none yet), or nowhere (null: the row is a type mismatch, also when the companion name is taken by a
   * column of another type).
   */
  conflictLandingOf(
    slot: ColumnSlot,
    type: ValueType,
    value: CellValue,
    policy: TypeConflictPolicy,
  ): { column: string; type: ValueType; value: unknown; target: ColumnSlot | undefined } | null {
    const outcome = resolveTypeConflict(slot.name, slot.type, value, policy);
    if (outcome.action !== 'land') return null;
    const landedType = outcome.policy === 'string' ? VT.STRING : type;
    const target = this.lookup(outcome.column);
    if (target !== undefined && target.valueType !== landedType) return null;
    return { column: outcome.column, type: landedType, value: outcome.value, target };
  }

  /** Adds a column discovered from a value of `valueType`; the caller checked conflictOf() first. */
  discoverColumn(name: string, valueType: ValueType): ColumnSlot {
    const type = columnTypeOfValue(valueType);
    if (type === null || this.conflictOf(name) !== null) {
      throw new OtslakeError('OTSL_INTERNAL', `column "${name}" cannot be discovered from a ${valueTypeName(valueType)} value`, { context: { column: name } });
    }
    const slot = this.insert(name, type);
    this.discovered.push({ name, type });
    return slot;
  }

  private insert(name: string, type: ColumnType): ColumnSlot {
    const slot: ColumnSlot = { name, type, valueType: valueTypeOfColumn(type) ?? VT.NONE, index: this.ordered.length };
    this.slots.set(name, slot);
    if (this.selection !== null) for (const source of this.selection.sourcesOf(name)) this.bySource.set(source, slot);
    this.lowerNames.add(name.toLowerCase());
    this.ordered.push(slot);
    this.version++;
    // Called from the constructor before partitions is set: the constructor refreshes once at its end.
    if (this.partitions !== undefined) this.refreshFileSlots();
    return slot;
  }

  /** Partition columns live in the file's path and `partitionValues`; rows never fill them (materialized ones are constant columns). */
  private refreshFileSlots(): void {
    const partitioned = new Set(this.partitions.map((p) => p.slot?.index));
    this.fileSlots = Int32Array.from(this.ordered.filter((s) => !partitioned.has(s.index)).map((s) => s.index));
  }
}
