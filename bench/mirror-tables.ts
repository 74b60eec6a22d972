/**
 * Mirror tables for the benches (mirror-batch.ts, resync-switch.ts): a table of the given rows laid out by the
 * merge engine itself (every bucket merged in-process, one commit), the way the daemon's first mirror batch would.
 */
import type { ObjectStore } from '../lake/object-store.js';
import { loadSnapshot } from '../lake/snapshot.js';
import { commit } from '../lake/transaction.js';
import type { RowChange } from '../lake/mirror/apply.js';
import { encodeKey } from '../lake/mirror/key-encoding.js';
import { bucketOf } from '../lake/mirror/layout.js';
import { mergeBucket } from '../lake/mirror/merge-bucket.js';
import { createMirrorTable, mirrorFileActions, mirrorShapeOf } from '../lake/mirror/mirror-table.js';

export const ORDERS_SCHEMA = {
  type: 'struct' as const,
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'customer', type: 'string', nullable: true, metadata: {} },
    { name: 'amount', type: 'double', nullable: true, metadata: {} },
    { name: 'qty', type: 'long', nullable: true, metadata: {} },
  ],
};

/** Row `i` of the orders table; `version` > 0 changes its quantity (an update of that row). */
export function orderRow(i: number, version = 0): Record<string, unknown> {
  return { id: BigInt(i), customer: `c${(i * 7919) % 100_000}`, amount: ((i * 31) % 100_000) / 100, qty: BigInt((i % 17) + version * 100) };
}

export interface MirrorTableSpec {
  readonly buckets: number;
  readonly targetFileBytes: number;
  readonly changeDataFeed?: boolean;
}

/** A new mirror table at `store` (keyed by `id`) holding `rows`, in one commit. */
export async function buildMirrorTable(store: ObjectStore, rows: Iterable<Record<string, unknown>>, spec: MirrorTableSpec): Promise<void> {
  await createMirrorTable(store, { schema: ORDERS_SCHEMA, primaryKey: ['id'], buckets: spec.buckets, changeDataFeed: spec.changeDataFeed ?? false });
  const snapshot = await loadSnapshot(store);
  const shape = mirrorShapeOf(snapshot.metadata, snapshot.schema);
  const byBucket = new Map<number, Map<string, RowChange[]>>();
  let order = 0;
  for (const values of rows) {
    const key = encodeKey(shape.keyColumns, values);
    const b = bucketOf(key, spec.buckets);
    let m = byBucket.get(b);
    if (!m) byBucket.set(b, (m = new Map()));
    m.set(key, [{ key, op: 'PUT', seq: null, tsUs: null, values, deletedColumns: [], order: order++ }]);
  }
  const outcomes = [];
  for (const [bucket, changes] of byBucket) {
    const options = { store, keyColumns: shape.keyColumns, columns: shape.columns, changeDataFeed: false, targetFileBytes: spec.targetFileBytes };
    outcomes.push(await mergeBucket(bucket, [], changes, options));
  }
  await commit(store, mirrorFileActions(outcomes), { readVersion: snapshot.version, operation: 'WRITE' });
}
