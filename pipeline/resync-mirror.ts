/**
 * Resync of a mirror table (docs/operations.md §Table lifecycle): the new tunnel's full snapshot is landed into
 * a staging mirror table beside the live one, and replaces the live contents in one commit once it is complete.
 *
 *   1. the new tunnel `<tunnel.name>-resync-<8 hex of the old id>`, created or found by that name;
 *   2. staging: an ordinary table runner lands the new tunnel into the mirror table at
 *      `<path>/_otslake/staging/resync-<new tunnel id>/` (same buckets and key, no CDF) until it is caught up —
 *      which a BaseAndStream tunnel only is once its base phase is over. Its commits carry the new tunnel's
 *      positions like any table's, so a crash here resumes where the staging stopped. Live readers never see
 *      it: the live log does not name its files, and vacuum keeps them while they are young;
 *   3. the switch (pipeline/resync-switch.ts): one commit removes every live file, adds the staged ones, writes
 *      the differences as change data and takes over the staged positions;
 *   4. the old tunnel is deleted; the staged table's own log goes (its data files are the live table's now).
 *
 * After 3 the table goes on from the new tunnel's stream, wherever the staging left it. A crash before 3 leaves
 * the live table untouched (a rerun resumes the staging); after 3 a rerun only finishes 4.
 */
