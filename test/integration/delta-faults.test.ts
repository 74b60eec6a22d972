/**
 * The Delta log under concurrency and storage faults:
 * - racing appenders, compactors and checkpointers on BOTH stores (LocalStore on a temp directory,
 *   OssStore on the OSS emulator with writers in both addressing styles) lose no commit;
 * - OSS faults (5xx, connections dropped before and after processing, timeouts whose writes land
 *   late) injected into a live table's commits, checkpoints and compaction never break the log;
 * - a commit whose successful put went unseen (a real drop-after in the emulator) lands once.
 * After every run the table is checked the same way: versions contiguous, every logical commit
 * exactly once (unique commitInfo.txnId, each txn version once), the checkpoint equal to a plain
 * replay, and the content equal to what was committed — by otslake's reader and by chdb.
 */
import { join } from 'node:path';
import { once } from 'node:events';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { OtslakeError } from '../../common/errors.js';
import type { OssEmulator, RequestRecord } from '../../emulator/oss/server.js';
import type { FaultRule } from '../../emulator/oss/faults.js';
import { decodeActions, type Action, type CommitInfo, type StructType, type Txn } from '../../lake/actions.js';
import { checkpointIfDue } from '../../lake/checkpoint-writer.js';
import { compactTable, type CompactionResult } from '../../lake/compaction.js';
import { LocalStore } from '../../lake/local-store.js';
import { checkpointKey, commitKey, LAST_CHECKPOINT, LOG_DIR, parseLogFile } from '../../lake/log-path.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { MIN_PART_BYTES, type OssStoreOptions } from '../../lake/oss-client.js';
import type { OssStore } from '../../lake/oss-store.js';
import { dataColumnsOf } from '../../lake/parquet-columns.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { readParquetRows } from '../../lake/parquet-read.js';
import { decodeFilePath, loadSnapshot, type Snapshot } from '../../lake/snapshot.js';
import { createTable } from '../../lake/table-create.js';
import { addActionFor, commit, txnAction, type CommitResult } from '../../lake/transaction.js';
import { deltaSql, runChdb } from '../helpers/chdb.js';
import { openTestOssStore, startTestOss, type Addressing } from '../helpers/oss.js';
import { createTmpDir, type TmpDir } from '../helpers/tmp-dir.js';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'writer', type: 'string', nullable: true, metadata: {} },
    { name: 'day', type: 'string', nullable: true, metadata: {} },
  ],
};
const COLUMNS = dataColumnsOf(SCHEMA, ['day']);

/** Rows of one logical append: ids unique across the whole run, so duplicates and losses both show. */
function rowsOf(writer: string, n: number, count = 3): Record<string, unknown>[] {
  const base = BigInt(writer.split('').reduce((h, c) => h * 31 + c.charCodeAt(0), 7) % 100_000) * 1_000_000n + BigInt(n) * 1000n;
  return Array.from({ length: count }, (_, i) => ({ id: base + BigInt(i), writer, day: i % 2 ? 'd1' : 'd2' }));
}

/** One append: data files, then a commit carrying the writer's txn version `n`. */
async function append(
  store: ObjectStore,
  writer: string,
  n: number,
  readVersion: number,
  model: bigint[],
): Promise<Extract<CommitResult, { kind: 'committed' }>> {
  const rows = rowsOf(writer, n);
  const adds: Action[] = [];
  for (const day of ['d1', 'd2']) {
    const files = await writeParquetFiles(
      rows.filter((r) => r.day === day),
      { store, columns: COLUMNS, partitionValues: { day } },
    );
    adds.push(...files.map((f) => addActionFor(f)));
  }
  const result = await commit(store, [txnAction(`otslake/t/${writer}`, n), ...adds], { readVersion, operation: 'STREAMING UPDATE' });
  if (result.kind !== 'committed') throw new Error(`append ${writer}/${n} lost: ${result.reason}`);
  model.push(...rows.map((r) => r.id as bigint));
  return result;
}

