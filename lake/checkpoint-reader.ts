/**
 * Finding complete checkpoints in a `_delta_log/` listing and reading their actions, whatever wrote
 * them: classic single-file V1, multi-part (all parts or nothing), UUID-named V2 (JSON or Parquet)
 * and classic-named V2, both with sidecars under `_delta_log/_sidecars/`.
 *
 * Checkpoint Parquet is matched by column name and missing columns are null (docs/delta-rules.md
 * §Checkpoints), so the reader only decodes the top-level action columns it needs and normalises what
 * hyparquet returns (bigint → number, absent → null) into the same shapes as JSON commits.
 */
import { OtslakeError, hasCode } from '../common/errors.js';
import type { Add, DomainMetadata, Metadata, Protocol, Remove, StructType, Txn, DataType } from './actions.js';
import { decodeActions, parseSchema } from './actions.js';
import { LOG_DIR, type LogFile } from './log-path.js';
import type { ObjectStore } from './object-store.js';
import { readSparseRows, type ParquetRow } from './parquet-read.js';

export type CheckpointSpec =
  | { kind: 'classic'; version: number; keys: [string] }
  | { kind: 'multipart'; version: number; keys: string[] }
  | { kind: 'v2'; version: number; keys: [string]; format: 'json' | 'parquet' };

export interface CheckpointActions {
  version: number;
  protocol: Protocol | null;
  metadata: Metadata | null;
  adds: Add[];
  removes: Remove[];
  txns: Txn[];
  domainMetadata: DomainMetadata[];
  /** Sidecar keys read (V2), for diagnostics. */
  sidecars: string[];
  /** Max lastModified of the checkpoint files, ms (a timestamp when no commit JSON is left). */
  lastModified: number;
}

export const ACTION_COLUMNS = ['txn', 'add', 'remove', 'metaData', 'protocol', 'domainMetadata', 'checkpointMetadata', 'sidecar'];
const SIDECAR_COLUMNS = ['add', 'remove'];
const SIDECAR_DIR = `${LOG_DIR}/_sidecars`;

/** Complete checkpoints in a listing, newest first (at one version: classic, then V2, then multi-part). */
export function findCompleteCheckpoints(files: readonly LogFile[]): CheckpointSpec[] {
  const out: CheckpointSpec[] = [];
  const multipart = new Map<string, { version: number; parts: number; keys: Map<number, string> }>();
  for (const f of files) {
    if (f.kind === 'checkpoint') out.push({ kind: 'classic', version: f.version, keys: [f.key] });
    else if (f.kind === 'v2-checkpoint') out.push({ kind: 'v2', version: f.version, keys: [f.key], format: f.format });
    else if (f.kind === 'multipart-checkpoint') {
      const id = `${f.version}/${f.parts}`;
      let set = multipart.get(id);
      if (!set) multipart.set(id, (set = { version: f.version, parts: f.parts, keys: new Map() }));
      set.keys.set(f.part, f.key);
    }
  }
  for (const set of multipart.values()) {
    // A multi-part checkpoint with a missing part is ignored (docs/delta-rules.md §Checkpoints).
    if (set.keys.size !== set.parts) continue;
    const keys: string[] = [];
    for (let p = 1; p <= set.parts; p++) {
      const key = set.keys.get(p);
      if (key === undefined) break;
      keys.push(key);
    }
    if (keys.length === set.parts) out.push({ kind: 'multipart', version: set.version, keys });
  }
  const rank = { classic: 0, v2: 1, multipart: 2 } as const;
  return out.sort((a, b) => b.version - a.version || rank[a.kind] - rank[b.kind]);
}

// ---- normalisation of hyparquet rows into protocol shapes ----

function num(v: unknown): number | null {
  if (v === undefined || v === null) return null;
  if (typeof v === 'bigint') return Number(v);
  return typeof v === 'number' ? v : Number(v);
}

function strMap(v: unknown): Record<string, string | null> {
  if (v === undefined || v === null) return {};
  if (v instanceof Map) return Object.fromEntries([...v].map(([k, x]) => [String(k), x === undefined ? null : (x as string | null)]));
  const out: Record<string, string | null> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) out[k] = x === undefined || x === null ? null : String(x);
  return out;
}

