/**
 * The Tunnel service at the RPC level: proto2 bytes in, proto2 bytes out through handle(), over an
 * in-memory table store and a hand-driven clock (no HTTP, no sleeps).
 */
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { RpcError } from '../../emulator/tablestore/rpc.js';
import { encodeStreamRecord } from '../../emulator/tablestore/plainbuffer-write.js';
import { TunnelService, type TunnelServiceOptions } from '../../emulator/tablestore/tunnel-service.js';
import {
  ActionType,
  ChannelStatus,
  decodeMessage,
  encodeMessage,
  StartOffsetFlag,
  TunnelType,
  type ChannelMsg,
  type Messages,
  type StreamTunnelConfig,
} from '../../tunnel/proto.js';
import { FakeTableStore } from './tunnel-fake-store.js';

const RPC = {
  create: ['/tunnel/create', 'CreateTunnelRequest', 'CreateTunnelResponse'],
  delete: ['/tunnel/delete', 'DeleteTunnelRequest', 'DeleteTunnelResponse'],
  list: ['/tunnel/list', 'ListTunnelRequest', 'ListTunnelResponse'],
  describe: ['/tunnel/describe', 'DescribeTunnelRequest', 'DescribeTunnelResponse'],
  connect: ['/tunnel/connect', 'ConnectRequest', 'ConnectResponse'],
  heartbeat: ['/tunnel/heartbeat', 'HeartbeatRequest', 'HeartbeatResponse'],
  shutdown: ['/tunnel/shutdown', 'ShutdownRequest', 'ShutdownResponse'],
  getCheckpoint: ['/tunnel/getcheckpoint', 'GetCheckpointRequest', 'GetCheckpointResponse'],
  checkpoint: ['/tunnel/checkpoint', 'CheckpointRequest', 'CheckpointResponse'],
  read: ['/tunnel/readrecords', 'ReadRecordsRequest', 'ReadRecordsResponse'],
  schedule: ['/tunnel/schedule', 'ScheduleRequest', 'ScheduleResponse'],
  rpo: ['/tunnel/getrpo', 'GetRpoRequest', 'GetRpoResponse'],
} as const;
type Rpc = typeof RPC;

let nowMs = 1_700_000_000_000;
let store: FakeTableStore;
let services: TunnelService[] = [];

/** Most cases here call channels as an unconnected client 'c': ownership is off unless a case turns it on. */
function startService(options: Partial<TunnelServiceOptions> = {}): TunnelService {
  const svc = new TunnelService(store, { instance: 'inst', clock: () => nowMs, sweepIntervalMs: 0, initDelayMs: 100, ownership: 'off', ...options });
  services.push(svc);
  return svc;
}

async function call<K extends keyof Rpc>(svc: TunnelService, rpc: K, req: Messages[Rpc[K][1]]): Promise<Messages[Rpc[K][2]]> {
  const [path, reqName, resName] = RPC[rpc];
  const body = encodeMessage(reqName, req as never);
  const out = await svc.handle(path, body, { instance: 'inst', accessKeyId: 'ak', requestId: 'r', receivedAt: nowMs });
  return decodeMessage(resName, out) as Messages[Rpc[K][2]];
}

async function createTunnel(svc: TunnelService, type: TunnelType, name = 't1', cfg?: StreamTunnelConfig): Promise<string> {
  const tunnel = { table_name: 'orders', tunnel_name: name, tunnel_type: type, ...(cfg ? { stream_tunnel_config: cfg } : {}) };
  return (await call(svc, 'create', { tunnel })).tunnel_id;
}

async function describeTunnel(svc: TunnelService, name = 't1') {
  return call(svc, 'describe', { table_name: 'orders', tunnel_name: name });
}

