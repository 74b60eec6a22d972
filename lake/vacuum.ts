/**
 * VACUUM (docs/delta-rules.md §Vacuum): deletes data files that the latest snapshot does not reference
 * and that are older than the retention (delta.deletedFileRetentionDuration, 7 days). Files of
 * batches that never committed (orphans) and files removed long enough ago both qualify.
 *
 * Never touched: files the snapshot references, files removed within the retention (time travel),
 * anything younger than the retention (a writer may be about to commit it), and everything under a
 * `_`- or `.`-prefixed folder or name (`_delta_log`, `_otslake`, …) — with two exceptions that hold
 * only data nobody references after the retention: `_change_data/` (as Spark's VACUUM, CDF of
 * versions older than the retention is given up) and mirror staging under `_otslake/staging/`
 * (changes of batches that crashed before their commit; a committed batch deletes its own).
 */
import { OtslakeError } from '../common/errors.js';
import { parseDeltaInterval } from '../common/units.js';
import type { Metadata } from './actions.js';
import type { ObjectMeta, ObjectStore } from './object-store.js';
import { decodeLogPath } from './partition-path.js';
import { STAGING_ROOT } from './mirror/staging.js';
import { loadSnapshot } from './snapshot.js';

const DEFAULT_DELETED_FILE_RETENTION = 'interval 1 week';

export interface VacuumOptions {
  /** Overrides delta.deletedFileRetentionDuration. */
  retentionMs?: number;
  /** Permit a retention shorter than the table's (time travel and slow writers may break). */
  allowShortRetention?: boolean;
  /** Default true: only report. */
  dryRun?: boolean;
  nowMs?: number;
  signal?: AbortSignal;
}

export interface VacuumResult {
  snapshotVersion: number;
  retentionMs: number;
  dryRun: boolean;
  /** Files deleted (or to be deleted in a dry run). */
  files: ObjectMeta[];
  bytes: number;
}

export function deletedFileRetentionMsOf(metadata: Metadata): number {
  return parseDeltaInterval(metadata.configuration['delta.deletedFileRetentionDuration'] ?? DEFAULT_DELETED_FILE_RETENTION);
}

/** `_` folders whose files vacuum does consider: they hold data, never state. */
const VACUUMABLE_PREFIXES = ['_change_data/', STAGING_ROOT] as const;

/** The Iceberg metadata of the table (lake/iceberg): state, cleaned by its own expiry, never by vacuum. */
const ICEBERG_METADATA_PREFIX = 'metadata/';

/** True for keys vacuum must never consider: hidden or `_` state folders, the log itself, Iceberg metadata. */
function isProtectedKey(key: string): boolean {
  if (key.startsWith(ICEBERG_METADATA_PREFIX)) return true;
  const prefix = VACUUMABLE_PREFIXES.find((p) => key.startsWith(p));
  const rest = prefix === undefined ? key : key.slice(prefix.length);
  return rest.split('/').some((segment) => segment.startsWith('_') || segment.startsWith('.'));
}

/**
 * Folders under the staging root that hold a table's own log: a resync still staging its new snapshot
 * (pipeline/resync-mirror.ts). Its files are referenced by that log, not by the live one, and a resync may
 * be resumed days later: they are kept until the switch commit takes them over and the staged log is dropped.
 */
function unfinishedStagedTables(listed: readonly ObjectMeta[]): string[] {
  const folders = new Set<string>();
  for (const { key } of listed) {
    if (!key.startsWith(STAGING_ROOT)) continue;
    const at = key.indexOf('/_delta_log/', STAGING_ROOT.length);
    if (at > 0) folders.add(key.slice(0, at + 1));
  }
  return [...folders];
}

export async function vacuum(store: ObjectStore, options: VacuumOptions = {}): Promise<VacuumResult> {
  const signal = options.signal ? { signal: options.signal } : {};
  const now = options.nowMs ?? Date.now();
  const snapshot = await loadSnapshot(store, { ...signal, nowMs: now });
  const tableRetentionMs = deletedFileRetentionMsOf(snapshot.metadata);
  const retentionMs = options.retentionMs ?? tableRetentionMs;
  if (retentionMs < tableRetentionMs && !options.allowShortRetention) {
    throw new OtslakeError(
      'OTSL_CONFIG_INVALID',
      `vacuum retention ${retentionMs} ms is shorter than the table's delta.deletedFileRetentionDuration (${tableRetentionMs} ms)`,
      {
        context: { uri: store.uri, retentionMs, tableRetentionMs },
      },
    );
  }
  const cutoff = now - retentionMs;

  const keep = new Set<string>();
  const root = store.uri.endsWith('/') ? store.uri : `${store.uri}/`;
  // Paths may also be absolute URIs; one that points into this table protects its key too.
  const keyOf = (path: string) => {
    const decoded = decodeLogPath(path);
    return decoded.startsWith(root) ? decoded.slice(root.length) : decoded;
  };
  for (const add of snapshot.files.values()) keep.add(keyOf(add.path));
  for (const remove of snapshot.tombstones.values()) {
    if ((remove.deletionTimestamp ?? now) > cutoff) keep.add(keyOf(remove.path));
  }

  const listed = await store.list('', signal);
  const unfinished = unfinishedStagedTables(listed);
  const files: ObjectMeta[] = [];
  for (const meta of listed) {
    if (isProtectedKey(meta.key) || keep.has(meta.key) || meta.lastModified > cutoff) continue;
    if (unfinished.some((folder) => meta.key.startsWith(folder))) continue;
    files.push(meta);
  }
  const dryRun = options.dryRun ?? true;
  if (!dryRun) {
    for (const f of files) await store.delete(f.key, signal);
  }
  return { snapshotVersion: snapshot.version, retentionMs, dryRun, files, bytes: files.reduce((n, f) => n + f.size, 0) };
}
