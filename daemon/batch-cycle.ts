/**
 * One micro-batch of one table (design §1), run by the daemon instead of a Spark driver:
 *
 * | step        | what happens here                                                                  |
 * |-------------|------------------------------------------------------------------------------------|
 * | GetOffset   | new batch id; the table view is refreshed if the table moved past our last commit; |
 * |             | newly assigned channels get their position (offset entry in force, else GetCheckpoint) |
 * | Commit      | positions in force that the Tunnel server does not have yet are checkpointed        |
 * |             | (a finished parent → "finished" + TERMINATED, so its children can start)           |
 * | GetBatch    | one task per OPEN channel we hold; CLOSING channels are released instead            |
 * | compute     | tasks run on the worker pool (read → Parquet → offset entry), in parallel           |
 * | lake commit | committer.ts: one Delta commit with every file and a txn per channel               |
 * |             | then the new end positions are checkpointed to the Tunnel (the next Commit step)   |
 *
 * A conflict drops the whole batch (fenced or not) and forgets every cached position: the next batch
 * re-reads them from the lake. Tunnel checkpoints happen only after the commit that made them true.
 */
import { randomUUID } from 'node:crypto';
import type { ErrorCode } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { commitKey } from '../lake/log-path.js';
import { parseSchema } from '../lake/actions.js';
import type { ObjectStore } from '../lake/object-store.js';
import { loadSnapshot, readCommitInfos } from '../lake/snapshot.js';
import { typeConflictPolicyOf, type TableConfig } from '../config/load.js';
import type { TunnelSession } from '../tunnel/tunnel-session.js';
import type { WorkerPool } from '../workers/pool.js';
import { PROTOCOL_VERSION, type ChannelTaskInput, type TaskBudget } from '../workers/protocol.js';
import { partitionOwned, resolveSlot, type ChannelSlot } from './channel-slots.js';
import { commitBatch, viewAfterCommit, type ChannelResult, type TableView } from './committer.js';
import type { Metrics } from './metrics.js';
import { commitMirrorBatch, type MirrorBatchStats, type MirrorState } from './mirror-batch.js';
import { channelTaskColumnsOf, type KeyColumn } from './table-schema.js';
import { checkpointTunnel, type ChannelPosition } from './tunnel-checkpoint.js';

export interface TableContext {
  readonly table: TableConfig;
  readonly tunnelId: string;
  /** The table's store (rooted at the table directory). */
  readonly store: ObjectStore;
  readonly session: TunnelSession;
  readonly pool: WorkerPool;
  readonly primaryKey: readonly KeyColumn[];
  readonly budget: TaskBudget;
  readonly targetFileBytes: number;
  readonly maxRowBytes: number;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Cached between batches; null forces a snapshot load. */
  view: TableView | null;
  readonly slots: Map<string, ChannelSlot>;
  /** Present for mode mirror: channel tasks stage their rows and the batch merges them (mirror-batch.ts). */
  readonly mirror?: MirrorState;
  /** Values landed under the type-conflict policy by committed batches, keyed `column\u0000policy`. */
  readonly typeConflicts?: Map<string, { column: string; policy: string; count: number }>;
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
  /** Every task read nothing, none failed, every position is checkpointed. */
  readonly quiet: boolean;
  /** Mode mirror: what the merges of a committed or dropped batch did. */
  readonly mirror?: MirrorBatchStats;
  /** Why channel tasks failed (failedTasks > 0), for /status and the status page. */
  readonly taskErrors?: readonly { channelId: string; code: string; message: string }[];
}

/**
 * The cached view moved forward over other writers' commits (compaction, another daemon) by reading
 * only those commits; null when that is not enough (a gap left by log cleanup, a protocol change).
 */
