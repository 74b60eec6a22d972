/**
 * Delta commits with optimistic concurrency (docs/delta-rules.md §Commits, §Conflicts and fencing).
 *
 * A commit is `_delta_log/<v>.json` created with put-if-absent. When another writer got `v` first,
 * its commit (and any later ones) are read and checked the way Spark's ConflictChecker does for the
 * operations otslake performs; a loss that cannot hurt (blind appends, compaction next to appends)
 * is retried at the next free version. A conflict is a return value, never an exception, on every
 * path (a loss that forbids ours, a fence, running out of attempts): the caller decides (drop the
 * batch, retry compaction later). Only I/O failures throw.
 *
 * Every commit carries a unique `commitInfo.txnId`: when a put succeeded but its response was lost,
 * the retry finds the version taken, reads it, recognises its own txnId and reports success instead
 * of writing the same data a second time.
 */
import { randomUUID } from 'node:crypto';
import { OtslakeError, hasCode } from '../common/errors.js';
import { sleep, withRetry, type RetryPolicy } from '../common/retry.js';
import { encodeActions, parseSchema, type Action, type Add, type CommitInfo, type Metadata, type Protocol, type Remove, type Txn } from './actions.js';
import { readCommitsAfter, summarizeCommit, type CommitSummary } from './commit-summary.js';
import { stringifyStats } from './file-stats.js';
import { commitKey, LOG_DIR, parseLogFile } from './log-path.js';
import type { ObjectStore } from './object-store.js';
import type { WrittenFile } from './parquet-file.js';
import { encodeLogPath } from './partition-path.js';

export const ENGINE_INFO = 'otslake/0.1.0';
const DEFAULT_MAX_COMMIT_ATTEMPTS = 100;
const DEFAULT_RACE_BACKOFF = { baseMs: 10, capMs: 1_000 };

export interface CommitOptions {
  /** The version the actions were prepared against (the snapshot read); -1 when creating the table. */
  readVersion: number;
  /** commitInfo.operation: 'WRITE', 'STREAMING UPDATE', 'OPTIMIZE', 'CREATE TABLE', … */
  operation: string;
  operationParameters?: Record<string, unknown>;
  /** Extra commitInfo fields (e.g. the Tunnel positions a batch reached). */
  commitInfo?: Record<string, unknown>;
  /**
   * The table metadata the actions were prepared against. A winner that changed the metadata is
   * tolerated only if it kept every column of this one with the same type (e.g. it added a column).
   */
  readMetadata?: Metadata;
  /** How many versions to try before giving up (each lost race costs one). */
  maxAttempts?: number;
  /** Backoff for retriable store errors on a single put/get. */
  retryPolicy?: Partial<RetryPolicy>;
  /** Pause between attempts after a lost race (default 10 ms doubling, full jitter, capped at 1 s); false for none. */
  raceBackoff?: { baseMs?: number; capMs?: number } | false;
  /**
   * Called after each lost race, before the commits that won are read, with the other writers' commits
   * this call read so far (none at the first loss) and how many races it lost; returns the pause before
   * reading the winners and trying the next version, instead of raceBackoff. Commit pacing uses it to
   * learn the crowd and wait for its turn.
   */
  onLostRace?: (winners: readonly CommitSummary[], lost: number) => number;
  signal?: AbortSignal;
  /** Clock for commitInfo.timestamp (tests). */
  nowMs?: () => number;
}

/**
 * `others`: the other writers' commits this call read while it raced them, in version order from
 * readVersion + 1 (so the caller can advance its cached view over them without reading them again).
 * `actions`: the committed version as it is in the log, commitInfo first (so what follows a commit,
 * e.g. the Iceberg sync, need not read it back).
 */
export type CommitResult =
  | { kind: 'committed'; version: number; attempts: number; others: CommitSummary[]; actions: readonly Action[] }
  | { kind: 'conflict'; winningVersion: number; fenced: boolean; reason: string; others: CommitSummary[] };

/** Why a winning commit forbids ours, or null when ours can go on top of it. */
export function findConflict(ours: readonly Action[], winner: readonly Action[], readMetadata?: Metadata): { fenced: boolean; reason: string } | null {
  const ourAppIds = new Set<string>();
  const ourRemoved = new Set<string>();
  let ourMetadata = false;
  for (const a of ours) {
    if ('txn' in a) ourAppIds.add(a.txn.appId);
    else if ('remove' in a) ourRemoved.add(safeDecode(a.remove.path));
    else if ('metaData' in a || 'protocol' in a) ourMetadata = true;
  }
  for (const a of winner) {
    if ('txn' in a && ourAppIds.has(a.txn.appId)) {
      return { fenced: true, reason: `another writer committed txn ${a.txn.appId} version ${a.txn.version}` };
    }
  }
  for (const a of winner) {
    if ('protocol' in a) return { fenced: false, reason: 'the table protocol changed' };
    if ('metaData' in a) {
      if (ourMetadata) return { fenced: false, reason: 'the table metadata changed concurrently with ours' };
      const why = incompatibleMetadata(readMetadata, a.metaData);
      if (why) return { fenced: false, reason: why };
    }
    if ('remove' in a && ourRemoved.has(safeDecode(a.remove.path))) {
      return { fenced: false, reason: `file ${a.remove.path} was removed concurrently` };
    }
  }
  return null;
}

