/**
 * Row retention of a changelog table (tables[].retention; docs/operations.md §Table lifecycle): every live
 * file whose rows are all older than the cutoff leaves the table in one commit of removes with
 * `dataChange: true` — a real deletion of data, which readers of the Change Data Feed or of the log see as
 * such — and vacuum deletes the files once its own retention has passed.
 *
 * A file is old when its `_date` partition (the UTC day of `_ts`) ends at or before the cutoff, or, in a
 * table without that partition, when its stats say every row has a `_ts` and the newest is before the
 * cutoff. A file without stats, or with a row without `_ts`, is kept: nothing is removed on a guess.
 *
 * Removing data is forbidden on a `delta.appendOnly` table, so the first retention commit of such a table
 * also turns the property off (a metaData action; the daemon creates tables with retention without it).
 */
import type { Action, Add, Metadata } from './actions.js';
import type { ObjectStore } from './object-store.js';
import { loadSnapshot, parseStats } from './snapshot.js';
import { commit, removeActionFor, type CommitResult } from './transaction.js';

const DAY_MS = 86_400_000;

export interface RetentionOptions {
  /** Rows older than this (by their timestamp column) leave the table. */
  readonly retentionMs: number;
  /** The timestamp column (`_ts`) and the day partition column (`_date`) of the table. */
  readonly timestampColumn: string;
  readonly dateColumn: string;
  readonly nowMs?: number;
  readonly signal?: AbortSignal;
}

export type RetentionResult =
  | { readonly kind: 'nothing-to-do'; readonly snapshotVersion: number }
  | { readonly kind: 'expired'; readonly version: number; readonly removed: number; readonly rows: number; readonly cutoffMs: number }
  | { readonly kind: 'conflict'; readonly result: Extract<CommitResult, { kind: 'conflict' }> };

/** Whether every row of `add` is older than `cutoffMs`. */
export function isExpired(add: Add, cutoffMs: number, timestampColumn: string, dateColumn: string): boolean {
  const day = add.partitionValues[dateColumn];
  if (day !== undefined) {
    const start = day === null ? NaN : Date.parse(`${day}T00:00:00Z`);
    return Number.isFinite(start) && start + DAY_MS <= cutoffMs;
  }
  const stats = parseStats(add);
  const newest = stats?.maxValues?.[timestampColumn];
  if (stats === null || typeof newest !== 'string' || stats.nullCount?.[timestampColumn] !== 0) return false;
  const newestMs = Date.parse(newest);
  return Number.isFinite(newestMs) && newestMs < cutoffMs;
}

/** Removes the table's expired files in one commit. */
export async function expireOldRows(store: ObjectStore, options: RetentionOptions): Promise<RetentionResult> {
  const signal = options.signal ? { signal: options.signal } : {};
  const now = options.nowMs ?? Date.now();
  const cutoffMs = now - options.retentionMs;
  const snapshot = await loadSnapshot(store, signal);
  const expired = [...snapshot.files.values()].filter((add) => isExpired(add, cutoffMs, options.timestampColumn, options.dateColumn));
  if (expired.length === 0) return { kind: 'nothing-to-do', snapshotVersion: snapshot.version };
  const actions: Action[] = expired.map((add) => removeActionFor(add, { dataChange: true, nowMs: now }));
  let metadata: Metadata = snapshot.metadata;
  if (metadata.configuration['delta.appendOnly'] === 'true') {
    metadata = { ...metadata, configuration: { ...metadata.configuration, 'delta.appendOnly': 'false' } };
    actions.unshift({ metaData: metadata });
  }
  const cutoff = new Date(cutoffMs).toISOString();
  const result = await commit(store, actions, {
    readVersion: snapshot.version,
    readMetadata: snapshot.metadata,
    operation: 'DELETE',
    operationParameters: { predicate: JSON.stringify([`${options.timestampColumn} < '${cutoff}'`]) },
    ...signal,
  });
  if (result.kind === 'conflict') return { kind: 'conflict', result };
  const rows = expired.reduce((sum, add) => sum + (parseStats(add)?.numRecords ?? 0), 0);
  return { kind: 'expired', version: result.version, removed: expired.length, rows, cutoffMs };
}
