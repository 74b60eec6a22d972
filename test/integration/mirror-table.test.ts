/**
 * A mirror table built batch by batch through the mirror engine (staging files → merge tasks → one
 * commit per batch), from random inserts, partial updates, column deletes and row deletes, with a
 * crashed merge and an uncommitted batch redone. Checked against an independent model: chdb
 * (delta-kernel-rs) reads every version, the change-data files hold each batch's net changes, and the
 * layout invariants (bucket, disjoint sorted key ranges) hold for every live file.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OtslakeError } from '../../common/errors.js';
import { decodeActions, type Cdc } from '../../lake/actions.js';
import { LocalStore } from '../../lake/local-store.js';
import { commitKey } from '../../lake/log-path.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { commit, txnAction } from '../../lake/transaction.js';
import { encodeKey } from '../../lake/mirror/key-encoding.js';
import { bucketOf, filesByBucket } from '../../lake/mirror/layout.js';
import { readMirrorFile } from '../../lake/mirror/merge-bucket.js';
import { createMirrorTable, mirrorFileActions, mirrorShapeOf } from '../../lake/mirror/mirror-table.js';
import { planMergeTasks } from '../../lake/mirror/plan.js';
import { deleteStaging, stagingDirectory } from '../../lake/mirror/staging.js';
import { runMergeMirrorTask } from '../../workers/mirror-task.js';
import type { MergeMirrorTaskOk } from '../../workers/protocol.js';
import { PROTOCOL_VERSION } from '../../workers/protocol.js';
import { runChdb, deltaSql } from '../helpers/chdb.js';
import { createTmpDir, type TmpDir } from '../helpers/tmp-dir.js';
import { seededRandom as rng } from '../helpers/seeded-random.js';

const ATTRS = ['a', 'b', 'c', 'flag'] as const;
type Attr = (typeof ATTRS)[number];
type State = Map<string, { region: string; id: bigint } & Partial<Record<Attr, unknown>>>;

const STAGED_COLUMNS = [
  { name: 'region', type: 'string', nullable: false },
  { name: 'id', type: 'long', nullable: false },
  { name: 'a', type: 'long', nullable: true },
  { name: 'b', type: 'string', nullable: true },
  { name: 'c', type: 'double', nullable: true },
  { name: 'flag', type: 'boolean', nullable: true },
  { name: '_op', type: 'string', nullable: true },
  { name: '_ts', type: 'timestamp', nullable: true },
  { name: '_seq', type: 'string', nullable: true },
  { name: '_channel', type: 'string', nullable: true },
  { name: '_deleted_columns', type: 'array<string>', nullable: true },
] as const;

const keyOf = (region: string, id: bigint) => `${region}/${id}`;

/** The independent model: Tablestore's row semantics with one version per column. */
function applyToModel(state: State, row: Record<string, unknown>): void {
  const k = keyOf(row.region as string, row.id as bigint);
  const puts = ATTRS.filter((n) => row[n] !== null && row[n] !== undefined);
  if (row._op === 'DELETE') {
    state.delete(k);
    return;
  }
  if (row._op === 'PUT') {
    const next: State extends Map<string, infer V> ? V : never = { region: row.region as string, id: row.id as bigint };
    for (const n of puts) next[n] = row[n];
    state.set(k, next);
    return;
  }
  let cur = state.get(k);
  if (!cur) {
    if (puts.length === 0) return;
    cur = { region: row.region as string, id: row.id as bigint };
    state.set(k, cur);
  }
  for (const n of (row._deleted_columns as string[]) ?? []) delete cur[n as Attr];
  for (const n of puts) cur[n] = row[n];
}

function randomChange(r: () => number, seq: string | null, tsUs: number): Record<string, unknown> {
  const region = ['cn-hangzhou', 'cn-beijing', 'eu-\u00e9ast'][Math.floor(r() * 3)]!;
  const id = BigInt(Math.floor(r() * 60) - 10);
  const roll = r();
  const op = seq === null ? 'PUT' : roll < 0.4 ? 'PUT' : roll < 0.8 ? 'UPDATE' : 'DELETE';
  const row: Record<string, unknown> = {
    region,
    id,
    a: null,
    b: null,
    c: null,
    flag: null,
    _op: op,
    _ts: tsUs,
    _seq: seq,
    _channel: 'ch',
    _deleted_columns: null,
  };
  if (op === 'DELETE') return row;
  const values: Record<Attr, () => unknown> = {
    a: () => BigInt(Math.floor(r() * 2 ** 40)) * (r() < 0.5 ? -1n : 1n),
    b: () => `v${Math.floor(r() * 1e6)}`.repeat(1 + Math.floor(r() * 3)),
    c: () => Math.round(r() * 1e6) / 100,
    flag: () => r() < 0.5,
  };
  for (const n of ATTRS) if (r() < 0.5) row[n] = values[n]();
  if (op === 'UPDATE') {
    const deleted = ATTRS.filter((n) => row[n] === null && r() < 0.3);
    row._deleted_columns = deleted;
  }
  return row;
}

