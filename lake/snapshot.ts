/**
 * A table's state at one version: protocol, metadata, live files, tombstones, txn versions, domains.
 *
 * Built as kernel/Spark do: list `_delta_log/` (from the `_last_checkpoint` hint when there is one),
 * pick the newest complete checkpoint at or below the target version, then replay the JSON commits
 * after it in order (docs/delta-rules.md §Actions). Replay is forward: the checkpoint seeds the
 * maps and each commit's actions overwrite them, so memory is one entry per live file (keyed by
 * path [+ DV id]) and the raw `stats` JSON string is kept unparsed until someone asks (`parseStats`).
 */
import { OtslakeError, hasCode } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import {
  decodeActions,
  parseSchema,
  type Action,
  type Add,
  type DomainMetadata,
  type FileStats,
  type Metadata,
  type Protocol,
  type Remove,
  type StructType,
  type Txn,
} from './actions.js';
import { findCompleteCheckpoints, readCheckpoint, type CheckpointActions } from './checkpoint-reader.js';
import { readLastCheckpoint } from './last-checkpoint.js';
import { LOG_DIR, padVersion, parseLogFile, type LogFile } from './log-path.js';
import type { ObjectStore } from './object-store.js';
import { assertLogReadable } from './table-features.js';
import { commitTimestamp, summarizeCommit, type CommitSummary } from './commit-summary.js';

export interface Snapshot {
  version: number;
  protocol: Protocol;
  metadata: Metadata;
  schema: StructType;
  /** Live files keyed by `fileKey(add)`: the raw (URI-encoded) path, plus '#' + dv unique id with a deletion vector. */
  files: Map<string, Add>;
  /** Removes still inside the tombstone retention (delta.deletedFileRetentionDuration), same keys as files. */
  tombstones: Map<string, Remove>;
  /** Latest txn per appId (expired ones dropped when delta.setTransactionRetentionDuration is set). */
  txns: Map<string, Txn>;
  /** Latest non-removed domainMetadata per domain; writers must carry them forward. */
  domainMetadata: Map<string, DomainMetadata>;
  /** ms timestamp of the commit that produced this version (inCommitTimestamp, commitInfo.timestamp or file mtime). */
  timestamp: number;
  /** The checkpoint the state was seeded from, null when replayed from version 0. */
  checkpointVersion: number | null;
}

export interface LoadSnapshotOptions {
  /** Time travel: load this version instead of the latest. */
  version?: number;
  signal?: AbortSignal;
  /** "Now" for tombstone and txn expiry (tests); defaults to Date.now(). */
  nowMs?: number;
  /** Where fallbacks (unusable hint or checkpoint) are reported; silent by default. */
  logger?: Logger;
}

const COMMIT_PREFETCH = 8;
const DEFAULT_TOMBSTONE_RETENTION = 'interval 1 week';

// ---- small public helpers ----

/** The reconciliation key of a file action: path, plus the DV unique id when there is a deletion vector. */
export function fileKey(action: { path: string; deletionVector?: Add['deletionVector'] }): string {
  const dv = action.deletionVector;
  if (!dv) return action.path;
  return `${action.path}#${dv.storageType}${dv.pathOrInlineDv}${dv.offset === undefined || dv.offset === null ? '' : `@${dv.offset}`}`;
}

/** add.path is a URI reference: decode it to get the object key (relative) or an absolute URI. */
export function decodeFilePath(path: string): string {
  try {
    return decodeURIComponent(path);
  } catch (err) {
    throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `file path is not a valid URI reference: ${path}`, { cause: err, context: { file: path } });
  }
}

/** The file's statistics, parsed on demand; null when the file has none or they are not JSON. */
export function parseStats(add: Pick<Add, 'stats'>): FileStats | null {
  if (typeof add.stats !== 'string' || add.stats === '') return null;
  try {
    const stats = JSON.parse(add.stats) as FileStats;
    return typeof stats === 'object' && stats !== null ? stats : null;
  } catch {
    return null;
  }
}

const INTERVAL_UNITS_MS: Record<string, number> = {
  microsecond: 0.001,
  millisecond: 1,
  second: 1000,
  minute: 60_000,
  hour: 3_600_000,
  day: 86_400_000,
  week: 604_800_000,
};

