/**
 * Keeps a table's Iceberg metadata (format v2, under `metadata/`) in step with its committed Delta
 * log: one Iceberg snapshot per Delta version that changed files (`append` for blind appends,
 * `overwrite`/`delete` when data was removed, `replace` for dataChange=false rewrites such as
 * compaction), the Delta version in each snapshot's summary and in the table properties. Delta is
 * the source of truth: everything here is derived from the log, so a sync that crashed or lost a
 * race is simply run again (idempotent: versions already mirrored are skipped).
 *
 * The metadata commit is `metadata/v<N+1>.metadata.json` put-if-absent. A writer that loses re-reads
 * the winner's metadata and carries on from the Delta version it mirrors, which is often the end.
 * Deletions (expired snapshots' files, old metadata files) happen only after a won commit and only
 * of files the committed metadata no longer reaches, so a concurrent writer never loses a file it
 * could still commit against: it built on an older version and its put fails.
 */
import { OtslakeError } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/log.js';
import { decodeActions, parseSchema, type Action, type Add, type CommitInfo, type Metadata } from '../actions.js';
import { commitKey, LOG_DIR, parseLogFile } from '../log-path.js';
import type { ObjectStore } from '../object-store.js';
import { decodeLogPath } from '../partition-path.js';
import { loadSnapshot, type Snapshot as DeltaSnapshot } from '../snapshot.js';
import { deletedFileRetentionMsOf } from '../vacuum.js';
import { buildSnapshot, withSnapshot, type FileChanges, type LiveManifest } from './changes.js';
import { expireSnapshots, orphanFiles, unreferencedFiles } from './expire.js';
import { keyOfLocation, readManifest, readManifestList } from './manifests.js';
import { assignFieldIds, icebergSchemaOf, idsOfSchema, nameMappingOf, partitionSpecOf, sameSchema } from './schema.js';
import {
  commitMetadata,
  currentSchema,
  currentSnapshot,
  DELTA_TABLE_ID_KEY,
  DELTA_VERSION_KEY,
  latestMetadataVersion,
  metadataKey,
  mirroredDeltaVersion,
  readMetadata,
  type TableMetadata,
} from './table-metadata.js';
import { randomUUID } from 'node:crypto';

export interface IcebergSyncOptions {
  signal?: AbortSignal;
  /** Clock for expiry and last-updated-ms (tests, the bench's simulated day). */
  nowMs?: () => number;
  maxSnapshots?: number;
  expireBatch?: number;
  maxManifests?: number;
  /** Old metadata.json files kept (and listed in metadata-log); older ones are deleted. */
  previousVersionsMax?: number;
  /**
   * The retention VACUUM actually applies when it differs from the table's
   * delta.deletedFileRetentionDuration (the daemon's maintenance.vacuum.retention): snapshots are
   * expired by the shorter of the two.
   */
  vacuumRetentionMs?: number;
  /** Lost metadata-commit races tolerated before OTSL_ICEBERG_WRITE. */
  maxAttempts?: number;
  logger?: Logger;
}

/** A Delta commit the caller just made: saves listing and reading it back. */
export interface CommittedVersion {
  version: number;
  actions: readonly Action[];
}

export type IcebergSyncResult =
  | { kind: 'up-to-date'; deltaVersion: number; metadataVersion: number }
  | { kind: 'synced'; deltaVersion: number; metadataVersion: number; snapshots: number; expired: number; attempts: number };

interface State {
  /** 0 when the table has no Iceberg metadata yet. */
  metadataVersion: number;
  metadata: TableMetadata | null;
  manifests: LiveManifest[];
  deltaMetadata: Metadata;
  deltaVersion: number;
}

export const DEFAULT_PREVIOUS_VERSIONS_MAX = 10;
const DEFAULT_MAX_ATTEMPTS = 20;

/** One table's Iceberg mirror; keep one per table so steady-state syncs cost only the writes. */
export class IcebergSync {
  private state: State | null = null;
  /** Manifest keys per snapshot id, for expiry without re-reading manifest lists. */
  private readonly manifestKeys = new Map<number, readonly string[]>();
  private readonly log: Logger;

  constructor(
    private readonly store: ObjectStore,
    private readonly options: IcebergSyncOptions = {},
  ) {
    this.log = options.logger ?? silentLogger;
  }

