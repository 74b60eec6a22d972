/**
 * The channel task end to end: tablestore-local on 127.0.0.1:0 written through the official SDK,
 * Tunnels created and owned through our TunnelClient/TunnelSession, the task run into a temp local
 * lake (directly, and once on a real piscina thread), Parquet read back with readParquetRows.
 * The emulator answers at most 4 records per ReadRecords, so every task spans several pages.
 */
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '../../common/errors.js';
import { LocalStore } from '../../lake/local-store.js';
import type { ObjectStore } from '../../lake/object-store.js';
import { readOffsetEntry } from '../../lake/offset-log.js';
import { readParquetRows, type ParquetRow } from '../../lake/parquet-read.js';
import { TunnelType } from '../../tunnel/proto.js';
import type { TunnelClient } from '../../tunnel/tunnel-client.js';
import type { TunnelSession } from '../../tunnel/tunnel-session.js';
import { readChannel } from '../../workers/channel-task.js';
import { createWorkerPool } from '../../workers/pool.js';
import {
  createTaskHandler,
  type ChannelTaskInput,
  type ChannelTaskOk,
  type ChannelTaskResult,
  type DeadLetterMeta,
  type WorkerSetup,
} from '../../workers/protocol.js';
import type { WorkerResources } from '../../workers/worker-setup.js';
import { createStreamTable, tablestoreSdk as TS, type TablestoreSdkClient, type TestEmulator } from '../helpers/emulator.js';
import type { TmpDir } from '../helpers/tmp-dir.js';
import { channelTaskInput, startChannelTaskWorld, type ChannelTaskWorld } from '../helpers/channel-task-input.js';

const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);
const BIG = '9007199254740993'; // 2^53 + 1: not representable as a JS number
const SEQ = /^[0-9a-f]{8}:[0-9a-f]{16}:[0-9a-f]{8}$/;

let world: ChannelTaskWorld | undefined;
let emu: TestEmulator;
let sdk: TablestoreSdkClient;
let lake: TmpDir;
let setup: WorkerSetup;
let resources: WorkerResources;

beforeAll(async () => {
  world = await startChannelTaskWorld({ readMaxRecords: 4, rowGroupRows: 1000, lakePrefix: 'otslake-channel-task-' });
  ({ emu, sdk, lake, setup, resources } = world);
});

afterAll(() => world?.close());

/** Creates a tunnel and a session that owns its channels; returns the tunnel id and the session. */
function ownTunnel(table: string, type: TunnelType): Promise<{ tunnelId: string; session: TunnelSession }> {
  return world!.ownTunnel(table, type);
}

async function startChannel(session: TunnelSession): Promise<{ channelId: string; token: string }> {
  if (session.state === 'created') await session.start();
  const [channel] = session.ownedChannels();
  expect(channel).toBeDefined();
  const { token } = await session.getStartToken(channel!.channelId);
  return { channelId: channel!.channelId, token };
}

/** A stream table keyed by `id` holding rows 0..count-1 (attributes by `attributes(i)`), its own tunnel, and its one channel started. */
async function seededStreamChannel(
  table: string,
  count: number,
  attributes: (i: number) => Array<Record<string, unknown>>,
): Promise<{ tunnelId: string; session: TunnelSession; channelId: string; token: string }> {
  await createStreamTable(sdk, table, [{ name: 'id', type: 'INTEGER' }]);
  const { tunnelId, session } = await ownTunnel(table, TunnelType.Stream);
  for (let i = 0; i < count; i++)
    await sdk.putRow({ tableName: table, condition: IGNORE(), primaryKey: [{ id: TS.Long.fromNumber(i) }], attributeColumns: attributes(i) });
  return { tunnelId, session, ...(await startChannel(session)) };
}

/** The two-column key of the composite-key test table, and the columns its tasks write. */
const ID_TAG_KEY: ChannelTaskInput['primaryKey'] = [
  { name: 'id', type: 'INTEGER' },
  { name: 'tag', type: 'STRING' },
];
const ID_TAG_COLUMNS: ChannelTaskInput['columns'] = [
  { name: 'id', type: 'long' },
  { name: 'tag', type: 'string' },
  { name: 'name', type: 'string' },
];