/** Reads a channel from its checkpoint until the live tail (or finished); returns the records and last token. */
async function drain(svc: TunnelService, tunnelId: string, channelId: string, startToken?: string) {
  let token = startToken ?? (await call(svc, 'getCheckpoint', { tunnel_id: tunnelId, client_id: 'c', channel_id: channelId })).checkpoint;
  const records: Messages['ReadRecordsResponse']['records'] = [];
  for (let i = 0; i < 100; i++) {
    const res = await call(svc, 'read', { tunnel_id: tunnelId, client_id: 'c', channel_id: channelId, token });
    records.push(...res.records);
    if (res.next_token === 'finished') return { records, token: res.next_token };
    if (res.records.length === 0) return { records, token };
    token = res.next_token;
  }
  throw new Error('channel did not reach its tail');
}

function rpcError(status: number, code: string) {
  return expect.objectContaining({ httpStatus: status, errorCode: code });
}

beforeEach(() => {
  nowMs = 1_700_000_000_000;
  store = new FakeTableStore(() => nowMs++);
  store.createTable('orders', 2);
  services = [];
});

afterEach(async () => {
  for (const s of services) await s.close();
});

describe('tunnels', () => {
  it('creates, lists, describes and deletes with exact strings, stages and duplicate detection', async () => {
    const svc = startService();
    const id = await createTunnel(svc, TunnelType.Stream);
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    await expect(createTunnel(svc, TunnelType.BaseData)).rejects.toEqual(rpcError(409, 'OTSTunnelExist'));

    let d = await describeTunnel(svc);
    expect(d.tunnel).toMatchObject({ tunnel_id: id, tunnel_type: 'Stream', table_name: 'orders', instance_name: 'inst', stage: 'InitBaseDataAndStreamShard' });
    expect(d.tunnel.stream_id).not.toBe('');
    expect(d.channels.map((c) => [c.channel_id, c.channel_type, c.channel_status])).toEqual([
      ['p0', 'Stream', 'WAIT'],
      ['p1', 'Stream', 'WAIT'],
    ]);
    nowMs += 200;
    d = await describeTunnel(svc);
    expect(d.tunnel.stage).toBe('ProcessStream');
    expect(d.tunnel.create_time! % 1_000_000n).toBe(0n);
    expect(Number(d.tunnel.create_time! / 1_000_000n)).toBeGreaterThanOrEqual(1_700_000_000_000);

    await createTunnel(svc, TunnelType.BaseAndStream, 't2');
    const list = await call(svc, 'list', { table_name: 'orders' });
    expect(list.tunnels.map((t) => [t.tunnel_name, t.tunnel_type])).toEqual([
      ['t1', 'Stream'],
      ['t2', 'BaseAndStream'],
    ]);
    expect((await call(svc, 'list', { table_name: '' })).tunnels).toHaveLength(2);
    const base = await describeTunnel(svc, 't2');
    expect(base.channels.filter((c) => c.channel_type === 'BaseData').map((c) => c.channel_id)).toEqual(['BaseData_p0', 'BaseData_p1']);

    await call(svc, 'delete', { table_name: 'orders', tunnel_name: 't1' });
    expect((await call(svc, 'list', {})).tunnels.map((t) => t.tunnel_name)).toEqual(['t2']);
    await expect(describeTunnel(svc, 't1')).rejects.toEqual(rpcError(400, 'OTSParameterInvalid'));
    await expect(call(svc, 'create', { tunnel: { table_name: 'nope', tunnel_name: 'x', tunnel_type: TunnelType.Stream } })).rejects.toBeInstanceOf(RpcError);
  });

  it('rejects malformed requests and stream configs with OTSParameterInvalid', async () => {
    const svc = startService();
    const ctx = { instance: 'inst', accessKeyId: 'ak', requestId: 'r', receivedAt: nowMs };
    await expect(svc.handle('/tunnel/create', new Uint8Array([0xff, 0xff]), ctx)).rejects.toEqual(rpcError(400, 'OTSParameterInvalid'));
    const future = BigInt(nowMs + 60_000) * 1_000_000n;
    await expect(createTunnel(svc, TunnelType.Stream, 'f', { startOffset: future })).rejects.toEqual(rpcError(400, 'OTSParameterInvalid'));
    const start = BigInt(nowMs - 1000) * 1_000_000n;
    await expect(createTunnel(svc, TunnelType.Stream, 'g', { startOffset: start, endOffset: start })).rejects.toEqual(rpcError(400, 'OTSParameterInvalid'));
  });
});