  private now(): number {
    return (this.options.nowMs ?? Date.now)();
  }

  private get signalOpt(): { signal?: AbortSignal } {
    return this.options.signal ? { signal: this.options.signal } : {};
  }

  /**
   * Mirrors every Delta version after the last mirrored one. `committed`: commits the caller just made
   * (in version order); when they continue the mirrored version without a gap, they are mirrored as
   * given and the log is neither listed nor read (the steady state). Otherwise (a crash, another
   * writer's commits in between, none given) the commits are read from the log.
   */
  async sync(committed: CommittedVersion | readonly CommittedVersion[] = []): Promise<IcebergSyncResult> {
    const handed = Array.isArray(committed) ? (committed as readonly CommittedVersion[]) : [committed as CommittedVersion];
    const maxAttempts = this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
    for (let attempt = 1; attempt <= maxAttempts; attempt++) {
      let delta: DeltaSnapshot | null = null;
      if (!this.state) ({ state: this.state, delta } = await this.load());
      const state = this.state;
      const plan = await this.plan(state, handed, delta);
      if (plan === null) return { kind: 'up-to-date', deltaVersion: state.deltaVersion, metadataVersion: state.metadataVersion };
      const outcome = await this.apply(state, plan);
      if (outcome.won) {
        return {
          kind: 'synced',
          deltaVersion: this.state!.deltaVersion,
          metadataVersion: this.state!.metadataVersion,
          snapshots: outcome.snapshots,
          expired: outcome.expired,
          attempts: attempt,
        };
      }
      this.log.info('iceberg metadata commit lost a race; re-reading', { uri: this.store.uri, version: state.metadataVersion + 1 });
      this.state = null;
    }
    throw new OtslakeError('OTSL_ICEBERG_WRITE', `gave up committing Iceberg metadata after ${maxAttempts} lost races`, {
      context: { uri: this.store.uri, attempts: maxAttempts },
    });
  }

  /**
   * Expires what retention no longer covers without waiting for a Delta commit (after a vacuum):
   * commits a metadata version without the expired snapshots, or nothing when none expire.
   */
  async expire(): Promise<{ expired: number; metadataVersion: number }> {
    for (let attempt = 1; attempt <= (this.options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS); attempt++) {
      if (!this.state) this.state = (await this.load()).state;
      const state = this.state;
      if (!state.metadata) return { expired: 0, metadataVersion: state.metadataVersion };
      const outcome = await this.apply(state, { kind: 'commits', commits: [] }, true);
      if (outcome.won) return { expired: outcome.expired, metadataVersion: this.state!.metadataVersion };
      this.state = null;
    }
    throw new OtslakeError('OTSL_ICEBERG_WRITE', 'gave up expiring Iceberg snapshots after repeated lost races', { context: { uri: this.store.uri } });
  }

  /**
   * Deletes files under `metadata/` that no snapshot or metadata file reaches and that are older
   * than `olderThanMs` (default: the table's delta.deletedFileRetentionDuration), as VACUUM does
   * for data files. Returns the keys deleted.
   */
  async removeOrphans(olderThanMs?: number): Promise<string[]> {
    if (!this.state) this.state = (await this.load()).state;
    const state = this.state;
    if (!state.metadata) return [];
    const cutoff = this.now() - (olderThanMs ?? this.retentionMs(state.deltaMetadata));
    const doomed = await orphanFiles(this.store, state.metadata, metadataKey(state.metadataVersion), this.manifestKeys, cutoff);
    await this.deleteQuietly(doomed);
    return doomed;
  }