function ok(result: ChannelTaskResult): ChannelTaskOk {
  if (result.kind !== 'ok') throw new Error(`task failed: ${result.error.code} ${result.error.message}`);
  return result;
}

async function rowsOf(tablePath: string, result: ChannelTaskOk): Promise<ParquetRow[]> {
  const rows: ParquetRow[] = [];
  for (const f of result.files) {
    const file = join(lake.path, tablePath, f.path);
    expect((await stat(file)).size).toBe(f.size);
    const fileRows = await readParquetRows(new Uint8Array(await readFile(file)), { file: f.path });
    expect(fileRows).toHaveLength(f.numRecords);
    // hyparquet gives a null list as undefined.
    rows.push(...fileRows.map((r) => ({ ...r, _deleted_columns: r._deleted_columns ?? null })));
  }
  return rows;
}

async function deadLettersOf(tablePath: string, meta: DeadLetterMeta): Promise<Array<Record<string, any>>> {
  const text = await readFile(join(lake.path, tablePath, meta.path), 'utf8');
  return text
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, any>);
}

function fileOf(tablePath: string, result: ChannelTaskOk): string {
  expect(result.files).toHaveLength(1);
  return join(lake.path, tablePath, result.files[0]!.path);
}

async function duckdbRows(sql: string): Promise<Record<string, unknown>[]> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  try {
    const con = await db.connect();
    const rows = (await con.runAndReadAll(sql)).getRowObjectsJS();
    con.closeSync();
    return rows as Record<string, unknown>[];
  } finally {
    db.closeSync();
  }
}

/** `_ts` as µs, whatever form the Parquet reader gives a TIMESTAMP(MICROS) in. */
function micros(v: unknown): number | null {
  if (v === null || v === undefined) return null;
  if (v instanceof Date) return v.getTime() * 1000;
  return Number(v);
}

