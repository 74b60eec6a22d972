/**
 * tablestore-local's persistence through a real server: every value type written with the official
 * `tablestore` SDK survives restarts (journal replay, snapshot + tail, and an old-format journal),
 * read back with the SDK (GetRow, GetRange) and with our TunnelClient; a large journal loads in
 * linear time and compaction keeps the journal bounded.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TableStore } from '../../emulator/tablestore/table-store.js';
import { decodeRecordToObject } from '../../tunnel/plainbuffer-object.js';
import { StartOffsetFlag, TunnelType } from '../../tunnel/proto.js';
import { TunnelSession } from '../../tunnel/tunnel-session.js';
import { startTestEmulator, tablestoreSdk as TS, type TablestoreSdkClient, type TestEmulator } from '../helpers/emulator.js';
import { createTmpDir, type TmpDir } from '../helpers/tmp-dir.js';

const TABLE = 'typed';
const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);
const PK_SCHEMA = [
  { name: 's', type: 'STRING' },
  { name: 'i', type: 'INTEGER' },
  { name: 'b', type: 'BINARY' },
];

function key(n: number) {
  return [{ s: `k-${n}` }, { i: TS.Long.fromString(`-900719925474099${n}`) }, { b: Buffer.from([0, n, 255, 128]) }];
}

function attributes(n: number) {
  return [
    { int: TS.Long.fromString(`900719925474099${n}`) },
    { dbl: n + 0.25 },
    { bool: n % 2 === 0 },
    { str: `héllo-${n}` },
    { bin: Buffer.from([n, 0, 0xfe, 0xff]) },
  ];
}

/** A row as plain comparable data: Longs as decimal strings, Buffers as hex. */
function plain(row: { primaryKey?: Array<{ name: string; value: unknown }>; attributes?: Array<{ columnName: string; columnValue: unknown }> }) {
  const v = (x: unknown) => (Buffer.isBuffer(x) ? `hex:${x.toString('hex')}` : typeof x === 'object' && x !== null ? String(x) : x);
  return {
    pk: (row.primaryKey ?? []).map((c) => [c.name, v(c.value)]),
    attrs: Object.fromEntries((row.attributes ?? []).map((a) => [a.columnName, v(a.columnValue)])),
  };
}

const EXPECTED = (n: number) => ({
  pk: [
    ['s', `k-${n}`],
    ['i', `-900719925474099${n}`],
    ['b', `hex:00${n.toString(16).padStart(2, '0')}ff80`],
  ],
  attrs: { bin: `hex:${n.toString(16).padStart(2, '0')}00feff`, bool: n % 2 === 0, dbl: n + 0.25, int: `900719925474099${n}`, str: `héllo-${n}` },
});

async function readAll(sdk: TablestoreSdkClient & Record<string, any>) {
  const { rows } = await sdk.getRange({
    tableName: TABLE,
    direction: (TS as any).Direction.FORWARD,
    inclusiveStartPrimaryKey: PK_SCHEMA.map((c) => ({ [c.name]: (TS as any).INF_MIN })),
    exclusiveEndPrimaryKey: PK_SCHEMA.map((c) => ({ [c.name]: (TS as any).INF_MAX })),
    maxVersions: 1,
  });
  return (rows as any[]).map(plain);
}

/** Every stream record of the tunnel, decoded by our client, as comparable data. */
async function readTunnel(emu: TestEmulator, tunnelId: string) {
  const client = emu.tunnelClient();
  const session = new TunnelSession({ client, tunnelId, clientTag: 'persist', heartbeatIntervalMs: 60_000, heartbeatTimeoutMs: 300_000 });
  await session.start();
  const out: Array<{ pk: unknown[]; cells: Record<string, unknown> }> = [];
  try {
    for (const ch of session.ownedChannels()) {
      let token = (await session.getStartToken(ch.channelId)).token;
      for (;;) {
        const page = await client.readRecords({ tunnel_id: tunnelId, client_id: session.clientId!, channel_id: ch.channelId, token });
        for (const r of page.records) {
          const d = decodeRecordToObject(r);
          const v = (x: unknown) => (x instanceof Uint8Array ? `hex:${Buffer.from(x).toString('hex')}` : typeof x === 'bigint' ? x.toString() : x);
          out.push({ pk: d.primaryKey.map((c) => [c.name, v(c.value)]), cells: Object.fromEntries(d.cells.map((c) => [c.name, v(c.value)])) });
        }
        if (page.next_token === 'finished' || page.records.length === 0) break;
        token = page.next_token;
      }
    }
  } finally {
    await session.shutdown();
  }
  return out.sort((a, b) => String(a.pk[0]).localeCompare(String(b.pk[0])));
}

let emu: TestEmulator | undefined;
let dir: TmpDir | undefined;
afterEach(async () => {
  await emu?.close();
  emu = undefined;
  await dir?.cleanup();
  dir = undefined;
});