  /** Cold start: the newest Iceberg metadata and its current manifests, and the latest Delta snapshot. */
  private async load(): Promise<{ state: State; delta: DeltaSnapshot }> {
    const delta = await loadSnapshot(this.store, this.signalOpt);
    const version = await latestMetadataVersion(this.store, this.options.signal);
    if (version === null) {
      return { state: { metadataVersion: 0, metadata: null, manifests: [], deltaMetadata: delta.metadata, deltaVersion: -1 }, delta };
    }
    const metadata = await readMetadata(this.store, version, this.options.signal);
    if (metadata.properties[DELTA_TABLE_ID_KEY] !== delta.metadata.id) {
      throw new OtslakeError('OTSL_ICEBERG_CORRUPT', `the Iceberg metadata under ${this.store.uri}/metadata belongs to another Delta table`, {
        context: { uri: this.store.uri, version, icebergTableId: metadata.properties[DELTA_TABLE_ID_KEY] ?? 'none', deltaTableId: delta.metadata.id },
      });
    }
    const manifests: LiveManifest[] = [];
    const snapshot = currentSnapshot(metadata);
    if (snapshot) {
      const listKey = this.localKey(metadata, snapshot['manifest-list']);
      for (const file of await readManifestList(this.store, listKey)) {
        const key = this.localKey(metadata, file.manifest_path);
        manifests.push({ key, file, entries: await readManifest(this.store, key) });
      }
      this.manifestKeys.set(
        snapshot['snapshot-id'],
        manifests.map((m) => m.key),
      );
    }
    return { state: { metadataVersion: version, metadata, manifests, deltaMetadata: delta.metadata, deltaVersion: mirroredDeltaVersion(metadata) }, delta };
  }

  private retentionMs(delta: Metadata): number {
    const table = deletedFileRetentionMsOf(delta);
    return this.options.vacuumRetentionMs === undefined ? table : Math.min(table, this.options.vacuumRetentionMs);
  }

  private localKey(metadata: TableMetadata, path: string): string {
    const key = keyOfLocation(metadata.location, path);
    if (key === null) {
      throw new OtslakeError('OTSL_ICEBERG_CORRUPT', `${path} is outside the table location ${metadata.location}`, {
        context: { uri: this.store.uri, file: path },
      });
    }
    return key;
  }

  /** What to mirror: the commits after the mirrored version, or one full snapshot (first sync, or the log moved on). */
  private async plan(state: State, handed: readonly CommittedVersion[], delta: DeltaSnapshot | null): Promise<Plan | null> {
    if (state.metadata === null) {
      const snapshot = delta ?? (await loadSnapshot(this.store, this.signalOpt));
      return { kind: 'full', snapshot };
    }
    const next = handed.filter((c) => c.version > state.deltaVersion);
    if (next.length > 0 && next.every((c, i) => c.version === state.deltaVersion + 1 + i)) return { kind: 'commits', commits: next };
    const listed = await this.store.list(`${LOG_DIR}/`, { startAfter: commitKey(state.deltaVersion), ...this.signalOpt });
    const versions = listed
      .map((m) => parseLogFile(m.key))
      .filter((f) => f?.kind === 'commit' && f.version > state.deltaVersion)
      .map((f) => f!.version)
      .sort((a, b) => a - b);
    if (versions.length === 0) return null;
    if (versions[0] !== state.deltaVersion + 1 || versions.some((v, i) => v !== versions[0]! + i)) {
      // Log clean-up took commits we never mirrored: jump to the latest snapshot in one step.
      return { kind: 'full', snapshot: await loadSnapshot(this.store, this.signalOpt) };
    }
    const commits: CommittedVersion[] = [];
    const bodies = versions.map((v) => this.store.get(commitKey(v), this.signalOpt));
    for (let i = 0; i < versions.length; i++) commits.push({ version: versions[i]!, actions: decodeActions(await bodies[i]!, versions[i]) });
    return { kind: 'commits', commits };
  }

