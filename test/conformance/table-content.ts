/**
 * Reads the rows of a snapshot the simple way (every live file with hyparquet, partition values from
 * add.partitionValues typed by the schema) and canonicalises rows so that two readers' output can be
 * compared as multisets whatever their physical types (bigint vs number, Date, decimals, bytes).
 */
import type { DataType } from '../../lake/actions.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { readParquetRows } from '../../lake/parquet-read.js';
import { decodeFilePath, type Snapshot } from '../../lake/snapshot.js';

function timestampFromPartition(text: string, zone: string): Date {
  // Spark writes 'YYYY-MM-DD HH:MM:SS[.ffffff]' in the writer's session zone, or ISO-8601 with a zone.
  const iso = /[zZ]|[+-]\d\d:?\d\d$/.test(text) ? text.replace(' ', 'T') : `${text.replace(' ', 'T')}${zone}`;
  return new Date(iso.replace(/(\.\d{3})\d+/, '$1'));
}

/** A partition value string as the typed value a data file would hold. */
export function typedPartitionValue(value: string | null | undefined, type: DataType, zone = 'Z'): unknown {
  if (value === null || value === undefined) return null;
  if (typeof type !== 'string') return value;
  if (type === 'string' || type === 'binary') return value;
  if (value === '') return null;
  if (type === 'boolean') return value === 'true';
  if (type === 'date') return new Date(`${value}T00:00:00Z`);
  if (type === 'timestamp' || type === 'timestamp_ntz') return timestampFromPartition(value, zone);
  return Number(value);
}

/**
 * All rows of the snapshot's live files, projected onto the schema's top-level columns.
 * `partitionZone` is the writer's UTC offset for zone-less timestamp partition values ('Z' by default).
 */
export async function readTableRows(store: ObjectStore, snapshot: Snapshot, partitionZone = 'Z'): Promise<Record<string, unknown>[]> {
  const fields = snapshot.schema.fields;
  const partitionColumns = new Set(snapshot.metadata.partitionColumns);
  const out: Record<string, unknown>[] = [];
  for (const add of snapshot.files.values()) {
    const key = decodeFilePath(add.path);
    const rows = await readParquetRows(await store.get(key), { file: key });
    for (const data of rows) {
      const row: Record<string, unknown> = {};
      for (const f of fields) {
        row[f.name] = partitionColumns.has(f.name) ? typedPartitionValue(add.partitionValues[f.name], f.type, partitionZone) : (data[f.name] ?? null);
      }
      out.push(row);
    }
  }
  return out;
}

function canonicalValue(v: unknown): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return Number.isSafeInteger(Number(v)) ? Number(v) : `big:${v}`;
  // 15 significant digits: decimals decoded to doubles differ in the last bits between code paths
  if (typeof v === 'number') return Object.is(v, -0) ? 0 : Number.isNaN(v) ? 'NaN' : Number(v.toPrecision(15));
  if (v instanceof Date) return `date:${v.toISOString()}`;
  if (v instanceof Uint8Array) return `bytes:${Buffer.from(v).toString('hex')}`;
  if (Array.isArray(v)) return v.map(canonicalValue);
  if (v instanceof Map) return canonicalValue(Object.fromEntries(v));
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) out[k] = canonicalValue((v as Record<string, unknown>)[k]);
    return out;
  }
  return v;
}

/** Rows as sorted canonical JSON strings: equal arrays mean equal multisets of rows. */
export function canonicalRows(rows: Record<string, unknown>[]): string[] {
  return rows.map((r) => JSON.stringify(canonicalValue(r))).sort();
}

/** Reads every Parquet file of a folder (expected results) as rows. */
export async function readExpectedRows(store: ObjectStore, prefix: string): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  for (const meta of await store.list(prefix)) {
    if (!meta.key.endsWith('.parquet')) continue;
    for (const row of await readParquetRows(await store.get(meta.key), { file: meta.key })) out.push(row);
  }
  return out;
}
