/**
 * tablestore-local's Tunnel service end to end: the real emulator on 127.0.0.1:0, rows written with
 * the official `tablestore` SDK, read back with our TunnelClient / TunnelSession over HTTP.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { hasCode, type OtslakeError } from '../../common/errors.js';
import { CELL_OP, type CellValue } from '../../tunnel/plainbuffer.js';
import { decodeRecordToObject, type SequenceInfo } from '../../tunnel/plainbuffer-object.js';
import { ActionType, TunnelType, type RecordMsg } from '../../tunnel/proto.js';
import { isStreamToken, parseToken } from '../../tunnel/token.js';
import type { TunnelClient } from '../../tunnel/tunnel-client.js';
import { TunnelSession, type OwnedChannel } from '../../tunnel/tunnel-session.js';
import { createStreamTable, startTestEmulator, tablestoreSdk as TS, type TablestoreSdkClient, type TestEmulator } from '../helpers/emulator.js';

const TABLE = 'orders';
const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);
const id = (n: number) => [{ id: TS.Long.fromNumber(n) }];

interface DecodedTunnelRecord {
  pk: Record<string, CellValue>;
  cells: Array<{ name: string; op: 'put' | 'delete-one' | 'delete-all'; value: CellValue | undefined }>;
  deleteMarker: boolean;
  seq: SequenceInfo | undefined;
}

/** Our client's PlainBuffer decoder (verifies cell and row CRCs), reshaped for compact assertions. */
function decodeTunnelRecord(record: RecordMsg): DecodedTunnelRecord {
  const d = decodeRecordToObject(record);
  const opName = (op: number) => (op === CELL_OP.PUT ? 'put' : op === CELL_OP.DELETE_ONE_VERSION ? 'delete-one' : 'delete-all');
  return {
    pk: Object.fromEntries(d.primaryKey.map((c) => [c.name, c.value])),
    cells: d.cells.map((c) => ({ name: c.name, op: opName(c.op), value: c.value })),
    deleteMarker: d.deleteMarker,
    seq: d.sequenceInfo ?? undefined,
  };
}

let emu: TestEmulator | undefined;
let sessions: TunnelSession[] = [];

afterEach(async () => {
  for (const s of sessions) await s.shutdown();
  sessions = [];
  await emu?.close();
  emu = undefined;
});

async function setup(options: Parameters<typeof startTestEmulator>[0] = {}) {
  emu = await startTestEmulator({ partitionsPerTable: 2, ...options });
  const sdk = emu.sdkClient();
  await createStreamTable(sdk, TABLE, [{ name: 'id', type: 'INTEGER' }]);
  return { emu, sdk, tunnel: emu.tunnelClient() };
}

async function createTunnel(tunnel: TunnelClient, type: TunnelType, name = 't1'): Promise<string> {
  return (await tunnel.createTunnel({ tunnel: { table_name: TABLE, tunnel_name: name, tunnel_type: type } })).tunnel_id;
}

function startSession(client: TunnelClient, tunnelId: string, opts: { tag?: string; timeoutMs?: number } = {}): TunnelSession {
  // A long interval: the test drives heartbeats with heartbeatNow() instead of waiting for the loop.
  const timeoutMs = opts.timeoutMs ?? 300_000;
  const heartbeatIntervalMs = Math.min(60_000, timeoutMs / 2);
  const s = new TunnelSession({ client, tunnelId, clientTag: opts.tag ?? 'test', heartbeatIntervalMs, heartbeatTimeoutMs: timeoutMs });
  sessions.push(s);
  return s;
}

/** Reads a channel we own from its checkpoint until the live tail or "finished". */
async function readChannel(client: TunnelClient, session: TunnelSession, tunnelId: string, channelId: string) {
  const start = await session.getStartToken(channelId);
  let token = start.token;
  const records: Array<RecordMsg & { decoded: DecodedTunnelRecord }> = [];
  const tokens: string[] = [token];
  for (let i = 0; i < 1000; i++) {
    const page = await client.readRecords({ tunnel_id: tunnelId, client_id: session.clientId!, channel_id: channelId, token });
    records.push(...page.records.map((r) => ({ ...r, decoded: decodeTunnelRecord(r) })));
    tokens.push(page.next_token);
    if (page.next_token === 'finished' || page.records.length === 0) return { records, token: page.next_token, tokens };
    token = page.next_token;
  }
  throw new Error(`channel ${channelId} never reached its tail`);
}