function optStrMap(v: unknown): Record<string, string> | null {
  return v === undefined || v === null ? null : (strMap(v) as Record<string, string>);
}

function dv(v: unknown): Add['deletionVector'] {
  if (v === undefined || v === null) return null;
  const d = v as Record<string, unknown>;
  if (d.storageType === undefined || d.storageType === null) return null;
  return {
    storageType: String(d.storageType),
    pathOrInlineDv: String(d.pathOrInlineDv),
    offset: num(d.offset),
    sizeInBytes: num(d.sizeInBytes) ?? 0,
    cardinality: num(d.cardinality) ?? 0,
    maxRowIndex: num(d.maxRowIndex),
  };
}

/** Turns typed `stats_parsed` back into the JSON `stats` form, so callers see one representation. */
function statsFromParsed(parsed: Record<string, unknown>, schema: StructType | null): string {
  const convert = (value: unknown, type: DataType | undefined): unknown => {
    if (value === null || value === undefined) return null;
    if (typeof value === 'bigint') return Number(value);
    if (value instanceof Date) return type === 'date' ? value.toISOString().slice(0, 10) : value.toISOString();
    if (value instanceof Uint8Array) return null;
    if (typeof value === 'object' && !Array.isArray(value)) {
      const fields = typeof type === 'object' && type.type === 'struct' ? type.fields : undefined;
      const out: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(value)) {
        const c = convert(x, fields?.find((f) => f.name === k)?.type);
        if (c !== null) out[k] = c;
      }
      return out;
    }
    return value;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if (v === null || v === undefined) continue;
    out[k] = k === 'minValues' || k === 'maxValues' || k === 'nullCount' ? convert(v, schema ?? undefined) : convert(v, undefined);
  }
  return JSON.stringify(out);
}

function toAdd(a: Record<string, unknown>, schema: StructType | null): Add {
  const add: Add = {
    path: String(a.path),
    partitionValues: strMap(a.partitionValues),
    size: num(a.size) ?? 0,
    modificationTime: num(a.modificationTime) ?? 0,
    dataChange: a.dataChange === true,
  };
  if (typeof a.stats === 'string') add.stats = a.stats;
  else if (a.stats_parsed !== undefined && a.stats_parsed !== null) add.stats = statsFromParsed(a.stats_parsed as Record<string, unknown>, schema);
  const tags = optStrMap(a.tags);
  if (tags) add.tags = tags;
  const d = dv(a.deletionVector);
  if (d) add.deletionVector = d;
  if (a.baseRowId !== undefined && a.baseRowId !== null) add.baseRowId = num(a.baseRowId);
  if (a.defaultRowCommitVersion !== undefined && a.defaultRowCommitVersion !== null) add.defaultRowCommitVersion = num(a.defaultRowCommitVersion);
  if (typeof a.clusteringProvider === 'string') add.clusteringProvider = a.clusteringProvider;
  return add;
}

function toRemove(r: Record<string, unknown>): Remove {
  const remove: Remove = { path: String(r.path), dataChange: r.dataChange === true, deletionTimestamp: num(r.deletionTimestamp) };
  if (r.extendedFileMetadata !== undefined && r.extendedFileMetadata !== null) remove.extendedFileMetadata = r.extendedFileMetadata === true;
  if (r.partitionValues !== undefined && r.partitionValues !== null) remove.partitionValues = strMap(r.partitionValues);
  if (r.size !== undefined && r.size !== null) remove.size = num(r.size);
  const d = dv(r.deletionVector);
  if (d) remove.deletionVector = d;
  return remove;
}

function toProtocol(p: Record<string, unknown>): Protocol {
  const out: Protocol = { minReaderVersion: num(p.minReaderVersion) ?? 0, minWriterVersion: num(p.minWriterVersion) ?? 0 };
  if (Array.isArray(p.readerFeatures)) out.readerFeatures = p.readerFeatures.map(String);
  if (Array.isArray(p.writerFeatures)) out.writerFeatures = p.writerFeatures.map(String);
  return out;
}

