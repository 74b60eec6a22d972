/**
 * A table's state at one version: protocol, metadata, live files, tombstones, txn versions.
 * (Placeholder interface; the reader is being implemented.)
 */
import { OtslakeError } from '../common/errors.js';
import type { Add, Metadata, Protocol, Remove, StructType, Txn } from './actions.js';
import type { ObjectStore } from './object-store.js';

export interface Snapshot {
  version: number;
  protocol: Protocol;
  metadata: Metadata;
  schema: StructType;
  /** Live files keyed by path (with a deletion vector: path + '#' + dv unique id). */
  files: Map<string, Add>;
  /** Removes still inside the tombstone retention. */
  tombstones: Map<string, Remove>;
  /** Latest txn per appId. */
  txns: Map<string, Txn>;
  /** ms timestamp of the commit that produced this version (commitInfo.timestamp or file mtime). */
  timestamp: number;
}

export interface LoadSnapshotOptions {
  /** Time travel: load this version instead of the latest. */
  version?: number;
  signal?: AbortSignal;
}

export async function loadSnapshot(_store: ObjectStore, _options: LoadSnapshotOptions = {}): Promise<Snapshot> {
  throw new OtslakeError('OTSL_INTERNAL', 'snapshot reader not implemented yet');
}
