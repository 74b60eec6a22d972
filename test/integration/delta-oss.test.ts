/**
 * Delta tables written by otslake through `ali-oss` into the OSS emulator (both addressing styles),
 * read back by an independent reader — chdb's delta-kernel-rs over the S3 protocol (`deltaLakeS3`) —
 * and by otslake's own reader (loadSnapshot + the data files), at every version. The history holds
 * appends, a schema addition, a copy-on-write remove, checkpoints and a compaction, and the store's
 * multipart threshold is low so that data files and checkpoints travel as multipart uploads.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OssEmulator } from '../../emulator/oss/server.js';
import { parseSchema, type Action, type StructType } from '../../lake/actions.js';
import { checkpointIfDue } from '../../lake/checkpoint-writer.js';
import { compactTable } from '../../lake/compaction.js';
import { checkpointKey, commitKey } from '../../lake/log-path.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { MIN_PART_BYTES } from '../../lake/oss-client.js';
import type { OssStore } from '../../lake/oss-store.js';
import { dataColumnsOf } from '../../lake/parquet-columns.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { readParquetRows } from '../../lake/parquet-read.js';
import { decodeFilePath, loadSnapshot } from '../../lake/snapshot.js';
import { addColumns, createTable } from '../../lake/table-create.js';
import { addActionFor, commit, removeActionFor, txnAction } from '../../lake/transaction.js';
import { runChdb } from '../helpers/chdb.js';
import { ADDRESSING_STYLES, openTestOssStore, startTestOss, type Addressing } from '../helpers/oss.js';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
    { name: 'amount', type: 'double', nullable: true, metadata: {} },
    { name: '_ts', type: 'timestamp', nullable: true, metadata: {} },
    { name: 'day', type: 'string', nullable: true, metadata: {} },
  ],
};

interface Row {
  id: bigint;
  name: string | null;
  amount: number | null;
  _ts: bigint | null;
  day: string;
  note?: string | null;
}

const BASE = 2n ** 53n + 11n; // beyond double precision: ids must survive as exact int64
function makeRow(i: number, day: string, note?: string | null): Row {
  return {
    id: BASE + BigInt(i),
    name: i % 4 === 0 ? null : `name ${i}`,
    amount: i % 5 === 0 ? null : i * 0.25,
    _ts: i % 7 === 0 ? null : 1_700_000_000_000_001n + BigInt(i) * 1_000_003n,
    day,
    ...(note === undefined ? {} : { note }),
  };
}

/** µs since the epoch as chdb prints a DateTime64(6) in UTC. */
function formatMicros(us: bigint): string {
  const iso = new Date(Number(us / 1000n)).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}${String(us % 1000n).padStart(3, '0')}`;
}

/** One comparable shape for every reader: what chdb's JSONEachRow prints (Int64 quoted). */
function view(r: Row, withNote: boolean): Record<string, unknown> {
  const out: Record<string, unknown> = { id: String(r.id), name: r.name, amount: r.amount, _ts: r._ts === null ? null : formatMicros(r._ts), day: r.day };
  if (withNote) out.note = r.note ?? null;
  return out;
}

const byId = (a: Row, b: Row) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);

interface History {
  /** Live rows after each version. */
  versions: Row[][];
  /** First version whose schema has `note`. */
  noteFrom: number;
  checkpoints: number[];
  compactedAt: number;
}

/**
 * v0 create (checkpoint every 3) · v1, v2 appends with a txn · v3 adds column `note` with its first
 * rows · v4 copy-on-write delete of a file's even ids · v5 append · v6 compaction · v7 append.
 */
async function writeHistory(store: ObjectStore): Promise<History> {
  // Its files leave the partition column out, as the files of tables created before materializePartitionColumns.
  const created = await createTable(store, {
    schema: SCHEMA,
    partitionColumns: ['day'],
    materializePartitionColumns: false,
    configuration: { 'delta.checkpointInterval': '3' },
  });
  expect(created).toMatchObject({ kind: 'committed', version: 0 });
  let metadata = created.metadata;
  const versions: Row[][] = [[]];
  const checkpoints: number[] = [];
  let live: Row[] = [];
  let version = 0;

  const land = async (actions: Action[], operation: string, next: Row[]) => {
    const result = await commit(store, actions, { readVersion: version, readMetadata: metadata, operation });
    expect(result).toMatchObject({ kind: 'committed', version: version + 1 });
    version += 1;
    live = next;
    versions.push([...live].sort(byId));
    const cp = await checkpointIfDue(store, version, metadata);
    if (cp) checkpoints.push(cp.version);
  };
  const writeFiles = async (rows: Row[]) => {
    const columns = dataColumnsOf(parseSchema(metadata.schemaString), ['day']);
    const adds: Action[] = [];
    for (const day of [...new Set(rows.map((r) => r.day))]) {
      const files = await writeParquetFiles(rows.filter((r) => r.day === day) as unknown as Record<string, unknown>[], {
        store,
        columns,
        partitionValues: { day },
      });
      adds.push(...files.map((f) => addActionFor(f)));
    }
    return adds;
  };

  const rows1 = Array.from({ length: 40 }, (_, i) => makeRow(i, i % 2 ? 'd1' : 'd2'));
  await land([txnAction('otslake/t/c1', 1), ...(await writeFiles(rows1))], 'STREAMING UPDATE', rows1);
  const rows2 = Array.from({ length: 30 }, (_, i) => makeRow(100 + i, i % 3 ? 'd1' : 'd2'));
  await land([txnAction('otslake/t/c1', 2), ...(await writeFiles(rows2))], 'STREAMING UPDATE', [...live, ...rows2]);

  // Schema addition: the new nullable column rides with the commit of its first file.
  const withNote = addColumns(metadata, [{ name: 'note', type: 'string' }]);
  const noteFrom = version + 1;
  metadata = withNote;
  const rows3 = Array.from({ length: 20 }, (_, i) => makeRow(200 + i, 'd3', i % 3 ? `note ${i}` : null));
  await land([{ metaData: withNote }, txnAction('otslake/t/c1', 3), ...(await writeFiles(rows3))], 'STREAMING UPDATE', [...live, ...rows3]);

  // Copy-on-write remove: the d1 file of v1 is replaced by one without its even ids.
  const v1Files = [...(await loadSnapshot(store, { version: 1 })).files.values()];
  const victim = v1Files.find((a) => a.partitionValues.day === 'd1')!;
  const kept = rows1.filter((r) => r.day === 'd1' && r.id % 2n === 1n).map((r) => ({ ...r, note: null }));
  const gone = new Set(rows1.filter((r) => r.day === 'd1' && r.id % 2n === 0n).map((r) => r.id));
  await land(
    [removeActionFor(victim, { dataChange: true }), ...(await writeFiles(kept))],
    'DELETE',
    live.filter((r) => !gone.has(r.id)),
  );

  const rows5 = Array.from({ length: 10 }, (_, i) => makeRow(300 + i, i % 2 ? 'd1' : 'd2', `late ${i}`));
  await land([txnAction('otslake/t/c1', 4), ...(await writeFiles(rows5))], 'STREAMING UPDATE', [...live, ...rows5]);

  const compacted = await compactTable(store);
  expect(compacted).toMatchObject({ kind: 'compacted', version: version + 1 });
  version += 1;
  versions.push([...live].sort(byId));
  const cp6 = await checkpointIfDue(store, version, metadata);
  if (cp6) checkpoints.push(cp6.version);
  const compactedAt = version;

  const rows7 = Array.from({ length: 5 }, (_, i) => makeRow(400 + i, 'd2', null));
  await land([txnAction('otslake/t/c1', 5), ...(await writeFiles(rows7))], 'STREAMING UPDATE', [...live, ...rows7]);
  return { versions, noteFrom, checkpoints, compactedAt };
}

/** otslake's own read of a version: the snapshot's live files, decoded exactly (int64 and µs kept). */
async function readOwn(store: ObjectStore, version?: number): Promise<Row[]> {
  const snapshot = await loadSnapshot(store, version === undefined ? {} : { version });
  const out: Row[] = [];
  for (const add of snapshot.files.values()) {
    const key = decodeFilePath(add.path);
    const rows = await readParquetRows(await store.get(key), { file: key, parsers: { timestampFromMicroseconds: (us: bigint) => us } });
    for (const r of rows) {
      out.push({
        id: r.id as bigint,
        name: (r.name ?? null) as string | null,
        amount: (r.amount ?? null) as number | null,
        _ts: (r._ts ?? null) as bigint | null,
        day: add.partitionValues.day!,
        note: (r.note ?? null) as string | null,
      });
    }
  }
  return out.sort(byId);
}

function s3Sql(emulator: OssEmulator, prefix: string, version?: number): string {
  const settings = [
    "session_timezone='UTC'",
    'output_format_json_quote_64bit_integers=1',
    ...(version === undefined ? [] : [`delta_lake_snapshot_version=${version}`]),
  ];
  return `SELECT * FROM deltaLakeS3('${emulator.endpoint}/${emulator.bucket}/${prefix}/', 'ak', 'sk') ORDER BY id SETTINGS ${settings.join(', ')}`;
}

let emulator: OssEmulator;
const tables = new Map<Addressing, { store: OssStore; prefix: string; history: History }>();

beforeAll(async () => {
  emulator = await startTestOss('otslake-delta');
  for (const addressing of ADDRESSING_STYLES) {
    const prefix = `tables/${addressing}/orders`;
    // A 1 KiB threshold sends every data file and checkpoint as a multipart upload; small commits stay single puts.
    const store = openTestOssStore(emulator, addressing, { prefix, multipartThresholdBytes: 1024, partSizeBytes: MIN_PART_BYTES });
    tables.set(addressing, { store, prefix, history: await writeHistory(store) });
  }
});

afterAll(async () => {
  for (const t of tables.values()) await t.store.close();
  await emulator?.close();
});

describe.each(ADDRESSING_STYLES)('a Delta table on OSS written with %s addressing', (addressing) => {
  it('used single puts for the log and multipart uploads for data files and checkpoints', () => {
    const { prefix, history } = tables.get(addressing)!;
    expect(history.checkpoints).toEqual([3, 6]);
    const completed = emulator.requests
      .filter((r) => r.op === 'CompleteMultipartUpload' && r.status === 200 && r.key.startsWith(`${prefix}/`))
      .map((r) => r.key);
    expect(completed).toContain(`${prefix}/${checkpointKey(3)}`);
    expect(completed).toContain(`${prefix}/${checkpointKey(6)}`);
    expect(completed.some((k) => k.startsWith(`${prefix}/day=d1/`) && k.endsWith('.parquet'))).toBe(true);
    expect(emulator.requests.some((r) => r.op === 'PutObject' && r.status === 200 && r.key === `${prefix}/${commitKey(0)}`)).toBe(true);
  });

  it("is read back by otslake's own reader at every version, also through the other addressing style", async () => {
    const { store, prefix, history } = tables.get(addressing)!;
    for (let v = 0; v < history.versions.length; v++) {
      const want = history.versions[v]!.map((r) => view(r, true));
      expect(
        (await readOwn(store, v)).map((r) => view(r, true)),
        `version ${v}`,
      ).toEqual(want);
    }
    const other = ADDRESSING_STYLES.find((a) => a !== addressing)!;
    const crossStore = openTestOssStore(emulator, other, { prefix });
    try {
      const snapshot = await loadSnapshot(crossStore);
      expect(snapshot).toMatchObject({ version: history.versions.length - 1, checkpointVersion: 6 });
      expect(snapshot.txns.get('otslake/t/c1')?.version).toBe(5);
      expect((await readOwn(crossStore)).map((r) => view(r, true))).toEqual(history.versions.at(-1)!.map((r) => view(r, true)));
    } finally {
      await crossStore.close();
    }
  });
});

describe("chdb's delta-kernel-rs reading the same tables over the S3 protocol", () => {
  it('returns equal rows at every version, with the schema addition and from the checkpoints', async () => {
    const queries: { addressing: Addressing; version: number | undefined; sql: string }[] = [];
    for (const [addressing, { prefix, history }] of tables) {
      for (let v = 0; v < history.versions.length; v++) queries.push({ addressing, version: v, sql: s3Sql(emulator, prefix, v) });
      queries.push({ addressing, version: undefined, sql: s3Sql(emulator, prefix) });
    }
    const describeSql = `DESCRIBE deltaLakeS3('${emulator.endpoint}/${emulator.bucket}/${tables.get('path')!.prefix}/', 'ak', 'sk')`;
    const seenBefore = emulator.requests.length;
    const out = await runChdb([...queries.map((q) => q.sql), describeSql]);
    const chdbRequests = emulator.requests.slice(seenBefore);

    queries.forEach((q, i) => {
      const { history } = tables.get(q.addressing)!;
      const version = q.version ?? history.versions.length - 1;
      const got = out[i]!;
      if (!got.ok) throw new Error(`${q.addressing} version ${q.version ?? 'latest'}: ${got.error}`);
      const want = history.versions[version]!.map((r) => view(r, version >= history.noteFrom));
      expect(got.rows, `${q.addressing} version ${q.version ?? 'latest'}`).toEqual(want);
    });
    const described = out[queries.length]!;
    expect(described.ok && described.rows.map((r) => `${r.name}:${r.type}`)).toEqual([
      'id:Int64',
      'name:Nullable(String)',
      'amount:Nullable(Float64)',
      '_ts:Nullable(DateTime64(6))',
      'day:Nullable(String)',
      'note:Nullable(String)',
    ]);
    // The latest snapshot came from checkpoint 6, uploaded in parts by ali-oss, not from replaying JSON alone.
    for (const { prefix } of tables.values()) {
      expect(chdbRequests.some((r) => r.op === 'GetObject' && r.key === `${prefix}/${checkpointKey(6)}` && (r.status === 200 || r.status === 206))).toBe(true);
    }
  });
});
