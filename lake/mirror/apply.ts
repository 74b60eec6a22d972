/**
 * Mirror semantics: a key's staged changes, collapsed in sequence order onto its current row.
 *
 * - PUT replaces the row: every attribute is null except those it puts.
 * - UPDATE sets the columns it puts and clears those in `_deleted_columns` (delete-one-version and
 *   delete-all-versions both clear: a mirror keeps the newest value only). On a missing row it
 *   creates the row if it puts anything, as Tablestore does.
 * - DELETE removes the row.
 * Order: full-snapshot (base) rows, which carry no `_seq`, first; then stream changes by `_seq`;
 * ties by arrival. A base row never overwrites a row the stream already wrote (`_seq` set): it is
 * older than that change. Why this is enough for the snapshot/stream overlap: docs/mirror.md §Overlap of the full snapshot and the stream.
 *
 * Mirror rows keep two metadata columns: `_ts` (µs of the last change applied) and `_seq` (its
 * sequence, null while the row only comes from the full snapshot), named with the table's metadataPrefix.
 */
import { OtslakeError } from '../../common/errors.js';
import { DEFAULT_METADATA_PREFIX, metadataColumnNames, type MetadataColumnNames } from '../../common/metadata-columns.js';
import type { ColumnSpec } from '../parquet-columns.js';
import { encodeKey, type KeyColumn } from './key-encoding.js';

export type ChangeOp = 'PUT' | 'UPDATE' | 'DELETE';

/** One staged change of one key. */
export interface RowChange {
  readonly key: string;
  readonly op: ChangeOp;
  /** `%08x:%016x:%08x`; null for full-snapshot rows. */
  readonly seq: string | null;
  readonly tsUs: bigint | null;
  /** Primary-key values and the attribute values this change puts (non-null only). */
  readonly values: Readonly<Record<string, unknown>>;
  readonly deletedColumns: readonly string[];
  /** Arrival order inside the batch: breaks `_seq` ties. */
  readonly order: number;
}

export type MirrorRow = Record<string, unknown>;

/**
 * The metadata names of a mirror table (tables[].metadataPrefix, `_` by default): its rows keep `ts` and `seq`;
 * its staged changelog rows carry all five, none of which is ever copied into a mirror row.
 */
export interface MirrorMetadataNames extends Omit<MetadataColumnNames, 'date'> {
  /** The staged metadata column names. */
  readonly staged: ReadonlySet<string>;
}

const namesByPrefix = new Map<string, MirrorMetadataNames>();

export function mirrorMetadataNames(prefix: string = DEFAULT_METADATA_PREFIX): MirrorMetadataNames {
  let names = namesByPrefix.get(prefix);
  if (names === undefined) {
    const n = metadataColumnNames(prefix);
    names = {
      op: n.op,
      ts: n.ts,
      seq: n.seq,
      channel: n.channel,
      deletedColumns: n.deletedColumns,
      staged: new Set([n.op, n.ts, n.seq, n.channel, n.deletedColumns]),
    };
    namesByPrefix.set(prefix, names);
  }
  return names;
}

const DEFAULT_NAMES = mirrorMetadataNames();

/** The columns a mirror file holds after the table's data columns. */
export function mirrorMetadataColumns(prefix: string = DEFAULT_METADATA_PREFIX): ColumnSpec[] {
  const n = mirrorMetadataNames(prefix);
  return [
    { name: n.ts, type: 'timestamp', nullable: true },
    { name: n.seq, type: 'string', nullable: true },
  ];
}

function tsOf(value: unknown, column: string): bigint | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (value instanceof Date) return BigInt(value.getTime()) * 1000n;
  throw new OtslakeError('OTSL_LAKE_SCHEMA', `staged ${column} is not a µs timestamp: ${String(value)}`, { context: { column } });
}

/** A staged changelog row (as read from a staging file) as a RowChange. Bad `_op` or key is OTSL_LAKE_SCHEMA. */
export function changeOfStagedRow(
  row: Readonly<Record<string, unknown>>,
  keyColumns: readonly KeyColumn[],
  order: number,
  file?: string,
  names: MirrorMetadataNames = DEFAULT_NAMES,
): RowChange {
  const op = row[names.op];
  if (op !== 'PUT' && op !== 'UPDATE' && op !== 'DELETE') {
    throw new OtslakeError('OTSL_LAKE_SCHEMA', `staged row ${order} has ${names.op} ${JSON.stringify(op)}, expected PUT, UPDATE or DELETE`, {
      context: { column: names.op, row: order, ...(file === undefined ? {} : { file }) },
    });
  }
  const values: Record<string, unknown> = {};
  for (const name in row) {
    const v = row[name];
    if (v !== null && v !== undefined && !names.staged.has(name)) values[name] = v;
  }
  const deleted = row[names.deletedColumns];
  const seq = row[names.seq];
  return {
    key: encodeKey(keyColumns, row),
    op,
    seq: typeof seq === 'string' ? seq : null,
    tsUs: tsOf(row[names.ts], names.ts),
    values,
    deletedColumns: Array.isArray(deleted) ? (deleted as string[]) : [],
    order,
  };
}