/** A read-only view of a table that hides checkpoints and the hint: loadSnapshot must replay JSON only. */
function withoutCheckpoints(store: ObjectStore): ObjectStore {
  const hidden = (key: string) => key === LAST_CHECKPOINT || parseLogFile(key)?.kind === 'checkpoint';
  return {
    uri: store.uri,
    put: () => Promise.reject(new Error('read-only view')),
    delete: () => Promise.reject(new Error('read-only view')),
    child: () => {
      throw new Error('read-only view');
    },
    head: (key, options) => (hidden(key) ? Promise.resolve(null) : store.head(key, options)),
    get: (key, options) =>
      hidden(key) ? Promise.reject(new OtslakeError('OTSL_LAKE_NOT_FOUND', `${key} hidden`, { context: { key } })) : store.get(key, options),
    list: async (prefix, options) => (await store.list(prefix, options)).filter((m) => !hidden(m.key)),
  };
}

function summary(s: Snapshot) {
  return { version: s.version, files: [...s.files.keys()].sort(), txns: Object.fromEntries([...s.txns].map(([k, t]) => [k, t.version])) };
}

interface Verified {
  latest: number;
  /** appId → the txn versions found in the log, in log order. */
  txns: Map<string, number[]>;
  snapshot: Snapshot;
}

/**
 * The invariants every run must leave: contiguous versions, each logical commit once, a checkpoint
 * equal to a replay of the JSON, and the committed ids exactly (as otslake reads the data files).
 */
async function verifyTable(store: ObjectStore, wantIds: readonly bigint[]): Promise<Verified> {
  const commits = (await store.list(`${LOG_DIR}/`))
    .map((m) => parseLogFile(m.key))
    .filter((f) => f?.kind === 'commit')
    .map((f) => f!.version);
  const latest = commits.length - 1;
  expect(commits, 'versions are contiguous from 0').toEqual(Array.from({ length: commits.length }, (_, i) => i));

  const txnIds = new Set<string>();
  const txns = new Map<string, number[]>();
  for (const v of commits) {
    const actions = decodeActions(await store.get(commitKey(v)), v);
    const info = actions.find((a): a is { commitInfo: CommitInfo } => 'commitInfo' in a)!.commitInfo;
    expect(txnIds.has(info.txnId as string), `commit ${v} repeats an earlier commit`).toBe(false);
    txnIds.add(info.txnId as string);
    for (const a of actions) if ('txn' in a) txns.set((a.txn as Txn).appId, [...(txns.get(a.txn.appId) ?? []), a.txn.version]);
  }

  const snapshot = await loadSnapshot(store);
  expect(snapshot.version).toBe(latest);
  expect(summary(await loadSnapshot(withoutCheckpoints(store)))).toEqual(summary(snapshot));

  const ids: bigint[] = [];
  for (const add of snapshot.files.values()) {
    const key = decodeFilePath(add.path);
    for (const row of await readParquetRows(await store.get(key), { file: key, columns: ['id'] })) ids.push(row.id as bigint);
  }
  const sorted = (xs: readonly bigint[]) => [...xs].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)).map(String);
  expect(sorted(ids)).toEqual(sorted(wantIds));
  return { latest, txns, snapshot };
}

function s3Sql(emulator: OssEmulator, prefix: string): string {
  return `SELECT id FROM deltaLakeS3('${emulator.endpoint}/${emulator.bucket}/${prefix}/', 'ak', 'sk') ORDER BY id SETTINGS output_format_json_quote_64bit_integers=1`;
}

/** Resolves once the emulator has recorded `count` requests matching (delayed answers arrive late). */
async function recorded(emulator: OssEmulator, matches: (r: RequestRecord) => boolean, count: number, timeoutMs = 5_000): Promise<RequestRecord[]> {
  const signal = AbortSignal.timeout(timeoutMs);
  for (;;) {
    const found = emulator.requests.filter(matches);
    if (found.length >= count) return found;
    await once(emulator.events, 'request', { signal });
  }
}

let emulator: OssEmulator;
beforeAll(async () => {
  emulator = await startTestOss('otslake-faults');
});
afterAll(async () => {
  await emulator?.close();
});

// ---- racing writers, on both stores ----

interface Backend {
  name: string;
  open(): Promise<{ table: ObjectStore; writer(i: number): ObjectStore; chdbSql(): string; cleanup(): Promise<void> }>;
}