/** Parses a Spark calendar interval as used by Delta table properties ("interval 1 week", "7 days"). */
export function parseIntervalMs(text: string, property = 'interval'): number {
  const tokens = text.trim().toLowerCase().split(/\s+/);
  if (tokens[0] === 'interval') tokens.shift();
  let total = 0;
  if (tokens.length === 0 || tokens.length % 2 !== 0) total = NaN;
  for (let i = 0; i + 1 < tokens.length; i += 2) {
    const n = Number(tokens[i]);
    const unit = INTERVAL_UNITS_MS[tokens[i + 1]!.replace(/s$/, '')];
    if (!Number.isFinite(n) || unit === undefined) total = NaN;
    else total += n * unit;
  }
  if (!Number.isFinite(total)) {
    throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `table property ${property}="${text}" is not an interval like "interval 1 week"`, {
      context: { property },
    });
  }
  return total;
}

// ---- listing and segment selection ----

async function listLog(store: ObjectStore, fromVersion: number | null, signal?: AbortSignal): Promise<LogFile[]> {
  const opts = { ...(fromVersion === null ? {} : { startAfter: `${LOG_DIR}/${padVersion(fromVersion)}` }), ...(signal ? { signal } : {}) };
  const metas = await store.list(`${LOG_DIR}/`, opts);
  const files: LogFile[] = [];
  for (const m of metas) {
    const f = parseLogFile(m.key);
    if (f && m.key.lastIndexOf('/') === LOG_DIR.length) files.push(f);
  }
  return files;
}

interface Segment {
  version: number;
  checkpoint: CheckpointActions | null;
  /** Commit keys checkpointVersion+1 .. version, in order. */
  commits: { version: number; key: string }[];
  /** The JSON commit of `version` itself, when it is still in the log (its commitInfo dates the snapshot). */
  versionCommitKey: string | undefined;
}

function missingCommit(version: number, store: ObjectStore): OtslakeError {
  return new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `commit ${version} is missing from the Delta log: versions are not contiguous`, {
    context: { version, uri: store.uri },
  });
}

/** Commits (from, to], or the first missing version. */
function commitRange(commits: Map<number, string>, from: number, to: number): { version: number; key: string }[] | number {
  const out: { version: number; key: string }[] = [];
  for (let v = from + 1; v <= to; v++) {
    const key = commits.get(v);
    if (key === undefined) return v;
    out.push({ version: v, key });
  }
  return out;
}

const FALLBACK_CODES = ['OTSL_LAKE_NOT_FOUND', 'OTSL_PARQUET_READ', 'OTSL_LAKE_LOG_CORRUPT'] as const;

async function selectSegment(store: ObjectStore, files: LogFile[], target: number | undefined, signal: AbortSignal | undefined, log: Logger): Promise<Segment> {
  const commits = new Map<number, string>();
  let latest = -1;
  for (const f of files) {
    if (f.kind === 'commit') commits.set(f.version, f.key);
    if (f.kind === 'commit' || f.kind === 'checkpoint' || f.kind === 'multipart-checkpoint' || f.kind === 'v2-checkpoint') latest = Math.max(latest, f.version);
  }
  if (latest < 0)
    throw new OtslakeError('OTSL_LAKE_NOT_A_TABLE', `no Delta log (commits or checkpoints) under ${store.uri}/${LOG_DIR}`, { context: { uri: store.uri } });
  const version = target ?? latest;
  if (version > latest) {
    throw new OtslakeError('OTSL_LAKE_NOT_FOUND', `version ${version} does not exist; the latest version is ${latest}`, {
      context: { version, uri: store.uri },
    });
  }
  const candidates = findCompleteCheckpoints(files).filter((c) => c.version <= version);
  for (const spec of candidates) {
    const range = commitRange(commits, spec.version, version);
    if (typeof range === 'number') throw missingCommit(range, store);
    try {
      return { version, checkpoint: await readCheckpoint(store, spec, signal), commits: range, versionCommitKey: commits.get(version) };
    } catch (err) {
      if (!FALLBACK_CODES.some((c) => hasCode(err, c))) throw err;
      log.warn('checkpoint unusable, falling back to an older one', { uri: store.uri, version: spec.version, kind: spec.kind, error: (err as Error).message });
    }
  }
  const range = commitRange(commits, -1, version);
  if (typeof range === 'number') {
    const earliest = Math.min(...commits.keys());
    if (range === 0 && target !== undefined && target < earliest) {
      throw new OtslakeError(
        'OTSL_LAKE_NOT_FOUND',
        `version ${target} is no longer reconstructable: the log starts at ${earliest} with no checkpoint at or below ${target}`,
        {
          context: { version: target, uri: store.uri },
        },
      );
    }
    throw missingCommit(range, store);
  }
  return { version, checkpoint: null, commits: range, versionCommitKey: commits.get(version) };
}