describe('Stream channel', () => {
  const TABLE = 'orders';
  let tunnelId: string;
  let session: TunnelSession;
  let channelId: string;
  let first: ChannelTaskOk;
  const pk = (id: number, tag: string) => [{ id: TS.Long.fromNumber(id) }, { tag }];

  beforeAll(async () => {
    await createStreamTable(sdk, TABLE, [...ID_TAG_KEY]);
    ({ tunnelId, session } = await ownTunnel(TABLE, TunnelType.Stream));
    await sdk.putRow({
      tableName: TABLE,
      condition: IGNORE(),
      primaryKey: pk(1, 'a'),
      attributeColumns: [{ name: 'ann' }, { qty: TS.Long.fromString(BIG) }, { price: 2.5 }, { paid: true }, { blob: Buffer.from([0, 1, 2, 255]) }],
    });
    await sdk.updateRow({
      tableName: TABLE,
      condition: IGNORE(),
      primaryKey: pk(1, 'a'),
      updateOfAttributeColumns: [{ PUT: [{ name: 'ann2' }] }, { DELETE: [{ qty: TS.Long.fromNumber(1_700_000_000_000) }] }, { DELETE_ALL: ['price'] }],
    });
    await sdk.deleteRow({ tableName: TABLE, condition: IGNORE(), primaryKey: pk(1, 'a') });
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: pk(2, 'b'), attributeColumns: [{ name: 'bob' }] });
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: pk(3, 'c'), attributeColumns: [{ name: 'cy' }] });
    const start = await startChannel(session);
    channelId = start.channelId;
    first = ok(
      await readChannel(
        channelTaskInput({
          table: TABLE,
          tunnelId,
          channelId,
          startToken: start.token,
          clientId: session.clientId!,
          primaryKey: ID_TAG_KEY,
          columns: ID_TAG_COLUMNS,
        }),
        resources,
      ),
    );
  });

  it('lands every change once, with the values in their types and the metadata columns', async () => {
    const rows = await rowsOf(TABLE, first);
    expect(rows.map((r) => `${r._op}:${String(r.id)}${r.tag}`)).toEqual(['PUT:1a', 'UPDATE:1a', 'DELETE:1a', 'PUT:2b', 'PUT:3c']);
    const [put, update, del] = rows as [ParquetRow, ParquetRow, ParquetRow];
    expect(put).toMatchObject({ id: 1n, tag: 'a', name: 'ann', qty: BigInt(BIG), price: 2.5, paid: true, _channel: channelId, _deleted_columns: null });
    // hyparquet decodes plain BYTE_ARRAY as text; DuckDB, an independent reader, shows the bytes and list nulls.
    expect(
      await duckdbRows(
        `SELECT hex(blob) AS h, _deleted_columns IS NULL AS nodel, len(_deleted_columns) AS ndel FROM read_parquet('${fileOf(TABLE, first)}') ORDER BY _seq`,
      ),
    ).toEqual([
      { h: '000102FF', nodel: true, ndel: null },
      { h: null, nodel: false, ndel: 2n },
      { h: null, nodel: true, ndel: null },
      { h: null, nodel: true, ndel: null },
      { h: null, nodel: true, ndel: null },
    ]);
    expect(update).toMatchObject({ name: 'ann2', qty: null, price: null, _deleted_columns: ['qty', 'price'] });
    expect(del).toMatchObject({ id: 1n, tag: 'a', name: null, _deleted_columns: null });
    const seqs = rows.map((r) => r._seq as string);
    expect(seqs.every((s) => SEQ.test(s))).toBe(true);
    expect([...seqs].sort()).toEqual(seqs);
    expect(new Set(seqs).size).toBe(rows.length);
    // _ts is the sequence timestamp (µs), which is also the middle field of _seq.
    // (hyparquet hands timestamps over as Date, ms only: DuckDB reads the µs.)
    const ts = await duckdbRows(`SELECT epoch_us(_ts) AS us, _seq FROM read_parquet('${fileOf(TABLE, first)}') ORDER BY _seq`);
    for (const r of ts) expect(Number(r.us)).toBe(parseInt((r._seq as string).split(':')[1]!, 16));
    expect(ts).toHaveLength(5);
    expect(Math.abs(micros(rows[0]!._ts)! / 1000 - Date.now())).toBeLessThan(60_000);
  });

  it('reports discovered columns with their types, the stats and the last sequence', async () => {
    expect(first.newColumns).toEqual([
      { name: 'qty', type: 'long' },
      { name: 'price', type: 'double' },
      { name: 'paid', type: 'boolean' },
      { name: 'blob', type: 'binary' },
    ]);
    expect(first.deadLetters).toEqual([]);
    expect(first.stats).toMatchObject({ records: 5, rowsWritten: 5, readRequests: 2 });
    expect(first.stats.bytesRead).toBeGreaterThan(0);
    expect(first.stats.bytesWritten).toBe(first.files.reduce((s, f) => s + f.size, 0));
    expect(first.lastSequence).toMatch(SEQ);
    expect(first.stats.lastRecordTimeMs).toBe(Math.floor(parseInt(first.lastSequence!.split(':')[1]!, 16) / 1000));
    expect(first.files[0]!.stats.numRecords).toBe(5);
    expect(first.finished).toBe(false);
  });

  /** The same channel again from a token: the next batch of this stream. */
  const resumeFrom = (startToken: string, batchId: string, committedSeq: number) =>
    channelTaskInput({
      table: TABLE,
      tunnelId,
      channelId,
      startToken,
      clientId: session.clientId!,
      batchId,
      committedSeq,
      primaryKey: ID_TAG_KEY,
      columns: ID_TAG_COLUMNS,
    });

  it('claims the offset entry, whose end token resumes with only newer changes', async () => {
    expect(first.offsetSeq).toBe(1);
    const store = new LocalStore(join(lake.path, TABLE));
    const entry = await readOffsetEntry(store, tunnelId, channelId, 1);
    expect(entry).toMatchObject({ seq: 1, endToken: first.endToken, records: 5, batchId: 'batch-1', lastSequence: first.lastSequence, finished: false });

    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: pk(4, 'd'), attributeColumns: [{ name: 'dee' }] });
    const second = ok(await readChannel(resumeFrom(entry.endToken, 'batch-2', 1), resources));
    expect((await rowsOf(TABLE, second)).map((r) => `${r._op}:${String(r.id)}${r.tag}:${r.name}`)).toEqual(['PUT:4d:dee']);
    expect(second.offsetSeq).toBe(2);
    expect(second.lastSequence! > first.lastSequence!).toBe(true);

    // Nothing new: no files, no entry, the token stays.
    const idle = ok(await readChannel(resumeFrom(second.endToken, 'batch-3', 2), resources));
    expect(idle).toMatchObject({ endToken: second.endToken, files: [], offsetSeq: null, finished: false, stats: { records: 0, readRequests: 1 } });
  });
});

