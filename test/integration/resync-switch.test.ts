/**
 * The switch of a mirror resync with its diff split over 'resync-diff' tasks: a live mirror table and a staged
 * one (both real, on disk, built through the merge engine) are switched with a pool that runs each task
 * in-process (the real task code, workers/mirror-task.ts) and records it. Checked: one task per bucket range,
 * the commit's counts and change data (read back from the Parquet files), the cdc actions in bucket order however
 * the tasks finish, and a failed task: nothing committed, no change data left behind by the tasks that succeeded.
 * The daemon's real worker threads run the same tasks in test/integration/resync-daemon.test.ts.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { OtslakeError } from '../../common/errors.js';
import { silentLogger } from '../../common/log.js';
import { decodeActions } from '../../lake/actions.js';
import { LocalStore } from '../../lake/local-store.js';
import { commitKey } from '../../lake/log-path.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { readParquetRows } from '../../lake/parquet-read.js';
import { decodeLogPath } from '../../lake/partition-path.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { commit } from '../../lake/transaction.js';
import { createMirrorTable, mirrorFileActions, mirrorShapeOf } from '../../lake/mirror/mirror-table.js';
import { planMergeTasks } from '../../lake/mirror/plan.js';
import { deleteStaging, stagingDirectory } from '../../lake/mirror/staging.js';
import { switchToStaged } from '../../pipeline/resync-switch.js';
import { runMergeMirrorTask, runResyncDiffTask } from '../../workers/mirror-task.js';
import type { TaskOutcome, WorkerPool } from '../../workers/pool.js';
import type { ColumnSpec } from '../../lake/parquet-columns.js';
import { PROTOCOL_VERSION, type ResyncDiffTaskInput, type ResyncDiffTaskOk, type TaskInput } from '../../workers/protocol.js';
import { METADATA_COLUMNS } from '../../workers/schema-map.js';
import { createTmpDir, type TmpDir } from '../helpers/tmp-dir.js';

const STAGING = '_otslake/staging/resync-t2/';
/** A staged changelog file of the table: its data columns, then the changelog's metadata columns. */
const STAGED_COLUMNS: ColumnSpec[] = [{ name: 'id', type: 'long', nullable: false }, { name: 'name', type: 'string', nullable: true }, ...METADATA_COLUMNS];

/** A mirror table of 4 buckets holding `rows`, landed by one batch through the merge engine. */
async function mirrorOf(store: ObjectStore, rows: readonly [number, string][], tsUs: number, changeDataFeed: boolean): Promise<void> {
  await createMirrorTable(store, {
    schema: {
      type: 'struct',
      fields: [
        { name: 'id', type: 'long', nullable: false, metadata: {} },
        { name: 'name', type: 'string', nullable: true, metadata: {} },
      ],
    },
    primaryKey: ['id'],
    buckets: 4,
    changeDataFeed,
  });
  const staged = rows.map(([id, name]) => ({ id: BigInt(id), name, _op: 'PUT', _ts: tsUs, _seq: null, _channel: 'ch', _deleted_columns: null }));
  const files = await writeParquetFiles(staged, { store, columns: STAGED_COLUMNS, directory: stagingDirectory('b0') });
  const snapshot = await loadSnapshot(store);
  const shape = mirrorShapeOf(snapshot.metadata, snapshot.schema);
  const outcomes = [];
  for (const t of planMergeTasks(snapshot.files.values(), 4, { maxTasks: 2 })) {
    const input = {
      kind: 'merge-mirror' as const,
      protocol: PROTOCOL_VERSION,
      batchId: 'b0',
      table: 'orders',
      tablePath: '',
      stagedFiles: files.map((f) => f.path),
      bucketCount: 4,
      buckets: t.buckets,
      files: t.files,
      keyColumns: shape.keyColumns,
      columns: shape.columns,
      changeDataFeed,
      targetFileBytes: 1 << 20,
    };
    outcomes.push(await runMergeMirrorTask(input, store));
  }
  const result = await commit(store, mirrorFileActions(outcomes), { readVersion: snapshot.version, readMetadata: snapshot.metadata, operation: 'MERGE' });
  expect(result.kind).toBe('committed');
  await deleteStaging(store, 'b0');
}

