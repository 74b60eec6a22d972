/**
 * Channel task results → one Delta commit: the "lake commit" step of docs/tunnel-protocol.md
 * §Micro-batch cycle, under the rules of docs/exactly-once.md §How otslake keeps it.
 *
 *   results ──▶ planCommit (pure) ──▶ commitInfo{batchId, end tokens, dead letters}
 *                                      metaData   (only when new columns appear)
 *                                      txn × channel (version = the offset entry the worker claimed)
 *                                      add × file
 *           ──▶ commit() ──▶ committed | dropped (conflict; fenced when a winner holds one of our appIds)
 *
 * A dropped batch is never retried: its files stay invisible (not in the log) and every channel is
 * redone from the position in force, which the next snapshot tells.
 */
import type { Logger } from '../common/log.js';
import type { Action, DataType, Metadata } from '../lake/actions.js';
import { deltaTypeOf } from '../lake/parquet-columns.js';
import type { ObjectStore } from '../lake/object-store.js';
import { txnAppId } from '../lake/offset-log.js';
import { addColumns } from '../lake/table-create.js';
import { addActionFor, commit, txnAction } from '../lake/transaction.js';
import { parseSchema } from '../lake/actions.js';
import type { ChannelTaskOk } from '../workers/protocol.js';

/** What the daemon caches of the table between batches (instead of a full snapshot). */
export interface TableView {
  version: number;
  metadata: Metadata;
  /** appId → committed txn version. */
  txns: Map<string, number>;
}

export interface ChannelResult {
  readonly channelId: string;
  readonly startToken: string;
  readonly result: ChannelTaskOk;
}

export interface CommitPlan {
  actions: Action[];
  /** Results in the commit (their txn and files). */
  included: ChannelResult[];
  /** Results left out (column type conflict, inconsistent result); redone next batch. */
  deferred: { result: ChannelResult; reason: string }[];
  newColumns: { name: string; type: DataType }[];
  rows: number;
  commitInfo: Record<string, unknown>;
}

export type BatchCommitOutcome =
  | { kind: 'nothing'; plan: CommitPlan }
  | { kind: 'committed'; version: number; metadata: Metadata; plan: CommitPlan; latencyMs: number }
  | { kind: 'dropped'; fenced: boolean; reason: string; winningVersion: number; plan: CommitPlan };

function typeKey(type: DataType): string {
  return typeof type === 'string' ? type : JSON.stringify(type);
}

const typeKeyOf = (column: { type: DataType } | undefined): string | undefined => (column === undefined ? undefined : typeKey(column.type));

/** Decides what goes into the commit; no I/O. */
export function planCommit(view: TableView, tunnelId: string, batchId: string, results: readonly ChannelResult[], nowMs = Date.now()): CommitPlan {
  const known = new Map<string, string>();
  for (const f of parseSchema(view.metadata.schemaString).fields) known.set(f.name.toLowerCase(), typeKey(f.type));
  const merged = new Map<string, { name: string; type: DataType }>();
  const included: ChannelResult[] = [];
  const deferred: CommitPlan['deferred'] = [];

  for (const r of results) {
    const { result } = r;
    if (result.offsetSeq === null) {
      // Nothing read: no entry was claimed. Files without a position would be duplicated on redo.
      if (result.files.length > 0) deferred.push({ result: r, reason: 'files without an offset entry' });
      continue;
    }
    const clash = result.newColumns.find((c) => {
      const have = known.get(c.name.toLowerCase()) ?? typeKeyOf(merged.get(c.name.toLowerCase()));
      return have !== undefined && have !== typeKey(deltaTypeOf(c.type));
    });
    if (clash) {
      deferred.push({ result: r, reason: `new column ${clash.name} (${clash.type}) conflicts with a type already in the table or batch` });
      continue;
    }
    for (const c of result.newColumns) {
      if (!known.has(c.name.toLowerCase())) merged.set(c.name.toLowerCase(), { name: c.name, type: deltaTypeOf(c.type) });
    }
    included.push(r);
  }

  const actions: Action[] = [];
  const newColumns = [...merged.values()];
  if (newColumns.length > 0) actions.push({ metaData: addColumns(view.metadata, newColumns) });
  let rows = 0;
  const channels: Record<string, unknown> = {};
  const deadLetters: string[] = [];
  for (const r of included) {
    const { result } = r;
    actions.push(txnAction(txnAppId(tunnelId, r.channelId), result.offsetSeq!, nowMs));
    for (const f of result.files) {
      actions.push(addActionFor(f));
      rows += f.numRecords;
    }
    for (const d of result.deadLetters) deadLetters.push(d.path);
    channels[r.channelId] = { startToken: r.startToken, endToken: result.endToken, finished: result.finished, offsetSeq: result.offsetSeq };
  }
  const commitInfo = { otslake: { batchId, tunnelId, channels, deadLetters } };
  return { actions, included, deferred, newColumns, rows, commitInfo };
}

export interface CommitBatchOptions {
  store: ObjectStore;
  view: TableView;
  tunnelId: string;
  batchId: string;
  results: readonly ChannelResult[];
  log: Logger;
  signal?: AbortSignal;
}

/** Plans and writes the batch's commit. Conflicts are outcomes; only I/O failures throw. */
export async function commitBatch(options: CommitBatchOptions): Promise<BatchCommitOutcome> {
  const { store, view, tunnelId, batchId, log } = options;
  const plan = planCommit(view, tunnelId, batchId, options.results);
  for (const d of plan.deferred) log.warn('channel result left out of the batch', { batchId, channelId: d.result.channelId, reason: d.reason });
  if (plan.included.length === 0) return { kind: 'nothing', plan };

  const started = Date.now();
  const result = await commit(store, plan.actions, {
    readVersion: view.version,
    readMetadata: view.metadata,
    operation: 'STREAMING UPDATE',
    operationParameters: { outputMode: 'Append', queryId: tunnelId, epochId: batchId },
    commitInfo: plan.commitInfo,
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (result.kind === 'conflict') {
    return { kind: 'dropped', fenced: result.fenced, reason: result.reason, winningVersion: result.winningVersion, plan };
  }
  const meta = plan.actions.find((a): a is { metaData: Metadata } => 'metaData' in a)?.metaData ?? view.metadata;
  return { kind: 'committed', version: result.version, metadata: meta, plan, latencyMs: Date.now() - started };
}

/**
 * The view after our own commit, or null when the commit landed above other writers' commits: their
 * txns are not in `view`, and a stale txn for a channel later assigned to us would let a duplicate through.
 */
export function viewAfterCommit(view: TableView, outcome: Extract<BatchCommitOutcome, { kind: 'committed' }>, tunnelId: string): TableView | null {
  if (outcome.version !== view.version + 1) return null;
  const txns = new Map(view.txns);
  for (const r of outcome.plan.included) txns.set(txnAppId(tunnelId, r.channelId), r.result.offsetSeq!);
  return { version: outcome.version, metadata: outcome.metadata, txns };
}