describe('budgets', () => {
  const TABLE = 'paged';

  it('cuts a batch on a page boundary and the next batch continues there', async () => {
    const { tunnelId, session, channelId, token } = await seededStreamChannel(TABLE, 10, (i) => [{ v: TS.Long.fromNumber(i * 10) }]);
    const base = { table: TABLE, tunnelId, channelId, clientId: session.clientId! };
    // 5 records of budget: the first page (4) is under it, so a second page is read whole: 8.
    const a = ok(
      await readChannel(channelTaskInput({ ...base, startToken: token, budget: { maxRecords: 5, maxBytes: 1 << 30, maxDurationMs: 20_000 } }), resources),
    );
    expect(a.stats).toMatchObject({ records: 8, rowsWritten: 8, readRequests: 2 });
    const b = ok(
      await readChannel(
        channelTaskInput({
          ...base,
          startToken: a.endToken,
          committedSeq: a.offsetSeq!,
          batchId: 'b2',
          budget: { maxRecords: 5, maxBytes: 1, maxDurationMs: 20_000 },
        }),
        resources,
      ),
    );
    // A byte budget of 1 still reads one whole page.
    expect(b.stats).toMatchObject({ records: 2, readRequests: 1 });
    const ids = [...(await rowsOf(TABLE, a)), ...(await rowsOf(TABLE, b))].map((r) => Number(r.id));
    expect(ids).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(b.offsetSeq).toBe(2);
  });
});

describe('reading ahead', () => {
  it('requests the next page before it decodes the current one, and none past the record budget', async () => {
    const TABLE = 'ahead';
    const { tunnelId, session, channelId, token } = await seededStreamChannel(TABLE, 10, (i) => [{ v: `v${i}` }]);
    const real = resources.tunnelClient();
    const events: string[] = [];
    let calls = 0;
    // A page notes when the decoder first reads its records' layout (the first thing landing a record reads).
    const client = {
      readRecordPage: async (...args: Parameters<TunnelClient['readRecordPage']>) => {
        const n = ++calls;
        events.push(`request ${n}`);
        const page = await real.readRecordPage(...args);
        const layout = page.layout;
        let noted = false;
        Object.defineProperty(page, 'layout', {
          get: () => {
            if (!noted) events.push(`decode page ${n}`);
            noted = true;
            return layout;
          },
        });
        return page;
      },
    } as unknown as TunnelClient;
    const result = ok(
      await readChannel(
        channelTaskInput({
          table: TABLE,
          tunnelId,
          channelId,
          startToken: token,
          clientId: session.clientId!,
          budget: { maxRecords: 8, maxBytes: 1 << 30, maxDurationMs: 20_000 },
        }),
        { ...resources, tunnelClient: () => client },
      ),
    );
    // Pages of 4: page 2 is asked for before page 1 is decoded; page 2 reaches the budget of 8, so no page 3.
    expect(events).toEqual(['request 1', 'request 2', 'decode page 1', 'decode page 2']);
    expect(result.stats).toMatchObject({ records: 8, rowsWritten: 8, readRequests: 2 });
    expect((await rowsOf(TABLE, result)).map((r) => Number(r.id))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });
});

describe('BaseAndStream: base channel', () => {
  const TABLE = 'snap';

  it('reads the snapshot to "finished"; a finished start token returns at once', async () => {
    await createStreamTable(sdk, TABLE, [{ name: 'id', type: 'INTEGER' }]);
    for (let i = 1; i <= 6; i++)
      await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: [{ id: TS.Long.fromNumber(i) }], attributeColumns: [{ name: `n${i}` }] });
    const before = Date.now();
    const { tunnelId, session } = await ownTunnel(TABLE, TunnelType.BaseAndStream);
    const { channelId, token } = await startChannel(session);
    expect(channelId.startsWith('BaseData_')).toBe(true);
    const result = ok(
      await readChannel(
        channelTaskInput({
          table: TABLE,
          tunnelId,
          channelId,
          startToken: token,
          clientId: session.clientId!,
          columns: [
            { name: 'id', type: 'long' },
            { name: 'name', type: 'string' },
          ],
        }),
        resources,
      ),
    );
    expect(result).toMatchObject({ finished: true, endToken: 'finished', offsetSeq: 1, lastSequence: null, newColumns: [] });
    const rows = await rowsOf(TABLE, result);
    expect(rows.map((r) => Number(r.id))).toEqual([1, 2, 3, 4, 5, 6]);
    for (const r of rows) {
      expect(r).toMatchObject({ _op: 'PUT', _seq: null, _channel: channelId, _deleted_columns: null });
      // Base rows: the newest cell timestamp (ms) × 1000.
      expect(micros(r._ts)! % 1000).toBe(0);
      expect(micros(r._ts)! / 1000).toBeGreaterThan(before - 60_000);
    }
    const entry = await readOffsetEntry(new LocalStore(join(lake.path, TABLE)), tunnelId, channelId, 1);
    expect(entry).toMatchObject({ endToken: 'finished', finished: true, records: 6 });

    const again = ok(
      await readChannel(
        channelTaskInput({ table: TABLE, tunnelId, channelId, startToken: 'finished', clientId: session.clientId!, committedSeq: 1 }),
        resources,
      ),
    );
    expect(again).toMatchObject({ finished: true, endToken: 'finished', offsetSeq: null, files: [], stats: { readRequests: 0, records: 0 } });
  });
});