/**
 * A pool of 2 "threads" that runs resync-diff tasks in-process against `store` and records them; `fail` picks a
 * task to fail as a worker would report it, `delay` one to start only once the 3 others have finished.
 */
function inProcessPool(store: ObjectStore, options: { fail?: (t: ResyncDiffTaskInput) => boolean; delay?: (t: ResyncDiffTaskInput) => boolean } = {}) {
  const tasks: ResyncDiffTaskInput[] = [];
  const outcomes = new Map<ResyncDiffTaskInput, ResyncDiffTaskOk>();
  let finished = 0;
  let othersDone!: () => void;
  const others = new Promise<void>((resolve) => (othersDone = resolve));
  const pool: WorkerPool = {
    threads: 2,
    capacity: 4,
    running: 0,
    waiting: 0,
    async run<T extends TaskInput>(input: T): Promise<TaskOutcome<T>> {
      if (input.kind !== 'resync-diff') throw new Error(`unexpected ${input.kind} task`);
      tasks.push(input);
      if (options.fail?.(input)) return { kind: 'failed', error: new OtslakeError('OTSL_LAKE_IO', 'injected: the task lost its store') } as TaskOutcome<T>;
      const delayed = options.delay?.(input) ?? false;
      if (delayed) await others;
      const outcome = await runResyncDiffTask(input, store);
      outcomes.set(input, outcome);
      if (!delayed && ++finished === 3) othersDone();
      return outcome as TaskOutcome<T>;
    },
    close: () => Promise.resolve(),
    destroy: () => Promise.resolve(),
  };
  return { pool, tasks, outcomes };
}

async function changeRows(store: ObjectStore, paths: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for (const p of paths) {
    for (const r of await readParquetRows(await store.get(p), { file: p })) out.push(`${String(r._change_type)}:${String(r.id)}:${String(r.name)}`);
  }
  return out.sort();
}

let tmp: TmpDir | undefined;
afterEach(async () => {
  await tmp?.cleanup();
  tmp = undefined;
});

const LIVE: [number, string][] = Array.from({ length: 24 }, (_, i) => [i + 1, `v${i + 1}`]);
/** 2, 5 and 17 deleted, 3 and 11 changed, 30 and 31 new; the rest equal in data, with a newer `_ts`. */
const STAGED: [number, string][] = [
  ...LIVE.filter(([id]) => ![2, 5, 17].includes(id)).map(([id, name]): [number, string] => [id, id === 3 || id === 11 ? `${name}-new` : name]),
  [30, 'v30'],
  [31, 'v31'],
];

async function tables(): Promise<ObjectStore> {
  tmp = await createTmpDir('otslake-resync-switch-');
  const live = new LocalStore(tmp.path);
  await mirrorOf(live, LIVE, 1_700_000_000_000_000, true);
  await mirrorOf(live.child(STAGING), STAGED, 1_800_000_000_000_000, false);
  return live;
}

const switchOptions = (live: ObjectStore, pool: WorkerPool) => ({
  table: 'orders',
  live,
  tablePath: '',
  pool,
  stagingPrefix: STAGING,
  tunnelId: 't2',
  previousTunnelId: 't1',
  metadataPrefix: '_',
  log: silentLogger,
});