function incompatibleMetadata(read: Metadata | undefined, next: Metadata): string | null {
  if (!read) return 'the table metadata changed';
  if (read.id !== next.id) return 'the table was replaced (metadata id changed)';
  if (JSON.stringify(read.partitionColumns) !== JSON.stringify(next.partitionColumns)) return 'the partition columns changed';
  const nextFields = new Map(parseSchema(next.schemaString).fields.map((f) => [f.name, f]));
  for (const f of parseSchema(read.schemaString).fields) {
    const g = nextFields.get(f.name);
    if (!g || JSON.stringify(g.type) !== JSON.stringify(f.type)) return `column ${f.name} was dropped or changed type`;
    if (f.nullable && !g.nullable) return `column ${f.name} became non-nullable`;
  }
  return null;
}

function safeDecode(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch {
    return path;
  }
}

function validate(actions: readonly Action[]): void {
  const appIds = new Set<string>();
  const paths = new Set<string>();
  for (const a of actions) {
    if ('commitInfo' in a) throw new OtslakeError('OTSL_INTERNAL', 'commit() writes the commitInfo itself');
    if ('txn' in a) {
      if (appIds.has(a.txn.appId))
        throw new OtslakeError('OTSL_INTERNAL', `two txn actions for appId ${a.txn.appId} in one commit`, { context: { appId: a.txn.appId } });
      appIds.add(a.txn.appId);
    }
    if ('add' in a) {
      if (paths.has(a.add.path)) throw new OtslakeError('OTSL_INTERNAL', `file ${a.add.path} added twice in one commit`, { context: { file: a.add.path } });
      paths.add(a.add.path);
    }
  }
}

/** Commits `actions` (no commitInfo: it is written here, first) as the next version. */
export async function commit(store: ObjectStore, actions: readonly Action[], options: CommitOptions): Promise<CommitResult> {
  validate(actions);
  const txnId = randomUUID();
  const now = options.nowMs ?? Date.now;
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_COMMIT_ATTEMPTS;
  const onlyAdds = actions.every((a) => 'add' in a || 'txn' in a);
  const retry = {
    policy: { maxAttempts: 5, initialDelayMs: 50, maxDelayMs: 2_000, ...options.retryPolicy },
    ...(options.signal ? { signal: options.signal } : {}),
  };
  const race: RaceState = { version: options.readVersion + 1, readMetadata: options.readMetadata, others: [] };

  for (let attempt = 1; ; attempt++) {
    const info: CommitInfo = {
      timestamp: now(),
      operation: options.operation,
      operationParameters: options.operationParameters ?? {},
      ...(options.readVersion >= 0 ? { readVersion: options.readVersion } : {}),
      isolationLevel: 'WriteSerializable',
      isBlindAppend: onlyAdds,
      engineInfo: ENGINE_INFO,
      txnId,
      // Versions tried so far, this one included: the log itself then tells how contended it is.
      attempt,
      ...options.commitInfo,
    };
    const written: Action[] = [{ commitInfo: info }, ...orderActions(actions)];
    const body = encodeActions(written);
    const key = commitKey(race.version);
    const created = await withRetry(async () => {
      try {
        await store.put(key, body, { ifAbsent: true, ...(options.signal ? { signal: options.signal } : {}) });
        return true;
      } catch (err) {
        if (hasCode(err, 'OTSL_LAKE_ALREADY_EXISTS')) return false;
        throw err;
      }
    }, retry);
    if (created) return { kind: 'committed', version: race.version, attempts: attempt, others: race.others, actions: written };

    // Lost the race for the version. Everyone who lost it would retry at once: pause first, more with every
    // loss, so that a crowd of writers spreads out (docs/delta-rules.md), and only then read every commit
    // that exists, so the next put follows that read at once — read before the pause, the commits landing
    // during it would take the version we then try, and a long pause would lose every time.
    const last = attempt >= maxAttempts;
    if (!last) await sleep(options.onLostRace ? options.onLostRace(race.others, attempt) : raceBackoffMs(attempt, options.raceBackoff), options.signal);
    const outcome = await catchUp(store, race, actions, txnId, attempt, options, (fn) => withRetry(fn, retry));
    if (outcome) return outcome;
    if (last)
      return { kind: 'conflict', winningVersion: race.version - 1, fenced: false, reason: `gave up after ${maxAttempts} lost races`, others: race.others };
  }
}