describe('stream channels', () => {
  it('return every change after creation in write order with sequence info, then an empty page at the tail', async () => {
    store.put('orders', 1n, { v: { type: 'INTEGER', value: 0n } }); // before the tunnel: not delivered
    const svc = startService();
    const id = await createTunnel(svc, TunnelType.Stream);
    const written = [
      store.put('orders', 1n, { v: { type: 'INTEGER', value: 1n } }),
      store.update('orders', 1n, [{ op: 'delete-all', name: 'v' }]),
      store.put('orders', 2n, { s: { type: 'STRING', value: 'x' } }),
      store.delete('orders', 1n),
    ];
    for (const p of ['p0', 'p1']) {
      const expected = written.filter((r) => r.partitionId === p);
      const { records, token } = await drain(svc, id, p);
      expect(records.map((r) => r.action_type)).toEqual(expected.map((r) => ActionType[r.action]));
      expect(records.map((r) => Buffer.from(r.record).toString('hex'))).toEqual(
        expected.map((r) => Buffer.from(encodeStreamRecord(r, { withSequence: true })).toString('hex')),
      );
      // At the tail: zero records and the same position again (idempotent).
      const tail = await call(svc, 'read', { tunnel_id: id, client_id: 'c', channel_id: p, token });
      expect(tail.records).toHaveLength(0);
      expect(tail.next_token).toBe(token);
      expect(tail.may_more_record).toBe(false);
    }
  });

  it('honours EARLIEST, startOffset, endOffset and the page limits', async () => {
    const early = store.put('orders', 3n, { v: { type: 'INTEGER', value: 1n } });
    nowMs += 10_000;
    const late = store.put('orders', 3n, { v: { type: 'INTEGER', value: 2n } });
    const svc = startService({ readMaxRecords: 1 });
    const idE = await createTunnel(svc, TunnelType.Stream, 'e', { flag: StartOffsetFlag.EARLIEST });
    const idS = await createTunnel(svc, TunnelType.Stream, 's', { startOffset: (late.seq.timestamp - 1n) * 1000n });
    const idB = await createTunnel(svc, TunnelType.Stream, 'b', {
      startOffset: early.seq.timestamp * 1000n,
      endOffset: (early.seq.timestamp + 1n) * 1000n,
    });
    const p = early.partitionId;
    expect((await drain(svc, idE, p)).records).toHaveLength(2);
    const first = await call(svc, 'read', {
      tunnel_id: idE,
      client_id: 'c',
      channel_id: p,
      token: (await call(svc, 'getCheckpoint', { tunnel_id: idE, client_id: 'c', channel_id: p })).checkpoint,
    });
    expect(first.records).toHaveLength(1);
    expect(first.may_more_record).toBe(true);
    expect((await drain(svc, idS, p)).records.map((r) => Buffer.from(r.record))).toEqual([Buffer.from(encodeStreamRecord(late, { withSequence: true }))]);
    const backfill = await drain(svc, idB, p);
    expect(backfill.records).toHaveLength(1);
    expect(backfill.token).toBe('finished');
  });

  it('rejects foreign, garbage and "finished" tokens with OTSParameterInvalid (switchable for "finished")', async () => {
    const svc = startService();
    const id = await createTunnel(svc, TunnelType.Stream);
    const t0 = (await call(svc, 'getCheckpoint', { tunnel_id: id, client_id: 'c', channel_id: 'p0' })).checkpoint;
    for (const token of [t0, 'not a token!', 'AAAA', 'finished']) {
      await expect(call(svc, 'read', { tunnel_id: id, client_id: 'c', channel_id: 'p1', token })).rejects.toEqual(rpcError(400, 'OTSParameterInvalid'));
    }
    const lenient = startService({ finishedTokenRead: 'finished' });
    const id2 = await createTunnel(lenient, TunnelType.Stream);
    const res = await call(lenient, 'read', { tunnel_id: id2, client_id: 'c', channel_id: 'p1', token: 'finished' });
    expect(res).toMatchObject({ records: [], next_token: 'finished' });
  });
});

