/**
 * Iceberg table metadata files (spec §Table Metadata, format v2) as a path-based table keeps them:
 * `metadata/v<N>.metadata.json`, each created put-if-absent (the commit: of two writers of N exactly
 * one wins, like a Delta commit), and `metadata/version-hint.text` naming the newest N for readers
 * that look there first (a hint only: it is overwritten after each commit and may lag).
 */
import { OtslakeError, hasCode } from '../../common/errors.js';
import type { ObjectStore } from '../object-store.js';
import { METADATA_DIR } from './manifests.js';
import type { IcebergSchema, PartitionSpec } from './schema.js';

export const VERSION_HINT = `${METADATA_DIR}/version-hint.text`;
/** Snapshot summary / table property keys that tie the Iceberg metadata to its Delta log. */
export const DELTA_VERSION_KEY = 'otslake.delta.version';
export const DELTA_TABLE_ID_KEY = 'otslake.delta.table-id';

export interface Snapshot {
  'snapshot-id': number;
  'parent-snapshot-id'?: number;
  'sequence-number': number;
  'timestamp-ms': number;
  'manifest-list': string;
  summary: Record<string, string> & { operation: 'append' | 'replace' | 'overwrite' | 'delete' };
  'schema-id': number;
}

export interface TableMetadata {
  'format-version': 2;
  'table-uuid': string;
  location: string;
  'last-sequence-number': number;
  'last-updated-ms': number;
  'last-column-id': number;
  'current-schema-id': number;
  schemas: IcebergSchema[];
  'default-spec-id': number;
  'partition-specs': PartitionSpec[];
  'last-partition-id': number;
  'default-sort-order-id': number;
  'sort-orders': { 'order-id': number; fields: unknown[] }[];
  properties: Record<string, string>;
  'current-snapshot-id': number;
  snapshots: Snapshot[];
  'snapshot-log': { 'timestamp-ms': number; 'snapshot-id': number }[];
  'metadata-log': { 'timestamp-ms': number; 'metadata-file': string }[];
  refs: Record<string, { 'snapshot-id': number; type: 'branch' }>;
  statistics: unknown[];
  'partition-statistics': unknown[];
}

export function metadataKey(version: number): string {
  return `${METADATA_DIR}/v${version}.metadata.json`;
}

const METADATA_FILE = /^metadata\/v(\d+)\.metadata\.json$/;

export function parseMetadataVersion(key: string): number | null {
  const m = METADATA_FILE.exec(key);
  return m ? Number(m[1]) : null;
}

export function currentSchema(metadata: TableMetadata): IcebergSchema {
  return metadata.schemas.find((s) => s['schema-id'] === metadata['current-schema-id'])!;
}

export function currentSnapshot(metadata: TableMetadata): Snapshot | null {
  return metadata.snapshots.find((s) => s['snapshot-id'] === metadata['current-snapshot-id']) ?? null;
}

/** The Delta version the metadata mirrors: recorded in the table properties at every commit; -1 before any. */
export function mirroredDeltaVersion(metadata: TableMetadata): number {
  const v = Number(metadata.properties[DELTA_VERSION_KEY]);
  return Number.isSafeInteger(v) ? v : -1;
}

async function exists(store: ObjectStore, key: string, signal?: AbortSignal): Promise<boolean> {
  return (await store.head(key, signal ? { signal } : {})) !== null;
}

/**
 * The newest metadata version, or null when the table has no Iceberg metadata. The hint is checked
 * (its file exists, the next one does not); anything else lists `metadata/`, which is authoritative.
 */
export async function latestMetadataVersion(store: ObjectStore, signal?: AbortSignal): Promise<number | null> {
  const opts = signal ? { signal } : {};
  try {
    const hint = Number(new TextDecoder().decode(await store.get(VERSION_HINT, opts)).trim());
    if (Number.isSafeInteger(hint) && hint > 0 && !(await exists(store, metadataKey(hint + 1), signal)) && (await exists(store, metadataKey(hint), signal))) {
      return hint;
    }
  } catch (err) {
    if (!hasCode(err, 'OTSL_LAKE_NOT_FOUND')) throw err;
  }
  let latest: number | null = null;
  for (const meta of await store.list(`${METADATA_DIR}/`, opts)) {
    const v = parseMetadataVersion(meta.key);
    if (v !== null && (latest === null || v > latest)) latest = v;
  }
  return latest;
}

export async function readMetadata(store: ObjectStore, version: number, signal?: AbortSignal): Promise<TableMetadata> {
  const key = metadataKey(version);
  const bytes = await store.get(key, signal ? { signal } : {});
  try {
    const metadata = JSON.parse(new TextDecoder().decode(bytes)) as TableMetadata;
    if (metadata['format-version'] !== 2 || !Array.isArray(metadata.schemas) || !Array.isArray(metadata.snapshots)) throw new Error('not format v2 metadata');
    return metadata;
  } catch (err) {
    throw new OtslakeError('OTSL_ICEBERG_CORRUPT', `${key} is not Iceberg table metadata: ${(err as Error).message}`, {
      cause: err,
      context: { uri: store.uri, file: key },
    });
  }
}

/**
 * Commits `metadata` as version `version`: true when ours, false when another writer created that
 * version first (the caller re-reads and retries, or finds its work done). The hint follows.
 */
export async function commitMetadata(store: ObjectStore, version: number, metadata: TableMetadata, signal?: AbortSignal): Promise<boolean> {
  const opts = signal ? { signal } : {};
  try {
    await store.put(metadataKey(version), new TextEncoder().encode(JSON.stringify(metadata)), { ifAbsent: true, ...opts });
  } catch (err) {
    if (hasCode(err, 'OTSL_LAKE_ALREADY_EXISTS')) return false;
    throw err;
  }
  await store.put(VERSION_HINT, new TextEncoder().encode(String(version)), opts);
  return true;
}

export interface IcebergSummary {
  metadataVersion: number;
  /** The Delta version the metadata mirrors (-1 before the first sync). */
  deltaVersion: number;
  currentSnapshotId: number | null;
  snapshots: number;
  schemaId: number;
}

/** What `otslake inspect` shows of a table's Iceberg metadata; null when it has none. */
export async function describeIceberg(store: ObjectStore, signal?: AbortSignal): Promise<IcebergSummary | null> {
  const version = await latestMetadataVersion(store, signal);
  if (version === null) return null;
  const metadata = await readMetadata(store, version, signal);
  return {
    metadataVersion: version,
    deltaVersion: mirroredDeltaVersion(metadata),
    currentSnapshotId: currentSnapshot(metadata)?.['snapshot-id'] ?? null,
    snapshots: metadata.snapshots.length,
    schemaId: metadata['current-schema-id'],
  };
}