async function writeWorkload(sdk: TablestoreSdkClient): Promise<void> {
  await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(1), attributeColumns: [{ name: 'ann' }, { n: TS.Long.fromNumber(1) }] });
  await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(2), attributeColumns: [{ name: 'bob' }] });
  await sdk.updateRow({
    tableName: TABLE,
    condition: IGNORE(),
    primaryKey: id(1),
    updateOfAttributeColumns: [{ PUT: [{ paid: true }] }, { DELETE: [{ n: TS.Long.fromNumber(1_700_000_000_000) }] }, { DELETE_ALL: ['name'] }],
  });
  await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(3), attributeColumns: [{ score: 2.5 }] });
  await sdk.deleteRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(2) });
  await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(2), attributeColumns: [{ name: 'bob2' }] });
}

/** Per primary key, the (action, cell summary) sequence the workload produced. */
const EXPECTED_BY_KEY: Record<string, string[]> = {
  '1': ['PUT_ROW name=put:ann n=put:1', 'UPDATE_ROW paid=put:true n=delete-one name=delete-all'],
  '2': ['PUT_ROW name=put:bob', 'DELETE_ROW', 'PUT_ROW name=put:bob2'],
  '3': ['PUT_ROW score=put:2.5'],
};

function summarise(r: RecordMsg & { decoded: DecodedTunnelRecord }): string {
  const cells = r.decoded.cells.map((c) => `${c.name}=${c.op}${c.value === undefined ? '' : `:${String(c.value)}`}`);
  return [ActionType[r.action_type], ...cells].join(' ');
}

describe('Stream tunnel', () => {
  it('returns every SDK write exactly once per channel, in order, with types and sequence info', async () => {
    const { sdk, tunnel } = await setup();
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(9), attributeColumns: [{ name: 'before' }] });
    const tunnelId = await createTunnel(tunnel, TunnelType.Stream);
    await writeWorkload(sdk);
    const session = startSession(tunnel, tunnelId);
    await session.start();
    const owned = session.ownedChannels();
    expect(owned).toHaveLength(2);

    const byKey: Record<string, string[]> = {};
    for (const ch of owned) {
      const { records, token, tokens } = await readChannel(tunnel, session, tunnelId, ch.channelId);
      expect(isStreamToken(token)).toBe(true);
      expect(tokens.every((t) => (parseToken(t).content.iterator ?? '') !== '')).toBe(true);
      const seqs = records.map((r) => r.decoded.seq!);
      expect(seqs.every((s) => s !== undefined)).toBe(true);
      for (let i = 1; i < seqs.length; i++) {
        const [a, b] = [seqs[i - 1]!, seqs[i]!];
        expect(a.timestamp < b.timestamp || (a.timestamp === b.timestamp && a.rowIndex < b.rowIndex)).toBe(true);
      }
      for (const r of records) (byKey[String(r.decoded.pk.id)] ??= []).push(summarise(r));
      const deletes = records.filter((r) => r.action_type === ActionType.DELETE_ROW);
      expect(deletes.every((r) => r.decoded.deleteMarker && r.decoded.cells.length === 0)).toBe(true);
      // Checkpoint the tail; the server hands it back.
      const cp = session.checkpointer(ch.channelId);
      await cp.checkpoint(token);
      expect((await tunnel.getCheckpoint({ tunnel_id: tunnelId, client_id: session.clientId!, channel_id: ch.channelId })).checkpoint).toBe(token);
    }
    expect(byKey).toEqual(EXPECTED_BY_KEY);
  });
});

