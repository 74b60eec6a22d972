/**
 * One commit of the Delta log summarised for the daemon's cached view (versions, txns, metadata) and
 * for commit pacing (who committed when), and the cheapest way to read the commits after a version.
 */
import { hasCode } from '../common/errors.js';
import { decodeActions, type Action, type CommitInfo, type Metadata, type Protocol, type Txn } from './actions.js';
import { commitKey } from './log-path.js';
import type { ObjectStore } from './object-store.js';

export interface CommitSummary {
  version: number;
  /** inCommitTimestamp, commitInfo.timestamp or the commit file's mtime, ms. */
  timestamp: number;
  commitInfo: CommitInfo | null;
  /** txn actions of this commit (fencing: who advanced which appId). */
  txns: Txn[];
  /** The commit's metaData / protocol action, if it changed them. */
  metadata: Metadata | null;
  protocol: Protocol | null;
}

/** What a commit changed, from its actions (`fallbackMs`: the file's mtime, when it has no timestamp). */
export function summarizeCommit(version: number, actions: Action[], fallbackMs = 0): CommitSummary {
  const commitInfo = actions.find((a) => 'commitInfo' in a) as { commitInfo: CommitInfo } | undefined;
  const txns = actions.filter((a): a is { txn: Txn } => 'txn' in a).map((a) => a.txn);
  const metadata = (actions.find((a) => 'metaData' in a) as { metaData: Metadata } | undefined)?.metaData ?? null;
  const protocol = (actions.find((a) => 'protocol' in a) as { protocol: Protocol } | undefined)?.protocol ?? null;
  return { version, timestamp: commitTimestamp(actions, fallbackMs), commitInfo: commitInfo?.commitInfo ?? null, txns, metadata, protocol };
}

/** How many commit files are fetched at once once new commits turned up (OSS latency dominates). */
const READ_AHEAD = 4;

/**
 * The commits after `afterVersion`, read by their known keys (`<v+1>.json`, `<v+2>.json`, …) until
 * one does not exist: one GET when nothing is new, and no LIST, which on OSS costs a round trip and
 * grows with the log. Once the first exists, the next ones are fetched READ_AHEAD at a time. Up to
 * `max` commits (the caller reads on next time). `attempt` wraps each GET (e.g. retries).
 */
export async function readCommitsAfter(
  store: ObjectStore,
  afterVersion: number,
  options: { signal?: AbortSignal; max?: number; attempt?: <T>(fn: () => Promise<T>) => Promise<T> } = {},
): Promise<{ version: number; actions: Action[] }[]> {
  const max = options.max ?? 1_000;
  const attempt = options.attempt ?? ((fn) => fn());
  const fetch = (v: number): Promise<Uint8Array | null> =>
    attempt(() => store.get(commitKey(v), options.signal ? { signal: options.signal } : {})).catch((err: unknown) => {
      if (hasCode(err, 'OTSL_LAKE_NOT_FOUND')) return null;
      throw err;
    });
  const out: { version: number; actions: Action[] }[] = [];
  let next = afterVersion + 1;
  let window: Promise<Uint8Array | null>[] = [fetch(next)];
  while (out.length < max) {
    const results = await Promise.all(window);
    for (const bytes of results) {
      if (bytes === null) return out;
      out.push({ version: next, actions: decodeActions(bytes, next) });
      next++;
    }
    window = Array.from({ length: Math.min(READ_AHEAD, max - out.length) }, (_, i) => fetch(next + i));
  }
  return out;
}

/** readCommitsAfter, summarised. */
export async function readNewCommits(store: ObjectStore, afterVersion: number, options: { signal?: AbortSignal; max?: number } = {}): Promise<CommitSummary[]> {
  return (await readCommitsAfter(store, afterVersion, options)).map((c) => summarizeCommit(c.version, c.actions));
}

/** inCommitTimestamp, else commitInfo.timestamp, else `fallbackMs` (the file's mtime). */
export function commitTimestamp(actions: Action[], fallbackMs: number): number {
  for (const a of actions) {
    if ('commitInfo' in a) {
      const ci = a.commitInfo as CommitInfo;
      const ts = ci.inCommitTimestamp ?? ci.timestamp;
      if (typeof ts === 'number' && Number.isFinite(ts)) return ts;
    }
  }
  return fallbackMs;
}
