/**
 * tablestore-local's table API driven by the official `tablestore` SDK, unchanged, as the client.
 * The SDK cannot parse protobuf error bodies: it reports the HTTP status as `code` and the raw body
 * (which holds the service's error code as text) in `message`, so errors are checked on both.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTablestoreEmulator, type TablestoreEmulator } from '../../emulator/tablestore/index.js';

const require = createRequire(import.meta.url);
const TableStore: any = require('tablestore');

const INSTANCE = 'testinst';
const AK = 'test-ak-id';
const SK = 'test-ak-secret';
/** The emulator's admin endpoints want its own key pair. */
const ADMIN = { 'x-otslake-admin': `${AK}:${SK}` };

type Client = any;

function client(endpoint: string, overrides: Record<string, string> = {}): Client {
  return new TableStore.Client({ accessKeyId: AK, secretAccessKey: SK, endpoint, instancename: INSTANCE, maxRetries: 0, ...overrides });
}

const ignore = () => new TableStore.Condition(TableStore.RowExistenceExpectation.IGNORE, null);
const expectExist = () => new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_EXIST, null);
const expectNotExist = () => new TableStore.Condition(TableStore.RowExistenceExpectation.EXPECT_NOT_EXIST, null);
const long = (n: number | string) => (typeof n === 'string' ? TableStore.Long.fromString(n) : TableStore.Long.fromNumber(n));

async function createTable(c: Client, name: string, primaryKey: Array<{ name: string; type: string }>, maxVersions = 1, stream = true) {
  return c.createTable({
    tableMeta: { tableName: name, primaryKey },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions },
    ...(stream ? { streamSpecification: { enableStream: true, expirationTime: 24 } } : {}),
  });
}

async function failure(p: Promise<unknown>): Promise<{ code: unknown; message: string }> {
  const err = await p.then(
    () => null,
    (e: { code: unknown; message: string }) => e,
  );
  if (err === null) throw new Error('expected the call to fail');
  return err;
}

/** attributes → { name: value } with Int64 as decimal strings and Buffers as hex. */
function attrs(row: { attributes?: Array<{ columnName: string; columnValue: unknown }> }): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of row.attributes ?? []) {
    const v = a.columnValue as { toString(radix?: number): string } | unknown;
    out[a.columnName] = Buffer.isBuffer(v) ? `hex:${v.toString('hex')}` : v instanceof TableStore.Long.fromNumber(0).constructor ? (v as object).toString() : v;
  }
  return out;
}

function signedHeaders(pathName: string, body: Uint8Array, secret = SK): Record<string, string> {
  const headers: Record<string, string> = {
    'x-ots-date': new Date().toISOString(),
    'x-ots-apiversion': '2015-12-31',
    'x-ots-accesskeyid': AK,
    'x-ots-instancename': INSTANCE,
    'x-ots-contentmd5': createHash('md5').update(body).digest('base64'),
  };
  const canonical = Object.keys(headers)
    .sort()
    .map((k) => `${k}:${headers[k]}\n`)
    .join('');
  headers['x-ots-signature'] = createHmac('sha1', secret).update(`${pathName}\nPOST\n\n${canonical}`).digest('base64');
  return headers;
}

