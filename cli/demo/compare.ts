/**
 * Does the lake equal the source? The demo's `--duration` ends on this, not on counters: the rows
 * the Tablestore table holds now (a full GetRange scan through the official SDK), against the state
 * the changelog rebuilds — per key its snapshot row, then its changes in `_seq` order (docs/changelog.md
 * §Columns): PUT replaces the row, UPDATE sets the columns it carries and clears `_deleted_columns`,
 * DELETE removes the key. Counters cannot tell: a run that continues a table lands rows written by an
 * earlier run, and the full snapshot lands rows that were never "written" by this one.
 */
import { createRequire } from 'node:module';
import type { ObjectStore } from '../../lake/object-store.js';
import { readParquetRows } from '../../lake/parquet-read.js';
import { loadSnapshot } from '../../lake/snapshot.js';

/** The columns compared (what the demo writer writes, besides the key). */
const COLUMNS = ['user_id', 'amount', 'status', 'paid', 'created_at', 'coupon'] as const;
type Row = Partial<Record<(typeof COLUMNS)[number], string>>;

export interface Comparison {
  equal: boolean;
  sourceRows: number;
  lakeRows: number;
  /** Keys in the source that the lake lacks. */
  missing: number;
  /** Keys in the lake that the source no longer (or never) had. */
  extra: number;
  /** Keys in both with different values. */
  stale: number;
}

interface RangeSdk {
  INF_MIN: unknown;
  INF_MAX: unknown;
  Direction: { FORWARD: unknown };
}

export interface RangeClient {
  getRange(params: Record<string, unknown>): Promise<{
    rows: { primaryKey?: { name: string; value: unknown }[]; attributes?: { columnName: string; columnValue: unknown }[] }[];
    nextStartPrimaryKey?: { name: string; value: unknown }[] | null;
  }>;
}

const TS = createRequire(import.meta.url)('tablestore') as RangeSdk;

/** A value as comparable text: Long, number, boolean and string alike. */
function text(v: unknown): string | undefined {
  if (v === null || v === undefined) return undefined;
  return typeof v === 'object' && 'toString' in v ? String(v.toString()) : String(v);
}

export async function sourceRows(client: RangeClient, tableName: string): Promise<Map<string, Row>> {
  const rows = new Map<string, Row>();
  let start: unknown = [{ order_id: TS.INF_MIN }];
  while (start) {
    const page = await client.getRange({
      tableName,
      direction: TS.Direction.FORWARD,
      inclusiveStartPrimaryKey: start,
      exclusiveEndPrimaryKey: [{ order_id: TS.INF_MAX }],
      limit: 5_000,
    });
    for (const r of page.rows) {
      const key = text(r.primaryKey?.[0]?.value);
      if (key === undefined) continue;
      const row: Row = {};
      for (const a of r.attributes ?? []) if ((COLUMNS as readonly string[]).includes(a.columnName)) row[a.columnName as keyof Row] = text(a.columnValue);
      rows.set(key, row);
    }
    start = page.nextStartPrimaryKey ? page.nextStartPrimaryKey.map((c) => ({ [c.name]: c.value })) : null;
  }
  return rows;
}

/** The changelog replayed to one row per live key. */
export async function lakeRows(store: ObjectStore): Promise<Map<string, Row>> {
  const snapshot = await loadSnapshot(store);
  const changes: Record<string, unknown>[] = [];
  for (const add of snapshot.files.values()) {
    const path = decodeURIComponent(add.path);
    const bytes = await store.get(path);
    changes.push(...(await readParquetRows(bytes, { file: path, columns: ['order_id', '_op', '_seq', '_channel', '_deleted_columns', ...COLUMNS] })));
  }
  // Snapshot rows (_seq null) first, then the changes; a key's changes are in one channel lineage and
  // its _seq timestamps order them across a split.
  changes.sort((a, b) => {
    const sa = (a._seq as string | null) ?? '';
    const sb = (b._seq as string | null) ?? '';
    return sa < sb ? -1 : sa > sb ? 1 : 0;
  });
  const rows = new Map<string, Row>();
  for (const c of changes) {
    const key = text(c.order_id)!;
    if (c._op === 'DELETE') {
      rows.delete(key);
      continue;
    }
    const row: Row = c._op === 'UPDATE' ? { ...(rows.get(key) ?? {}) } : {};
    for (const col of COLUMNS) {
      const v = text(c[col]);
      if (v !== undefined) row[col] = v;
    }
    for (const col of (c._deleted_columns as string[] | null) ?? []) delete row[col as keyof Row];
    rows.set(key, row);
  }
  return rows;
}

export function compareRows(source: Map<string, Row>, lake: Map<string, Row>): Comparison {
  let missing = 0;
  let stale = 0;
  for (const [key, row] of source) {
    const landed = lake.get(key);
    if (!landed) missing++;
    else if (COLUMNS.some((c) => row[c] !== landed[c])) stale++;
  }
  let extra = 0;
  for (const key of lake.keys()) if (!source.has(key)) extra++;
  return { equal: missing === 0 && extra === 0 && stale === 0, sourceRows: source.size, lakeRows: lake.size, missing, extra, stale };
}

export async function compareLakeWithSource(client: RangeClient, tableName: string, store: ObjectStore): Promise<Comparison> {
  return compareRows(await sourceRows(client, tableName), await lakeRows(store));
}