describe('tablestore-local persistence of every value type', () => {
  it('returns the same rows and tunnel records after a journal replay, and after snapshot + tail', async () => {
    dir = await createTmpDir('otslake-persist-');
    emu = await startTestEmulator({ dataDir: dir.path, partitionsPerTable: 2 });
    let sdk = emu.sdkClient() as TablestoreSdkClient & Record<string, any>;
    await sdk.createTable({
      tableMeta: { tableName: TABLE, primaryKey: PK_SCHEMA },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
      streamSpecification: { enableStream: true, expirationTime: 24 },
    });
    const tunnelId = (
      await emu.tunnelClient().createTunnel({
        tunnel: { table_name: TABLE, tunnel_name: 'all', tunnel_type: TunnelType.Stream, stream_tunnel_config: { flag: StartOffsetFlag.EARLIEST } },
      })
    ).tunnel_id;
    for (let n = 1; n <= 4; n++) await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: key(n), attributeColumns: attributes(n) });
    const rowsBefore = await readAll(sdk);
    expect(rowsBefore).toEqual([1, 2, 3, 4].map(EXPECTED));
    const recordsBefore = await readTunnel(emu, tunnelId);
    expect(recordsBefore).toHaveLength(4);
    expect(recordsBefore[0]).toEqual({ pk: EXPECTED(1).pk, cells: EXPECTED(1).attrs });

    // 1: journal replay
    await emu.close();
    emu = await startTestEmulator({ dataDir: dir.path, partitionsPerTable: 2 });
    sdk = emu.sdkClient() as TablestoreSdkClient & Record<string, any>;
    expect(await readAll(sdk)).toEqual(rowsBefore);
    expect(await readTunnel(emu, tunnelId)).toEqual(recordsBefore);

    // 2: snapshot + tail
    emu.emulator.store.compact();
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: key(5), attributeColumns: attributes(5) });
    await emu.close();
    expect(fs.existsSync(path.join(dir.path, 'tablestore.snapshot'))).toBe(true);
    emu = await startTestEmulator({ dataDir: dir.path, partitionsPerTable: 2 });
    sdk = emu.sdkClient() as TablestoreSdkClient & Record<string, any>;
    expect(await readAll(sdk)).toEqual([1, 2, 3, 4, 5].map(EXPECTED));
    expect(await readTunnel(emu, tunnelId)).toHaveLength(5);
    const got = await sdk.getRow({ tableName: TABLE, primaryKey: key(5), maxVersions: 1 });
    expect(plain((got as any).row)).toEqual(EXPECTED(5));
  });

  it('loads a journal written before the explicit encoding, Buffer.toJSON values included, and compacts it', async () => {
    dir = await createTmpDir('otslake-persist-legacy-');
    const details = {
      name: TABLE,
      primaryKey: [{ name: 'b', type: 'BINARY' }],
      streamEnabled: true,
      streamExpirationHours: 24,
      createdAtUs: { $big: '1700000000000000' },
      maxVersions: 1,
      timeToLiveSec: -1,
      streamId: 'legacy-stream',
    };
    const partitions = [{ id: 'p0', hashStart: 0, hashEnd: 2 ** 32, parents: [], closed: false, createdAtUs: { $big: '1700000000000000' } }];
    const record = {
      partitionId: 'p0',
      seq: { epoch: 0, timestamp: { $big: String(Date.now() * 1000) }, rowIndex: 0 },
      action: 'PUT_ROW',
      primaryKey: [{ name: 'b', value: { type: 'BINARY', value: { type: 'Buffer', data: [1, 2, 3] } } }],
      changes: [
        { op: 'put', name: 'bin', value: { type: 'BINARY', value: { type: 'Buffer', data: [9, 8] } }, timestamp: 1_700_000_000_000 },
        { op: 'put', name: 'big', value: { type: 'INTEGER', value: { $big: '-9007199254740993' } }, timestamp: 1_700_000_000_000 },
      ],
    };
    const lines =
      [
        { op: 'create-table', details, partitions },
        { op: 'change', table: TABLE, record },
      ]
        .map((l) => JSON.stringify(l))
        .join('\n') + '\n';
    fs.writeFileSync(path.join(dir.path, 'tablestore.journal'), lines);

    emu = await startTestEmulator({ dataDir: dir.path });
    const sdk = emu.sdkClient() as TablestoreSdkClient & Record<string, any>;
    const { row } = (await sdk.getRow({ tableName: TABLE, primaryKey: [{ b: Buffer.from([1, 2, 3]) }], maxVersions: 1 })) as any;
    expect(plain(row)).toEqual({ pk: [['b', 'hex:010203']], attrs: { big: '-9007199254740993', bin: 'hex:0908' } });
    expect(fs.existsSync(path.join(dir.path, 'tablestore.snapshot'))).toBe(true);
    expect(fs.readFileSync(path.join(dir.path, 'tablestore.journal'), 'utf8').split('\n')).toHaveLength(2); // header + ''
  });
});