describe('BaseAndStream tunnel', () => {
  it('returns the snapshot without sequence info, then the changes', async () => {
    const { sdk, tunnel } = await setup();
    for (const n of [5, 1, 4, 2, 3]) {
      await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(n), attributeColumns: [{ v: TS.Long.fromNumber(n * 10) }] });
    }
    const tunnelId = await createTunnel(tunnel, TunnelType.BaseAndStream);
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(6), attributeColumns: [{ v: TS.Long.fromNumber(60) }] });
    await sdk.deleteRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(5) });
    const session = startSession(tunnel, tunnelId);
    await session.start();
    const base = session.ownedChannels();
    expect(base.map((c) => c.channelId.startsWith('BaseData_'))).toEqual([true, true]);
    const snapshot: number[] = [];
    for (const ch of base) {
      const { records, token, tokens } = await readChannel(tunnel, session, tunnelId, ch.channelId);
      expect(token).toBe('finished');
      expect(isStreamToken(tokens[0]!)).toBe(false);
      expect(records.every((r) => r.action_type === ActionType.PUT_ROW && r.decoded.seq === undefined)).toBe(true);
      const ids = records.map((r) => Number(r.decoded.pk.id));
      expect(ids).toEqual([...ids].sort((a, b) => a - b));
      snapshot.push(...ids);
      await session.markFinished(ch.channelId);
    }
    // Current rows at read time: 6 was added, 5 deleted before the base read.
    expect(snapshot.sort()).toEqual([1, 2, 3, 4, 6]);
    await session.heartbeatNow(); // reports TERMINATED; the server moves to ProcessStream and hands out Stream channels
    const list = await tunnel.listTunnel({ table_name: TABLE });
    expect(list.tunnels[0]?.stage).toBe('ProcessStream');
    const streams = session.ownedChannels();
    expect(streams).toHaveLength(2);
    expect(streams.some((c) => c.channelId.startsWith('BaseData_'))).toBe(false);
    const changes: string[] = [];
    for (const ch of streams) {
      const { records } = await readChannel(tunnel, session, tunnelId, ch.channelId);
      changes.push(...records.map((r) => `${ActionType[r.action_type]}:${String(r.decoded.pk.id)}:${r.decoded.seq ? 'seq' : 'noseq'}`));
    }
    expect(changes.sort()).toEqual(['DELETE_ROW:5:seq', 'PUT_ROW:6:seq']);
  });
});

describe('BaseData tunnels one after the other', () => {
  it('a second tunnel reads the rows as they are now, not the bytes the first read kept', async () => {
    const { sdk, tunnel } = await setup();
    for (const n of [1, 2, 3, 4]) {
      await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(n), attributeColumns: [{ name: `n${n}` }, { v: TS.Long.fromNumber(n) }] });
    }
    const readBase = async (name: string): Promise<Record<string, string>> => {
      const tunnelId = await createTunnel(tunnel, TunnelType.BaseData, name);
      const session = startSession(tunnel, tunnelId, { tag: name });
      await session.start();
      const rows: Record<string, string> = {};
      for (const ch of session.ownedChannels()) {
        const { records, token } = await readChannel(tunnel, session, tunnelId, ch.channelId);
        expect(token).toBe('finished');
        for (const r of records) rows[String(r.decoded.pk.id)] = summarise(r);
      }
      return rows;
    };
    expect(await readBase('first')).toEqual({
      '1': 'PUT_ROW name=put:n1 v=put:1',
      '2': 'PUT_ROW name=put:n2 v=put:2',
      '3': 'PUT_ROW name=put:n3 v=put:3',
      '4': 'PUT_ROW name=put:n4 v=put:4',
    });
    await sdk.updateRow({
      tableName: TABLE,
      condition: IGNORE(),
      primaryKey: id(1),
      updateOfAttributeColumns: [{ PUT: [{ name: 'changed' }, { paid: true }] }, { DELETE_ALL: ['v'] }],
    });
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(2), attributeColumns: [{ other: 'replaced' }] });
    await sdk.deleteRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(3) });
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(5), attributeColumns: [{ name: 'n5' }] });
    expect(await readBase('second')).toEqual({
      '1': 'PUT_ROW name=put:changed paid=put:true',
      '2': 'PUT_ROW other=put:replaced',
      '4': 'PUT_ROW name=put:n4 v=put:4',
      '5': 'PUT_ROW name=put:n5',
    });
  });
});