async function advanceView(ctx: TableContext, view: TableView, signal?: AbortSignal): Promise<TableView | null> {
  const commits = await readCommitInfos(ctx.store, view.version + 1, signal ? { signal } : {});
  const txns = new Map(view.txns);
  let metadata = view.metadata;
  let version = view.version;
  for (const c of commits) {
    if (c.version !== version + 1 || c.protocol !== null) return null;
    for (const t of c.txns) txns.set(t.appId, t.version);
    if (c.metadata !== null) metadata = c.metadata;
    version = c.version;
  }
  return version === view.version ? null : { version, metadata, txns };
}

/** Reuses the cached view unless a commit exists after it (another writer, or a lost view). */
export async function refreshView(ctx: TableContext, signal?: AbortSignal): Promise<TableView> {
  if (ctx.view !== null && (await ctx.store.head(commitKey(ctx.view.version + 1), signal ? { signal } : {})) === null) return ctx.view;
  const advanced = ctx.view === null ? null : await advanceView(ctx, ctx.view, signal);
  if (advanced !== null) {
    // Positions are re-read all the same: another writer may have taken one of our channels.
    ctx.log.info('table moved under us, positions re-read', { fromVersion: ctx.view!.version, toVersion: advanced.version });
    ctx.view = advanced;
    ctx.slots.clear();
    return advanced;
  }
  const snapshot = await loadSnapshot(ctx.store, signal ? { signal } : {});
  const txns = new Map<string, number>();
  for (const [appId, txn] of snapshot.txns) txns.set(appId, txn.version);
  if (ctx.view !== null) ctx.log.info('table moved under us, positions re-read', { fromVersion: ctx.view.version, toVersion: snapshot.version });
  ctx.view = { version: snapshot.version, metadata: snapshot.metadata, txns };
  ctx.slots.clear();
  return ctx.view;
}

/** GetOffset + Commit + GetBatch: the channels this batch reads, with their start positions. */
async function planChannels(ctx: TableContext, view: TableView, signal?: AbortSignal): Promise<{ planned: ChannelSlot[]; pendingCheckpoint: boolean }> {
  const { open, closing } = partitionOwned(ctx.session.ownedChannels());
  for (const ch of closing) releaseChannel(ctx, ch.channelId, 'closing');
  const held = new Set(open.map((c) => c.channelId));
  for (const id of ctx.slots.keys()) if (!held.has(id)) ctx.slots.delete(id);

  for (const ch of open) {
    const slot = ctx.slots.get(ch.channelId);
    if (slot && slot.assignment === ch.assignment) continue;
    try {
      const resolved = await resolveSlot(ctx, view, ch, signal);
      if (resolved) ctx.slots.set(ch.channelId, resolved);
      else ctx.slots.delete(ch.channelId);
    } catch (err) {
      ctx.metrics.errorOccurred(codeOf(err));
      ctx.log.warn('channel start position unavailable, skipped this batch', { channelId: ch.channelId, error: err });
    }
  }
  const behind = [...ctx.slots.values()].filter((s) => s.finished || s.token !== s.checkpointedToken);
  await reportPositions(ctx, behind, signal);
  const planned = [...ctx.slots.values()].filter((s) => !s.finished);
  return { planned, pendingCheckpoint: [...ctx.slots.values()].some((s) => s.finished || s.token !== s.checkpointedToken) };
}

async function reportPositions(ctx: TableContext, slots: readonly ChannelSlot[], signal?: AbortSignal): Promise<string[]> {
  if (slots.length === 0) return [];
  const positions: ChannelPosition[] = slots.map((s) => ({ channelId: s.channelId, token: s.token, finished: s.finished }));
  const report = await checkpointTunnel(ctx.session, positions, ctx.log, signal);
  for (const p of report.checkpointed) {
    const slot = ctx.slots.get(p.channelId);
    if (slot) slot.checkpointedToken = p.token;
    if (p.finished) {
      ctx.slots.delete(p.channelId);
      ctx.metrics.channelRemoved(ctx.table.table, p.channelId);
    }
  }
  if (report.checkpointed.length > 0) ctx.metrics.tunnelCheckpointed(ctx.table.table, report.checkpointed.length);
  return report.checkpointed.filter((p) => p.finished).map((p) => p.channelId);
}

