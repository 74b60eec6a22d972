/**
 * One Iceberg snapshot from one Delta commit's file actions, on top of the current manifests.
 *
 * Adds go into one new manifest (ADDED). A carried manifest holding a removed file is rewritten:
 * the removed files DELETED, the rest EXISTING with their original snapshot and sequence numbers;
 * untouched manifests are carried as they are (a fast append writes 1 manifest + 1 list, whatever
 * the table's size). When more than `maxManifests` accumulate, the carried ones are merged into
 * one, as Iceberg's own manifest merging does, so planning reads a bounded number of files.
 */
import type { Add } from '../actions.js';
import { parseStats } from '../snapshot.js';
import { decodeLogPath } from '../partition-path.js';
import {
  STATUS_ADDED,
  STATUS_DELETED,
  STATUS_EXISTING,
  writeManifest,
  writeManifestList,
  type DataFileRecord,
  type ManifestContext,
  type ManifestEntry,
  type ManifestFile,
} from './manifests.js';
import type { IcebergSchema, PartitionSpec } from './schema.js';
import { currentSchema, DELTA_VERSION_KEY, type Snapshot, type TableMetadata } from './table-metadata.js';
import { metricsOf, partitionRecordOf } from './values.js';
import type { ObjectStore } from '../object-store.js';

/** A manifest of the current snapshot with its entries (kept to rewrite or merge it). */
export interface LiveManifest {
  key: string;
  file: ManifestFile;
  entries: ManifestEntry[];
}

export interface FileChanges {
  deltaVersion: number;
  /** ms; the Delta commit's timestamp. */
  timestamp: number;
  adds: Add[];
  /** Table-relative keys (decoded) of the files the commit removed. */
  removes: string[];
  /** Every file action had dataChange false (compaction): an Iceberg `replace`. */
  rearrangeOnly: boolean;
}

export interface BuiltSnapshot {
  snapshot: Snapshot;
  manifests: LiveManifest[];
  /** Avro files written for it (deleted again if the commit is lost). */
  written: string[];
}

export const DEFAULT_MAX_MANIFESTS = 16;
/** A manifest of this many entries (~1 MB) is left as it is by merging. */
export const MERGE_BELOW_ENTRIES = 4000;

export function dataFileOf(add: Add, location: string, schema: IcebergSchema, spec: PartitionSpec, partitionColumns: readonly string[]): DataFileRecord {
  return {
    content: 0,
    file_path: `${location}/${decodeLogPath(add.path)}`,
    file_format: 'PARQUET',
    partition: partitionRecordOf(spec, schema, add.partitionValues ?? {}),
    record_count: parseStats(add)?.numRecords ?? 0,
    file_size_in_bytes: add.size,
    column_sizes: null,
    ...metricsOf(parseStats(add), schema, partitionColumns),
    nan_value_counts: null,
    key_metadata: null,
    split_offsets: null,
    equality_ids: null,
    sort_order_id: null,
  };
}

const isLive = (e: ManifestEntry) => e.status !== STATUS_DELETED;

interface BuildInput {
  store: ObjectStore;
  metadata: TableMetadata;
  manifests: readonly LiveManifest[];
  partitionColumns: readonly string[];
  changes: FileChanges;
  maxManifests?: number;
}