let runs = 0;
const BACKENDS: Backend[] = [
  {
    name: 'LocalStore',
    async open() {
      const dir: TmpDir = await createTmpDir('otslake-race-');
      const path = join(dir.path, 'table');
      // Separate instances: nothing is shared between writers but the directory.
      return {
        table: new LocalStore(path),
        writer: () => new LocalStore(path, { fsync: false }),
        chdbSql: () => deltaSql(path, { select: 'id', orderBy: 'id' }),
        cleanup: dir.cleanup,
      };
    },
  },
  {
    name: 'OssStore',
    async open() {
      runs += 1;
      const prefix = `race-${runs}/table`;
      const opened: OssStore[] = [];
      const open = (addressing: Addressing) => {
        const s = openTestOssStore(emulator, addressing, { prefix });
        opened.push(s);
        return s;
      };
      // Each writer has its own client and connection pool, half of them in each addressing style.
      return {
        table: open('virtual-host'),
        writer: (i) => open(i % 2 ? 'path' : 'virtual-host'),
        chdbSql: () => s3Sql(emulator, prefix),
        cleanup: async () => {
          await Promise.all(opened.map((s) => s.close()));
        },
      };
    },
  },
];

describe.each(BACKENDS)('racing writers on $name', (backend) => {
  it('appenders, compactors and checkpointers lose no commit and duplicate none', async () => {
    const { table, writer, chdbSql, cleanup } = await backend.open();
    try {
      await createTable(table, { schema: SCHEMA, partitionColumns: ['day'], configuration: { 'delta.checkpointInterval': '4' } });
      const model: bigint[] = [];
      await append(table, 'seed', 1, 0, model);
      await append(table, 'seed', 2, 1, model);

      const writers = 4;
      const perWriter = 4;
      const appenders = Array.from({ length: writers }, async (_, w) => {
        const store = writer(w);
        const versions: number[] = [];
        for (let n = 1; n <= perWriter; n++) {
          // Each writer knows only its own last commit: a stale view of the others on purpose.
          const result = await append(store, `w${w}`, n, versions.at(-1) ?? 2, model);
          versions.push(result.version);
          await checkpointIfDue(store, result.version);
        }
        return versions;
      });
      // Two compactors race the appenders and each other: they may conflict, never fail or lose rows.
      const compactors = Array.from({ length: 2 }, async (_, c) => {
        const store = writer(writers + c);
        const results: CompactionResult[] = [];
        for (let i = 0; i < 2; i++) results.push(await compactTable(store));
        return results;
      });
      const appended = await Promise.all(appenders);
      const compactions = (await Promise.all(compactors)).flat();

      for (const r of compactions) expect(['compacted', 'conflict', 'nothing-to-do']).toContain(r.kind);
      const compacted = compactions.filter((r): r is Extract<CompactionResult, { kind: 'compacted' }> => r.kind === 'compacted');
      expect(compacted.length).toBeGreaterThan(0);

      const { latest, txns, snapshot } = await verifyTable(table, model);
      const committedVersions = [...appended.flat(), ...compacted.map((r) => r.version)].sort((a, b) => a - b);
      expect(committedVersions).toEqual(Array.from({ length: latest - 2 }, (_, i) => i + 3));
      for (let w = 0; w < writers; w++) expect(txns.get(`otslake/t/w${w}`)).toEqual([1, 2, 3, 4]);
      expect(txns.get('otslake/t/seed')).toEqual([1, 2]);
      expect(snapshot.checkpointVersion).not.toBeNull();

      const [read] = await runChdb([chdbSql()]);
      if (!read!.ok) throw new Error(`chdb: ${read!.error}`);
      expect(read!.rows.map((r) => r.id)).toEqual([...model].sort((a, b) => (a < b ? -1 : 1)).map(String));
    } finally {
      await cleanup();
    }
  });
});

// ---- OSS faults while a table is being written ----