interface RaceState {
  /** The version the next put tries. */
  version: number;
  readMetadata: Metadata | undefined;
  /** Other writers' commits read so far, in version order. */
  others: CommitSummary[];
}

/**
 * Reads every commit from `race.version` on: our own earlier put that landed unseen ends the commit as
 * committed, a winner that forbids ours as a conflict; otherwise `race.version` moves past them.
 */
async function catchUp(
  store: ObjectStore,
  race: RaceState,
  actions: readonly Action[],
  txnId: string,
  attempt: number,
  options: CommitOptions,
  retried: <T>(fn: () => Promise<T>) => Promise<T>,
): Promise<CommitResult | null> {
  const winners = await readCommitsAfter(store, race.version - 1, { ...(options.signal ? { signal: options.signal } : {}), attempt: retried });
  for (const { version: w, actions: winnerActions } of winners) {
    const winnerInfo = winnerActions.find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a);
    if (winnerInfo?.commitInfo.txnId === txnId) return { kind: 'committed', version: w, attempts: attempt, others: race.others, actions: winnerActions };
    if (options.readVersion < 0) return { kind: 'conflict', winningVersion: w, fenced: false, reason: 'the table already exists', others: race.others };
    race.others.push(summarizeCommit(w, winnerActions));
    const conflict = findConflict(actions, winnerActions, race.readMetadata);
    if (conflict) return { kind: 'conflict', winningVersion: w, ...conflict, others: race.others };
    const newMetadata = winnerActions.find((a): a is { metaData: Metadata } => 'metaData' in a);
    if (newMetadata && race.readMetadata) race.readMetadata = newMetadata.metaData;
  }
  // The put said "exists", so there is at least one winner (or the commit vanished: try the same version again).
  if (winners.length > 0) race.version = winners[winners.length - 1]!.version + 1;
  return null;
}

/** Spark's order: commitInfo, protocol, metaData, txn, then file actions (removes before adds). */
function orderActions(actions: readonly Action[]): Action[] {
  const rank = (a: Action): number => ('protocol' in a ? 0 : 'metaData' in a ? 1 : 'txn' in a ? 2 : 'remove' in a ? 3 : 'add' in a ? 4 : 5);
  return [...actions].sort((a, b) => rank(a) - rank(b));
}

/**
 * The pause before the next attempt after `lost` lost races: uniform in [0, min(cap, base·2^(lost−1))]
 * ("full jitter"), so that writers that lost together spread out instead of colliding again.
 */
export function raceBackoffMs(lost: number, backoff: CommitOptions['raceBackoff'], random: () => number = Math.random): number {
  if (backoff === false) return 0;
  const base = backoff?.baseMs ?? DEFAULT_RACE_BACKOFF.baseMs;
  const cap = backoff?.capMs ?? DEFAULT_RACE_BACKOFF.capMs;
  return random() * Math.min(cap, base * 2 ** Math.max(0, lost - 1));
}

// ---- action builders ----

export const DEFAULT_PROTOCOL: Protocol = { minReaderVersion: 1, minWriterVersion: 2 };

export function txnAction(appId: string, version: number, nowMs = Date.now()): { txn: Txn } {
  return { txn: { appId, version, lastUpdated: nowMs } };
}

/** The add for a file the Parquet writer produced; `dataChange: false` for compaction output. */
export function addActionFor(file: WrittenFile, dataChange = true): { add: Add } {
  return {
    add: {
      path: encodeLogPath(file.path),
      partitionValues: file.partitionValues,
      size: file.size,
      modificationTime: Math.floor(file.modificationTime),
      dataChange,
      stats: stringifyStats(file.stats),
    },
  };
}

/** The remove that retires a live file; `dataChange: false` for rearrangements (compaction). */
export function removeActionFor(add: Add, options: { dataChange: boolean; nowMs?: number }): { remove: Remove } {
  return {
    remove: {
      path: add.path,
      deletionTimestamp: options.nowMs ?? Date.now(),
      dataChange: options.dataChange,
      extendedFileMetadata: true,
      partitionValues: add.partitionValues,
      size: add.size,
      ...(add.stats ? { stats: add.stats } : {}),
    },
  };
}

/** Largest version number among existing commit files, or -1 when there is none. */
export async function latestCommitVersion(store: ObjectStore, signal?: AbortSignal): Promise<number> {
  const listed = await store.list(`${LOG_DIR}/`, signal ? { signal } : {});
  let latest = -1;
  for (const o of listed) {
    const f = parseLogFile(o.key);
    if (f?.kind === 'commit' && f.version > latest) latest = f.version;
  }
  return latest;
}