describe('base channels', () => {
  it('page the current rows in PK order without sequence info, then "finished"; the stage then moves to ProcessStream', async () => {
    const ids = [5n, 1n, 9n, 3n, 7n, 2n, 8n];
    for (const i of ids) store.put('orders', i, { v: { type: 'INTEGER', value: i * 10n } });
    const svc = startService({ readMaxRecords: 2 });
    const id = await createTunnel(svc, TunnelType.BaseAndStream);
    nowMs += 200;
    expect((await describeTunnel(svc)).tunnel.stage).toBe('ProcessBaseData');
    store.put('orders', 4n, { v: { type: 'INTEGER', value: 40n } }); // after creation: in base (current rows) and in stream
    let total = 0;
    for (const p of ['p0', 'p1']) {
      const { records, token } = await drain(svc, id, `BaseData_${p}`);
      expect(token).toBe('finished');
      const expectedIds = [...ids, 4n].filter((i) => store.partitionOf('orders', i).id === p).sort((a, b) => Number(a - b));
      expect(records.map((r) => r.action_type)).toEqual(expectedIds.map(() => ActionType.PUT_ROW));
      const rows = store.scan(
        'orders',
        store.partitions('orders').find((x) => x.id === p)!,
        null,
        100,
      ).rows;
      expect(records.map((r) => Buffer.from(r.record))).toEqual(rows.map((row) => Buffer.from(encodeStreamRecord(row, { withSequence: false }))));
      total += records.length;
      await call(svc, 'checkpoint', { tunnel_id: id, client_id: 'c', channel_id: `BaseData_${p}`, checkpoint: 'finished', sequence_number: 1n });
    }
    expect(total).toBe(8);
    const d = await describeTunnel(svc);
    expect(d.tunnel.stage).toBe('ProcessStream');
    expect(d.channels.filter((c) => c.channel_type === 'BaseData').map((c) => c.channel_status)).toEqual(['TERMINATED', 'TERMINATED']);
    const p4 = store.partitionOf('orders', 4n).id;
    expect((await drain(svc, id, p4)).records).toHaveLength(1);
  });
});