describe('bad input', () => {
  it('dead-letters a corrupt record, a wrong type, an unknown column and an oversized row; lands the rest', async () => {
    const TABLE = 'dirty';
    await createStreamTable(sdk, TABLE, [{ name: 'id', type: 'INTEGER' }]);
    const { tunnelId, session } = await ownTunnel(TABLE, TunnelType.Stream);
    const put = (id: number, cols: Array<Record<string, unknown>>) =>
      sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: [{ id: TS.Long.fromNumber(id) }], attributeColumns: cols });
    await put(0, [{ name: 'corrupted' }]);
    await put(1, [{ name: 'one' }, { n: TS.Long.fromNumber(1) }]);
    await put(2, [{ name: 'two' }, { n: 'not-a-number' }, { blob: Buffer.from([9, 8, 7]) }]);
    await put(3, [{ name: 'three' }, { extra: 'surprise' }]);
    await put(4, [{ name: 'x'.repeat(600) }]);
    await put(5, [{ name: 'five' }, { n: TS.Long.fromString(BIG) }]);
    const { channelId, token } = await startChannel(session);
    emu.emulator.tunnel.tamper.corruptNext(channelId, 1);

    const result = ok(
      await readChannel(
        channelTaskInput({
          table: TABLE,
          tunnelId,
          channelId,
          startToken: token,
          clientId: session.clientId!,
          batchId: 'dirty-batch',
          columns: [
            { name: 'id', type: 'long' },
            { name: 'name', type: 'string' },
            { name: 'n', type: 'long' },
            { name: 'blob', type: 'binary' },
          ],
          discoverColumns: false,
          maxRowBytes: 400,
        }),
        resources,
      ),
    );

    const rows = await rowsOf(TABLE, result);
    expect(rows.map((r) => [Number(r.id), r.name, r.n])).toEqual([
      [1, 'one', 1n],
      [5, 'five', BigInt(BIG)],
    ]);
    expect(result.stats).toMatchObject({ records: 6, rowsWritten: 2 });
    expect(result.newColumns).toEqual([]);
    expect(result.offsetSeq).toBe(1);
    expect(result.deadLetters).toHaveLength(1);
    const meta = result.deadLetters[0]!;
    expect(meta.path).toBe(`_otslake/dead-letters/${encodeURIComponent(channelId)}/dirty-batch.jsonl`);
    expect(meta.rows).toBe(4);
    expect(meta.reasons).toEqual({ 'corrupt-record': 1, 'type-mismatch': 1, 'unknown-column': 1, 'oversized-row': 1 });

    const lines = await deadLettersOf(TABLE, meta);
    const by = Object.fromEntries(lines.map((l) => [l.reason as string, l]));
    expect(by['corrupt-record']).toMatchObject({ channelId, token, recordIndex: 0, actionType: 'PUT_ROW', error: { code: 'OTSL_DECODE_CORRUPT_RECORD' } });
    expect(by['corrupt-record']!.error.message).toMatch(/checksum/);
    expect(Buffer.from(by['corrupt-record']!.record as string, 'base64').length).toBeGreaterThan(20);
    expect(by['type-mismatch']).toMatchObject({ column: 'n', expectedType: 'long', actualType: 'STRING', recordIndex: 2 });
    expect(by['type-mismatch']!.row).toMatchObject({ id: '2', name: 'two', n: 'not-a-number', blob: Buffer.from([9, 8, 7]).toString('base64') });
    expect(by['type-mismatch']!.meta).toMatchObject({ op: 'PUT' });
    expect(by['type-mismatch']!.meta.seq).toMatch(SEQ);
    expect(by['type-mismatch']!.types).toMatchObject({ id: 'INTEGER', n: 'STRING', blob: 'BINARY' });
    expect(by['unknown-column']).toMatchObject({ column: 'extra', actualType: 'STRING', row: { id: '3', extra: 'surprise' } });
    expect(by['oversized-row']).toMatchObject({ recordIndex: 0, bytes: expect.any(Number) });
    expect(by['oversized-row']!.bytes).toBeGreaterThan(400);
    // The oversized record's bytes are kept whole: it still decodes to the row that was written.
    expect(Buffer.from(by['oversized-row']!.record as string, 'base64').includes(Buffer.from('x'.repeat(600)))).toBe(true);
  });

  it('dead-letters a value whose type contradicts the first type seen in the batch (discovery on)', async () => {
    const TABLE = 'drift';
    await createStreamTable(sdk, TABLE, [{ name: 'id', type: 'INTEGER' }]);
    const { tunnelId, session } = await ownTunnel(TABLE, TunnelType.Stream);
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: [{ id: TS.Long.fromNumber(1) }], attributeColumns: [{ k: TS.Long.fromNumber(7) }] });
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: [{ id: TS.Long.fromNumber(2) }], attributeColumns: [{ k: 'seven' }] });
    await sdk.putRow({
      tableName: TABLE,
      condition: IGNORE(),
      primaryKey: [{ id: TS.Long.fromNumber(3) }],
      attributeColumns: [{ k: TS.Long.fromNumber(8) }, { later: true }],
    });
    const { channelId, token } = await startChannel(session);
    const result = ok(await readChannel(channelTaskInput({ table: TABLE, tunnelId, channelId, startToken: token, clientId: session.clientId! }), resources));
    expect(result.newColumns).toEqual([
      { name: 'k', type: 'long' },
      { name: 'later', type: 'boolean' },
    ]);
    const rows = await rowsOf(TABLE, result);
    // A column discovered mid-batch starts a new file; the earlier file lacks it (read as null).
    expect(rows.map((r) => [Number(r.id), r.k, r.later ?? null])).toEqual([
      [1, 7n, null],
      [3, 8n, true],
    ]);
    expect(result.files).toHaveLength(2);
    const lines = await deadLettersOf(TABLE, result.deadLetters[0]!);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ reason: 'type-mismatch', column: 'k', expectedType: 'long', actualType: 'STRING', row: { id: '2', k: 'seven' } });
  });

  it('fails with a typed error, as data, when the task itself is malformed', async () => {
    const result = await readChannel(
      channelTaskInput({ table: 'x', tunnelId: 't', channelId: 'c', startToken: 'tok', clientId: 'c1', mode: 'mirror' }),
      resources,
    ).catch((err: unknown) => err);
    expect(hasCode(result, 'OTSL_CONFIG_INVALID')).toBe(true);
    const bad = await readChannel(
      channelTaskInput({
        table: 'x',
        tunnelId: 't',
        channelId: 'c',
        startToken: 'tok',
        clientId: 'c1',
        budget: { maxRecords: 0, maxBytes: 1, maxDurationMs: 1 },
      }),
      resources,
    ).catch((err: unknown) => err);
    expect(hasCode(bad, 'OTSL_CONFIG_INVALID')).toBe(true);
    expect((bad as Error).message).toMatch(/budget\.maxRecords/);
  });
});

