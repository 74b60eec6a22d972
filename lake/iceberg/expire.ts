/**
 * Snapshot expiry, aligned with Delta's retention so that no Iceberg snapshot outlives its files:
 * VACUUM may delete a removed file once it was removed longer ago than
 * delta.deletedFileRetentionDuration, so every snapshot older than a snapshot that removed files
 * before that cutoff is expired (the removed files may be gone); snapshots of an append-only
 * stretch stay readable and stay. And the snapshot count is capped (`maxSnapshots`,
 * expired in batches of `expireBatch` so the clean-up runs once per batch, not per commit): the
 * whole snapshot list lives in every metadata.json, so a day of one-second commits would otherwise
 * make each commit write megabytes.
 *
 * The metadata drops the expired snapshots; after the commit the caller deletes their manifest
 * lists and every manifest no kept snapshot still lists (`unreferencedFiles`).
 */
import type { ObjectStore } from '../object-store.js';
import { keyOfLocation, METADATA_DIR, readManifestList } from './manifests.js';
import type { Snapshot, TableMetadata } from './table-metadata.js';

export const DEFAULT_MAX_SNAPSHOTS = 100;
export const DEFAULT_EXPIRE_BATCH = 20;

export interface ExpiryOptions {
  nowMs: number;
  /** delta.deletedFileRetentionDuration of the table, ms. */
  deletedFileRetentionMs: number;
  maxSnapshots?: number;
  expireBatch?: number;
}

/** The metadata without the expired snapshots, and those snapshots. */
export function expireSnapshots(metadata: TableMetadata, options: ExpiryOptions): { metadata: TableMetadata; expired: Snapshot[] } {
  const snaps = [...metadata.snapshots].sort((a, b) => a['sequence-number'] - b['sequence-number']);
  const cutoff = options.nowMs - options.deletedFileRetentionMs;
  const expired = new Set<number>();
  // A snapshot that removed files before the cutoff: vacuum may have deleted them, so no snapshot
  // before it is readable any more. Snapshots after it lost nothing yet.
  let lastRemoval = -1;
  for (let i = 0; i < snaps.length; i++) {
    if (snaps[i]!['timestamp-ms'] <= cutoff && Number(snaps[i]!.summary['deleted-data-files'] ?? 0) > 0) lastRemoval = i;
  }
  for (let i = 0; i < lastRemoval; i++) expired.add(snaps[i]!['snapshot-id']);
  const max = Math.max(1, options.maxSnapshots ?? DEFAULT_MAX_SNAPSHOTS);
  const remaining = snaps.filter((s) => !expired.has(s['snapshot-id']));
  if (remaining.length > max + (options.expireBatch ?? DEFAULT_EXPIRE_BATCH)) {
    for (const s of remaining.slice(0, remaining.length - max)) expired.add(s['snapshot-id']);
  }
  expired.delete(metadata['current-snapshot-id']);
  if (expired.size === 0) return { metadata, expired: [] };
  const keep = (id: number) => !expired.has(id);
  return {
    metadata: {
      ...metadata,
      snapshots: metadata.snapshots.filter((s) => keep(s['snapshot-id'])),
      'snapshot-log': metadata['snapshot-log'].filter((e) => keep(e['snapshot-id'])),
    },
    expired: snaps.filter((s) => expired.has(s['snapshot-id'])),
  };
}

/**
 * Manifest lists of the expired snapshots and the manifests only they listed. `known` caches the
 * manifest keys of snapshots (filled as snapshots are written); the rest are read from their lists.
 */
export async function unreferencedFiles(
  store: ObjectStore,
  metadata: TableMetadata,
  expired: readonly Snapshot[],
  known: Map<number, readonly string[]>,
): Promise<string[]> {
  const manifestsOf = async (s: Snapshot): Promise<readonly string[]> => {
    const cached = known.get(s['snapshot-id']);
    if (cached) return cached;
    const listKey = keyOfLocation(metadata.location, s['manifest-list']);
    if (listKey === null) return [];
    const keys = (await readManifestList(store, listKey)).map((m) => keyOfLocation(metadata.location, m.manifest_path)).filter((k): k is string => k !== null);
    known.set(s['snapshot-id'], keys);
    return keys;
  };
  const kept = new Set<string>();
  for (const s of metadata.snapshots) for (const k of await manifestsOf(s)) kept.add(k);
  const doomed = new Set<string>();
  for (const s of expired) {
    const listKey = keyOfLocation(metadata.location, s['manifest-list']);
    if (listKey !== null) doomed.add(listKey);
    try {
      for (const k of await manifestsOf(s)) if (!kept.has(k)) doomed.add(k);
    } catch {
      // Its list is already gone (an earlier clean-up was interrupted): nothing more to find.
    }
    known.delete(s['snapshot-id']);
  }
  return [...doomed];
}

/**
 * Files under `metadata/` that nothing reaches (a sync that crashed or lost after writing its
 * manifests, metadata files dropped from the log by an interrupted clean-up) and that are older
 * than `cutoffMs`: young ones may belong to a writer about to commit them.
 */
export async function orphanFiles(
  store: ObjectStore,
  metadata: TableMetadata,
  metadataKeyNow: string,
  known: Map<number, readonly string[]>,
  cutoffMs: number,
): Promise<string[]> {
  const referenced = new Set<string>([metadataKeyNow]);
  for (const e of metadata['metadata-log']) {
    const k = keyOfLocation(metadata.location, e['metadata-file']);
    if (k !== null) referenced.add(k);
  }
  for (const s of metadata.snapshots) {
    const listKey = keyOfLocation(metadata.location, s['manifest-list']);
    if (listKey === null) continue;
    referenced.add(listKey);
    let keys = known.get(s['snapshot-id']);
    if (!keys) {
      keys = (await readManifestList(store, listKey)).map((m) => keyOfLocation(metadata.location, m.manifest_path)).filter((k): k is string => k !== null);
      known.set(s['snapshot-id'], keys);
    }
    for (const k of keys) referenced.add(k);
  }
  const out: string[] = [];
  for (const meta of await store.list(`${METADATA_DIR}/`)) {
    const ours = meta.key.endsWith('.avro') || /^metadata\/v\d+\.metadata\.json$/.test(meta.key);
    if (ours && !referenced.has(meta.key) && meta.lastModified <= cutoffMs) out.push(meta.key);
  }
  return out;
}