/** Fails every put after the first `okPuts`: a worker crashing half-way through its merge. */
function crashingStore(inner: ObjectStore, okPuts: number): ObjectStore {
  let puts = 0;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'put') {
        return (...args: Parameters<ObjectStore['put']>) => {
          if (++puts > okPuts) return Promise.reject(new OtslakeError('OTSL_LAKE_IO', 'injected crash', { retriable: true }));
          return target.put(...args);
        };
      }
      return Reflect.get(target, prop, receiver) as unknown;
    },
  });
}

describe('mirror table through the merge engine', () => {
  let tmp: TmpDir;
  let store: LocalStore;
  const batches = 6;
  const expected: State[] = [];
  const committedVersions: number[] = [];

  beforeAll(async () => {
    tmp = await createTmpDir('otslake-mirror-');
    store = new LocalStore(tmp.path);
    const created = await createMirrorTable(store, {
      schema: {
        type: 'struct',
        fields: [
          { name: 'region', type: 'string', nullable: false, metadata: {} },
          { name: 'id', type: 'long', nullable: false, metadata: {} },
          { name: 'a', type: 'long', nullable: true, metadata: {} },
          { name: 'b', type: 'string', nullable: true, metadata: {} },
          { name: 'c', type: 'double', nullable: true, metadata: {} },
          { name: 'flag', type: 'boolean', nullable: true, metadata: {} },
        ],
      },
      primaryKey: ['region', 'id'],
      buckets: 4,
      changeDataFeed: true,
    });
    expect(created.kind).toBe('committed');

    const r = rng(20240607);
    const model: State = new Map();
    let ts = 1_700_000_000_000_000;
    let seqN = 0;
    for (let b = 0; b < batches; b++) {
      const batchId = `batch-${b}`;
      const rows: Record<string, unknown>[] = [];
      // Batch 0 is the full snapshot (base rows, no _seq) overlapped by the first stream changes.
      if (b === 0) for (let i = 0; i < 50; i++) rows.push(randomChange(r, null, ts++));
      for (let i = 0; i < 70; i++)
        rows.push(randomChange(r, `00000000:${(ts++).toString(16).padStart(16, '0')}:${(seqN++).toString(16).padStart(8, '0')}`, ts));
      for (const row of rows) applyToModel(model, row);
      expected.push(new Map([...model].map(([k, v]) => [k, { ...v }])));
      // Two channels' staging files; stream rows shuffled across them (sequence order must win, not file order).
      const shuffled = [...rows.filter((x) => x._seq === null), ...rows.filter((x) => x._seq !== null).sort(() => r() - 0.5)];
      const half = Math.floor(shuffled.length / 2);
      const staged = [];
      for (const part of [shuffled.slice(0, half), shuffled.slice(half)]) {
        staged.push(...(await writeParquetFiles(part, { store, columns: STAGED_COLUMNS as never, directory: stagingDirectory(batchId) })));
      }
      const stagedFiles = staged.map((f) => f.path);

      const runBatch = async (taskStore: ObjectStore): Promise<MergeMirrorTaskOk[]> => {
        const snapshot = await loadSnapshot(store);
        const shape = mirrorShapeOf(snapshot.metadata, snapshot.schema);
        const tasks = planMergeTasks(snapshot.files.values(), shape.settings.buckets, { maxTasks: 2 });
        const out: MergeMirrorTaskOk[] = [];
        for (const t of tasks) {
          out.push(
            await runMergeMirrorTask(
              {
                kind: 'merge-mirror',
                protocol: PROTOCOL_VERSION,
                batchId,
                table: 'orders',
                tablePath: '',
                stagedFiles,
                bucketCount: shape.settings.buckets,
                buckets: t.buckets,
                files: t.files,
                keyColumns: shape.keyColumns,
                columns: shape.columns,
                changeDataFeed: true,
                targetFileBytes: 1500,
                minFileBytes: 600,
              },
              taskStore,
            ),
          );
        }
        return out;
      };
      if (b === 2) {
        // A worker dies half-way: the task fails, nothing is committed; the batch is redone.
        await expect(runBatch(crashingStore(store, 3))).rejects.toMatchObject({ code: 'OTSL_LAKE_IO', context: { batchId } });
      }
      if (b === 3) await runBatch(store); // merged, then the daemon crashed before its commit: redone below
      const outcomes = await runBatch(store);
      const snapshot = await loadSnapshot(store);
      const result = await commit(store, [txnAction('otslake/t/ch', b + 1), ...mirrorFileActions(outcomes)], {
        readVersion: snapshot.version,
        readMetadata: snapshot.metadata,
        operation: 'STREAMING UPDATE',
      });
      expect(result.kind).toBe('committed');
      committedVersions.push((result as { version: number }).version);
      await deleteStaging(store, batchId);
    }
  }, 120_000);

  afterAll(async () => {
    await tmp?.cleanup();
  });

  const render = (rows: Iterable<Record<string, unknown>>) =>
    [...rows]
      .map((x) => [x.region, String(x.id), x.a === null || x.a === undefined ? null : String(x.a), x.b ?? null, x.c ?? null, x.flag ?? null])
      .sort((p, q) => (JSON.stringify(p) < JSON.stringify(q) ? -1 : 1));

  it('every version, read by chdb, equals the model after that batch', async () => {
    const sqls = committedVersions.map((v) => deltaSql(tmp.path, { version: v, select: 'region, id, a, b, c, flag' }));
    const outcomes = await runChdb(sqls);
    outcomes.forEach((o, i) => {
      if (!o.ok) throw new Error(`chdb version ${committedVersions[i]}: ${o.error}`);
      const got = render(o.rows.map((x) => ({ ...x, flag: x.flag === null ? null : Boolean(x.flag) })));
      expect(got).toEqual(render(expected[i]!.values()));
    });
    expect(expected[batches - 1]!.size).toBeGreaterThan(20);
  });

  it('keeps the layout: files in their bucket, sorted, disjoint ranges, split by size', async () => {
    const snapshot = await loadSnapshot(store);
    const shape = mirrorShapeOf(snapshot.metadata, snapshot.schema);
    const byBucket = filesByBucket(snapshot.files.values(), 4);
    expect([...byBucket.values()].some((files) => files.length > 1)).toBe(true);
    for (const [bucket, files] of byBucket) {
      for (const f of files) {
        const rows = await readMirrorFile(store, f);
        const keys = rows.map((row) => encodeKey(shape.keyColumns, row));
        expect(keys[0]).toBe(f.keyMin);
        expect(keys[keys.length - 1]).toBe(f.keyMax);
        expect([...keys].sort()).toEqual(keys);
        for (const k of keys) expect(bucketOf(k, 4)).toBe(bucket);
      }
    }
    expect(snapshot.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 4 });
    expect(await store.list('_otslake/staging/')).toEqual([]);
  });

  it('writes the net changes of each batch as change data, which chdb reads as the change feed', async () => {
    const feeds = await runChdb(committedVersions.map((v) => deltaSql(tmp.path, { changes: { from: v, to: v } })));
    for (let i = 0; i < committedVersions.length; i++) {
      const actions = decodeActions(await store.get(commitKey(committedVersions[i]!)));
      const cdcs = actions.filter((a): a is { cdc: Cdc } => 'cdc' in a).map((a) => a.cdc);
      expect(cdcs.every((c) => c.dataChange === false && c.path.startsWith('_change_data/'))).toBe(true);
      const removes = actions.filter((a) => 'remove' in a).map((a) => (a as { remove: { dataChange: boolean; extendedFileMetadata?: boolean | null } }).remove);
      expect(removes.every((rm) => rm.dataChange && rm.extendedFileMetadata)).toBe(true);
      expect(cdcs.length).toBeGreaterThan(0);
      const feed = feeds[i]!;
      if (!feed.ok) throw new Error(`chdb change feed of version ${committedVersions[i]}: ${feed.error}`);
      const got = feed.rows.map((x) => JSON.stringify([x._change_type, ...render([{ ...x, flag: x.flag === null ? null : Boolean(x.flag) }])[0]!]));
      const before = i === 0 ? (new Map() as State) : expected[i - 1]!;
      const after = expected[i]!;
      const want: string[] = [];
      const same = (x: unknown, y: unknown) => JSON.stringify(render([x as never])) === JSON.stringify(render([y as never]));
      for (const k of new Set([...before.keys(), ...after.keys()])) {
        const was = before.get(k);
        const now = after.get(k);
        if (!was && now) want.push(JSON.stringify(['insert', ...render([now])[0]!]));
        else if (was && !now) want.push(JSON.stringify(['delete', ...render([was])[0]!]));
        else if (was && now && !same(was, now)) {
          want.push(JSON.stringify(['update_preimage', ...render([was])[0]!]), JSON.stringify(['update_postimage', ...render([now])[0]!]));
        }
      }
      // The model has no _ts/_seq: a change that rewrote identical values shows as an update with equal images.
      const filtered = got.filter((g) => {
        const [type, ...rest] = JSON.parse(g) as [string, ...unknown[]];
        if (type !== 'update_preimage' && type !== 'update_postimage') return true;
        const twin = got.find((h) => h !== g && JSON.stringify((JSON.parse(h) as unknown[]).slice(1)) === JSON.stringify(rest));
        return twin === undefined;
      });
      expect(filtered.sort()).toEqual(want.sort());
    }
  });
});