describe('resync switch: the diff as resync-diff tasks', () => {
  it('one task per bucket range; the commit holds every change, its cdc actions in bucket order', async () => {
    const live = await tables();
    const before = await loadSnapshot(live);
    // The first range finishes last: the commit's order must still be the buckets'.
    const { pool, tasks, outcomes } = inProcessPool(live, { delay: (t) => t.buckets.includes(0) });
    const result = await switchToStaged(switchOptions(live, pool));

    expect(tasks.map((t) => t.buckets).sort((a, b) => a[0]! - b[0]!)).toEqual([[0], [1], [2], [3]]);
    expect(tasks.every((t) => t.stagingPrefix === STAGING && t.changeDataFeed && t.liveFiles.every((f) => t.buckets.includes(f.bucket)))).toBe(true);
    expect(result).toMatchObject({ version: before.version + 1, inserted: 2, updated: 2, deleted: 3, rows: STAGED.length });

    const actions = decodeActions(await live.get(commitKey(result.version)));
    const cdc = actions.flatMap((a) => ('cdc' in a ? [decodeLogPath(a.cdc.path)] : []));
    const inBucketOrder = [...outcomes.entries()].sort(([a], [b]) => a.buckets[0]! - b.buckets[0]!).flatMap(([, o]) => o.cdc.map((f) => f.path));
    expect(cdc).toEqual(inBucketOrder);
    expect(await changeRows(live, cdc)).toEqual(
      [
        'delete:2:v2',
        'delete:5:v5',
        'delete:17:v17',
        'update_preimage:3:v3',
        'update_postimage:3:v3-new',
        'update_preimage:11:v11',
        'update_postimage:11:v11-new',
        'insert:30:v30',
        'insert:31:v31',
      ].sort(),
    );
    const info = actions.find((a) => 'commitInfo' in a) as { commitInfo: { otslake: { resync: Record<string, number> } } };
    expect(info.commitInfo.otslake.resync).toMatchObject({ inserted: 2, updated: 2, deleted: 3, rows: STAGED.length });
  });

  it('another writer commits during the diff: OTSL_DAEMON_STATE, the switch is not committed, its change data is deleted', async () => {
    const live = await tables();
    const before = await loadSnapshot(live);
    const changeData = async () => (await live.list('_change_data/')).map((o) => o.key).sort();
    const earlier = await changeData();
    const { pool, outcomes } = inProcessPool(live);
    // A daemon still writing the table: it removes a live file while the switch is diffing.
    const [victim] = before.files.values();
    const run = pool.run.bind(pool);
    let raced = false;
    pool.run = async (input) => {
      if (!raced) {
        raced = true;
        const now = Date.now();
        const remove = { path: victim!.path, deletionTimestamp: now, dataChange: true, extendedFileMetadata: true, partitionValues: {}, size: victim!.size };
        expect((await commit(live, [{ remove }], { readVersion: before.version, readMetadata: before.metadata, operation: 'DELETE' })).kind).toBe('committed');
      }
      return run(input);
    };
    await expect(switchToStaged(switchOptions(live, pool))).rejects.toMatchObject({ code: 'OTSL_DAEMON_STATE', context: { table: 'orders' } });

    expect([...outcomes.values()].flatMap((o) => o.cdc).length).toBeGreaterThan(0);
    expect(await changeData()).toEqual(earlier);
    expect((await loadSnapshot(live)).version).toBe(before.version + 1);
  });

  it('a failed task: the failure is thrown, nothing is committed, the other tasks’ change data is deleted', async () => {
    const live = await tables();
    const before = await loadSnapshot(live);
    const changeData = async () => (await live.list('_change_data/')).map((o) => o.key).sort();
    const earlier = await changeData(); // the live table's own batch wrote some
    const { pool, tasks, outcomes } = inProcessPool(live, { fail: (t) => t.buckets.includes(3) });
    await expect(switchToStaged(switchOptions(live, pool))).rejects.toMatchObject({ code: 'OTSL_LAKE_IO', context: { table: 'orders', path: STAGING } });

    expect(tasks).toHaveLength(4);
    const written = [...outcomes.values()].flatMap((o) => o.cdc.map((f) => f.path));
    expect(written.length).toBeGreaterThan(0);
    expect(written.every((p) => !earlier.includes(p))).toBe(true);
    expect(await changeData()).toEqual(earlier);
    expect((await loadSnapshot(live)).version).toBe(before.version);
  });
});