// ---- replay ----

interface ReplayState {
  protocol: Protocol | null;
  metadata: Metadata | null;
  files: Map<string, Add>;
  tombstones: Map<string, Remove>;
  txns: Map<string, Txn>;
  domainMetadata: Map<string, DomainMetadata>;
}

function applyAction(state: ReplayState, action: Action): void {
  const a = action as Record<string, unknown>;
  if (a.add) {
    const add = a.add as Add;
    const key = fileKey(add);
    state.files.set(key, add);
    state.tombstones.delete(key);
  } else if (a.remove) {
    const remove = a.remove as Remove;
    const key = fileKey(remove);
    state.files.delete(key);
    state.tombstones.set(key, remove);
  } else if (a.txn) {
    const txn = a.txn as Txn;
    state.txns.set(txn.appId, txn);
  } else if (a.metaData) state.metadata = a.metaData as Metadata;
  else if (a.protocol) state.protocol = a.protocol as Protocol;
  else if (a.domainMetadata) {
    const d = a.domainMetadata as DomainMetadata;
    if (d.removed) state.domainMetadata.delete(d.domain);
    else state.domainMetadata.set(d.domain, d);
  }
}

function seed(checkpoint: CheckpointActions | null): ReplayState {
  const state: ReplayState = {
    protocol: checkpoint?.protocol ?? null,
    metadata: checkpoint?.metadata ?? null,
    files: new Map(),
    tombstones: new Map(),
    txns: new Map(),
    domainMetadata: new Map(),
  };
  if (!checkpoint) return state;
  for (const add of checkpoint.adds) state.files.set(fileKey(add), add);
  for (const remove of checkpoint.removes) state.tombstones.set(fileKey(remove), remove);
  for (const txn of checkpoint.txns) state.txns.set(txn.appId, txn);
  for (const d of checkpoint.domainMetadata) if (!d.removed) state.domainMetadata.set(d.domain, d);
  return state;
}

/** Fetches commits with a small read-ahead window (OSS latency dominates), yields them in order. */
async function* readCommits(
  store: ObjectStore,
  commits: { version: number; key: string }[],
  signal?: AbortSignal,
): AsyncGenerator<{ version: number; actions: Action[]; key: string }> {
  const fetches: Promise<Uint8Array>[] = [];
  const start = (i: number): void => {
    const c = commits[i];
    if (c) fetches[i] = store.get(c.key, signal ? { signal } : {});
  };
  for (let i = 0; i < Math.min(COMMIT_PREFETCH, commits.length); i++) start(i);
  for (let i = 0; i < commits.length; i++) {
    const c = commits[i]!;
    let bytes: Uint8Array;
    try {
      bytes = await fetches[i]!;
    } catch (err) {
      if (hasCode(err, 'OTSL_LAKE_NOT_FOUND'))
        throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `commit ${c.version} vanished while reading the log`, {
          cause: err,
          context: { version: c.version, key: c.key },
        });
      throw err;
    } finally {
      delete fetches[i];
    }
    start(i + COMMIT_PREFETCH);
    yield { version: c.version, actions: decodeActions(bytes, c.version), key: c.key };
  }
}