function releaseChannel(ctx: TableContext, channelId: string, why: string): void {
  ctx.slots.delete(channelId);
  if (ctx.session.release(channelId)) ctx.log.info('channel released', { channelId, why });
}

function codeOf(err: unknown): ErrorCode {
  return ((err as { code?: ErrorCode }).code ?? 'OTSL_INTERNAL') as ErrorCode;
}

function taskInput(ctx: TableContext, columns: ChannelTaskInput['columns'], batchId: string, slot: ChannelSlot): ChannelTaskInput {
  return {
    kind: 'read-channel',
    protocol: PROTOCOL_VERSION,
    batchId,
    table: ctx.table.table,
    tunnelId: ctx.tunnelId,
    channelId: slot.channelId,
    clientId: ctx.session.clientId ?? '',
    startToken: slot.token,
    committedSeq: slot.committedSeq,
    tablePath: ctx.table.path,
    mode: ctx.table.mode,
    primaryKey: ctx.primaryKey.map((k) => ({ name: k.name, type: k.type })),
    columns,
    discoverColumns: true,
    maxRowBytes: ctx.maxRowBytes,
    targetFileBytes: ctx.targetFileBytes,
    budget: ctx.budget,
    typeConflictPolicy: typeConflictPolicyOf(ctx.table),
    ...(ctx.mirror ? { destination: 'staging' as const, mirrorBuckets: ctx.mirror.buckets } : {}),
  };
}

/** compute: every planned channel on the pool at once (the pool bounds what runs). */
async function runTasks(ctx: TableContext, view: TableView, batchId: string, planned: readonly ChannelSlot[], signal?: AbortSignal) {
  const results: ChannelResult[] = [];
  const taskErrors: { channelId: string; code: string; message: string }[] = [];
  let failed = 0;
  let records = 0;
  const columns = channelTaskColumnsOf(parseSchema(view.metadata.schemaString)); // once per batch, not per channel
  await Promise.all(
    planned.map(async (slot) => {
      const input = taskInput(ctx, columns, batchId, slot);
      try {
        const outcome = await ctx.pool.run(input, signal ? { signal } : {});
        if (outcome.kind === 'failed') {
          failed++;
          ctx.metrics.errorOccurred(outcome.error.code);
          taskErrors.push({ channelId: slot.channelId, code: outcome.error.code, message: outcome.error.message });
          ctx.log.warn('channel task failed; redone next batch', { batchId, channelId: slot.channelId, error: outcome.error });
          return;
        }
        const s = outcome.stats;
        records += s.records;
        ctx.metrics.recordsRead(ctx.table.table, slot.channelId, s.records, s.bytesRead);
        ctx.metrics.filesWritten(ctx.table.table, outcome.files.length, s.bytesWritten, s.rowsWritten);
        if (s.lastRecordTimeMs !== null) ctx.metrics.channelLag(ctx.table.table, slot.channelId, Math.max(0, Date.now() - s.lastRecordTimeMs));
        for (const d of outcome.deadLetters) for (const [reason, n] of Object.entries(d.reasons)) ctx.metrics.deadLettered(ctx.table.table, reason, n);
        results.push({ channelId: slot.channelId, startToken: slot.token, result: outcome });
      } catch (err) {
        failed++;
        ctx.metrics.errorOccurred(codeOf(err));
        if (signal?.aborted) throw err;
        taskErrors.push({ channelId: slot.channelId, code: codeOf(err), message: (err as Error).message });
        ctx.log.warn('channel task crashed; redone next batch', { batchId, channelId: slot.channelId, error: err });
      }
    }),
  );
  return { results, failed, records, taskErrors };
}

/** Values a committed batch landed under the type-conflict policy: metrics and the runner's status. */
function countTypeConflicts(ctx: TableContext, included: readonly ChannelResult[]): void {
  for (const r of included) {
    for (const c of r.result.typeConflicts ?? []) {
      ctx.metrics.typeConflicted(ctx.table.table, c.column, c.policy, c.count);
      const key = `${c.column}\u0000${c.policy}`;
      const seen = ctx.typeConflicts?.get(key);
      if (seen) seen.count += c.count;
      else ctx.typeConflicts?.set(key, { column: c.column, policy: c.policy, count: c.count });
    }
  }
}

