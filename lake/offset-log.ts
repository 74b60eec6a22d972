/**
 * The offset log: `_otslake/offsets/<tunnelId>/<channelId>/<n>.json`, one entry per channel batch.
 *
 * Only the entry whose `n` the snapshot's `txn{appId: otslake/<tunnelId>/<channelId>}` names is in
 * force. Entries are claimed with put-if-absent at the first free number above the committed one, so
 * an entry left by a batch that never committed is skipped, not overwritten, and two daemons that
 * race on one channel claim different numbers: the Delta commit of the second then meets the first's
 * txn for the same appId and is fenced (docs/exactly-once.md).
 */
import { OtslakeError, hasCode } from '../common/errors.js';
import type { ObjectStore } from './object-store.js';

const OFFSETS_PREFIX = '_otslake/offsets';

export interface OffsetEntry {
  tunnelId: string;
  channelId: string;
  /** The txn version this entry becomes in force under. */
  seq: number;
  batchId: string;
  /** The token the batch started from. */
  startToken: string;
  /** The token to resume from; 'finished' once the channel was read to its end. */
  endToken: string;
  finished: boolean;
  records: number;
  /** Sequence info of the last record read (stream channels), for status and dedupe diagnostics. */
  lastSequence?: string | null;
  writtenAt: number;
}

export function txnAppId(tunnelId: string, channelId: string): string {
  return `otslake/${tunnelId}/${channelId}`;
}

export function parseTxnAppId(appId: string): { tunnelId: string; channelId: string } | null {
  const m = /^otslake\/([^/]+)\/(.+)$/.exec(appId);
  return m ? { tunnelId: m[1]!, channelId: m[2]! } : null;
}

function channelPrefix(tunnelId: string, channelId: string): string {
  return `${OFFSETS_PREFIX}/${encodeURIComponent(tunnelId)}/${encodeURIComponent(channelId)}/`;
}

export function offsetEntryKey(tunnelId: string, channelId: string, seq: number): string {
  return `${channelPrefix(tunnelId, channelId)}${String(seq).padStart(20, '0')}.json`;
}

/** The entry a committed txn version names; null when the channel has no committed batch yet. */
export async function readOffsetEntry(store: ObjectStore, tunnelId: string, channelId: string, seq: number, signal?: AbortSignal): Promise<OffsetEntry> {
  const key = offsetEntryKey(tunnelId, channelId, seq);
  let bytes: Uint8Array;
  try {
    bytes = await store.get(key, signal ? { signal } : {});
  } catch (err) {
    if (hasCode(err, 'OTSL_LAKE_NOT_FOUND')) {
      throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `offset entry ${seq} named by the table's txn is missing`, {
        cause: err,
        context: { tunnelId, channelId, file: key, version: seq },
      });
    }
    throw err;
  }
  try {
    return JSON.parse(new TextDecoder().decode(bytes)) as OffsetEntry;
  } catch (err) {
    throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `offset entry ${seq} is not JSON`, {
      cause: err,
      context: { tunnelId, channelId, file: key, version: seq },
    });
  }
}

/**
 * Writes `entry` at the first free number above `committedSeq` and returns that number. The usual
 * case is one put-if-absent at `committedSeq + 1` (no listing: on OSS every request is a round trip
 * on the batch's critical path); only when that number is taken — a leftover of a batch that never
 * committed, or another daemon reading the same channel — are the numbers above it listed.
 */
export async function claimOffsetEntry(
  store: ObjectStore,
  committedSeq: number,
  entry: Omit<OffsetEntry, 'seq' | 'writtenAt'>,
  signal?: AbortSignal,
): Promise<OffsetEntry> {
  const put = async (seq: number): Promise<OffsetEntry | null> => {
    const full: OffsetEntry = { ...entry, seq, writtenAt: Date.now() };
    try {
      await store.put(offsetEntryKey(entry.tunnelId, entry.channelId, seq), new TextEncoder().encode(JSON.stringify(full)), {
        ifAbsent: true,
        ...(signal ? { signal } : {}),
      });
      return full;
    } catch (err) {
      if (!hasCode(err, 'OTSL_LAKE_ALREADY_EXISTS')) throw err;
      return null;
    }
  };
  const first = await put(committedSeq + 1);
  if (first !== null) return first;
  const prefix = channelPrefix(entry.tunnelId, entry.channelId);
  const existing = await store.list(prefix, { startAfter: offsetEntryKey(entry.tunnelId, entry.channelId, committedSeq), ...(signal ? { signal } : {}) });
  let seq = committedSeq + 2;
  for (const meta of existing) {
    const n = Number(meta.key.slice(meta.key.lastIndexOf('/') + 1, -'.json'.length));
    if (Number.isFinite(n) && n >= seq) seq = n + 1;
  }
  for (let attempt = 0; attempt < 16; attempt++, seq++) {
    const claimed = await put(seq);
    if (claimed !== null) return claimed;
  }
  throw new OtslakeError('OTSL_LAKE_FENCED', 'could not claim an offset entry: another writer keeps taking them', {
    context: { tunnelId: entry.tunnelId, channelId: entry.channelId, version: seq },
  });
}

/** Entries at or below the committed one are history; the daemon prunes them behind log cleanup. */
export async function listOffsetEntries(store: ObjectStore, tunnelId: string, channelId: string): Promise<number[]> {
  const metas = await store.list(channelPrefix(tunnelId, channelId));
  return metas
    .map((m) => Number(m.key.slice(m.key.lastIndexOf('/') + 1, -'.json'.length)))
    .filter((n) => Number.isFinite(n))
    .sort((a, b) => a - b);
}

export interface PruneOffsetEntriesOptions {
  /** Entries younger than this stay even below the committed one: a reader with a slightly older snapshot may still need them. */
  minAgeMs: number;
  nowMs?: number;
  signal?: AbortSignal;
}

/**
 * Deletes the entries below the one in force for every channel of `txns` (appId → committed version).
 * A channel batch leaves one entry per commit, so without this `_otslake/offsets/` grows by one object
 * per channel per batch forever. Entries at or above the committed one (in force, or claimed by a batch
 * in flight) are never touched. Returns how many were deleted.
 */
export async function pruneOffsetEntries(store: ObjectStore, txns: ReadonlyMap<string, number>, options: PruneOffsetEntriesOptions): Promise<number> {
  const cutoff = (options.nowMs ?? Date.now()) - options.minAgeMs;
  const signal = options.signal ? { signal: options.signal } : {};
  let deleted = 0;
  for (const [appId, committed] of txns) {
    const ids = parseTxnAppId(appId);
    if (ids === null) continue;
    const metas = await store.list(channelPrefix(ids.tunnelId, ids.channelId), signal);
    for (const meta of metas) {
      const n = Number(meta.key.slice(meta.key.lastIndexOf('/') + 1, -'.json'.length));
      if (!Number.isFinite(n) || n >= committed || meta.lastModified > cutoff) continue;
      await store.delete(meta.key, signal);
      deleted++;
    }
  }
  return deleted;
}