describe('tablestore-local table API with the official SDK', () => {
  let emu: TablestoreEmulator;
  let c: Client;

  beforeAll(async () => {
    emu = await startTablestoreEmulator({ instance: INSTANCE, accessKeyId: AK, accessKeySecret: SK, partitionsPerTable: 2 });
    c = client(emu.endpoint);
    await createTable(c, 'types', [
      { name: 'id', type: 'STRING' },
      { name: 'n', type: 'INTEGER' },
    ]);
    await createTable(c, 'versions', [{ name: 'k', type: 'INTEGER' }], 3);
    await createTable(
      c,
      'ranged',
      [
        { name: 'g', type: 'STRING' },
        { name: 'i', type: 'INTEGER' },
      ],
      1,
      false,
    );
  });

  afterAll(async () => {
    await emu?.close();
  });

  it('creates, describes, lists and deletes tables', async () => {
    const d = await c.describeTable({ tableName: 'types' });
    expect(d.tableMeta.primaryKey.map((c: { name: string; type: number }) => [c.name, c.type])).toEqual([
      ['id', 2],
      ['n', 1],
    ]);
    expect(d.tableStatus).toBe(1); // ACTIVE
    expect(d.tableOptions.maxVersions).toBe(1);
    expect(d.streamDetails.enableStream).toBe(true);
    expect(d.streamDetails.streamId).toMatch(/^[0-9a-f-]{36}$/);
    expect(d.streamDetails.expirationTime).toBe(24);
    expect((await c.describeTable({ tableName: 'ranged' })).streamDetails.enableStream).toBe(false);

    await createTable(c, 'doomed', [{ name: 'id', type: 'BINARY' }]);
    expect((await c.listTable({})).tableNames.sort()).toEqual(['doomed', 'ranged', 'types', 'versions']);
    const dup = await failure(createTable(c, 'doomed', [{ name: 'id', type: 'BINARY' }]));
    expect(dup.code).toBe(409);
    expect(dup.message).toContain('OTSObjectAlreadyExist');
    await c.deleteTable({ tableName: 'doomed' });
    expect((await c.listTable({})).tableNames).not.toContain('doomed');
    const gone = await failure(c.describeTable({ tableName: 'doomed' }));
    expect(gone.code).toBe(404);
    expect(gone.message).toContain('OTSObjectNotExist');
    const bad = await failure(createTable(c, 'bad-name', [{ name: 'id', type: 'STRING' }]));
    expect(bad.code).toBe(400);
    expect(bad.message).toContain('OTSParameterInvalid');
  });

  it('puts and gets every type, INTEGER beyond 2^53 and column timestamps included', async () => {
    const pk = [{ id: 'row-1' }, { n: long('-9007199254740993') }];
    await c.putRow({
      tableName: 'types',
      condition: ignore(),
      primaryKey: pk,
      attributeColumns: [
        { i: long('9007199254740993') },
        { d: 3.25 },
        { b: true },
        { s: 'héllo' },
        { bin: Buffer.from([0, 1, 254]) },
        { stamped: 'v', timestamp: 1_600_000_000_123 },
      ],
    });
    const { row } = await c.getRow({ tableName: 'types', primaryKey: pk });
    expect(row.primaryKey[0]).toEqual({ name: 'id', value: 'row-1' });
    expect(row.primaryKey[1].value.toString()).toBe('-9007199254740993');
    expect(attrs(row)).toEqual({ b: true, bin: 'hex:0001fe', d: 3.25, i: '9007199254740993', s: 'héllo', stamped: 'v' });
    const stamped = row.attributes.find((a: { columnName: string }) => a.columnName === 'stamped');
    expect(stamped.timestamp.toString()).toBe('1600000000123');

    const some = await c.getRow({ tableName: 'types', primaryKey: pk, columnsToGet: ['s', 'missing'] });
    expect(attrs(some.row)).toEqual({ s: 'héllo' });
    const none = await c.getRow({ tableName: 'types', primaryKey: [{ id: 'nope' }, { n: long(0) }] });
    expect(none.row).toEqual({});

    const wrongType = await failure(c.getRow({ tableName: 'types', primaryKey: [{ id: 'x' }, { n: 'not-an-int' }] }));
    expect(wrongType.code).toBe(400);
    expect(wrongType.message).toContain('OTSParameterInvalid');
  });

  it('updates with put, delete-one-version and delete-all-versions', async () => {
    const pk = [{ k: long(1) }];
    await c.putRow({ tableName: 'versions', condition: ignore(), primaryKey: pk, attributeColumns: [{ a: 'v1', timestamp: 1000 }, { keep: 1.5 }] });
    await c.updateRow({
      tableName: 'versions',
      condition: expectExist(),
      primaryKey: pk,
      updateOfAttributeColumns: [{ PUT: [{ a: 'v2', timestamp: 2000 }, { b: false }] }],
    });
    let { row } = await c.getRow({ tableName: 'versions', primaryKey: pk, maxVersions: 3 });
    const aVersions = row.attributes.filter((x: { columnName: string }) => x.columnName === 'a');
    expect(aVersions.map((x: { columnValue: string; timestamp: { toString(): string } }) => [x.columnValue, x.timestamp.toString()])).toEqual([
      ['v2', '2000'],
      ['v1', '1000'],
    ]);
    // max_versions 1 (the SDK default) shows the newest version only
    expect(attrs((await c.getRow({ tableName: 'versions', primaryKey: pk })).row)).toEqual({ a: 'v2', b: false, keep: 1.5 });

    await c.updateRow({ tableName: 'versions', condition: ignore(), primaryKey: pk, updateOfAttributeColumns: [{ DELETE: [{ a: long(2000) }] }] });
    ({ row } = await c.getRow({ tableName: 'versions', primaryKey: pk, maxVersions: 3 }));
    expect(attrs(row)).toEqual({ a: 'v1', b: false, keep: 1.5 });

    await c.updateRow({ tableName: 'versions', condition: ignore(), primaryKey: pk, updateOfAttributeColumns: [{ DELETE_ALL: ['a', 'b'] }] });
    ({ row } = await c.getRow({ tableName: 'versions', primaryKey: pk, maxVersions: 3 }));
    expect(attrs(row)).toEqual({ keep: 1.5 });

    // the change log saw PUT_ROW, UPDATE_ROW (put), UPDATE_ROW (delete-one), UPDATE_ROW (delete-all)
    const records = emu.store.partitions('versions').flatMap((p) => emu.store.changes('versions', p.id, 0, 100).records);
    expect(records.map((r) => r.action)).toEqual(['PUT_ROW', 'UPDATE_ROW', 'UPDATE_ROW', 'UPDATE_ROW']);
    expect(records[2]!.changes).toEqual([{ op: 'delete-one', name: 'a', timestamp: 2000 }]);
    expect(records[3]!.changes).toEqual([
      { op: 'delete-all', name: 'a' },
      { op: 'delete-all', name: 'b' },
    ]);
  });

  it('enforces row-existence conditions on put, update and delete', async () => {
    const pk = [{ k: long(77) }];
    const missingUpdate = await failure(
      c.updateRow({ tableName: 'versions', condition: expectExist(), primaryKey: pk, updateOfAttributeColumns: [{ PUT: [{ x: 1.0 }] }] }),
    );
    expect(missingUpdate.code).toBe(403);
    expect(missingUpdate.message).toContain('OTSConditionCheckFail');
    await c.putRow({ tableName: 'versions', condition: expectNotExist(), primaryKey: pk, attributeColumns: [{ x: 'first' }] });
    const again = await failure(c.putRow({ tableName: 'versions', condition: expectNotExist(), primaryKey: pk, attributeColumns: [{ x: 'second' }] }));
    expect(again.message).toContain('OTSConditionCheckFail');
    expect(attrs((await c.getRow({ tableName: 'versions', primaryKey: pk })).row)).toEqual({ x: 'first' });
    await c.deleteRow({ tableName: 'versions', condition: expectExist(), primaryKey: pk });
    expect((await c.getRow({ tableName: 'versions', primaryKey: pk })).row).toEqual({});
    const deleteMissing = await failure(c.deleteRow({ tableName: 'versions', condition: expectExist(), primaryKey: pk }));
    expect(deleteMissing.code).toBe(403);
    const noTable = await failure(c.putRow({ tableName: 'nosuch', condition: ignore(), primaryKey: pk, attributeColumns: [{ x: 1.0 }] }));
    expect(noTable.code).toBe(404);
    expect(noTable.message).toContain('OTSObjectNotExist');
  });

  it('batch-writes with per-row results and mixed success', async () => {
    const res = await c.batchWriteRow({
      tables: [
        {
          tableName: 'versions',
          rows: [
            {
              type: 'PUT',
              condition: ignore(),
              primaryKey: [{ k: long(500) }],
              attributeColumns: [{ v: 'p' }],
              returnContent: { returnType: TableStore.ReturnType.Primarykey },
            },
            { type: 'UPDATE', condition: expectExist(), primaryKey: [{ k: long(501) }], attributeColumns: [{ PUT: [{ v: 'u' }] }] },
            { type: 'UPDATE', condition: ignore(), primaryKey: [{ k: long(503) }], attributeColumns: [{ PUT: [{ w: 'u' }] }] },
            { type: 'DELETE', condition: ignore(), primaryKey: [{ k: long(502) }] },
          ],
        },
      ],
    });
    expect(res.tables.map((r: { isOk: boolean; errorCode: string | null }) => [r.isOk, r.errorCode])).toEqual([
      [true, null],
      [false, 'OTSConditionCheckFail'],
      [true, null],
      [true, null],
    ]);
    expect(res.tables[0].primaryKey[0].value.toString()).toBe('500');
    expect(attrs((await c.getRow({ tableName: 'versions', primaryKey: [{ k: long(500) }] })).row)).toEqual({ v: 'p' });
    expect(attrs((await c.getRow({ tableName: 'versions', primaryKey: [{ k: long(503) }] })).row)).toEqual({ w: 'u' });
  });

  it('reads ranges forward and backward with limit and next start key', async () => {
    const rows = [];
    for (let i = 0; i < 7; i++) rows.push({ type: 'PUT', condition: ignore(), primaryKey: [{ g: 'a' }, { i: long(i) }], attributeColumns: [{ v: i * 10 }] });
    rows.push({ type: 'PUT', condition: ignore(), primaryKey: [{ g: 'b' }, { i: long(0) }], attributeColumns: [{ v: -1 }] });
    await c.batchWriteRow({ tables: [{ tableName: 'ranged', rows }] });

    const seen: string[] = [];
    let start = [{ g: 'a' }, { i: TableStore.INF_MIN }];
    let pages = 0;
    for (;;) {
      const page = await c.getRange({
        tableName: 'ranged',
        direction: TableStore.Direction.FORWARD,
        limit: 3,
        inclusiveStartPrimaryKey: start,
        exclusiveEndPrimaryKey: [{ g: 'b' }, { i: TableStore.INF_MIN }],
      });
      pages++;
      seen.push(...page.rows.map((r: { primaryKey: Array<{ value: { toString(): string } }> }) => r.primaryKey[1]!.value.toString()));
      if (!page.nextStartPrimaryKey) break;
      start = page.nextStartPrimaryKey.map((c: { name: string; value: unknown }) => ({ [c.name]: c.value }));
    }
    expect(seen).toEqual(['0', '1', '2', '3', '4', '5', '6']);
    expect(pages).toBe(3);

    const back = await c.getRange({
      tableName: 'ranged',
      direction: TableStore.Direction.BACKWARD,
      limit: 2,
      inclusiveStartPrimaryKey: [{ g: 'a' }, { i: long(5) }],
      exclusiveEndPrimaryKey: [{ g: 'a' }, { i: long(1) }],
    });
    expect(back.rows.map((r: { attributes: Array<{ columnValue: number }> }) => r.attributes[0]!.columnValue)).toEqual([50, 40]);
    expect(back.nextStartPrimaryKey.map((c: { value: { toString(): string } }) => c.value.toString())).toEqual(['a', '3']);

    const all = await c.getRange({
      tableName: 'ranged',
      direction: TableStore.Direction.BACKWARD,
      inclusiveStartPrimaryKey: [{ g: TableStore.INF_MAX }, { i: TableStore.INF_MAX }],
      exclusiveEndPrimaryKey: [{ g: TableStore.INF_MIN }, { i: TableStore.INF_MIN }],
    });
    expect(all.rows).toHaveLength(8);
    expect(all.rows[0].primaryKey[0].value).toBe('b');
    expect(all.nextStartPrimaryKey).toBeNull();
  });

  it('rejects wrong credentials, another instance and a missing header with the service error', async () => {
    const wrongSecret = await failure(client(emu.endpoint, { secretAccessKey: 'nope' }).listTable({}));
    expect(wrongSecret.code).toBe(403);
    expect(wrongSecret.message).toContain('OTSAuthFailed');
    const wrongId = await failure(client(emu.endpoint, { accessKeyId: 'other' }).listTable({}));
    expect(wrongId.message).toContain('OTSAuthFailed');
    const wrongInstance = await failure(client(emu.endpoint, { instancename: 'elsewhere' }).listTable({}));
    expect(wrongInstance.code).toBe(403);
    expect(wrongInstance.message).toContain('OTSAuthFailed');

    const body = new Uint8Array(0);
    const headers = signedHeaders('/ListTable', body);
    delete headers['x-ots-date'];
    const res = await fetch(`${emu.endpoint}/ListTable`, { method: 'POST', headers, body });
    expect(res.status).toBe(400);
    expect(res.headers.get('x-ots-requestid')).toBeTruthy();
    expect(Buffer.from(await res.arrayBuffer()).toString()).toContain('OTSParameterInvalid');

    const ok = await fetch(`${emu.endpoint}/ListTable`, { method: 'POST', headers: signedHeaders('/ListTable', body), body });
    expect(ok.status).toBe(200);
    expect(ok.headers.get('x-ots-requestid')).toBeTruthy();
    // /tunnel/* goes to the Tunnel service behind the same authentication
    const tunnels = await fetch(`${emu.endpoint}/tunnel/list`, { method: 'POST', headers: signedHeaders('/tunnel/list', body), body });
    expect(tunnels.status).toBe(200);
    const unsigned = await fetch(`${emu.endpoint}/tunnel/list`, { method: 'POST', headers: signedHeaders('/tunnel/list', body, 'wrong'), body });
    expect(unsigned.status).toBe(403);
    const tampered = signedHeaders('/ListTable', body);
    const badMd5 = await fetch(`${emu.endpoint}/ListTable`, { method: 'POST', headers: tampered, body: Uint8Array.of(1) });
    expect(badMd5.status).toBe(400);
    const get = await fetch(`${emu.endpoint}/ListTable`);
    expect(get.status).toBe(405);
    expect(get.headers.get('x-ots-requestid')).toBeTruthy();
  });

  it('injects faults per path: errors, latency, drops before and after processing', async () => {
    emu.faults.set({ path: '/PutRow', errorRate: 1, times: 1 });
    const put = (k: number) => c.putRow({ tableName: 'versions', condition: ignore(), primaryKey: [{ k: long(k) }], attributeColumns: [{ f: 'x' }] });
    const busy = await failure(put(900));
    expect(busy.code).toBe(503);
    expect(busy.message).toContain('OTSServerBusy');
    await put(900); // the fault was for one request only

    // through the admin endpoint: drop before processing → nothing written
    const set = await fetch(`${emu.endpoint}/_admin/faults`, {
      headers: ADMIN,
      method: 'POST',
      body: JSON.stringify({ path: '/PutRow', dropRate: 1, drop: 'before', times: 1 }),
    });
    expect(set.status).toBe(200);
    const dropped = await failure(put(901));
    expect(String(dropped.code)).toMatch(/NetworkingError|ECONNRESET/);
    expect((await c.getRow({ tableName: 'versions', primaryKey: [{ k: long(901) }] })).row).toEqual({});

    emu.faults.set({ path: '/PutRow', dropRate: 1, drop: 'after', times: 1 });
    await failure(put(902));
    expect(attrs((await c.getRow({ tableName: 'versions', primaryKey: [{ k: long(902) }] })).row)).toEqual({ f: 'x' });

    emu.faults.set({ path: '/GetRow', latencyMs: 150 });
    const t0 = performance.now();
    await c.getRow({ tableName: 'versions', primaryKey: [{ k: long(902) }] });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    await fetch(`${emu.endpoint}/_admin/faults?path=/GetRow`, { method: 'DELETE', headers: ADMIN });
    expect(emu.faults.list()).toEqual([]);
  });

  it('splits and merges partitions through the admin endpoint', async () => {
    // The admin endpoints want the emulator's own key pair.
    expect((await fetch(`${emu.endpoint}/_admin/partitions?table=types`)).status).toBe(401);
    expect((await fetch(`${emu.endpoint}/_admin/partitions?table=types`, { headers: { 'x-otslake-admin': `${AK}:wrong` } })).status).toBe(401);
    const before = (await (await fetch(`${emu.endpoint}/_admin/partitions?table=types`, { headers: ADMIN })).json()) as {
      partitions: Array<{ id: string; hashStart: number; hashEnd: number }>;
    };
    expect(before.partitions).toHaveLength(2);
    const first = before.partitions[0]!;
    const split = (await (
      await fetch(`${emu.endpoint}/_admin/split`, { method: 'POST', headers: ADMIN, body: JSON.stringify({ table: 'types', partitionId: first.id }) })
    ).json()) as { partitions: Array<{ id: string; parents: string[]; hashStart: number; hashEnd: number }> };
    expect(split.partitions.map((p) => p.parents)).toEqual([[first.id], [first.id]]);
    expect(split.partitions[0]!.hashStart).toBe(first.hashStart);
    expect(split.partitions[1]!.hashEnd).toBe(first.hashEnd);
    const merged = emu.merge('types', split.partitions[0]!.id, split.partitions[1]!.id);
    expect(merged.parents).toEqual([split.partitions[0]!.id, split.partitions[1]!.id]);
    const bad = await fetch(`${emu.endpoint}/_admin/split`, {
      method: 'POST',
      headers: ADMIN,
      body: JSON.stringify({ table: 'types', partitionId: first.id }),
    });
    expect(bad.status).toBe(400);
    // writes still land (in the merged child or the untouched sibling)
    await c.putRow({ tableName: 'types', condition: ignore(), primaryKey: [{ id: 'after-merge' }, { n: long(1) }], attributeColumns: [{ x: 1.0 }] });
    const open = emu.store
      .partitions('types')
      .filter((p) => !p.closed)
      .map((p) => p.id);
    expect(open).toHaveLength(2);
    expect(open).toContain(merged.id);
  });
});