/** Writes the manifests and the manifest list of the snapshot that mirrors `changes`. */
export async function buildSnapshot(input: BuildInput): Promise<BuiltSnapshot> {
  const { metadata, changes } = input;
  const schema = currentSchema(metadata);
  const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id'])!;
  const snapshotId = changes.deltaVersion + 1;
  const sequenceNumber = metadata['last-sequence-number'] + 1;
  const ctx: ManifestContext = { store: input.store, location: metadata.location, schema, spec, snapshotId, sequenceNumber };
  const written: string[] = [];
  const uploads: Promise<unknown>[] = [];
  const write = async (entries: ManifestEntry[]): Promise<LiveManifest> => {
    const { file, key, put } = await writeManifest(ctx, entries);
    written.push(key);
    uploads.push(put);
    return { key, file, entries };
  };

  const removed = new Set(changes.removes);
  // A re-added path (same file, new add) is a remove plus an add.
  for (const add of changes.adds) removed.add(decodeLogPath(add.path));
  const carried: LiveManifest[] = [];
  const rewritten: LiveManifest[] = [];
  let deletedFiles = 0;
  let deletedRows = 0;
  for (const m of input.manifests) {
    if (!m.entries.some((e) => isLive(e) && removed.has(keyOf(e, metadata.location)))) {
      // Only DELETED entries left from an older snapshot: nothing to carry.
      if (m.entries.some(isLive)) carried.push(m);
      continue;
    }
    const entries: ManifestEntry[] = [];
    for (const e of m.entries) {
      if (!isLive(e)) continue;
      if (removed.has(keyOf(e, metadata.location))) {
        entries.push({ ...e, status: STATUS_DELETED, snapshot_id: snapshotId });
        deletedFiles += 1;
        deletedRows += e.data_file.record_count;
      } else entries.push({ ...e, status: STATUS_EXISTING });
    }
    rewritten.push(await write(entries));
  }
  const added =
    changes.adds.length === 0
      ? []
      : [
          await write(
            changes.adds.map((add) => ({
              status: STATUS_ADDED,
              snapshot_id: snapshotId,
              sequence_number: sequenceNumber,
              file_sequence_number: sequenceNumber,
              data_file: dataFileOf(add, metadata.location, schema, spec, input.partitionColumns),
            })),
          ),
        ];
  let kept = carried;
  // Merging rewrites entries: only small manifests are merged, so a large one is written once, not every few commits.
  const small = carried.filter((m) => m.entries.length < MERGE_BELOW_ENTRIES);
  if (added.length + rewritten.length + carried.length > (input.maxManifests ?? DEFAULT_MAX_MANIFESTS) && small.length > 1) {
    const merged = await write(small.flatMap((m) => m.entries.filter(isLive).map((e) => ({ ...e, status: STATUS_EXISTING }))));
    kept = [merged, ...carried.filter((m) => m.entries.length >= MERGE_BELOW_ENTRIES)];
  }
  const manifests = [...added, ...rewritten, ...kept];
  const listKey = await writeManifestList(
    {
      store: input.store,
      location: metadata.location,
      snapshotId,
      sequenceNumber,
      parentSnapshotId: metadata['current-snapshot-id'] >= 0 ? metadata['current-snapshot-id'] : null,
    },
    manifests.map((m) => m.file),
  );
  written.push(listKey);
  // The manifests travelled while the list was encoded; all must exist before the metadata names them.
  await Promise.all(uploads);

  const live = manifests.flatMap((m) => m.entries.filter(isLive));
  const addedRows = changes.adds.reduce((n, a) => n + (parseStats(a)?.numRecords ?? 0), 0);
  const parent = metadata['current-snapshot-id'];
  const previous = metadata.snapshots.find((s) => s['snapshot-id'] === parent);
  const snapshot: Snapshot = {
    'snapshot-id': snapshotId,
    ...(parent >= 0 ? { 'parent-snapshot-id': parent } : {}),
    'sequence-number': sequenceNumber,
    // Snapshot times must not go backwards; Delta commit timestamps nearly never do.
    'timestamp-ms': Math.max(changes.timestamp, previous?.['timestamp-ms'] ?? 0),
    'manifest-list': `${metadata.location}/${listKey}`,
    summary: {
      operation: changes.removes.length === 0 ? 'append' : changes.rearrangeOnly ? 'replace' : changes.adds.length === 0 ? 'delete' : 'overwrite',
      'added-data-files': String(changes.adds.length),
      'deleted-data-files': String(deletedFiles),
      'added-records': String(addedRows),
      'deleted-records': String(deletedRows),
      'added-files-size': String(changes.adds.reduce((n, a) => n + a.size, 0)),
      'total-data-files': String(live.length),
      'total-records': String(live.reduce((n, e) => n + e.data_file.record_count, 0)),
      'total-files-size': String(live.reduce((n, e) => n + e.data_file.file_size_in_bytes, 0)),
      'total-delete-files': '0',
      'total-position-deletes': '0',
      'total-equality-deletes': '0',
      [DELTA_VERSION_KEY]: String(changes.deltaVersion),
    },
    'schema-id': schema['schema-id'],
  };
  return { snapshot, manifests, written };
}

function keyOf(e: ManifestEntry, location: string): string {
  return e.data_file.file_path.slice(location.length + 1);
}

/** The metadata with `built` as its new current snapshot. */
export function withSnapshot(metadata: TableMetadata, built: BuiltSnapshot): TableMetadata {
  const s = built.snapshot;
  return {
    ...metadata,
    'last-sequence-number': s['sequence-number'],
    'current-snapshot-id': s['snapshot-id'],
    snapshots: [...metadata.snapshots, s],
    'snapshot-log': [...metadata['snapshot-log'], { 'timestamp-ms': s['timestamp-ms'], 'snapshot-id': s['snapshot-id'] }],
    refs: { ...metadata.refs, main: { 'snapshot-id': s['snapshot-id'], type: 'branch' } },
    properties: { ...metadata.properties, [DELTA_VERSION_KEY]: s.summary[DELTA_VERSION_KEY]! },
  };
}