import { OtslakeError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { ResolvedConfig, TableConfig } from '../config/load.js';
import { mirrorSettingsOf } from '../lake/mirror/layout.js';
import { STAGING_ROOT } from '../lake/mirror/staging.js';
import type { ObjectStore } from '../lake/object-store.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';
import type { WorkerPool } from '../workers/pool.js';
import type { PipelineMetrics } from './pipeline-metrics.js';
import { crashPoint } from './resync-crash-point.js';
import { switchToStaged, type SwitchResult } from './resync-switch.js';
import { TableRunner, type SessionSettings } from './table-runner.js';
import type { DescribeSourceTable } from './table-schema.js';
import { ensureTunnel } from './tunnel-setup.js';

/** What landing the staged snapshot needs: the pieces a daemon has (the `resync` command builds its own). */
export interface StagingDeps {
  readonly config: ResolvedConfig;
  readonly lakeRoot: ObjectStore;
  readonly pool: WorkerPool;
  readonly metrics: PipelineMetrics;
  readonly describeTable: DescribeSourceTable;
  readonly writer: string;
  readonly session?: SessionSettings;
}

export interface MirrorResyncStep {
  readonly tunnelId: string;
  readonly tunnelName: string;
  readonly switched: SwitchResult;
}

/** Where the staged snapshot of `tunnelId` lives, relative to the live table. */
export function stagingPrefixOf(tunnelId: string): string {
  return `${STAGING_ROOT}resync-${encodeURIComponent(tunnelId)}/`;
}

/** The staged table as a `tables` entry: the live one's source, the new tunnel, the live layout, no CDF/Iceberg/retention. */
function stagingTable(table: TableConfig, tunnelName: string, tunnelId: string, buckets: number): TableConfig {
  return {
    ...table,
    path: `${table.path}/${stagingPrefixOf(tunnelId).replace(/\/$/, '')}`,
    tunnel: { name: tunnelName, type: 'BaseAndStream' },
    iceberg: false,
    retentionMs: 0,
    mirror: { ...table.mirror!, buckets, changeDataFeed: false },
  };
}

/**
 * The staging runner's reports under the live table's name: the work it does (records read, files written,
 * errors, dead letters, type conflicts) counts; its commits, versions, pacing, checkpoints and channel lags are
 * the staged table's, and would pass for the live table's in the metrics, so they are not reported.
 */
function stagingMetrics(live: PipelineMetrics): PipelineMetrics {
  const none = () => undefined;
  return {
    recordsRead: (...a) => live.recordsRead(...a),
    filesWritten: (...a) => live.filesWritten(...a),
    errorOccurred: (...a) => live.errorOccurred(...a),
    deadLettered: (...a) => live.deadLettered(...a),
    typeConflicted: (...a) => live.typeConflicted(...a),
    batchCompleted: none,
    commitCompleted: none,
    commitConflicted: none,
    commitRacesLost: none,
    commitPacing: none,
    tunnelCheckpointed: none,
    channelLag: none,
    channelRemoved: none,
    mirrorMerged: none,
    maintenanceCompleted: none,
  };
}

/** Nothing but the batches: compaction and vacuum belong to the live table. */
function stagingConfig(config: ResolvedConfig): ResolvedConfig {
  const m = config.maintenance;
  return { ...config, maintenance: { ...m, compact: { ...m.compact, enabled: false }, vacuum: { ...m.vacuum, enabled: false } } };
}

/** Lands the staged table until it is caught up (base phase over), then stops its runner and hands its channels back. */
async function landStaging(deps: StagingDeps, client: TunnelClient, table: TableConfig, log: Logger, signal?: AbortSignal): Promise<void> {
  const runner = new TableRunner({
    config: stagingConfig(deps.config),
    table,
    tunnelClient: client,
    lakeRoot: deps.lakeRoot,
    pool: deps.pool,
    metrics: stagingMetrics(deps.metrics),
    log: log.child({ staging: table.path }),
    describeTable: deps.describeTable,
    writer: deps.writer,
    ...(deps.session ? { session: deps.session } : {}),
  });
  const controller = new AbortController();
  const abort = () => controller.abort(signal?.reason);
  signal?.addEventListener('abort', abort, { once: true });
  runner.on('batch', (report) => {
    if (report.outcome === 'committed') log.info('resync staged a batch', { table: table.table, version: report.version, rows: report.rows });
  });
  try {
    await runner.start(controller.signal);
    const outcome = new Promise<void>((resolve, reject) => {
      runner.once('idle', () => resolve());
      runner.once('stopped', reject);
      runner.once('failed', reject);
    });
    const loop = runner.loop(controller.signal);
    try {
      await Promise.race([outcome, loop.then(() => Promise.reject(stagingInterrupted(table)))]);
    } finally {
      runner.stop();
      await loop.catch(() => undefined);
    }
  } finally {
    signal?.removeEventListener('abort', abort);
    await runner.close(AbortSignal.timeout(5_000)).catch((err: unknown) => log.warn('staging session shutdown failed', { error: err }));
  }
}

/** The staging's runner ended before the snapshot was complete: the daemon or the command is stopping. */
function stagingInterrupted(table: TableConfig): OtslakeError {
  return new OtslakeError(
    'OTSL_DAEMON_STATE',
    `table ${table.table}: the resync stopped before the new snapshot was complete (the process is stopping); the live table is untouched, run the resync again: it resumes the staging`,
    { context: { table: table.table, path: table.path } },
  );
}

/**
 * Steps 1–3 for a table whose lake has not switched yet: returns after the switch commit. `live` is the table's
 * store, `liveConfiguration` its table properties (the layout is fixed at creation).
 */
export async function stageAndSwitch(
  deps: StagingDeps,
  client: TunnelClient,
  table: TableConfig,
  live: ObjectStore,
  liveConfiguration: Readonly<Record<string, string>>,
  tunnelName: string,
  previousTunnelId: string | null,
  log: Logger,
  signal?: AbortSignal,
): Promise<MirrorResyncStep> {
  const tunnelId = await ensureTunnel(client, { ...table, tunnel: { name: tunnelName, type: 'BaseAndStream' } }, log, signal);
  const layout = mirrorSettingsOf(liveConfiguration);
  const staged = stagingTable(table, tunnelName, tunnelId, layout.buckets);
  log.info('resync staging the new snapshot', { table: table.table, tunnelId, staging: staged.path });
  await landStaging(deps, client, staged, log, signal);
  log.info('resync snapshot complete; switching', { table: table.table, tunnelId });
  crashPoint('resync-before-switch');
  const switched = await switchToStaged({
    table: table.table,
    live,
    tablePath: table.path,
    pool: deps.pool,
    stagingPrefix: stagingPrefixOf(tunnelId),
    tunnelId,
    previousTunnelId,
    metadataPrefix: table.metadataPrefix,
    log,
    ...(signal ? { signal } : {}),
  });
  log.info('resync switch committed', { table: table.table, tunnelId, previousTunnelId, ...switched });
  crashPoint('resync-after-switch');
  return { tunnelId, tunnelName, switched };
}

/** Step 4's tidy-up: the staged table's log and offsets (its data files are live now). Missing files are fine. */
export async function dropStagingLog(live: ObjectStore, tunnelId: string, signal?: AbortSignal): Promise<void> {
  const prefix = stagingPrefixOf(tunnelId);
  const opts = signal ? { signal } : {};
  for (const dir of ['_delta_log/', '_otslake/']) {
    const listed = await live.list(`${prefix}${dir}`, opts);
    await Promise.all(listed.map((o) => live.delete(o.key, opts)));
  }
}