/** Drops tombstones past delta.deletedFileRetentionDuration and txns past delta.setTransactionRetentionDuration. */
function expire(state: ReplayState, metadata: Metadata, nowMs: number): void {
  const conf = metadata.configuration ?? {};
  const tombstoneRetention = parseIntervalMs(conf['delta.deletedFileRetentionDuration'] ?? DEFAULT_TOMBSTONE_RETENTION, 'delta.deletedFileRetentionDuration');
  const minTombstoneMs = nowMs - tombstoneRetention;
  for (const [key, r] of state.tombstones) if ((r.deletionTimestamp ?? 0) <= minTombstoneMs) state.tombstones.delete(key);
  const txnRetention = conf['delta.setTransactionRetentionDuration'];
  if (txnRetention !== undefined) {
    const minTxnMs = nowMs - parseIntervalMs(txnRetention, 'delta.setTransactionRetentionDuration');
    for (const [appId, t] of state.txns) if (t.lastUpdated !== undefined && t.lastUpdated !== null && t.lastUpdated <= minTxnMs) state.txns.delete(appId);
  }
}

async function buildSnapshot(store: ObjectStore, segment: Segment, options: LoadSnapshotOptions): Promise<Snapshot> {
  const state = seed(segment.checkpoint);
  let timestamp = segment.checkpoint?.lastModified ?? 0;
  const signalOpt = options.signal ? { signal: options.signal } : {};
  const versionMtime = segment.versionCommitKey === undefined ? undefined : (await store.head(segment.versionCommitKey, signalOpt))?.lastModified;
  for await (const commit of readCommits(store, segment.commits, options.signal)) {
    for (const action of commit.actions) applyAction(state, action);
    if (commit.version === segment.version) timestamp = commitTimestamp(commit.actions, versionMtime ?? timestamp);
  }
  if (segment.commits.length === 0 && segment.versionCommitKey !== undefined && versionMtime !== undefined) {
    // The snapshot is exactly at a checkpoint: date it by the commit of that version, not the checkpoint's mtime.
    timestamp = commitTimestamp(decodeActions(await store.get(segment.versionCommitKey, signalOpt), segment.version), versionMtime);
  }
  const where = segment.checkpoint ? `checkpoint ${segment.checkpoint.version} and the commits after it` : `commits 0..${segment.version}`;
  if (!state.protocol) {
    throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `no protocol action in ${where}: the table state is incomplete`, {
      context: { version: segment.version, uri: store.uri },
    });
  }
  if (!state.metadata) {
    throw new OtslakeError('OTSL_LAKE_LOG_CORRUPT', `no metaData action in ${where}: the table state is incomplete`, {
      context: { version: segment.version, uri: store.uri },
    });
  }
  assertLogReadable(state.protocol, store.uri);
  expire(state, state.metadata, options.nowMs ?? Date.now());
  return {
    version: segment.version,
    protocol: state.protocol,
    metadata: state.metadata,
    schema: parseSchema(state.metadata.schemaString),
    files: state.files,
    tombstones: state.tombstones,
    txns: state.txns,
    domainMetadata: state.domainMetadata,
    timestamp,
    checkpointVersion: segment.checkpoint?.version ?? null,
  };
}

/**
 * Loads the latest snapshot, or `options.version`. Errors: OTSL_LAKE_NOT_A_TABLE (no log),
 * OTSL_LAKE_NOT_FOUND (version absent or cleaned up), OTSL_LAKE_LOG_CORRUPT (gap, bad JSON, no
 * protocol/metadata), OTSL_LAKE_UNSUPPORTED_FEATURE (protocol beyond what table-features.ts allows).
 */
export async function loadSnapshot(store: ObjectStore, options: LoadSnapshotOptions = {}): Promise<Snapshot> {
  if (options.version !== undefined && (!Number.isSafeInteger(options.version) || options.version < 0)) {
    throw new OtslakeError('OTSL_LAKE_NOT_FOUND', `version ${options.version} is not a valid Delta version`, { context: { uri: store.uri } });
  }
  const log = options.logger ?? silentLogger;
  const hint = await readLastCheckpoint(store, options.signal);
  if (hint && (options.version === undefined || options.version >= hint.version)) {
    // Fast path: only what is at or after the hinted checkpoint. Any trouble (stale hint, partial
    // checkpoint, hint beyond the log) falls through to the full listing, which is authoritative.
    try {
      const files = await listLog(store, hint.version, options.signal);
      if (files.some((f) => f.version === hint.version && f.kind !== 'commit' && f.kind !== 'crc' && f.kind !== 'compacted')) {
        const segment = await selectSegment(store, files, options.version, options.signal, log);
        if (segment.checkpoint) return await buildSnapshot(store, segment, options);
      }
    } catch (err) {
      if (hasCode(err, 'OTSL_ABORTED') || hasCode(err, 'OTSL_LAKE_UNSUPPORTED_FEATURE')) throw err;
      log.warn('_last_checkpoint hint unusable, listing the whole log', { uri: store.uri, hintVersion: hint.version, error: (err as Error).message });
    }
  }
  const files = await listLog(store, null, options.signal);
  const segment = await selectSegment(store, files, options.version, options.signal, log);
  return buildSnapshot(store, segment, options);
}