describe('tablestore-local persistence', () => {
  it('keeps tables, rows, partitions and change logs across a restart with dataDir', async () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'otslake-tslocal-'));
    try {
      let emu = await startTablestoreEmulator({ instance: INSTANCE, accessKeyId: AK, accessKeySecret: SK, dataDir });
      let c = client(emu.endpoint);
      await createTable(c, 'orders', [{ name: 'id', type: 'INTEGER' }]);
      for (let i = 0; i < 5; i++)
        await c.putRow({ tableName: 'orders', condition: ignore(), primaryKey: [{ id: long(i) }], attributeColumns: [{ amount: i * 1.5 }] });
      await c.updateRow({
        tableName: 'orders',
        condition: ignore(),
        primaryKey: [{ id: long(1) }],
        updateOfAttributeColumns: [{ DELETE_ALL: ['amount'] }, { PUT: [{ note: 'x' }] }],
      });
      await c.deleteRow({ tableName: 'orders', condition: ignore(), primaryKey: [{ id: long(4) }] });
      const victim = emu.store.partitions('orders')[0]!.id;
      emu.split('orders', victim);
      const partitionsBefore = emu.store.partitions('orders');
      const logsBefore = partitionsBefore.map((p) => emu.store.changes('orders', p.id, 0, 1000).records);
      await emu.close();

      emu = await startTablestoreEmulator({ instance: INSTANCE, accessKeyId: AK, accessKeySecret: SK, dataDir });
      c = client(emu.endpoint);
      expect((await c.listTable({})).tableNames).toEqual(['orders']);
      expect(emu.store.partitions('orders')).toEqual(partitionsBefore);
      expect(partitionsBefore.map((p) => emu.store.changes('orders', p.id, 0, 1000).records)).toEqual(logsBefore);
      expect(logsBefore.flat()).toHaveLength(7);
      expect(attrs((await c.getRow({ tableName: 'orders', primaryKey: [{ id: long(1) }] })).row)).toEqual({ note: 'x' });
      expect(attrs((await c.getRow({ tableName: 'orders', primaryKey: [{ id: long(3) }] })).row)).toEqual({ amount: 4.5 });
      expect((await c.getRow({ tableName: 'orders', primaryKey: [{ id: long(4) }] })).row).toEqual({});
      // new writes continue each partition's sequence after the replayed ones
      await c.putRow({ tableName: 'orders', condition: ignore(), primaryKey: [{ id: long(9) }], attributeColumns: [{ amount: 1.0 }] });
      const after = emu.store.partitions('orders').flatMap((p) => emu.store.changes('orders', p.id, 0, 1000).records);
      expect(after).toHaveLength(8);
      await emu.close();
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('otslake emulator (CLI)', () => {
  beforeAll(() => {
    const root = path.resolve(import.meta.dirname, '../..');
    // bin/otslake runs dist/, built once by test/global-setup.ts.
    expect(fs.existsSync(path.join(root, 'dist/cli/commands/emulator.js'))).toBe(true);
  });

  it('prints the listening line, serves the SDK and exits cleanly on SIGTERM', async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const child = spawn(process.execPath, ['bin/otslake', 'emulator', '--port', '0', '--instance', INSTANCE, '--access-key-id', AK, '--log-level', 'warn'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, OTSLAKE_EMULATOR_ACCESS_KEY_SECRET: SK },
    });
    try {
      let out = '';
      const endpoint = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no listening line within 20 s; output: ${out}`)), 20_000);
        child.stdout.on('data', (chunk: Buffer) => {
          out += chunk.toString();
          const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]!);
          }
        });
        child.once('exit', (code) => reject(new Error(`exited early with ${code}: ${out}`)));
      });
      const c = client(endpoint);
      await createTable(c, 'cli', [{ name: 'id', type: 'STRING' }]);
      expect((await c.listTable({})).tableNames).toEqual(['cli']);
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('exits with 1 and a clear message when the port is taken', async () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const busy = await startTablestoreEmulator({ instance: INSTANCE, accessKeyId: AK, accessKeySecret: SK });
    try {
      const port = new URL(busy.endpoint).port;
      const secretFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'otslake-secret-')), 'secret');
      fs.writeFileSync(secretFile, 'file-secret-value\n', { mode: 0o600 });
      const r = spawnSync(
        process.execPath,
        ['bin/otslake', 'emulator', '--port', port, '--instance', 'i', '--access-key-id', 'a', '--access-key-secret-file', secretFile],
        { cwd: root, encoding: 'utf8', timeout: 20_000 },
      );
      expect(r.status).toBe(1);
      expect(r.stderr).toContain('cannot listen');
      expect(r.stderr).not.toContain('file-secret-value'); // the secret is not echoed
      fs.rmSync(path.dirname(secretFile), { recursive: true, force: true });
    } finally {
      await busy.close();
    }
  });

  it('refuses bad arguments with exit code 2', () => {
    const root = path.resolve(import.meta.dirname, '../..');
    const r = spawnSync(process.execPath, ['bin/otslake', 'emulator', '--port', 'x'], { cwd: root, encoding: 'utf8' });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--instance is required');
    // A secret on the command line (visible in `ps`) is not an option.
    const inline = spawnSync(process.execPath, ['bin/otslake', 'emulator', '--instance', 'i', '--access-key-id', 'a', '--access-key-secret', 's'], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, OTSLAKE_EMULATOR_ACCESS_KEY_SECRET: '' },
    });
    expect(inline.status).toBe(2);
  });
});