/** Sequence order: base rows first (by arrival), then `_seq`, then arrival. */
function compareChanges(a: RowChange, b: RowChange): number {
  if (a.seq === null || b.seq === null) {
    if (a.seq !== b.seq) return a.seq === null ? -1 : 1;
  } else if (a.seq !== b.seq) {
    return a.seq < b.seq ? -1 : 1;
  }
  return a.order - b.order;
}

/** Changes grouped by key, each group in sequence order. */
export function groupChanges(changes: Iterable<RowChange>): Map<string, RowChange[]> {
  const out = new Map<string, RowChange[]>();
  for (const c of changes) {
    const list = out.get(c.key);
    if (list) list.push(c);
    else out.set(c.key, [c]);
  }
  for (const list of out.values()) if (list.length > 1) list.sort(compareChanges);
  return out;
}

const COMPANION = /^(.+)__(long|double|boolean|string|binary)$/;

/**
 * Which columns hold the same source attribute: `price` and its type-conflict companions
 * (`price__string`, …; lake/mirror/type-conflict.ts). Setting or deleting one clears the others,
 * so a row shows the attribute's current value in exactly one of them.
 */
export class ColumnFamilies {
  private readonly families = new Map<string, string[]>();

  constructor(attributeNames: Iterable<string>) {
    const names = new Set(attributeNames);
    const groups = new Map<string, string[]>();
    for (const name of names) {
      const m = COMPANION.exec(name);
      const base = m && names.has(m[1]!) ? m[1]! : name;
      const g = groups.get(base);
      if (g) g.push(name);
      else groups.set(base, [name]);
    }
    for (const [base, members] of groups) {
      if (!members.includes(base)) members.push(base);
      for (const m of members) this.families.set(m, members);
    }
  }

  /** The column and every other column of its family (a name unknown to the table is its own family). */
  membersOf(name: string): readonly string[] {
    return this.families.get(name) ?? [name];
  }
}

/**
 * The row after `changes` (sorted, one key). `before` is not modified; undefined in or out means
 * "no row". `keyColumns` are kept from the change so a new row has its primary key.
 */
export function applyChanges(
  before: MirrorRow | undefined,
  changes: readonly RowChange[],
  keyColumns: readonly KeyColumn[],
  families: ColumnFamilies,
  names: Pick<MirrorMetadataNames, 'ts' | 'seq'> = DEFAULT_NAMES,
): MirrorRow | undefined {
  let row: MirrorRow | undefined = before;
  let copied = false;
  const own = (): MirrorRow => {
    if (!copied) {
      row = { ...row };
      copied = true;
    }
    return row!;
  };
  for (const c of changes) {
    if (c.seq === null && row !== undefined && row[names.seq] !== null && row[names.seq] !== undefined) continue;
    if (c.op === 'DELETE') {
      row = undefined;
      copied = false;
      continue;
    }
    if (c.op === 'PUT' || row === undefined) {
      if (c.op === 'UPDATE' && !hasAttributeValue(c, keyColumns)) continue;
      row = {};
      copied = true;
      for (const k of keyColumns) row[k.name] = c.values[k.name];
    }
    const target = own();
    if (c.op === 'UPDATE') for (const name of c.deletedColumns) for (const m of families.membersOf(name)) target[m] = null;
    for (const name in c.values) {
      for (const m of families.membersOf(name)) if (m !== name) target[m] = null;
      target[name] = c.values[name];
    }
    target[names.ts] = c.tsUs;
    target[names.seq] = c.seq;
  }
  return row;
}

function hasAttributeValue(c: RowChange, keyColumns: readonly KeyColumn[]): boolean {
  for (const name in c.values) if (!keyColumns.some((k) => k.name === name)) return true;
  return false;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if ((a === null || a === undefined) && (b === null || b === undefined)) return true;
  if (a instanceof Uint8Array && b instanceof Uint8Array) return a.length === b.length && a.every((x, i) => x === b[i]);
  return false;
}

/** Equal in every column of `columns` (null and absent are the same). */
export function sameRow(a: MirrorRow, b: MirrorRow, columns: readonly ColumnSpec[]): boolean {
  for (const c of columns) if (!sameValue(a[c.name], b[c.name])) return false;
  return true;
}