describe('clients and heartbeats', () => {
  async function heartbeat(svc: TunnelService, tunnelId: string, clientId: string, channels: ChannelMsg[] = []) {
    return (await call(svc, 'heartbeat', { tunnel_id: tunnelId, client_id: clientId, channels })).channels;
  }

  it('spreads channels evenly, moves excess through CLOSING, and reassigns after expiry', async () => {
    store = new FakeTableStore(() => nowMs);
    store.createTable('orders', 4);
    const svc = startService({ initDelayMs: 0 });
    const id = await createTunnel(svc, TunnelType.Stream);
    const a = (await call(svc, 'connect', { tunnel_id: id, client_config: { timeout: 10n, client_tag: 'hostA' } })).client_id;
    expect(a).toMatch(/^hostA_[0-9a-f]+$/);
    let mineA = await heartbeat(svc, id, a);
    expect(mineA.map((c) => [c.status, c.version])).toEqual(Array(4).fill([ChannelStatus.OPEN, 1n]));

    const b = (await call(svc, 'connect', { tunnel_id: id, client_config: { timeout: 10n, client_tag: 'hostB' } })).client_id;
    expect(await heartbeat(svc, id, b)).toEqual([]); // nothing free yet
    mineA = await heartbeat(svc, id, a, mineA);
    const closing = mineA.filter((c) => c.status === ChannelStatus.CLOSING);
    expect(closing).toHaveLength(2);
    expect(closing.every((c) => c.version === 2n)).toBe(true);
    // A stale report (version not above the server's) changes nothing.
    mineA = await heartbeat(svc, id, a, mineA);
    expect(mineA.filter((c) => c.status === ChannelStatus.CLOSING)).toHaveLength(2);
    // A confirms CLOSE with version + 1; B then gets them OPEN with a higher version.
    const reports = mineA.map((c) => (c.status === ChannelStatus.CLOSING ? { ...c, status: ChannelStatus.CLOSE, version: c.version + 1n } : c));
    mineA = await heartbeat(svc, id, a, reports);
    expect(mineA.map((c) => c.status)).toEqual([ChannelStatus.OPEN, ChannelStatus.OPEN]);
    const mineB = await heartbeat(svc, id, b);
    expect(mineB.map((c) => c.channel_id).sort()).toEqual(closing.map((c) => c.channel_id).sort());
    expect(mineB.every((c) => c.status === ChannelStatus.OPEN && c.version === 4n)).toBe(true);
    const d = await describeTunnel(svc);
    expect(new Set(d.channels.map((c) => c.client_id))).toEqual(new Set([a, b]));

    // B stops heartbeating: the sweep releases its channels and A takes them over.
    nowMs += 5_000;
    await heartbeat(svc, id, a, mineA);
    nowMs += 6_000;
    expect(await svc.sweepExpiredClients(nowMs)).toEqual([b]);
    await expect(heartbeat(svc, id, b, mineB)).rejects.toEqual(rpcError(410, 'OTSResourceGone'));
    mineA = await heartbeat(svc, id, a, mineA);
    expect(mineA).toHaveLength(4);
    expect(mineA.every((c) => c.status === ChannelStatus.OPEN)).toBe(true);
  });

  it('treats an unswept expired client as gone, and shutdown releases at once', async () => {
    const svc = startService({ initDelayMs: 0 });
    const id = await createTunnel(svc, TunnelType.Stream);
    const a = (await call(svc, 'connect', { tunnel_id: id, client_config: { timeout: 1n, client_tag: 'a' } })).client_id;
    await expect(heartbeat(svc, id, 'nobody')).rejects.toEqual(rpcError(410, 'OTSResourceGone'));
    expect(await heartbeat(svc, id, a)).toHaveLength(2);
    const b = (await call(svc, 'connect', { tunnel_id: id, client_config: { timeout: 60n, client_tag: 'b' } })).client_id;
    nowMs += 1_500;
    // No sweep ran: a's expiry is noticed by b's heartbeat, which takes a's channels over.
    expect(await heartbeat(svc, id, b)).toHaveLength(2);
    await expect(heartbeat(svc, id, a)).rejects.toEqual(rpcError(410, 'OTSResourceGone'));
    await call(svc, 'shutdown', { tunnel_id: id, client_id: b });
    await call(svc, 'shutdown', { tunnel_id: id, client_id: b }); // retried shutdown is harmless
    let d = await describeTunnel(svc);
    expect(d.channels.map((c) => [c.channel_status, c.client_id])).toEqual([
      ['CLOSE', ''],
      ['CLOSE', ''],
    ]);
    // A client's own late heartbeat is refused and releases what it held.
    const c = (await call(svc, 'connect', { tunnel_id: id, client_config: { timeout: 1n } })).client_id;
    expect(await heartbeat(svc, id, c)).toHaveLength(2);
    nowMs += 1_001;
    await expect(heartbeat(svc, id, c)).rejects.toEqual(rpcError(410, 'OTSResourceGone'));
    d = await describeTunnel(svc);
    expect(d.channels.map((x) => x.channel_status)).toEqual(['CLOSE', 'CLOSE']);
  });

  it('hands out split children only after the parent is complete, and forgets TERMINATED channels', async () => {
    const svc = startService({ initDelayMs: 0 });
    const id = await createTunnel(svc, TunnelType.Stream);
    const a = (await call(svc, 'connect', { tunnel_id: id, client_config: { timeout: 60n, client_tag: 'a' } })).client_id;
    let mine = await heartbeat(svc, id, a);
    const before = store.put('orders', 1n, { v: { type: 'INTEGER', value: 1n } });
    const parent = before.partitionId;
    const children = store.split('orders', parent);
    const after = store.put('orders', 1n, { v: { type: 'INTEGER', value: 2n } });
    mine = await heartbeat(svc, id, a, mine);
    expect(mine.map((c) => c.channel_id).sort()).toEqual(['p0', 'p1']);
    let d = await describeTunnel(svc);
    expect(d.channels.filter((c) => children.some((x) => x.id === c.channel_id)).map((c) => c.channel_status)).toEqual(['WAIT', 'WAIT']);

    const parentRead = await drain(svc, id, parent);
    expect(parentRead.token).toBe('finished');
    expect(parentRead.records).toHaveLength(1);
    // The client reports TERMINATED (version + 1): the parent is gone from its list, the children arrive.
    const reports = mine.map((c) => (c.channel_id === parent ? { ...c, status: ChannelStatus.TERMINATED, version: c.version + 1n } : c));
    mine = await heartbeat(svc, id, a, reports);
    expect(mine.map((c) => c.channel_id)).not.toContain(parent);
    expect(mine.map((c) => c.channel_id)).toEqual(expect.arrayContaining(children.map((c) => c.id)));
    const child = after.partitionId;
    expect((await drain(svc, id, child)).records.map((r) => Buffer.from(r.record))).toEqual([Buffer.from(encodeStreamRecord(after, { withSequence: true }))]);
    d = await describeTunnel(svc);
    expect(d.channels.find((c) => c.channel_id === parent)?.channel_status).toBe('TERMINATED');
  });

  it('unblocks children by a "finished" checkpoint alone unless completion requires TERMINATED', async () => {
    for (const completionSignal of ['either', 'terminated'] as const) {
      store = new FakeTableStore(() => nowMs++);
      store.createTable('orders', 1);
      const svc = startService({ initDelayMs: 0, completionSignal, describeSchedulableAsOpen: true });
      const id = await createTunnel(svc, TunnelType.Stream);
      store.split('orders', 'p0');
      await drain(svc, id, 'p0');
      await call(svc, 'checkpoint', { tunnel_id: id, client_id: 'spark-client', channel_id: 'p0', checkpoint: 'finished', sequence_number: 0n });
      const d = await describeTunnel(svc);
      const childStatus = d.channels.filter((c) => c.channel_id !== 'p0').map((c) => c.channel_status);
      expect(childStatus).toEqual(completionSignal === 'either' ? ['OPEN', 'OPEN'] : ['WAIT', 'WAIT']);
    }
  });

  it('Schedule suspends, resumes and terminates channels', async () => {
    const svc = startService({ initDelayMs: 0 });
    const id = await createTunnel(svc, TunnelType.Stream);
    const a = (await call(svc, 'connect', { tunnel_id: id, client_config: { timeout: 60n } })).client_id;
    let mine = await heartbeat(svc, id, a);
    await call(svc, 'schedule', { tunnel_id: id, channels: [{ channel_id: 'p0', status: ChannelStatus.CLOSING, version: 0n }] });
    mine = await heartbeat(svc, id, a, mine);
    expect(mine.find((c) => c.channel_id === 'p0')).toMatchObject({ status: ChannelStatus.CLOSING, version: 2n });
    mine = await heartbeat(
      svc,
      id,
      a,
      mine.map((c) => (c.channel_id === 'p0' ? { ...c, status: ChannelStatus.CLOSE, version: 3n } : c)),
    );
    expect(mine.map((c) => c.channel_id)).toEqual(['p1']); // suspended: not handed out again
    expect((await describeTunnel(svc)).channels[0]?.channel_status).toBe('CLOSING');
    await call(svc, 'schedule', { tunnel_id: id, channels: [{ channel_id: 'p0', status: ChannelStatus.OPEN, version: 0n }] });
    mine = await heartbeat(svc, id, a, mine);
    expect(mine.map((c) => c.channel_id).sort()).toEqual(['p0', 'p1']);
    await call(svc, 'schedule', { tunnel_id: id, channels: [{ channel_id: 'p1', status: ChannelStatus.TERMINATED, version: 0n }] });
    mine = await heartbeat(svc, id, a, mine);
    expect(mine.map((c) => c.channel_id)).toEqual(['p0']);
    await expect(call(svc, 'schedule', { tunnel_id: id, channels: [{ channel_id: 'zz', status: ChannelStatus.OPEN, version: 0n }] })).rejects.toEqual(
      rpcError(400, 'OTSParameterInvalid'),
    );
  });
});