  private async apply(state: State, plan: Plan, expireOnly = false): Promise<{ won: boolean; snapshots: number; expired: number }> {
    let metadata = state.metadata ?? this.newMetadata(plan.kind === 'full' ? plan.snapshot.metadata : state.deltaMetadata);
    let manifests = state.manifests;
    let deltaMetadata = state.deltaMetadata;
    let deltaVersion = state.deltaVersion;
    const written: string[] = [];
    const newKeys = new Map<number, readonly string[]>();
    let snapshots = 0;
    const step = async (changes: FileChanges): Promise<void> => {
      if (changes.adds.length + changes.removes.length > 0) {
        const built = await buildSnapshot({
          store: this.store,
          metadata,
          manifests,
          partitionColumns: deltaMetadata.partitionColumns,
          changes,
          ...(this.options.maxManifests === undefined ? {} : { maxManifests: this.options.maxManifests }),
        });
        written.push(...built.written);
        metadata = withSnapshot(metadata, built);
        manifests = built.manifests;
        newKeys.set(
          built.snapshot['snapshot-id'],
          built.manifests.map((m) => m.key),
        );
        snapshots += 1;
      }
      metadata = { ...metadata, properties: { ...metadata.properties, [DELTA_VERSION_KEY]: String(changes.deltaVersion) } };
      deltaVersion = changes.deltaVersion;
    };
    try {
      if (plan.kind === 'full') {
        deltaMetadata = plan.snapshot.metadata;
        metadata = this.evolveSchema(metadata, deltaMetadata);
        await step(diffChanges(metadata, manifests, plan.snapshot));
      } else {
        for (const c of plan.commits) {
          const meta = c.actions.find((a): a is { metaData: Metadata } => 'metaData' in a);
          if (meta) {
            deltaMetadata = meta.metaData;
            metadata = this.evolveSchema(metadata, deltaMetadata);
          }
          await step(commitChanges(c, this.now()));
        }
      }
    } catch (err) {
      await this.deleteQuietly(written);
      throw err;
    }
    const now = this.now();
    const { metadata: kept, expired } = expireSnapshots(metadata, {
      nowMs: now,
      deletedFileRetentionMs: this.retentionMs(deltaMetadata),
      ...(this.options.maxSnapshots === undefined ? {} : { maxSnapshots: this.options.maxSnapshots }),
      ...(this.options.expireBatch === undefined ? {} : { expireBatch: this.options.expireBatch }),
    });
    if (expireOnly && expired.length === 0) return { won: true, snapshots: 0, expired: 0 };
    const version = state.metadataVersion + 1;
    const { metadata: final, dropped } = this.withMetadataLog(kept, state, now);
    const won = await commitMetadata(this.store, version, final, this.options.signal);
    if (!won) {
      await this.deleteQuietly(written);
      return { won: false, snapshots: 0, expired: 0 };
    }
    for (const [id, keys] of newKeys) this.manifestKeys.set(id, keys);
    this.state = { metadataVersion: version, metadata: final, manifests, deltaMetadata, deltaVersion };
    if (expired.length > 0 || dropped.length > 0) {
      const doomed = [...dropped, ...(await unreferencedFiles(this.store, final, expired, this.manifestKeys))];
      await this.deleteQuietly(doomed);
    }
    return { won: true, snapshots, expired: expired.length };
  }

  /** Appends the previous metadata file to metadata-log, keeping the newest `previousVersionsMax`. */
  private withMetadataLog(metadata: TableMetadata, state: State, now: number): { metadata: TableMetadata; dropped: string[] } {
    const lastSnapshotMs = Math.max(0, ...metadata.snapshots.map((s) => s['timestamp-ms']));
    let log = metadata['metadata-log'];
    if (state.metadata) {
      log = [...log, { 'timestamp-ms': state.metadata['last-updated-ms'], 'metadata-file': `${metadata.location}/${metadataKey(state.metadataVersion)}` }];
    }
    const max = this.options.previousVersionsMax ?? DEFAULT_PREVIOUS_VERSIONS_MAX;
    const droppedEntries = log.length > max ? log.slice(0, log.length - max) : [];
    const dropped = droppedEntries.map((e) => keyOfLocation(metadata.location, e['metadata-file'])).filter((k): k is string => k !== null);
    return {
      metadata: {
        ...metadata,
        'metadata-log': log.slice(droppedEntries.length),
        'last-updated-ms': Math.max(now, lastSnapshotMs, metadata['last-updated-ms']),
      },
      dropped,
    };
  }

  private newMetadata(delta: Metadata): TableMetadata {
    const schema = parseSchema(delta.schemaString);
    const { ids, lastColumnId } = assignFieldIds(schema.fields);
    const iceberg = icebergSchemaOf(schema, ids, 0);
    const spec = partitionSpecOf(delta.partitionColumns, iceberg);
    return {
      'format-version': 2,
      'table-uuid': randomUUID(),
      location: this.store.uri.replace(/\/+$/, ''),
      'last-sequence-number': 0,
      'last-updated-ms': this.now(),
      'last-column-id': lastColumnId,
      'current-schema-id': 0,
      schemas: [iceberg],
      'default-spec-id': 0,
      'partition-specs': [spec],
      'last-partition-id': spec.fields.length === 0 ? 999 : Math.max(...spec.fields.map((f) => f['field-id'])),
      'default-sort-order-id': 0,
      'sort-orders': [{ 'order-id': 0, fields: [] }],
      properties: {
        [DELTA_TABLE_ID_KEY]: delta.id,
        [DELTA_VERSION_KEY]: '-1',
        'schema.name-mapping.default': nameMappingOf(iceberg),
        'write.parquet.compression-codec': 'zstd',
        'write.metadata.delete-after-commit.enabled': 'true',
        'write.metadata.previous-versions-max': String(this.options.previousVersionsMax ?? DEFAULT_PREVIOUS_VERSIONS_MAX),
      },
      'current-snapshot-id': -1,
      snapshots: [],
      'snapshot-log': [],
      'metadata-log': [],
      refs: {},
      statistics: [],
      'partition-statistics': [],
    };
  }

