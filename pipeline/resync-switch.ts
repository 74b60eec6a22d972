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
 * Cost: one read of every live and staged file (a bucket at a time in memory) on the caller's thread.
 */
import { OtslakeError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { parseSchema, type Action, type Metadata, type StructType } from '../lake/actions.js';
import { mirrorMetadataNames, sameRow, type MirrorRow } from '../lake/mirror/apply.js';
import { ChangeDataWriter, cdcActionFor } from '../lake/mirror/change-data.js';
import { encodeKey, type KeyColumn } from '../lake/mirror/key-encoding.js';
import { filesByBucket, mirrorSettingsOf, type MirrorFile } from '../lake/mirror/layout.js';
import { readMirrorFile } from '../lake/mirror/merge-bucket.js';
import { mirrorShapeOf } from '../lake/mirror/mirror-table.js';
import type { ObjectStore } from '../lake/object-store.js';
import { offsetEntryKey, parseTxnAppId } from '../lake/offset-log.js';
import type { ColumnSpec } from '../lake/parquet-columns.js';
import { decodeLogPath, encodeLogPath } from '../lake/partition-path.js';
import { loadSnapshot, type Snapshot } from '../lake/snapshot.js';
import { commit } from '../lake/transaction.js';
import { mirrorFileColumns } from './mirror-committer.js';
import { TUNNEL_ID_PROPERTY } from './tunnel-binding.js';

export const PREVIOUS_TUNNEL_PROPERTY = 'otslake.resync.previousTunnel';
const RESYNC_AT_PROPERTY = 'otslake.resync.at';

export interface SwitchOptions {
  readonly table: string;
  /** The live table (rooted at its path). */
  readonly live: ObjectStore;
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

/** One bucket's rows with their keys, sorted by key (mirror files of a bucket hold disjoint sorted ranges). */
async function bucketRows(store: ObjectStore, files: readonly MirrorFile[], keyColumns: readonly KeyColumn[], signal?: AbortSignal) {
  const out: { key: string; row: MirrorRow }[] = [];
  for (const f of files) for (const row of await readMirrorFile(store, f, signal)) out.push({ key: encodeKey(keyColumns, row), row });
  return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** Writes the change data of live → staged, bucket by bucket; returns the cdc files' actions and the counts. */
async function diffTables(live: Snapshot, staged: Snapshot, stagedStore: ObjectStore, options: SwitchOptions, schema: StructType, metadata: Metadata) {
  const shape = mirrorShapeOf(metadata, schema);
  const columns: ColumnSpec[] = mirrorFileColumns(shape.columns, options.metadataPrefix);
  const { ts, seq } = mirrorMetadataNames(options.metadataPrefix);
  const dataColumns = columns.filter((c) => c.name !== ts && c.name !== seq);
  const buckets = shape.settings.buckets;
  const liveFiles = filesByBucket(live.files.values(), buckets);
  const stagedFiles = filesByBucket(staged.files.values(), buckets);
  const cdf = new ChangeDataWriter(columns, {
    store: options.live,
    enabled: shape.settings.changeDataFeed,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let rows = 0;
  try {
    for (let b = 0; b < buckets; b++) {
      const before = await bucketRows(options.live, liveFiles.get(b) ?? [], shape.keyColumns, options.signal);
      const after = await bucketRows(stagedStore, stagedFiles.get(b) ?? [], shape.keyColumns, options.signal);
      rows += after.length;
      let i = 0;
      let j = 0;
      while (i < before.length || j < after.length) {
        const bk = before[i]?.key;
        const ak = after[j]?.key;
        if (ak === undefined || (bk !== undefined && bk < ak)) await cdf.record(before[i++]!.row, undefined);
        else if (bk === undefined || ak < bk) await cdf.record(undefined, after[j++]!.row);
        else {
          const [b0, a0] = [before[i++]!.row, after[j++]!.row];
          if (!sameRow(b0, a0, dataColumns)) await cdf.record(b0, a0);
        }
      }
    }
    return { cdc: (await cdf.close()).map(cdcActionFor), counts: { ...cdf.counts }, rows };
  } catch (err) {
    await cdf.abort(err);
    throw err;
  }
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
  const diff = await diffTables(current, staged, stagedStore, options, schema, metadata);
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
    await Promise.allSettled(diff.cdc.map((c) => live.delete(decodeLogPath(c.cdc.path))));
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
