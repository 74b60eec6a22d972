/**
 * Expired log cleanup (docs/delta-rules.md §Log cleanup). The log may only
 * shrink behind a checkpoint: the newest checkpoint at or before the cutoff becomes the oldest state a
 * reader can rebuild, so it and its JSON commit are kept, and only files older than both it and the
 * cutoff go. Without such a checkpoint nothing is deleted (delta-rs #2174 deleted the latest
 * checkpoint; this never looks at anything from the anchor on).
 */
import { parseDeltaInterval } from '../common/units.js';
import type { Metadata } from './actions.js';
import { LOG_DIR, parseLogFile, type LogFile } from './log-path.js';
import type { ObjectMeta, ObjectStore } from './object-store.js';
import { loadSnapshot } from './snapshot.js';

const DEFAULT_LOG_RETENTION = 'interval 30 days';
const DAY_MS = 86_400_000;

export interface LogCleanupOptions {
  /** Overrides delta.logRetentionDuration. */
  retentionMs?: number;
  /** The table's metadata, if the caller has it (else the latest snapshot is loaded for it). */
  metadata?: Metadata;
  dryRun?: boolean;
  nowMs?: number;
  signal?: AbortSignal;
}

export interface LogCleanupResult {
  /** The checkpoint the log now starts from, or null when none is old enough (nothing deleted). */
  anchorVersion: number | null;
  cutoffMs: number;
  /** Keys deleted, or that would be with dryRun. */
  deleted: string[];
}

function logRetentionMsOf(metadata: Metadata): number {
  return parseDeltaInterval(metadata.configuration['delta.logRetentionDuration'] ?? DEFAULT_LOG_RETENTION);
}

export async function cleanupExpiredLogs(store: ObjectStore, options: LogCleanupOptions = {}): Promise<LogCleanupResult> {
  const signal = options.signal ? { signal: options.signal } : {};
  const retentionMs = options.retentionMs ?? logRetentionMsOf(options.metadata ?? (await loadSnapshot(store, signal)).metadata);
  // The spec truncates the cutoff to midnight UTC, so one run a day deletes a whole day at once.
  const cutoffMs = Math.floor(((options.nowMs ?? Date.now()) - retentionMs) / DAY_MS) * DAY_MS;

  const listed = await store.list(`${LOG_DIR}/`, signal);
  const files: { file: LogFile; meta: ObjectMeta }[] = [];
  for (const meta of listed) {
    const file = parseLogFile(meta.key);
    if (file) files.push({ file, meta });
  }
  const commitTime = new Map(files.filter((f) => f.file.kind === 'commit').map((f) => [f.file.version, f.meta.lastModified]));

  let anchor: number | null = null;
  for (const { file, meta } of files) {
    if (file.kind !== 'checkpoint') continue;
    const time = commitTime.get(file.version) ?? meta.lastModified;
    if (time <= cutoffMs && (anchor === null || file.version > anchor)) anchor = file.version;
  }
  if (anchor === null) return { anchorVersion: null, cutoffMs, deleted: [] };

  const doomed = files.filter(({ file, meta }) => file.version < anchor! && meta.lastModified <= cutoffMs).map(({ meta }) => meta.key);
  if (!options.dryRun) {
    // Oldest first: a crash midway leaves a contiguous log that still starts at a readable point.
    for (const key of doomed.sort()) await store.delete(key, signal);
  }
  return { anchorVersion: anchor, cutoffMs, deleted: doomed };
}