/**
 * Brings a snapshot up to the latest version (or `options.version`) by replaying only the commits
 * after it: one LIST of the log tail plus one GET per new commit, whatever the table's size. A
 * long-running writer calls this every batch instead of loadSnapshot. The given snapshot's maps are
 * reused (mutated): the argument must not be used afterwards. Falls back to a full load when the
 * commits it needs are gone (log cleanup ran past it) or the target is older than the snapshot.
 */
export async function advanceSnapshot(store: ObjectStore, snapshot: Snapshot, options: LoadSnapshotOptions = {}): Promise<Snapshot> {
  if (options.version !== undefined && options.version < snapshot.version) return loadSnapshot(store, options);
  const files = await listLog(store, snapshot.version, options.signal);
  const commits = new Map<number, string>();
  let latest = snapshot.version;
  for (const f of files) {
    if (f.kind !== 'commit') continue;
    commits.set(f.version, f.key);
    latest = Math.max(latest, f.version);
  }
  const target = options.version ?? latest;
  if (target > latest) {
    throw new OtslakeError('OTSL_LAKE_NOT_FOUND', `version ${target} does not exist; the latest version is ${latest}`, {
      context: { version: target, uri: store.uri },
    });
  }
  if (target === snapshot.version) return snapshot;
  const range = commitRange(commits, snapshot.version, target);
  if (typeof range === 'number') return loadSnapshot(store, options);
  const state: ReplayState = {
    protocol: snapshot.protocol,
    metadata: snapshot.metadata,
    files: snapshot.files,
    tombstones: snapshot.tombstones,
    txns: snapshot.txns,
    domainMetadata: snapshot.domainMetadata,
  };
  let timestamp = snapshot.timestamp;
  for await (const commit of readCommits(store, range, options.signal)) {
    for (const action of commit.actions) applyAction(state, action);
    if (commit.version === target) timestamp = commitTimestamp(commit.actions, Date.now());
  }
  assertLogReadable(state.protocol!, store.uri);
  expire(state, state.metadata!, options.nowMs ?? Date.now());
  return {
    version: target,
    protocol: state.protocol!,
    metadata: state.metadata!,
    schema: state.metadata === snapshot.metadata ? snapshot.schema : parseSchema(state.metadata!.schemaString),
    files: state.files,
    tombstones: state.tombstones,
    txns: state.txns,
    domainMetadata: state.domainMetadata,
    timestamp,
    checkpointVersion: snapshot.checkpointVersion,
  };
}

// ---- commit history for the daemon ----

/** The commits from `fromVersion` (inclusive) to `toVersion` or the end of the log, in order. */
export async function readCommitInfos(
  store: ObjectStore,
  fromVersion: number,
  options: { toVersion?: number; signal?: AbortSignal } = {},
): Promise<CommitSummary[]> {
  const startAfter = fromVersion > 0 ? `${LOG_DIR}/${padVersion(fromVersion - 1)}.json` : undefined;
  const metas = await store.list(`${LOG_DIR}/`, { ...(startAfter ? { startAfter } : {}), ...(options.signal ? { signal: options.signal } : {}) });
  const commits: { version: number; key: string; mtime: number }[] = [];
  for (const m of metas) {
    const f = parseLogFile(m.key);
    if (f?.kind === 'commit' && f.version >= fromVersion && (options.toVersion === undefined || f.version <= options.toVersion)) {
      commits.push({ version: f.version, key: f.key, mtime: m.lastModified });
    }
  }
  const out: CommitSummary[] = [];
  for await (const c of readCommits(store, commits, options.signal)) {
    out.push(summarizeCommit(c.version, c.actions, commits.find((x) => x.version === c.version)?.mtime ?? 0));
  }
  return out;
}