describe('partition split', () => {
  it('hands out children only after the parent channel finished', async () => {
    const { emu, sdk, tunnel } = await setup({ partitionsPerTable: 1 });
    const tunnelId = await createTunnel(tunnel, TunnelType.Stream);
    const session = startSession(tunnel, tunnelId);
    await session.start();
    const [parent] = session.ownedChannels();
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(1), attributeColumns: [{ v: 'before' }] });
    const children = emu.emulator.split(TABLE, parent!.channelId);
    await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(1), attributeColumns: [{ v: 'after' }] });

    await session.heartbeatNow();
    expect(session.ownedChannels().map((c) => c.channelId)).toEqual([parent!.channelId]);
    const described = await tunnel.describeTunnel({ table_name: TABLE, tunnel_name: 't1' });
    expect(described.channels.filter((c) => c.channel_id !== parent!.channelId).map((c) => c.channel_status)).toEqual(['WAIT', 'WAIT']);

    const drained = await readChannel(tunnel, session, tunnelId, parent!.channelId);
    expect(drained.token).toBe('finished');
    expect(drained.records.map((r) => r.decoded.cells[0]?.value)).toEqual(['before']);
    const changed = session.nextChange();
    await session.markFinished(parent!.channelId);
    await changed;
    await session.heartbeatNow();
    const owned = session.ownedChannels().map((c) => c.channelId);
    expect(owned.sort()).toEqual(children.map((c) => c.id).sort());
    const fromChildren: unknown[] = [];
    for (const c of owned) fromChildren.push(...(await readChannel(tunnel, session, tunnelId, c)).records.map((r) => r.decoded.cells[0]?.value));
    expect(fromChildren).toEqual(['after']);
  });
});

describe('partition merge', () => {
  it('hands out the merged child only after both parents finished', async () => {
    const { emu, tunnel } = await setup({ partitionsPerTable: 2 });
    const tunnelId = await createTunnel(tunnel, TunnelType.Stream);
    const session = startSession(tunnel, tunnelId);
    await session.start();
    const [p0, p1] = emu.emulator.store.partitions(TABLE).map((p) => p.id) as [string, string];
    const child = emu.emulator.merge(TABLE, p0, p1);
    for (const parent of [p0, p1]) {
      expect((await readChannel(tunnel, session, tunnelId, parent)).token).toBe('finished');
      await session.markFinished(parent);
      await session.heartbeatNow();
      const owned = session.ownedChannels().map((c) => c.channelId);
      expect(owned).toEqual(parent === p0 ? [p1] : [child.id]);
    }
  });
});

describe('two clients', () => {
  it('share channels evenly, and one takes over after the other stops heartbeating', async () => {
    let nowMs = Date.now();
    const { emu, tunnel } = await setup({ partitionsPerTable: 4, tunnel: { clock: () => nowMs } });
    const tunnelId = await createTunnel(tunnel, TunnelType.Stream);
    const a = startSession(tunnel, tunnelId, { tag: 'a' });
    await a.start();
    expect(a.ownedChannels()).toHaveLength(4);
    const b = startSession(emu.tunnelClient(), tunnelId, { tag: 'b', timeoutMs: 10_000 });
    await b.start();
    expect(b.ownedChannels()).toHaveLength(0);

    // a is told to close two; it reports CLOSE for them; b then gets them.
    await a.heartbeatNow();
    const closing = a.ownedChannels().filter((c) => c.mustStop);
    expect(closing).toHaveLength(2);
    for (const c of closing) a.release(c.channelId);
    await a.heartbeatNow();
    await b.heartbeatNow();
    const ownedA = a.ownedChannels().map((c) => c.channelId);
    const ownedB = b.ownedChannels().map((c) => c.channelId);
    expect(ownedA).toHaveLength(2);
    expect(ownedB.sort()).toEqual(closing.map((c) => c.channelId).sort());
    expect(new Set([...ownedA, ...ownedB]).size).toBe(4);

    // b goes silent: past its 10 s timeout only b expires; a's next heartbeat takes everything.
    nowMs += 11_000;
    const expired = await emu.emulator.tunnel.sweepExpiredClients();
    expect(expired).toEqual([b.clientId]);
    const grown = new Promise<OwnedChannel[]>((resolve) => {
      const check = (owned: OwnedChannel[]) => (owned.length === 4 ? resolve(owned) : a.once('channels', check));
      a.once('channels', check);
    });
    await a.heartbeatNow();
    expect((await grown).every((c) => !c.mustStop)).toBe(true);
    await expect(emu.tunnelClient().heartbeat({ tunnel_id: tunnelId, client_id: b.clientId!, channels: [] })).rejects.toSatisfy((e: OtslakeError) =>
      hasCode(e, 'OTSL_TUNNEL_RESOURCE_GONE'),
    );
  });
});