function toMetadata(m: Record<string, unknown>): Metadata {
  const format = (m.format ?? {}) as Record<string, unknown>;
  return {
    id: String(m.id),
    name: (m.name as string | null | undefined) ?? null,
    description: (m.description as string | null | undefined) ?? null,
    format: { provider: String(format.provider ?? 'parquet'), options: optStrMap(format.options) ?? {} },
    schemaString: String(m.schemaString),
    partitionColumns: Array.isArray(m.partitionColumns) ? m.partitionColumns.map(String) : [],
    createdTime: num(m.createdTime),
    configuration: (optStrMap(m.configuration) ?? {}) as Record<string, string>,
  };
}

// ---- reading ----

interface RawActions {
  rows: ParquetRow[];
}

async function readRows(store: ObjectStore, key: string, format: 'json' | 'parquet', columns: string[], signal?: AbortSignal): Promise<RawActions> {
  const bytes = await store.get(key, signal ? { signal } : {});
  if (format === 'json') return { rows: decodeActions(bytes) as unknown as ParquetRow[] };
  return { rows: await readSparseRows(bytes, { columns, file: key }) };
}

/**
 * Reads every action of one checkpoint (all parts, all sidecars). A missing part or sidecar is
 * OTSL_LAKE_NOT_FOUND and an undecodable file OTSL_PARQUET_READ: the caller then falls back to an
 * older checkpoint.
 */
export async function readCheckpoint(store: ObjectStore, spec: CheckpointSpec, signal?: AbortSignal): Promise<CheckpointActions> {
  const format = spec.kind === 'v2' ? spec.format : 'parquet';
  const rows: ParquetRow[] = [];
  let lastModified = 0;
  for (const key of spec.keys) {
    const meta = await store.head(key, signal ? { signal } : {});
    if (!meta) throw new OtslakeError('OTSL_LAKE_NOT_FOUND', `checkpoint file ${key} disappeared`, { context: { key, version: spec.version } });
    lastModified = Math.max(lastModified, meta.lastModified);
    for (const row of (await readRows(store, key, format, ACTION_COLUMNS, signal)).rows) rows.push(row);
  }
  const out: CheckpointActions = {
    version: spec.version,
    protocol: null,
    metadata: null,
    adds: [],
    removes: [],
    txns: [],
    domainMetadata: [],
    sidecars: [],
    lastModified,
  };
  for (const row of rows) {
    if (row.protocol) out.protocol = toProtocol(row.protocol as Record<string, unknown>);
    if (row.metaData) out.metadata = toMetadata(row.metaData as Record<string, unknown>);
  }
  let schema: StructType | null = null;
  if (out.metadata) {
    try {
      schema = parseSchema(out.metadata.schemaString);
    } catch {
      schema = null; // reported by the snapshot when it parses the schema itself
    }
  }
  const sidecarKeys: string[] = [];
  const collect = (row: ParquetRow): void => {
    if (row.add) out.adds.push(toAdd(row.add as Record<string, unknown>, schema));
    else if (row.remove) out.removes.push(toRemove(row.remove as Record<string, unknown>));
    else if (row.txn) {
      const t = row.txn as Record<string, unknown>;
      out.txns.push({ appId: String(t.appId), version: num(t.version) ?? 0, lastUpdated: num(t.lastUpdated) });
    } else if (row.domainMetadata) {
      const d = row.domainMetadata as Record<string, unknown>;
      out.domainMetadata.push({ domain: String(d.domain), configuration: String(d.configuration ?? ''), removed: d.removed === true });
    } else if (row.sidecar) {
      const s = row.sidecar as Record<string, unknown>;
      sidecarKeys.push(`${SIDECAR_DIR}/${decodeURIComponent(String(s.path))}`);
    }
  };
  for (const row of rows) collect(row);
  for (const key of sidecarKeys) {
    let sidecarRows: ParquetRow[];
    try {
      sidecarRows = (await readRows(store, key, 'parquet', SIDECAR_COLUMNS, signal)).rows;
    } catch (err) {
      if (hasCode(err, 'OTSL_LAKE_NOT_FOUND')) {
        throw new OtslakeError('OTSL_LAKE_NOT_FOUND', `sidecar ${key} of checkpoint ${spec.version} is missing`, {
          cause: err,
          context: { key, version: spec.version },
        });
      }
      throw err;
    }
    for (const row of sidecarRows) collect(row);
    out.sidecars.push(key);
  }
  return out;
}