describe('progress views', () => {
  it('reports consume points and counts in DescribeTunnel and GetRpo, and drops tunnels of a deleted table', async () => {
    const svc = startService({ initDelayMs: 0 });
    const id = await createTunnel(svc, TunnelType.Stream);
    const a = (await call(svc, 'connect', { tunnel_id: id, client_config: { timeout: 60n } })).client_id;
    await call(svc, 'heartbeat', { tunnel_id: id, client_id: a, channels: [] });
    const last = [store.put('orders', 1n, {}), store.put('orders', 1n, {})][1]!;
    const ch = { tunnel_id: id, client_id: a, channel_id: last.partitionId };
    const { token } = await drain(svc, id, last.partitionId);
    await call(svc, 'checkpoint', { ...ch, checkpoint: token, sequence_number: 1n });
    const d = await describeTunnel(svc);
    const info = d.channels.find((c) => c.channel_id === last.partitionId)!;
    expect(info).toMatchObject({ channel_rpo: last.seq.timestamp * 1000n, channel_count: 2n, client_id: a, channel_status: 'OPEN' });
    expect(d.tunnel_rpo).toBe(0n); // the other channel has consumed nothing yet
    const rpo = await call(svc, 'rpo', { tunnel_id: id });
    expect(rpo.tunnel_id).toBe(id);
    const perClient = JSON.parse(new TextDecoder().decode(rpo.rpo_infos)) as Record<string, Record<string, { TotalCount: number; ChannelTyp: string }>>;
    expect(perClient[a]?.[last.partitionId]).toMatchObject({ TotalCount: 2, ChannelTyp: 'Stream' });
    const perTunnel = JSON.parse(new TextDecoder().decode(rpo.tunnel_rpo_infos)) as Record<string, { TotalCount: number }>;
    expect(perTunnel[id]?.TotalCount).toBe(2);

    store.deleteTable('orders');
    expect((await call(svc, 'list', {})).tunnels).toEqual([]);
    await expect(call(svc, 'heartbeat', { tunnel_id: id, client_id: a, channels: [] })).rejects.toEqual(rpcError(400, 'OTSParameterInvalid'));
  });
});