describe('OSS faults while a table is being written', () => {
  let run = 0;
  let prefix: string;
  const stores: OssStore[] = [];
  /** Multipart from 1 KiB: data files and checkpoints go in parts, commits mostly as single puts. */
  const openStore = (overrides: Partial<OssStoreOptions> = {}) => {
    const s = openTestOssStore(emulator, 'virtual-host', { prefix, multipartThresholdBytes: 1024, partSizeBytes: MIN_PART_BYTES, ...overrides });
    stores.push(s);
    return s;
  };
  beforeEach(() => {
    run += 1;
    prefix = `faults-${run}/table`;
    emulator.reset();
  });
  afterEach(async () => {
    emulator.reset();
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });

  it('random 5xx, drops before and after processing, and timeouts never break the log', async () => {
    const chaos = { requestTimeoutMs: 300, retry: { maxAttempts: 30 } };
    const setup = openStore();
    await createTable(setup, { schema: SCHEMA, partitionColumns: ['day'], configuration: { 'delta.checkpointInterval': '3' } });
    const model: bigint[] = [];

    emulator.faults.setRandom({ errorRate: 0.1, dropBeforeRate: 0.05, dropAfterRate: 0.1 });
    // Requests that outlive the client's timeout: the retry races the original, which lands late.
    // A late `_last_checkpoint` overwrite may even move the hint backwards: readers must not care.
    emulator.faults.inject(
      { kind: 'delay', op: 'CompleteMultipartUpload', keyPrefix: `${prefix}/${LOG_DIR}/0`, delayMs: 600 },
      { kind: 'delay', op: 'CompleteMultipartUpload', keyPrefix: `${prefix}/${checkpointKey(3)}`, delayMs: 600 },
      { kind: 'delay', op: 'PutObject', keyPrefix: `${prefix}/${LAST_CHECKPOINT}`, delayMs: 600 },
      // Versions 1-10 are the two writers' appends, so compaction is the first to read a data file and commits 11.
      { kind: 'delay', op: 'GetObject', keyPrefix: `${prefix}/day=`, delayMs: 600 },
      { kind: 'delay', op: 'CompleteMultipartUpload', keyPrefix: `${prefix}/${commitKey(11)}`, delayMs: 600 },
    );
    const writerA = openStore(chaos);
    const writerB = openStore(chaos);
    const runWriter = async (store: OssStore, name: string, commits: number) => {
      let readVersion = 0;
      for (let n = 1; n <= commits; n++) {
        readVersion = (await append(store, name, n, readVersion, model)).version;
        await checkpointIfDue(store, readVersion);
      }
    };
    await Promise.all([runWriter(writerA, 'a', 5), runWriter(writerB, 'b', 5)]);
    const compaction = await compactTable(writerA);
    expect(compaction).toMatchObject({ kind: 'compacted', version: 11 });
    if (compaction.kind === 'compacted') await checkpointIfDue(writerA, compaction.version);
    let readVersion = compaction.kind === 'compacted' ? compaction.version : 0;
    for (let n = 6; n <= 7; n++) {
      readVersion = (await append(writerB, 'b', n, readVersion, model)).version;
      await checkpointIfDue(writerB, readVersion);
    }

    // Every kind of fault really hit this run; the five delayed requests have been answered.
    const fired = { ...emulator.faults.fired };
    emulator.faults.clear();
    expect(fired.error).toBeGreaterThan(0);
    expect(fired['drop-before']).toBeGreaterThan(0);
    expect(fired['drop-after']).toBeGreaterThan(0);
    expect(fired.delay).toBe(5);
    await recorded(emulator, (r) => r.fault === 'delay', 5);

    const { latest, txns, snapshot } = await verifyTable(setup, model);
    expect(latest).toBe(10 + 1 + 2); // appends, the OPTIMIZE, appends after it
    expect(txns.get('otslake/t/a')).toEqual([1, 2, 3, 4, 5]);
    expect(txns.get('otslake/t/b')).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(snapshot.checkpointVersion).toBe(12);
    for (const v of [3, 6, 9, 12]) expect(await setup.head(checkpointKey(v)), `checkpoint ${v}`).not.toBeNull();

    const [read] = await runChdb([s3Sql(emulator, prefix)]);
    if (!read!.ok) throw new Error(`chdb: ${read!.error}`);
    expect(read!.rows.map((r) => r.id)).toEqual([...model].sort((a, b) => (a < b ? -1 : 1)).map(String));
  });

  /** Commits (a few KiB with stats) below this go as one PutObject. */
  const SINGLE_PUT = { multipartThresholdBytes: 1024 * 1024 };
  const UNSEEN: { name: string; rule: (key: string) => FaultRule; store: Partial<OssStoreOptions>; statuses: (records: RequestRecord[]) => void }[] = [
    {
      name: 'the connection drops after PutObject was processed',
      rule: (key) => ({ kind: 'drop-after', op: 'PutObject', keyPrefix: key }),
      store: SINGLE_PUT,
      statuses: (records) => expect(records.filter((r) => r.op === 'PutObject').map((r) => r.status)).toEqual([0, 409]),
    },
    {
      name: 'the connection drops after CompleteMultipartUpload was processed',
      rule: (key) => ({ kind: 'drop-after', op: 'CompleteMultipartUpload', keyPrefix: key }),
      store: { multipartThresholdBytes: 256 },
      statuses: (records) => expect(records.filter((r) => r.op === 'CompleteMultipartUpload').map((r) => r.status)).toEqual([0, 404]),
    },
    {
      name: 'the put times out and lands after the retry',
      rule: (key) => ({ kind: 'delay', op: 'PutObject', keyPrefix: key, delayMs: 500 }),
      store: { ...SINGLE_PUT, requestTimeoutMs: 200 },
      statuses: (records) =>
        expect(
          records
            .filter((r) => r.op === 'PutObject')
            .map((r) => r.status)
            .sort(),
        ).toEqual([200, 409]),
    },
  ];

  it.each(UNSEEN)('a commit is not duplicated when $name', async ({ rule, store: overrides, statuses }) => {
    const store = openStore(overrides);
    await createTable(store, { schema: SCHEMA, partitionColumns: ['day'] });
    const model: bigint[] = [];
    const key = `${prefix}/${commitKey(1)}`;
    emulator.faults.inject(rule(key));
    expect(await append(store, 'c1', 1, 0, model)).toMatchObject({ kind: 'committed', version: 1, attempts: 1, others: [] });
    statuses(await recorded(emulator, (r) => r.key === key && r.op !== 'HeadObject', 2));
    expect(Object.values(emulator.faults.fired).reduce((a, b) => a + b, 0)).toBe(1);
    // The next commit goes on top, not beside a phantom copy of the first.
    expect(await append(store, 'c1', 2, 1, model)).toMatchObject({ kind: 'committed', version: 2 });
    const { txns } = await verifyTable(store, model);
    expect(txns.get('otslake/t/c1')).toEqual([1, 2]);
  });

  it('a racing writer and an unseen success: both commits land once, in consecutive versions', async () => {
    const setup = openStore();
    await createTable(setup, { schema: SCHEMA, partitionColumns: ['day'] });
    // Whichever writer reaches version 1 first has its success hidden; the other must move to version 2.
    emulator.faults.inject({ kind: 'drop-after', op: 'PutObject', keyPrefix: `${prefix}/${commitKey(1)}` });
    const model: bigint[] = [];
    const results = await Promise.all([append(openStore(SINGLE_PUT), 'x', 1, 0, model), append(openStore(SINGLE_PUT), 'y', 1, 0, model)]);
    expect(results.map((r) => r.version).sort()).toEqual([1, 2]);
    expect(emulator.faults.fired['drop-after']).toBe(1);
    const { latest, txns } = await verifyTable(setup, model);
    expect(latest).toBe(2);
    expect([txns.get('otslake/t/x'), txns.get('otslake/t/y')]).toEqual([[1], [1]]);
  });

  it('checkpoints and compaction commits survive unseen successes and 503s', async () => {
    const store = openStore();
    await createTable(store, { schema: SCHEMA, partitionColumns: ['day'], configuration: { 'delta.checkpointInterval': '2' } });
    const model: bigint[] = [];
    await append(store, 'c', 1, 0, model);
    await append(store, 'c', 2, 1, model);
    emulator.faults.inject(
      { kind: 'error', op: 'UploadPart', keyPrefix: `${prefix}/${checkpointKey(2)}`, status: 503 },
      { kind: 'drop-after', op: 'CompleteMultipartUpload', keyPrefix: `${prefix}/${checkpointKey(2)}` },
    );
    expect(await checkpointIfDue(store, 2)).toMatchObject({ version: 2, written: true });
    expect(JSON.parse(new TextDecoder().decode(await store.get(LAST_CHECKPOINT)))).toMatchObject({ version: 2 });

    emulator.faults.inject(
      { kind: 'error', op: 'GetObject', keyPrefix: `${prefix}/day=`, status: 503 },
      // The OPTIMIZE commit (removes + adds with stats) is above the 1 KiB threshold: a multipart upload.
      { kind: 'drop-after', op: 'CompleteMultipartUpload', keyPrefix: `${prefix}/${commitKey(3)}` },
    );
    expect(await compactTable(store)).toMatchObject({ kind: 'compacted', version: 3 });
    expect(emulator.faults.fired).toMatchObject({ error: 2, 'drop-after': 2 });
    const { latest, snapshot } = await verifyTable(store, model);
    expect(latest).toBe(3);
    expect(snapshot.files.size).toBe(2); // one compacted file per partition
  });
});
