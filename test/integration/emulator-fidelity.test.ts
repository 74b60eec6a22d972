/**
 * tablestore-local where the official SDKs can tell it from the service: whole-request BatchWriteRow
 * errors, shared sequence timestamps with row indexes, StreamId agreement, key spread, CreateTunnel
 * switching the stream on, channel ownership, and stream retention with tunnel expiry. Real server
 * on loopback; the official `tablestore` SDK for tables, our TunnelClient / TunnelSession for Tunnels.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { hasCode, type OtslakeError } from '../../common/errors.js';
import { decodeRecordToObject } from '../../tunnel/plainbuffer-object.js';
import { StartOffsetFlag, TunnelType } from '../../tunnel/proto.js';
import type { TunnelClient } from '../../tunnel/tunnel-client.js';
import { TunnelSession } from '../../tunnel/tunnel-session.js';
import { createStreamTable, startTestEmulator, tablestoreSdk as TS, type TestEmulator } from '../helpers/emulator.js';
import { otslakeRejectionOf, rejectionOf } from '../helpers/rejection.js';

const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);
const HOUR_MS = 3_600_000;

let emu: TestEmulator | undefined;
let sessions: TunnelSession[] = [];
afterEach(async () => {
  for (const s of sessions) await s.shutdown().catch(() => undefined);
  sessions = [];
  await emu?.close();
  emu = undefined;
});

// The SDK is untyped beyond what the helper declares.
type Sdk = Record<string, (params: Record<string, unknown>) => Promise<any>>;

async function setup(options: Parameters<typeof startTestEmulator>[0] = {}) {
  emu = await startTestEmulator({ partitionsPerTable: 1, ...options });
  return { emu, sdk: emu.sdkClient() as unknown as Sdk, tunnel: emu.tunnelClient() };
}

function session(client: TunnelClient, tunnelId: string, tag = 'test', timeoutMs = 300_000): TunnelSession {
  const s = new TunnelSession({ client, tunnelId, clientTag: tag, heartbeatIntervalMs: Math.min(60_000, timeoutMs / 2), heartbeatTimeoutMs: timeoutMs });
  sessions.push(s);
  return s;
}

async function createTunnel(tunnel: TunnelClient, table: string, type: TunnelType, extra: Record<string, unknown> = {}): Promise<string> {
  return (await tunnel.createTunnel({ tunnel: { table_name: table, tunnel_name: `t-${type}`, tunnel_type: type, ...extra } })).tunnel_id;
}

function putRow(_table: string, id: string, attrs: Record<string, unknown> = { v: 'x' }) {
  return { type: 'PUT', condition: IGNORE(), primaryKey: [{ id }], attributeColumns: Object.entries(attrs).map(([k, v]) => ({ [k]: v })) };
}

async function sdkFailure(p: Promise<unknown>): Promise<{ code: unknown; message: string }> {
  return rejectionOf<{ code: unknown; message: string }>(p);
}

const isGone = (e: OtslakeError) => hasCode(e, 'OTSL_TUNNEL_RESOURCE_GONE');
const serverCode = (e: OtslakeError) => e.context?.serverCode;

describe('BatchWriteRow errors of the whole request', () => {
  it('fails with OTSObjectNotExist for an unknown table and OTSParameterInvalid for a repeated key, writing nothing', async () => {
    const { sdk } = await setup();
    await createStreamTable(sdk as never, 'a', [{ name: 'id', type: 'STRING' }]);
    const unknown = await sdkFailure(
      sdk.batchWriteRow!({
        tables: [
          { tableName: 'a', rows: [putRow('a', 'k1')] },
          { tableName: 'nosuch', rows: [putRow('nosuch', 'k1')] },
        ],
      }),
    );
    expect(unknown.code).toBe(404);
    expect(unknown.message).toContain('OTSObjectNotExist');
    const duplicate = await sdkFailure(
      sdk.batchWriteRow!({ tables: [{ tableName: 'a', rows: [putRow('a', 'k2'), putRow('a', 'k3'), putRow('a', 'k2', { v: 'y' })] }] }),
    );
    expect(duplicate.code).toBe(400);
    expect(duplicate.message).toContain('OTSParameterInvalid');
    for (const id of ['k1', 'k2', 'k3']) expect((await sdk.getRow!({ tableName: 'a', primaryKey: [{ id }], maxVersions: 1 })).row).toEqual({});
    expect(emu!.emulator.store.rowCount('a')).toBe(0);
  });
});

describe('sequence info and stream id', () => {
  it('gives the rows of one BatchWriteRow one timestamp told apart by row_index; DescribeTable and the tunnel agree on the StreamId', async () => {
    const { sdk, tunnel } = await setup();
    await createStreamTable(sdk as never, 'seq', [{ name: 'id', type: 'STRING' }]);
    const tunnelId = await createTunnel(tunnel, 'seq', TunnelType.Stream);
    await sdk.batchWriteRow!({ tables: [{ tableName: 'seq', rows: Array.from({ length: 10 }, (_, i) => putRow('seq', `r${i}`)) }] });
    await sdk.putRow!({ tableName: 'seq', condition: IGNORE(), primaryKey: [{ id: 'later' }], attributeColumns: [{ v: 'z' }] });
    const s = session(tunnel, tunnelId);
    await s.start();
    const [channel] = s.ownedChannels();
    const start = await s.getStartToken(channel!.channelId);
    const page = await tunnel.readRecords({ tunnel_id: tunnelId, client_id: s.clientId!, channel_id: channel!.channelId, token: start.token });
    const seqs = page.records.map((r) => decodeRecordToObject(r).sequenceInfo!);
    expect(seqs).toHaveLength(11);
    const batch = seqs.slice(0, 10);
    expect(new Set(batch.map((q) => q.timestamp)).size).toBe(1);
    expect(batch.map((q) => q.rowIndex)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seqs[10]!.timestamp > batch[0]!.timestamp || seqs[10]!.rowIndex === 10).toBe(true);

    const described = await sdk.describeTable!({ tableName: 'seq' });
    const tunnelInfo = (await tunnel.describeTunnel({ table_name: 'seq', tunnel_name: `t-${TunnelType.Stream}` })).tunnel;
    expect(described.streamDetails.streamId).toBeTruthy();
    expect(tunnelInfo.stream_id).toBe(described.streamDetails.streamId);
  });
});

describe('key spread', () => {
  it('spreads 60 similar keys over 4 partitions, each getting a fair share', async () => {
    const { sdk } = await setup({ partitionsPerTable: 4 });
    await createStreamTable(sdk as never, 'spread', [{ name: 'id', type: 'STRING' }]);
    const rows = Array.from({ length: 60 }, (_, i) => putRow('spread', `sm-${String(i).padStart(3, '0')}`));
    await sdk.batchWriteRow!({ tables: [{ tableName: 'spread', rows }] });
    const { partitions } = (await emu!.admin('/_admin/partitions?table=spread')) as { partitions: Array<{ changeCount: number }> };
    const counts = partitions.map((p) => p.changeCount);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(60);
    // 15 expected each; plain FNV-1a put them 0/30/0/30.
    for (const n of counts) expect(n).toBeGreaterThanOrEqual(8);
  });
});

describe('CreateTunnel and the table stream', () => {
  it('switches the stream on with a 7-day retention and checks the start offset window', async () => {
    const { sdk, tunnel } = await setup();
    for (const name of ['plain', 'based'])
      await sdk.createTable!({
        tableMeta: { tableName: name, primaryKey: [{ name: 'id', type: 'STRING' }] },
        reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
        tableOptions: { timeToLive: -1, maxVersions: 1 },
      });
    expect((await sdk.describeTable!({ tableName: 'plain' })).streamDetails.enableStream).toBe(false);

    const nowNs = BigInt(Date.now()) * 1_000_000n;
    const week = 168n * 3_600_000_000_000n;
    const tooOld = await otslakeRejectionOf(
      tunnel.createTunnel({
        tunnel: {
          table_name: 'plain',
          tunnel_name: 'old',
          tunnel_type: TunnelType.Stream,
          stream_tunnel_config: { startOffset: nowNs - week + 60_000_000_000n },
        },
      }),
    );
    expect(serverCode(tooOld)).toBe('OTSParameterInvalid');
    const future = await otslakeRejectionOf(
      tunnel.createTunnel({
        tunnel: {
          table_name: 'plain',
          tunnel_name: 'future',
          tunnel_type: TunnelType.Stream,
          stream_tunnel_config: { startOffset: nowNs + 3_600_000_000_000n },
        },
      }),
    );
    expect(serverCode(future)).toBe('OTSParameterInvalid');
    // A refused CreateTunnel changed nothing.
    expect((await sdk.describeTable!({ tableName: 'plain' })).streamDetails.enableStream).toBe(false);

    await tunnel.createTunnel({
      tunnel: {
        table_name: 'plain',
        tunnel_name: 'ok',
        tunnel_type: TunnelType.Stream,
        stream_tunnel_config: { startOffset: nowNs - week + 600_000_000_000n },
      },
    });
    const stream = (await sdk.describeTable!({ tableName: 'plain' })).streamDetails;
    expect(stream.enableStream).toBe(true);
    expect(stream.expirationTime).toBe(168);

    // A BaseData tunnel needs no stream and switches nothing on.
    await createTunnel(tunnel, 'based', TunnelType.BaseData);
    expect((await sdk.describeTable!({ tableName: 'based' })).streamDetails.enableStream).toBe(false);
  });
});

describe('channel ownership', () => {
  it('answers ReadRecords, GetCheckpoint and Checkpoint only for the live owner (OTSResourceGone otherwise)', async () => {
    const { sdk, tunnel } = await setup({ partitionsPerTable: 2 });
    await createStreamTable(sdk as never, 'own', [{ name: 'id', type: 'STRING' }]);
    const tunnelId = await createTunnel(tunnel, 'own', TunnelType.Stream);
    await sdk.batchWriteRow!({ tables: [{ tableName: 'own', rows: Array.from({ length: 8 }, (_, i) => putRow('own', `k${i}`)) }] });

    const a = session(tunnel, tunnelId, 'a', 10_000);
    await a.start();
    const channelId = a.ownedChannels()[0]!.channelId;
    const token = (await a.getStartToken(channelId)).token;
    const read = (clientId: string) => tunnel.readRecords({ tunnel_id: tunnelId, client_id: clientId, channel_id: channelId, token });
    expect((await read(a.clientId!)).records.length).toBeGreaterThan(0);

    // never connected
    expect(isGone(await otslakeRejectionOf(read('stranger')))).toBe(true);
    expect(isGone(await otslakeRejectionOf(tunnel.getCheckpoint({ tunnel_id: tunnelId, client_id: 'stranger', channel_id: channelId })))).toBe(true);

    // connected, but the channel is another client's
    const b = session(emu!.tunnelClient(), tunnelId, 'b', 10_000);
    await b.start();
    expect(b.ownedChannels()).toHaveLength(0);
    expect(isGone(await otslakeRejectionOf(read(b.clientId!)))).toBe(true);
    expect(
      isGone(
        await otslakeRejectionOf(
          tunnel.checkpoint({ tunnel_id: tunnelId, client_id: b.clientId!, channel_id: channelId, checkpoint: token, sequence_number: 1n }),
        ),
      ),
    ).toBe(true);

    // expired: past its timeout (the emulator clock moved 11 s), the owner's reads are refused and its channels released
    await emu!.advanceClock(11_000);
    const expired = await otslakeRejectionOf(read(a.clientId!));
    expect(isGone(expired)).toBe(true);
    expect(expired.message).toContain('timeout');
    const described = await tunnel.describeTunnel({ tunnel_id: tunnelId, table_name: 'own', tunnel_name: `t-${TunnelType.Stream}` });
    expect(described.channels.filter((c) => c.client_id === a.clientId)).toHaveLength(0);
  });

  it('refuses reads after ShutdownTunnel, and serves them with ownership off', async () => {
    for (const ownership of ['enforce', 'off'] as const) {
      const { sdk, tunnel } = await setup({ tunnel: { ownership } });
      await createStreamTable(sdk as never, 'bye', [{ name: 'id', type: 'STRING' }]);
      const tunnelId = await createTunnel(tunnel, 'bye', TunnelType.Stream);
      await sdk.putRow!({ tableName: 'bye', condition: IGNORE(), primaryKey: [{ id: 'k' }], attributeColumns: [{ v: 'x' }] });
      const s = session(tunnel, tunnelId);
      await s.start();
      const channelId = s.ownedChannels()[0]!.channelId;
      const token = (await s.getStartToken(channelId)).token;
      const clientId = s.clientId!;
      await s.shutdown();
      const after = tunnel.readRecords({ tunnel_id: tunnelId, client_id: clientId, channel_id: channelId, token });
      if (ownership === 'enforce') expect(isGone(await otslakeRejectionOf(after))).toBe(true);
      else expect((await after).records).toHaveLength(1);
      sessions = [];
      await emu!.close();
      emu = undefined;
    }
  });
});

describe('stream retention and tunnel expiry', () => {
  async function hourTable(sdk: Sdk, name: string) {
    await sdk.createTable!({
      tableMeta: { tableName: name, primaryKey: [{ name: 'id', type: 'STRING' }] },
      reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
      tableOptions: { timeToLive: -1, maxVersions: 1 },
      streamSpecification: { enableStream: true, expirationTime: 1 },
    });
  }

  it('trims changes past the retention: a lagging stream tunnel fails with OTSTunnelExpired, a new one starts after the gap', async () => {
    const { sdk, tunnel } = await setup();
    await hourTable(sdk, 'r');
    const tunnelId = await createTunnel(tunnel, 'r', TunnelType.Stream);
    await sdk.putRow!({ tableName: 'r', condition: IGNORE(), primaryKey: [{ id: 'old' }], attributeColumns: [{ v: 'x' }] });
    const s = session(tunnel, tunnelId, 'lag', 3 * HOUR_MS);
    await s.start();
    const channelId = s.ownedChannels()[0]!.channelId;
    const token = (await s.getStartToken(channelId)).token;

    await emu!.advanceClock(HOUR_MS + 60_000);
    const err = await otslakeRejectionOf(tunnel.readRecords({ tunnel_id: tunnelId, client_id: s.clientId!, channel_id: channelId, token }));
    expect(serverCode(err)).toBe('OTSTunnelExpired');
    const described = await tunnel.describeTunnel({ tunnel_id: tunnelId, table_name: 'r', tunnel_name: `t-${TunnelType.Stream}` });
    expect(described.tunnel.expired).toBe(true);
    // the row itself is still there; only its change record is gone
    expect((await sdk.getRow!({ tableName: 'r', primaryKey: [{ id: 'old' }], maxVersions: 1 })).row.primaryKey).toHaveLength(1);

    const fresh = (
      await tunnel.createTunnel({
        tunnel: { table_name: 'r', tunnel_name: 'fresh', tunnel_type: TunnelType.Stream, stream_tunnel_config: { flag: StartOffsetFlag.EARLIEST } },
      })
    ).tunnel_id;
    await sdk.putRow!({ tableName: 'r', condition: IGNORE(), primaryKey: [{ id: 'new' }], attributeColumns: [{ v: 'y' }] });
    const f = session(emu!.tunnelClient(), fresh, 'fresh');
    await f.start();
    const fch = f.ownedChannels()[0]!.channelId;
    const page = await tunnel.readRecords({ tunnel_id: fresh, client_id: f.clientId!, channel_id: fch, token: (await f.getStartToken(fch)).token });
    expect(page.records.map((r) => decodeRecordToObject(r).primaryKey[0]!.value)).toEqual(['new']);
  });

  it('expires a BaseAndStream tunnel whose full phase outlives the retention', async () => {
    const { sdk, tunnel } = await setup();
    await hourTable(sdk, 'b');
    await sdk.putRow!({ tableName: 'b', condition: IGNORE(), primaryKey: [{ id: 'base' }], attributeColumns: [{ v: 'x' }] });
    const tunnelId = await createTunnel(tunnel, 'b', TunnelType.BaseAndStream);
    await sdk.putRow!({ tableName: 'b', condition: IGNORE(), primaryKey: [{ id: 'during-base' }], attributeColumns: [{ v: 'y' }] });
    const s = session(tunnel, tunnelId, 'slow', 3 * HOUR_MS);
    await s.start();
    const base = s.ownedChannels()[0]!.channelId;
    expect(base).toMatch(/^BaseData_/);
    await emu!.advanceClock(HOUR_MS + 60_000);
    const err = await otslakeRejectionOf(
      tunnel.readRecords({ tunnel_id: tunnelId, client_id: s.clientId!, channel_id: base, token: (await s.getStartToken(base)).token }),
    );
    expect(serverCode(err)).toBe('OTSTunnelExpired');
    expect((await tunnel.listTunnel({ table_name: 'b' })).tunnels[0]!.expired).toBe(true);
  });
});
