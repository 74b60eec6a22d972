/**
 * One micro-batch of one table (docs/tunnel-protocol.md §Micro-batch cycle):
 *
 * | step        | what happens here                                                                   |
 * |-------------|-------------------------------------------------------------------------------------|
 * | GetOffset   | new batch id; the table view is refreshed if the table moved past our last commit;  |
 * |             | newly assigned channels get their position (offset entry in force, else GetCheckpoint) |
 * | Commit      | positions in force that the Tunnel server does not have yet are checkpointed         |
 * |             | (a finished parent → "finished" + TERMINATED, so its children can start)            |
 * | GetBatch    | one task per OPEN channel we hold; CLOSING channels are released instead             |
 * | compute     | tasks run on the worker pool (read → Parquet → offset entry), in parallel            |
 * | lake commit | the table's BatchCommitter: one Delta commit with every file and a txn per channel  |
 * |             | then the new end positions are checkpointed to the Tunnel (the next Commit step)    |
 *
 * A conflict drops the whole batch (fenced or not) and resets every position: the next batch
 * re-reads them from the lake. Tunnel checkpoints happen only after the commit that made them true.
 */
import { randomUUID } from 'node:crypto';
import { toOtslakeError, type OtslakeError, type SerializedError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { parseSchema, type Action } from '../lake/actions.js';
import { fieldIdsOf } from '../lake/iceberg/schema.js';
import { materializesPartitions } from '../lake/partition-columns.js';
import type { ObjectStore } from '../lake/object-store.js';
import { typeConflictPolicyOf, type TableConfig } from '../config/load.js';
import { isChannelLost } from '../tunnel/server-errors.js';
import type { TunnelSession } from '../tunnel/tunnel-session.js';
import type { WorkerPool } from '../workers/pool.js';
import { PROTOCOL_VERSION, type ChannelTaskInput, type ColumnSelectionSpec, type TaskBudget } from '../workers/protocol.js';
import type { BatchCommitter, MirrorBatchStats } from './batch-committer.js';
import { needsCheckpoint, partitionOwned, resolvePosition, type ChannelPosition, type ChannelPositions } from './channel-positions.js';
import type { ChannelResult } from './commit-plan.js';
import type { ChannelCap } from './channel-cap.js';
import type { CommitPacer } from './commit-pacer.js';
import type { PipelineMetrics } from './pipeline-metrics.js';
import { channelTaskColumnsOf, type KeyColumn } from './table-schema.js';
import type { TableView, TableViewCache } from './table-view.js';
import { checkpointTunnel } from './tunnel-checkpoint.js';

/** Values landed under the type-conflict policy by committed batches, keyed `column\u0000policy`. */
export type TypeConflictCounts = Map<string, { column: string; policy: string; count: number }>;

export interface TableContext {
  readonly table: TableConfig;
  readonly tunnelId: string;
  /** The table's store (rooted at the table directory). */
  readonly store: ObjectStore;
  readonly session: TunnelSession;
  readonly pool: WorkerPool;
  /** By lake names (tables[].select.rename). */
  readonly primaryKey: readonly KeyColumn[];
  /** tables[].select as the tasks apply it; absent: every column under its own name. */
  readonly select?: ColumnSelectionSpec | undefined;
  readonly budget: TaskBudget;
  readonly targetFileBytes: number;
  readonly maxRowBytes: number;
  readonly log: Logger;
  readonly metrics: PipelineMetrics;
  /** The table's mode, chosen once at start. */
  readonly committer: BatchCommitter;
  /** Cross-batch state, each with its own owner. */
  readonly view: TableViewCache;
  readonly positions: ChannelPositions;
  /** The table's commit budget, shared with every daemon of the table. */
  readonly pacer: CommitPacer;
  readonly typeConflicts: TypeConflictCounts;
  /** Called with each version this table's batches commit, as it is in the log (the Iceberg sync, which then need not read it back). */
  readonly onCommitted?: (version: number, actions: readonly Action[]) => void;
  /** source.maxChannelsPerTable: channels beyond it are not read, and handed back; absent = no cap. */
  readonly channelCap?: ChannelCap;
}

export interface BatchReport {
  readonly batchId: string;
  readonly outcome: 'committed' | 'empty' | 'dropped' | 'fenced';
  readonly version: number;
  readonly channels: number;
  readonly records: number;
  readonly rows: number;
  readonly failedTasks: number;
  readonly finishedChannels: string[];
  readonly durationMs: number;
  /**
   * Every task stopped at its channel's live tail (none on a budget), none failed, no result was
   * left out, and every position is checkpointed: the table was caught up when the batch ended.
   */
  readonly atTail: boolean;
  /** At the tail, and nothing was read: caught up before the batch started too. */
  readonly quiet: boolean;
  /** A task stopped on its record, byte or time budget: the channel has more, the next batch may start at once. */
  readonly behind: boolean;
  /** Versions the commit tried (1 = no lost race); 0 without a commit. */
  readonly commitAttempts: number;
  /** Mode mirror: what the merges of a committed or dropped batch did. */
  readonly mirror?: MirrorBatchStats;
  /** Per channel task that succeeded: records read, whether it read to the live tail, the newest record's commit time (lag). */
  readonly reads?: readonly ChannelRead[];
  /** The first channel task failure (its channel in the context); the others are counted in failedTasks. */
  readonly taskError?: SerializedError;
  /** Why channel tasks failed (failedTasks > 0), for /status and the status page. */
  readonly taskErrors?: readonly { channelId: string; code: string; message: string }[];
}

export interface ChannelRead {
  readonly channelId: string;
  readonly records: number;
  /** The task stopped at the live tail, not on its budget: nothing older than the batch's start is left unread. */
  readonly readToTail: boolean;
  readonly lastRecordTimeMs: number | null;
}

/** GetOffset + Commit + GetBatch: the channels this batch reads, with their start positions. */
async function planChannels(ctx: TableContext, view: TableView, signal?: AbortSignal): Promise<{ planned: ChannelPosition[]; pendingCheckpoint: boolean }> {
  const owned = partitionOwned(ctx.session.ownedChannels());
  for (const ch of owned.closing) releaseChannel(ctx, ch.channelId, 'closing');
  // More than this daemon may read: the rest go back to the Tunnel for the other daemons (docs/operations.md §Balanced work).
  const { keep: open, handBack } = ctx.channelCap?.plan(owned.open, ctx.positions.channelIds()) ?? { keep: owned.open, handBack: [] };
  for (const ch of handBack) releaseChannel(ctx, ch.channelId, 'over source.maxChannelsPerTable');
  ctx.positions.keepOnly(new Set(open.map((c) => c.channelId)));

  for (const ch of open) {
    if (!ctx.positions.needsResolve(ch)) continue;
    try {
      ctx.positions.resolve(ch.channelId, await resolvePosition(ctx, view.txns, ch, signal));
    } catch (err) {
      if (isChannelLost(err)) {
        releaseChannel(ctx, ch.channelId, 'lost');
        continue;
      }
      ctx.metrics.errorOccurred(toOtslakeError(err).code);
      ctx.log.warn('channel start position unavailable, skipped this batch', { channelId: ch.channelId, error: err });
    }
  }
  await reportPositions(ctx, ctx.positions.list().filter(needsCheckpoint), signal);
  const all = ctx.positions.list();
  return { planned: all.filter((p) => !p.finished), pendingCheckpoint: all.some(needsCheckpoint) };
}

/** The Commit step: positions in force go to the Tunnel server. Returns the channels that finished. */
async function reportPositions(ctx: TableContext, positions: readonly ChannelPosition[], signal?: AbortSignal): Promise<string[]> {
  if (positions.length === 0) return [];
  const report = await checkpointTunnel(
    ctx.session,
    positions.map((p) => ({ channelId: p.channelId, token: p.token, finished: p.finished })),
    ctx.log,
    signal,
  );
  for (const p of report.checkpointed) {
    ctx.positions.checkpointed(p.channelId, p.token, p.finished);
    if (p.finished) ctx.metrics.channelRemoved(ctx.table.table, p.channelId);
  }
  if (report.checkpointed.length > 0) ctx.metrics.tunnelCheckpointed(ctx.table.table, report.checkpointed.length);
  return report.checkpointed.filter((p) => p.finished).map((p) => p.channelId);
}

function releaseChannel(ctx: TableContext, channelId: string, why: string): void {
  ctx.positions.release(channelId);
  if (ctx.session.release(channelId)) ctx.log.info('channel released', { channelId, why });
}

type TaskShape = Pick<ChannelTaskInput, 'columns' | 'fieldIds' | 'partitionColumns' | 'materializePartitions'>;

function taskInput(ctx: TableContext, shape: TaskShape, batchId: string, position: ChannelPosition): ChannelTaskInput {
  return {
    kind: 'read-channel',
    protocol: PROTOCOL_VERSION,
    batchId,
    table: ctx.table.table,
    tunnelId: ctx.tunnelId,
    channelId: position.channelId,
    clientId: ctx.session.clientId ?? '',
    startToken: position.token,
    committedSeq: position.committedSeq,
    tablePath: ctx.table.path,
    mode: ctx.table.mode,
    primaryKey: ctx.primaryKey.map((k) => ({ name: k.name, type: k.type })),
    ...shape,
    discoverColumns: true,
    maxRowBytes: ctx.maxRowBytes,
    targetFileBytes: ctx.targetFileBytes,
    budget: ctx.budget,
    typeConflictPolicy: typeConflictPolicyOf(ctx.table),
    ...(ctx.table.metadataPrefix === '_' ? {} : { metadataPrefix: ctx.table.metadataPrefix }),
    ...(ctx.select === undefined ? {} : { select: ctx.select }),
    ...ctx.committer.taskOutput,
  };
}

/** compute: every planned channel on the pool at once (the pool bounds what runs). */
async function runTasks(ctx: TableContext, view: TableView, batchId: string, planned: readonly ChannelPosition[], signal?: AbortSignal) {
  const results: ChannelResult[] = [];
  const reads: ChannelRead[] = [];
  const taskErrors: { channelId: string; code: string; message: string }[] = [];
  let records = 0;
  let behind = false;
  let taskError: SerializedError | undefined;
  // One line per failure would flood the log while the lake or the source is down; the table runner
  // logs the table's state changes (with this error) and a periodic summary instead.
  const failedTask = (channelId: string, error: OtslakeError, what: string) => {
    ctx.metrics.errorOccurred(error.code);
    taskErrors.push({ channelId, code: error.code, message: error.message });
    taskError ??= { code: error.code, message: error.message, retriable: error.retriable, context: { ...error.context, table: ctx.table.table, channelId } };
    ctx.log.debug(`channel task ${what}; redone next batch`, { batchId, channelId, error });
  };
  // Once per batch, not per channel. Field ids: what the Iceberg metadata assigns (docs/iceberg.md).
  const schema = parseSchema(view.metadata.schemaString);
  const shape: TaskShape = {
    columns: channelTaskColumnsOf(schema, ctx.table.metadataPrefix),
    fieldIds: Object.fromEntries(fieldIdsOf(schema)),
    partitionColumns: view.metadata.partitionColumns,
    ...(view.metadata.partitionColumns.length > 0 && materializesPartitions(view.protocol) ? { materializePartitions: true } : {}),
  };
  await Promise.all(
    planned.map(async (position) => {
      try {
        const outcome = await ctx.pool.run(taskInput(ctx, shape, batchId, position), signal ? { signal } : {});
        if (outcome.kind === 'failed' && isChannelLost(outcome.error)) {
          // Not a failure: the channel moved on (shut down, expired, rebalanced). Nothing of it is committed.
          releaseChannel(ctx, position.channelId, 'lost');
          ctx.log.info('channel lost during the read; its work is dropped', { batchId, channelId: position.channelId, error: outcome.error });
          return;
        }
        if (outcome.kind === 'failed') {
          failedTask(position.channelId, outcome.error, 'failed');
          return;
        }
        const s = outcome.stats;
        records += s.records;
        if (outcome.endedOnBudget) behind = true;
        reads.push({ channelId: position.channelId, records: s.records, readToTail: !outcome.endedOnBudget, lastRecordTimeMs: s.lastRecordTimeMs });
        ctx.metrics.recordsRead(ctx.table.table, position.channelId, s.records, s.bytesRead);
        ctx.metrics.filesWritten(ctx.table.table, outcome.files.length, s.bytesWritten, s.rowsWritten);
        if (s.lastRecordTimeMs !== null) ctx.metrics.channelLag(ctx.table.table, position.channelId, Math.max(0, Date.now() - s.lastRecordTimeMs));
        for (const d of outcome.deadLetters) for (const [reason, n] of Object.entries(d.reasons)) ctx.metrics.deadLettered(ctx.table.table, reason, n);
        results.push({ channelId: position.channelId, startToken: position.token, result: outcome });
      } catch (err) {
        if (signal?.aborted) throw err;
        failedTask(position.channelId, toOtslakeError(err), 'crashed');
      }
    }),
  );
  return { results, failed: taskErrors.length, records, behind, reads, taskError, taskErrors };
}

/** Values a committed batch landed under the type-conflict policy: metrics and the runner's status. */
function countTypeConflicts(ctx: TableContext, included: readonly ChannelResult[]): void {
  for (const r of included) {
    for (const c of r.result.typeConflicts ?? []) {
      ctx.metrics.typeConflicted(ctx.table.table, c.column, c.policy, c.count);
      const key = `${c.column}\u0000${c.policy}`;
      const seen = ctx.typeConflicts.get(key);
      if (seen) seen.count += c.count;
      else ctx.typeConflicts.set(key, { column: c.column, policy: c.policy, count: c.count });
    }
  }
}

export async function runBatch(ctx: TableContext, signal?: AbortSignal): Promise<BatchReport> {
  const started = Date.now();
  const batchId = randomUUID();
  const view = await ctx.view.refresh(signal);
  const { planned, pendingCheckpoint } = await planChannels(ctx, view, signal);
  const { results, failed, records, behind, reads, taskError, taskErrors } = await runTasks(ctx, view, batchId, planned, signal);
  const committed = await ctx.committer.commit({ view, batchId, results, ...(signal ? { signal } : {}) });
  const report = (
    outcome: BatchReport['outcome'],
    version: number,
    rows: number,
    finishedChannels: string[],
    atTail: boolean,
    commitAttempts = 0,
  ): BatchReport => ({
    batchId,
    outcome,
    version,
    channels: planned.length,
    records,
    rows,
    failedTasks: failed,
    finishedChannels,
    durationMs: Date.now() - started,
    atTail,
    quiet: atTail && records === 0,
    behind,
    commitAttempts,
    ...(committed.kind !== 'nothing' && committed.mirror ? { mirror: committed.mirror } : {}),
    reads,
    ...(taskError ? { taskError } : {}),
    ...(taskErrors.length > 0 ? { taskErrors } : {}),
  });

  if (committed.kind === 'nothing') {
    return report('empty', view.version, 0, [], !behind && failed === 0 && committed.plan.deferred.length === 0 && !pendingCheckpoint);
  }
  if (committed.kind === 'dropped') {
    ctx.metrics.commitConflicted(ctx.table.table, committed.fenced);
    ctx.log.warn(committed.fenced ? 'batch fenced: another writer owns a channel; dropped' : 'batch lost a commit race; dropped', {
      batchId,
      winningVersion: committed.winningVersion,
      reason: committed.reason,
    });
    ctx.view.lostRace(view, committed.others, committed.fenced ? 'batch fenced' : 'batch lost a commit race');
    return report(committed.fenced ? 'fenced' : 'dropped', view.version, 0, [], false);
  }

  ctx.onCommitted?.(committed.version, committed.actions);
  ctx.metrics.commitCompleted(ctx.table.table, committed.latencyMs, committed.version);
  countTypeConflicts(ctx, committed.plan.included);
  if (committed.mirror) ctx.metrics.mirrorMerged(ctx.table.table, committed.mirror);
  ctx.view.committed(view, committed.version, committed.metadata, committed.plan.txns, committed.others);
  ctx.pacer.committed(committed.version);
  if (committed.attempts > 1) ctx.metrics.commitRacesLost(ctx.table.table, committed.attempts - 1);
  const advanced: ChannelPosition[] = [];
  for (const r of committed.plan.included) {
    const next = ctx.positions.advance(r.channelId, { offsetSeq: r.result.offsetSeq!, endToken: r.result.endToken, finished: r.result.finished });
    if (next) advanced.push(next);
  }
  // A finished channel's TERMINATED report wakes the session's heartbeat loop at once (TunnelSession),
  // and the heartbeat's answer hands out its children: nothing to trigger here.
  const finishedChannels = await reportPositions(ctx, advanced, signal);
  // A channel the server marked CLOSING during the batch: its data is committed, give it back now.
  for (const ch of partitionOwned(ctx.session.ownedChannels()).closing) releaseChannel(ctx, ch.channelId, 'closing after commit');
  ctx.metrics.batchCompleted(ctx.table.table, Date.now() - started, committed.plan.rows);
  const atTail = !behind && failed === 0 && committed.plan.deferred.length === 0 && !ctx.positions.list().some(needsCheckpoint);
  return report('committed', committed.version, committed.plan.rows, finishedChannels, atTail, committed.attempts);
}
