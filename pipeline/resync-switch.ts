/**
 * The switch of a mirror resync (docs/operations.md §Table lifecycle): the staged snapshot replaces the live
 * table's contents in ONE Delta commit (operation RESYNC).
 *
 *   metaData   the live schema plus any column only the snapshot has; otslake.tunnel.id names the new tunnel,
 *              otslake.resync.previousTunnel / .at record the switch
 *   remove     every live file (dataChange true)
 *   add        every file of the staged table, by its path under the live table (`_otslake/staging/resync-<id>/…`),
 *              with its layout tags: both tables have the same buckets, so the layout holds as it is
 *   cdc        the differences, bucket by bucket: a live row the snapshot lacks is a `delete`, a row whose
 *              data columns differ an `update_preimage`/`update_postimage` pair, a new row an `insert`;
 *              equal rows are no change (only `_ts`/`_seq` differ, which name the new tunnel's sequence)
 *   txn        the staged table's positions of the new tunnel (their offset entries are copied first), so the
 *              table goes on from exactly where the staging stopped
 *
 * Readers see the old contents up to the version before and the new snapshot from this one: never a half.
 * Cost: one read of every live and staged file, a bucket at a time in memory, on the worker pool: the buckets
 * are split into contiguous ranges, about two 'resync-diff' tasks per thread (lake/mirror/resync-diff.ts), run
 * in parallel. The caller's thread only loads both logs and commits, so a daemon's other tables, heartbeats
 * and HTTP go on while a large mirror is diffed.
 */