export async function runBatch(ctx: TableContext, signal?: AbortSignal): Promise<BatchReport> {
  const started = Date.now();
  const batchId = randomUUID();
  const view = await refreshView(ctx, signal);
  const { planned, pendingCheckpoint } = await planChannels(ctx, view, signal);
  const { results, failed, records, taskErrors } = await runTasks(ctx, view, batchId, planned, signal);
  let mirrorStats: MirrorBatchStats | null = null;
  const report = (outcome: BatchReport['outcome'], version: number, rows: number, finishedChannels: string[], quiet: boolean): BatchReport => ({
    batchId,
    outcome,
    version,
    channels: planned.length,
    records,
    rows,
    failedTasks: failed,
    finishedChannels,
    durationMs: Date.now() - started,
    quiet,
    ...(mirrorStats ? { mirror: mirrorStats } : {}),
    ...(taskErrors.length > 0 ? { taskErrors } : {}),
  });

  const committed = ctx.mirror
    ? await commitMirrorBatch({
        store: ctx.store,
        pool: ctx.pool,
        mirror: ctx.mirror,
        view,
        tunnelId: ctx.tunnelId,
        table: ctx.table.table,
        tablePath: ctx.table.path,
        batchId,
        results,
        log: ctx.log,
        ...(signal ? { signal } : {}),
      })
    : await commitBatch({ store: ctx.store, view, tunnelId: ctx.tunnelId, batchId, results, log: ctx.log, ...(signal ? { signal } : {}) });
  mirrorStats = (committed as { mirror?: MirrorBatchStats | null }).mirror ?? null;
  if (committed.kind === 'nothing') {
    const quiet = records === 0 && failed === 0 && committed.plan.deferred.length === 0 && !pendingCheckpoint;
    return report('empty', view.version, 0, [], quiet);
  }
  if (committed.kind === 'dropped') {
    ctx.metrics.commitConflicted(ctx.table.table, committed.fenced);
    ctx.log.warn(committed.fenced ? 'batch fenced: another writer owns a channel; dropped' : 'batch lost a commit race; dropped', {
      batchId,
      winningVersion: committed.winningVersion,
      reason: committed.reason,
    });
    ctx.view = null;
    ctx.slots.clear();
    return report(committed.fenced ? 'fenced' : 'dropped', view.version, 0, [], false);
  }

  ctx.metrics.commitCompleted(ctx.table.table, committed.latencyMs, committed.version);
  countTypeConflicts(ctx, committed.plan.included);
  if (mirrorStats) ctx.metrics.mirrorMerged(ctx.table.table, mirrorStats);
  ctx.view = viewAfterCommit(view, committed, ctx.tunnelId);
  if (ctx.view === null) ctx.slots.clear();
  const advanced: ChannelSlot[] = [];
  for (const r of committed.plan.included) {
    const slot = ctx.slots.get(r.channelId);
    if (!slot) continue;
    slot.committedSeq = r.result.offsetSeq!;
    slot.token = r.result.endToken;
    slot.finished = r.result.finished;
    advanced.push(slot);
  }
  // A finished channel's TERMINATED report wakes the session's heartbeat loop at once (TunnelSession),
  // and the heartbeat's answer hands out its children: nothing to trigger here.
  const finishedChannels = await reportPositions(ctx, advanced, signal);
  // A channel the server marked CLOSING during the batch: its data is committed, give it back now.
  for (const ch of partitionOwned(ctx.session.ownedChannels()).closing) releaseChannel(ctx, ch.channelId, 'closing after commit');
  ctx.metrics.batchCompleted(ctx.table.table, Date.now() - started, committed.plan.rows);
  return report('committed', committed.version, committed.plan.rows, finishedChannels, false);
}