describe('checkpoints', () => {
  it('start at the initial token with seq 0 and enforce the sequence rules', async () => {
    const svc = startService();
    const id = await createTunnel(svc, TunnelType.Stream);
    const ch = { tunnel_id: id, client_id: 'c', channel_id: 'p0' };
    const initial = await call(svc, 'getCheckpoint', ch);
    expect(initial.sequence_number).toBe(0n);
    store.put('orders', 1n, {});
    store.put('orders', 2n, {});
    const res = await call(svc, 'read', { ...ch, token: initial.checkpoint });
    await call(svc, 'checkpoint', { ...ch, checkpoint: res.next_token, sequence_number: 5n });
    expect(await call(svc, 'getCheckpoint', ch)).toEqual({ checkpoint: res.next_token, sequence_number: 5n });
    await expect(call(svc, 'checkpoint', { ...ch, checkpoint: res.next_token, sequence_number: 5n })).rejects.toEqual(
      rpcError(409, 'OTSSequenceNumberNotMatch'),
    );
    await expect(call(svc, 'checkpoint', { ...ch, checkpoint: res.next_token, sequence_number: 3n })).rejects.toEqual(
      rpcError(409, 'OTSSequenceNumberNotMatch'),
    );
    await call(svc, 'checkpoint', { ...ch, checkpoint: initial.checkpoint, sequence_number: 0n }); // Spark style
    expect(await call(svc, 'getCheckpoint', ch)).toEqual({ checkpoint: initial.checkpoint, sequence_number: 5n });
    await expect(call(svc, 'checkpoint', { ...ch, checkpoint: 'garbage', sequence_number: 9n })).rejects.toEqual(rpcError(400, 'OTSParameterInvalid'));
    await expect(call(svc, 'checkpoint', { ...ch, channel_id: 'nope', checkpoint: 'finished', sequence_number: 9n })).rejects.toEqual(
      rpcError(400, 'OTSParameterInvalid'),
    );

    const strict = startService({ sequenceRule: 'next', acceptZeroSequence: false, ownership: 'checkpoint', initDelayMs: 0 });
    const id2 = await createTunnel(strict, TunnelType.Stream);
    const owner = (await call(strict, 'connect', { tunnel_id: id2, client_config: { timeout: 60n } })).client_id;
    await call(strict, 'heartbeat', { tunnel_id: id2, client_id: owner, channels: [] });
    const ch2 = { tunnel_id: id2, client_id: owner, channel_id: 'p0' };
    const token = (await call(strict, 'getCheckpoint', ch2)).checkpoint;
    await expect(call(strict, 'checkpoint', { ...ch2, checkpoint: token, sequence_number: 2n })).rejects.toEqual(rpcError(409, 'OTSSequenceNumberNotMatch'));
    await expect(call(strict, 'checkpoint', { ...ch2, checkpoint: token, sequence_number: 0n })).rejects.toEqual(rpcError(409, 'OTSSequenceNumberNotMatch'));
    await call(strict, 'checkpoint', { ...ch2, checkpoint: token, sequence_number: 1n });
    await expect(call(strict, 'checkpoint', { ...ch2, client_id: 'spark-client', checkpoint: token, sequence_number: 2n })).rejects.toEqual(
      rpcError(410, 'OTSResourceGone'),
    );
  });
});