import { OtslakeError, toOtslakeError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { DEFAULT_METADATA_PREFIX } from '../common/metadata-columns.js';
import { parseSchema, type Action, type Metadata, type StructType } from '../lake/actions.js';
import { cdcActionFor } from '../lake/mirror/change-data.js';
import { filesByBucket, mirrorSettingsOf } from '../lake/mirror/layout.js';
import { mirrorShapeOf } from '../lake/mirror/mirror-table.js';
import { bucketRanges } from '../lake/mirror/resync-diff.js';
import type { ObjectStore } from '../lake/object-store.js';
import { offsetEntryKey, parseTxnAppId } from '../lake/offset-log.js';
import { decodeLogPath, encodeLogPath } from '../lake/partition-path.js';
import { loadSnapshot, type Snapshot } from '../lake/snapshot.js';
import { commit } from '../lake/transaction.js';
import type { WorkerPool } from '../workers/pool.js';
import { PROTOCOL_VERSION, type AddFileMeta, type ResyncDiffTaskInput, type ResyncDiffTaskOk } from '../workers/protocol.js';
import { mirrorFileColumns } from './mirror-committer.js';
import { TUNNEL_ID_PROPERTY } from './tunnel-binding.js';

export const PREVIOUS_TUNNEL_PROPERTY = 'otslake.resync.previousTunnel';
const RESYNC_AT_PROPERTY = 'otslake.resync.at';

export interface SwitchOptions {
  readonly table: string;
  /** The live table (rooted at its path). */
  readonly live: ObjectStore;
  /** The live table's folder under the lake root (tables[].path): where the pool's threads find it. */
  readonly tablePath: string;
  /** Runs the diff ('resync-diff' tasks); its threads' lake root must be the one `live` hangs from. */
  readonly pool: WorkerPool;
  /** The staged table's folder, relative to the live table's root. */
  readonly stagingPrefix: string;
  readonly tunnelId: string;
  readonly previousTunnelId: string | null;
  /** tables[].metadataPrefix: the names of the mirror's `_ts`/`_seq`. */
  readonly metadataPrefix: string;
  readonly log: Logger;
  readonly signal?: AbortSignal;
}

export interface SwitchResult {
  readonly version: number;
  readonly inserted: number;
  readonly updated: number;
  readonly deleted: number;
  readonly rows: number;
}

/** Live columns first (their order is the table's), then the snapshot's new ones. */
function unionSchema(live: StructType, staged: StructType): StructType {
  const names = new Set(live.fields.map((f) => f.name));
  return { type: 'struct', fields: [...live.fields, ...staged.fields.filter((f) => !names.has(f.name))] };
}

/**
 * 'resync-diff' tasks per worker thread. They run one at a time on a thread (runsAlone); more ranges than threads
 * let a thread that finished a light range take the next one while a heavy range still runs elsewhere.
 */
const DIFF_TASKS_PER_THREAD = 2;

/**
 * Writes the change data of live → staged on the worker pool, over contiguous bucket ranges in parallel; returns
 * the cdc files' actions (in bucket order) and the counts. A failed task fails the whole diff: the change data
 * the other tasks wrote is deleted (never committed, so never visible) and the first failure thrown.
 */
async function diffTables(live: Snapshot, staged: Snapshot, options: SwitchOptions, schema: StructType, metadata: Metadata) {
  const { pool, signal } = options;
  const shape = mirrorShapeOf(metadata, schema);
  const buckets = shape.settings.buckets;
  const liveFiles = filesByBucket(live.files.values(), buckets);
  const stagedFiles = filesByBucket(staged.files.values(), buckets);
  const ranges = bucketRanges(buckets, pool.threads * DIFF_TASKS_PER_THREAD);
  const base = {
    kind: 'resync-diff' as const,
    protocol: PROTOCOL_VERSION,
    table: options.table,
    tablePath: options.tablePath,
    stagingPrefix: options.stagingPrefix,
    keyColumns: shape.keyColumns,
    columns: mirrorFileColumns(shape.columns, options.metadataPrefix),
    ...(options.metadataPrefix === DEFAULT_METADATA_PREFIX ? {} : { metadataPrefix: options.metadataPrefix }),
    changeDataFeed: shape.settings.changeDataFeed,
  };
  const outcomes: (ResyncDiffTaskOk | undefined)[] = ranges.map(() => undefined);
  const failures: OtslakeError[] = [];
  await Promise.all(
    ranges.map(async (range, index) => {
      const input: ResyncDiffTaskInput = {
        ...base,
        buckets: range,
        liveFiles: range.flatMap((b) => liveFiles.get(b) ?? []),
        stagedFiles: range.flatMap((b) => stagedFiles.get(b) ?? []),
      };
      try {
        const outcome = await pool.run(input, signal ? { signal } : {});
        if (outcome.kind === 'ok') outcomes[index] = outcome;
        else failures.push(outcome.error);
      } catch (err) {
        failures.push(toOtslakeError(err));
      }
    }),
  );
  const done = outcomes.filter((o): o is ResyncDiffTaskOk => o !== undefined);
  if (failures.length > 0) {
    await deleteChangeData(
      options.live,
      done.flatMap((o) => o.cdc),
    );
    const first = failures[0]!;
    if (signal?.aborted) throw first;
    throw new OtslakeError(
      first.code,
      `table ${options.table}: the resync diff failed (${failures.length} of ${ranges.length} tasks); the live table is untouched: ${first.message}`,
      {
        cause: first,
        retriable: first.retriable,
        context: { ...first.context, table: options.table, path: options.stagingPrefix },
      },
    );
  }
  const counts = { inserted: 0, updated: 0, deleted: 0 };
  let rows = 0;
  for (const o of done) {
    counts.inserted += o.counts.inserted;
    counts.updated += o.counts.updated;
    counts.deleted += o.counts.deleted;
    rows += o.rows;
  }
  options.log.debug('resync diff done', { table: options.table, tasks: ranges.length, ...counts, rows });
  const files = done.flatMap((o) => o.cdc);
  return { cdc: files.map(cdcActionFor), files, counts, rows };
}

async function deleteChangeData(live: ObjectStore, files: readonly Pick<AddFileMeta, 'path'>[]): Promise<void> {
  await Promise.allSettled(files.map((f) => live.delete(f.path)));
}

/** The switch commit. A table that moved meanwhile (another writer) is OTSL_DAEMON_STATE: nothing is visible, rerun. */
export async function switchToStaged(options: SwitchOptions): Promise<SwitchResult> {
  const { live, stagingPrefix, tunnelId, signal } = options;
  const opts = signal ? { signal } : {};
  const stagedStore = live.child(stagingPrefix);
  const current = await loadSnapshot(live, opts);
  const staged = await loadSnapshot(stagedStore, opts);
  const liveLayout = mirrorSettingsOf(current.metadata.configuration);
  const stagedLayout = mirrorSettingsOf(staged.metadata.configuration);
  if (liveLayout.buckets !== stagedLayout.buckets || liveLayout.primaryKey.join() !== stagedLayout.primaryKey.join()) {
    throw new OtslakeError('OTSL_INTERNAL', `table ${options.table}: the staged snapshot's layout differs from the live table's`, {
      context: { table: options.table, path: stagingPrefix },
    });
  }
  const schema = unionSchema(parseSchema(current.metadata.schemaString), parseSchema(staged.metadata.schemaString));
  const metadata: Metadata = {
    ...current.metadata,
    schemaString: JSON.stringify(schema),
    configuration: {
      ...current.metadata.configuration,
      [TUNNEL_ID_PROPERTY]: tunnelId,
      [PREVIOUS_TUNNEL_PROPERTY]: options.previousTunnelId ?? '',
      [RESYNC_AT_PROPERTY]: new Date().toISOString(),
    },
  };
  // Positions: the offset entries the staged txns name, under the live table (unreferenced until the commit).
  const txns: Action[] = [];
  for (const txn of staged.txns.values()) {
    const parsed = parseTxnAppId(txn.appId);
    if (parsed === null || parsed.tunnelId !== tunnelId) continue;
    const key = offsetEntryKey(parsed.tunnelId, parsed.channelId, txn.version);
    await live.put(key, await stagedStore.get(key, opts), opts);
    txns.push({ txn: { appId: txn.appId, version: txn.version, lastUpdated: Date.now() } });
  }
  const diff = await diffTables(current, staged, options, schema, metadata);
  const now = Date.now();
  const actions: Action[] = [{ metaData: metadata }];
  for (const add of current.files.values()) {
    actions.push({ remove: { path: add.path, deletionTimestamp: now, dataChange: true, extendedFileMetadata: true, partitionValues: {}, size: add.size } });
  }
  for (const add of staged.files.values()) {
    actions.push({ add: { ...add, path: encodeLogPath(`${stagingPrefix}${decodeLogPath(add.path)}`), dataChange: true } });
  }
  actions.push(...diff.cdc, ...txns);
  const result = await commit(live, actions, {
    readVersion: current.version,
    readMetadata: current.metadata,
    operation: 'RESYNC',
    operationParameters: { tunnelId, previousTunnelId: options.previousTunnelId ?? '' },
    commitInfo: { otslake: { resync: { ...diff.counts, rows: diff.rows, stagedVersion: staged.version } } },
    maxAttempts: 1,
    ...opts,
  });
  if (result.kind === 'conflict') {
    await deleteChangeData(live, diff.files);
    throw new OtslakeError(
      'OTSL_DAEMON_STATE',
      `table ${options.table}: the lake changed during the resync (${result.reason}); is a daemon still writing it?`,
      {
        context: { table: options.table, version: result.winningVersion },
      },
    );
  }
  return { version: result.version, ...diff.counts, rows: diff.rows };
}