  /** A new schema (new id) when the Delta schema gained columns; ids of known columns are kept. */
  private evolveSchema(metadata: TableMetadata, delta: Metadata): TableMetadata {
    const current = currentSchema(metadata);
    const spec = metadata['partition-specs'].find((s) => s['spec-id'] === metadata['default-spec-id'])!;
    if (JSON.stringify(spec.fields.map((f) => f.name)) !== JSON.stringify(delta.partitionColumns)) {
      throw new OtslakeError('OTSL_ICEBERG_CORRUPT', 'the Delta partition columns differ from the Iceberg partition spec', {
        context: { uri: this.store.uri, partitionColumns: delta.partitionColumns.join(',') },
      });
    }
    const schema = parseSchema(delta.schemaString);
    const { ids, lastColumnId } = assignFieldIds(schema.fields, idsOfSchema(current), metadata['last-column-id']);
    const schemaId = Math.max(...metadata.schemas.map((s) => s['schema-id'])) + 1;
    const next = icebergSchemaOf(schema, ids, schemaId);
    if (sameSchema(next, current)) return metadata;
    return {
      ...metadata,
      schemas: [...metadata.schemas, next],
      'current-schema-id': schemaId,
      'last-column-id': lastColumnId,
      properties: { ...metadata.properties, 'schema.name-mapping.default': nameMappingOf(next) },
    };
  }

  private async deleteQuietly(keys: readonly string[]): Promise<void> {
    // Unreferenced either way: a failed delete leaves an orphan, never a broken table.
    await Promise.allSettled(keys.map((k) => this.store.delete(k, this.signalOpt)));
  }
}

type Plan = { kind: 'full'; snapshot: DeltaSnapshot } | { kind: 'commits'; commits: CommittedVersion[] };

/** The file changes of one Delta commit (cdc files are not table data). */
export function commitChanges(commit: CommittedVersion, fallbackMs: number): FileChanges {
  const adds: Add[] = [];
  const removes: string[] = [];
  let dataChange = false;
  let timestamp = fallbackMs;
  for (const a of commit.actions) {
    if ('add' in a) {
      adds.push(a.add);
      dataChange ||= a.add.dataChange;
    } else if ('remove' in a) {
      removes.push(decodeLogPath(a.remove.path));
      dataChange ||= a.remove.dataChange;
    } else if ('commitInfo' in a) {
      const ts = (a.commitInfo as CommitInfo).inCommitTimestamp ?? (a.commitInfo as CommitInfo).timestamp;
      if (typeof ts === 'number') timestamp = ts;
    }
  }
  return { deltaVersion: commit.version, timestamp, adds, removes, rearrangeOnly: !dataChange };
}

/** Whatever turns the current manifests' files into the Delta snapshot's (first sync, or after a gap). */
function diffChanges(metadata: TableMetadata, manifests: readonly LiveManifest[], delta: DeltaSnapshot): FileChanges {
  const live = new Set<string>();
  for (const m of manifests) for (const e of m.entries) if (e.status !== 2) live.add(e.data_file.file_path.slice(metadata.location.length + 1));
  const wanted = new Map<string, Add>();
  for (const add of delta.files.values()) wanted.set(decodeLogPath(add.path), add);
  return {
    deltaVersion: delta.version,
    timestamp: delta.timestamp,
    adds: [...wanted].filter(([k]) => !live.has(k)).map(([, a]) => a),
    removes: [...live].filter((k) => !wanted.has(k)),
    rearrangeOnly: false,
  };
}

/** Mirrors the table once (no state kept between calls). */
export function syncIceberg(store: ObjectStore, options: IcebergSyncOptions = {}): Promise<IcebergSyncResult> {
  return new IcebergSync(store, options).sync();
}
