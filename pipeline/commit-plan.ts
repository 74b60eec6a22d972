/**
 * Which channel results go into a batch's commit, and the actions every batch commit carries
 * whatever the table's mode (docs/exactly-once.md):
 *
 *   metaData   only when the results discovered new columns
 *   txn        one per included channel; its version names the offset entry the worker claimed
 *   commitInfo batch id, the writer (daemon), each channel's start and end token, dead letters
 *
 * The file actions are the committer's (changelog: the task files as adds; mirror: the merges'
 * removes and adds). Pure: no I/O.
 */
import type { Action, DataType, Metadata } from '../lake/actions.js';
import { parseSchema } from '../lake/actions.js';
import { txnAppId } from '../lake/offset-log.js';
import { deltaTypeOf } from '../lake/parquet-columns.js';
import { addColumns } from '../lake/table-create.js';
import { txnAction } from '../lake/transaction.js';
import type { ChannelTaskOk } from '../workers/protocol.js';
import type { TableView } from './table-view.js';

export interface ChannelResult {
  readonly channelId: string;
  readonly startToken: string;
  readonly result: ChannelTaskOk;
}

export interface CommitPlan {
  /** metaData (when new columns appear) and the txns; never file actions. */
  readonly actions: Action[];
  /** The table's metadata after this commit. */
  readonly metadata: Metadata;
  /** Results in the commit (their txn, and their files through the committer). */
  readonly included: ChannelResult[];
  /** Results left out (column type conflict, inconsistent result); redone next batch. */
  readonly deferred: { result: ChannelResult; reason: string }[];
  readonly newColumns: { name: string; type: DataType }[];
  /** Changes the included results landed (rows of their files). */
  readonly rows: number;
  /** appId → txn version of each included channel. */
  readonly txns: ReadonlyMap<string, number>;
  readonly commitInfo: { otslake: Record<string, unknown> };
}

function typeKey(type: DataType): string {
  return typeof type === 'string' ? type : JSON.stringify(type);
}

/** Who commits: the tunnel whose positions the txns carry, and this daemon's writer id (commit pacing). */
export interface CommitIdentity {
  readonly tunnelId: string;
  readonly writer: string;
}

/** Decides what goes into the commit. */
export function planCommit(view: TableView, who: CommitIdentity, batchId: string, results: readonly ChannelResult[], nowMs = Date.now()): CommitPlan {
  const { tunnelId, writer } = who;
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
      const lower = c.name.toLowerCase();
      const seen = merged.get(lower);
      const have = known.get(lower) ?? (seen === undefined ? undefined : typeKey(seen.type));
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
  const metadata = newColumns.length > 0 ? addColumns(view.metadata, newColumns) : view.metadata;
  if (newColumns.length > 0) actions.push({ metaData: metadata });
  let rows = 0;
  const txns = new Map<string, number>();
  const channels: Record<string, unknown> = {};
  const deadLetters: string[] = [];
  for (const r of included) {
    const { result } = r;
    const appId = txnAppId(tunnelId, r.channelId);
    actions.push(txnAction(appId, result.offsetSeq!, nowMs));
    txns.set(appId, result.offsetSeq!);
    for (const f of result.files) rows += f.numRecords;
    for (const d of result.deadLetters) deadLetters.push(d.path);
    channels[r.channelId] = { startToken: r.startToken, endToken: result.endToken, finished: result.finished, offsetSeq: result.offsetSeq };
  }
  return { actions, metadata, included, deferred, newColumns, rows, txns, commitInfo: { otslake: { batchId, tunnelId, writer, channels, deadLetters } } };
}