describe('a failing read', () => {
  it('fails as data with the task context and leaves no data file and no offset entry behind', async () => {
    const TABLE = 'flaky';
    const { tunnelId, session, channelId, token } = await seededStreamChannel(TABLE, 8, (i) => [{ s: `v${i}` }]);
    const real = resources.tunnelClient();
    let reads = 0;
    // The second ReadRecords meets a real server error (not retriable), after the first page's files were written.
    const client = {
      readRecordPage: async (...args: Parameters<TunnelClient['readRecordPage']>) => {
        if (++reads === 2) emu.emulator.faults.set({ path: '/tunnel/readrecords', errorRate: 1, errorStatus: 400, errorCode: 'OTSParameterInvalid', times: 1 });
        return real.readRecordPage(...args);
      },
    } as unknown as TunnelClient;
    // Row groups of 2 rows and a 1-byte target: every row group becomes its own uploaded file.
    const store = resources.tableStore(TABLE);
    const deleted: string[] = [];
    const watched = Object.assign(Object.create(store) as ObjectStore, {
      delete: (key: string, options?: { signal?: AbortSignal }) => {
        deleted.push(key);
        return store.delete(key, options);
      },
    });
    const flaky: WorkerResources = { ...resources, rowGroupRows: 2, tunnelClient: () => client, tableStore: () => watched };
    const handler = createTaskHandler({ 'read-channel': (input) => readChannel(input, flaky) });
    const result = await handler(
      channelTaskInput({ table: TABLE, tunnelId, channelId, startToken: token, clientId: session.clientId!, targetFileBytes: 1, batchId: 'flaky-batch' }),
    );
    expect(reads).toBe(2);
    expect(result.kind).toBe('failed');
    if (result.kind !== 'failed') return;
    expect(result.error).toMatchObject({ code: 'OTSL_TUNNEL_SERVER', context: { table: TABLE, channelId, batchId: 'flaky-batch' } });
    // Files had been uploaded (page 1: 4 rows, 2 files) and were removed again.
    expect(deleted.length).toBeGreaterThanOrEqual(2);
    expect(deleted.every((k) => k.endsWith('.zstd.parquet'))).toBe(true);
    const left = await new LocalStore(join(lake.path, TABLE)).list('');
    expect(left.map((m) => m.key)).toEqual([]);
  });
});