describe('tablestore-local journal size and load time', () => {
  it('compacts into a snapshot so the journal stays bounded, and restores the same state', () => {
    const tmp = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'otslake-compact-'));
    try {
      const store = new TableStore({ dataDir: tmp, partitionsPerTable: 2, compactAfterBytes: 64 * 1024 });
      store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }], streamEnabled: true });
      for (let i = 0; i < 3000; i++) {
        const value = { type: 'BINARY' as const, value: Uint8Array.of(i & 255, 7) };
        store.writeRows('t', [
          { kind: 'put', primaryKey: [{ name: 'id', value: { type: 'INTEGER', value: BigInt(i % 500) } }], cells: [{ name: 'v', value }], condition: 'IGNORE' },
        ]);
      }
      const sizes = store.persistedBytes()!;
      // The tail never outgrows max(threshold, snapshot) by more than one write.
      expect(sizes.tailBytes).toBeLessThan(Math.max(64 * 1024, sizes.snapshotBytes) + 1024);
      expect(sizes.snapshotBytes).toBeGreaterThan(0);
      const rows = store.range('t', [{ name: 'id', value: { type: 'INF_MIN' } }], [{ name: 'id', value: { type: 'INF_MAX' } }], 'FORWARD', 10_000).rows;
      const logs = store.partitions('t').map((p) => store.changes('t', p.id, 0, 10_000));
      store.close();
      const again = new TableStore({ dataDir: tmp, compactAfterBytes: 64 * 1024 });
      expect(again.range('t', [{ name: 'id', value: { type: 'INF_MIN' } }], [{ name: 'id', value: { type: 'INF_MAX' } }], 'FORWARD', 10_000).rows).toEqual(
        rows,
      );
      expect(again.partitions('t').map((p) => again.changes('t', p.id, 0, 10_000))).toEqual(logs);
      expect(rows).toHaveLength(500);
      again.close();
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('loads a 100 MB journal in linear time (seconds, not minutes)', () => {
    const tmp = fs.mkdtempSync(path.join(process.env.TMPDIR ?? '/tmp', 'otslake-bigjournal-'));
    try {
      const lines = writeLargeJournal(tmp, 100 * 1024 * 1024);
      const started = performance.now();
      const store = new TableStore({ dataDir: tmp, compactAfterBytes: Number.MAX_SAFE_INTEGER });
      const seconds = (performance.now() - started) / 1000;
      expect(store.rowCount('t')).toBe(Math.min(lines - 1, 50_000));
      store.close();
      // The quadratic loader needed 454 s for 41 MB; a linear one reads this in a few seconds even on a busy machine.
      expect(seconds).toBeLessThan(30);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, 120_000);
});

/** Writes a current-format journal of about `bytes` (one table, rows of ~1 KiB over 50,000 keys); returns its line count. */
function writeLargeJournal(dataDir: string, bytes: number): number {
  const fd = fs.openSync(path.join(dataDir, 'tablestore.journal'), 'w');
  const details = {
    name: 't',
    primaryKey: [{ name: 'id', type: 'STRING' }],
    streamEnabled: true,
    streamExpirationHours: 168,
    streamId: 's',
    streamLastEnableUs: '0',
    createdAtUs: '0',
    maxVersions: 1,
    timeToLiveSec: -1,
    keyHash: 'spread',
  };
  const partition = { id: 'p0', hashStart: 0, hashEnd: 2 ** 32, parents: [], closed: false, createdAtUs: '0' };
  let text = JSON.stringify({ format: 2, id: 'big' }) + '\n' + JSON.stringify({ op: 'create-table', details, partitions: [partition] }) + '\n';
  let written = 0;
  let lines = 1;
  const payload = Buffer.alloc(700, 7).toString('base64');
  const nowUs = BigInt(Date.now()) * 1000n;
  while (written < bytes) {
    const record = {
      p: 'p0',
      s: [0, (nowUs - 1_000_000_000n + BigInt(lines)).toString(), 0],
      a: 'P',
      k: [['id', ['S', `key-${(lines * 7919) % 50_000}`]]],
      c: [
        ['p', 'blob', ['B', payload], 1_700_000_000_000],
        ['p', 'n', ['I', String(lines)], 1_700_000_000_000],
      ],
    };
    text += JSON.stringify({ op: 'change', table: 't', record }) + '\n';
    lines++;
    if (text.length > 1 << 20) {
      written += fs.writeSync(fd, text);
      text = '';
    }
  }
  fs.writeSync(fd, text);
  fs.closeSync(fd);
  return lines;
}