describe('credentials and checkpoints', () => {
  it('rejects wrong credentials cleanly for the SDK and the TunnelClient', async () => {
    const { emu } = await setup();
    const bad = emu.tunnelClient({ accessKeySecret: 'wrong-secret' });
    await expect(bad.listTunnel({ table_name: TABLE })).rejects.toSatisfy(
      (e: OtslakeError) => hasCode(e, 'OTSL_TUNNEL_AUTH') && !e.message.includes('wrong-secret'),
    );
    await expect(
      emu.sdkClient({ secretAccessKey: 'wrong-secret' }).putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(1), attributeColumns: [{ a: 'x' }] }),
    ).rejects.toBeDefined();
  });

  it('enforces checkpoint sequence numbers (OTSSequenceNumberNotMatch) and resyncs', async () => {
    const { tunnel } = await setup();
    const tunnelId = await createTunnel(tunnel, TunnelType.Stream);
    const session = startSession(tunnel, tunnelId);
    await session.start();
    const ch = session.ownedChannels()[0]!.channelId;
    const start = await session.getStartToken(ch);
    expect(start.sequenceNumber).toBe(0n);
    const ids = { tunnel_id: tunnelId, client_id: session.clientId!, channel_id: ch };
    await tunnel.checkpoint({ ...ids, checkpoint: start.token, sequence_number: 3n });
    await expect(tunnel.checkpoint({ ...ids, checkpoint: start.token, sequence_number: 2n })).rejects.toSatisfy((e: OtslakeError) =>
      hasCode(e, 'OTSL_TUNNEL_SEQUENCE_MISMATCH'),
    );
    // The session's checkpointer starts at 1 (stale): it must resync to 4.
    const outcome = await session.checkpointer(ch).checkpoint(start.token);
    expect(outcome).toEqual({ kind: 'checkpointed-after-resync', sequenceNumber: 4n, serverSequenceNumber: 3n });
    expect((await tunnel.getCheckpoint(ids)).sequence_number).toBe(4n);
  });
});

describe('restart', () => {
  it('keeps tunnels, channels and checkpoints when restarted on the same dataDir', async () => {
    const first = await setup();
    const tunnelId = await createTunnel(first.tunnel, TunnelType.Stream);
    await first.sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: id(1), attributeColumns: [{ a: 'x' }] });
    const session = startSession(first.tunnel, tunnelId);
    await session.start();
    const positions = new Map<string, string>();
    for (const ch of session.ownedChannels()) {
      const { token } = await readChannel(first.tunnel, session, tunnelId, ch.channelId);
      await session.checkpointer(ch.channelId).checkpoint(token);
      positions.set(ch.channelId, token);
    }
    const dataDir = first.emu.dataDir;
    await session.shutdown();
    sessions = [];
    await first.emu.emulator.close(); // keep the data dir

    emu = await startTestEmulator({ dataDir, partitionsPerTable: 2 });
    const client = emu.tunnelClient();
    try {
      const described = await client.describeTunnel({ table_name: TABLE, tunnel_name: 't1' });
      expect(described.tunnel.tunnel_id).toBe(tunnelId);
      expect(described.channels.map((c) => c.channel_id).sort()).toEqual([...positions.keys()].sort());
      expect(described.channels.reduce((n, c) => n + Number(c.channel_count ?? 0n), 0)).toBe(1);
      // Checkpoints answer the channel's owner only: a new client takes both channels first.
      const again = startSession(client, tunnelId);
      await again.start();
      expect(again.ownedChannels()).toHaveLength(positions.size);
      for (const [channelId, token] of positions) {
        expect(await client.getCheckpoint({ tunnel_id: tunnelId, client_id: again.clientId!, channel_id: channelId })).toEqual({
          checkpoint: token,
          sequence_number: 1n,
        });
      }
      await again.shutdown();
      sessions = [];
    } finally {
      await emu.close();
      emu = undefined;
      const { rm } = await import('node:fs/promises');
      await rm(dataDir, { recursive: true, force: true });
    }
  });
});