describe('on a real worker thread', () => {
  it('runs the task through the pool with the setup from workerData', async () => {
    const TABLE = 'threaded';
    const { tunnelId, session, channelId, token } = await seededStreamChannel(TABLE, 3, (i) => [{ s: `v${i}` }]);
    const pool = createWorkerPool({ filename: new URL('../../workers/entry.ts', import.meta.url), threads: 1, workerData: setup });
    try {
      const outcome = await pool.run(channelTaskInput({ table: TABLE, tunnelId, channelId, startToken: token, clientId: session.clientId! }));
      const result = ok(
        outcome.kind === 'ok'
          ? outcome
          : { kind: 'failed', error: { code: outcome.error.code, message: outcome.error.message, retriable: false, context: {} } },
      );
      expect(result.newColumns).toEqual([{ name: 's', type: 'string' }]);
      expect((await rowsOf(TABLE, result)).map((r) => r.s)).toEqual(['v0', 'v1', 'v2']);
      expect(result.offsetSeq).toBe(1);
      // A handled failure crosses the boundary as data with its code: a token of another channel.
      const failed = await pool.run(channelTaskInput({ table: TABLE, tunnelId, channelId: 'no-such-channel', startToken: token, clientId: session.clientId! }));
      expect(failed.kind).toBe('failed');
      if (failed.kind === 'failed') expect(failed.error.code).toMatch(/^OTSL_TUNNEL_/);
    } finally {
      await pool.close();
    }
  });
});