describe('persistence', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'otslake-tunnel-state-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a corrupt state file with a typed error naming the file', async () => {
    await writeFile(join(dir, 'tunnel-state.json'), '{"version":1,"tunnels":');
    expect(() => startService({ dataDir: dir })).toThrow(expect.objectContaining({ code: 'OTSL_EMULATOR', context: { file: join(dir, 'tunnel-state.json') } }));
  });

  it('keeps tunnels, ownership and checkpoints across a restart with dataDir', async () => {
    const first = startService({ dataDir: dir, initDelayMs: 0 });
    const id = await createTunnel(first, TunnelType.Stream);
    const a = (await call(first, 'connect', { tunnel_id: id, client_config: { timeout: 60n } })).client_id;
    const mine = await call(first, 'heartbeat', { tunnel_id: id, client_id: a, channels: [] });
    store.put('orders', 1n, {});
    const ch = { tunnel_id: id, client_id: a, channel_id: store.partitionOf('orders', 1n).id };
    const res = await call(first, 'read', { ...ch, token: (await call(first, 'getCheckpoint', ch)).checkpoint });
    await call(first, 'checkpoint', { ...ch, checkpoint: res.next_token, sequence_number: 1n });
    await first.close();

    expect(await readdir(dir)).toEqual(['tunnel-state.json']); // written by rename, no temp files left

    const second = startService({ dataDir: dir, initDelayMs: 0 });
    expect((await call(second, 'list', {})).tunnels.map((t) => t.tunnel_id)).toEqual([id]);
    expect(await call(second, 'getCheckpoint', ch)).toEqual({ checkpoint: res.next_token, sequence_number: 1n });
    const again = await call(second, 'heartbeat', { tunnel_id: id, client_id: a, channels: mine.channels });
    expect(again.channels).toEqual(mine.channels);
  });
});
