import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtslakeError } from '../../../common/errors.js';
import { ChannelStatus, decodeMessage, encodeMessage, type ChannelMsg, type MessageName, type Messages } from '../../../tunnel/proto.js';
import { TunnelClient } from '../../../tunnel/tunnel-client.js';
import { TunnelSession, type OwnedChannel } from '../../../tunnel/tunnel-session.js';

const { OPEN, CLOSING, CLOSE, TERMINATED } = ChannelStatus;

/**
 * A scripted stand-in for the Tunnel server (not the emulator): it answers from fields the test sets and
 * records every request, so each test states exactly what the server says and checks what the client sent.
 */
class FakeTunnel {
  heartbeats: Messages['HeartbeatRequest'][] = [];
  checkpoints: Messages['CheckpointRequest'][] = [];
  connects: Messages['ConnectRequest'][] = [];
  shutdowns = 0;
  /** What the next heartbeat answers; a function sees the request. */
  assign: (req: Messages['HeartbeatRequest']) => ChannelMsg[] = () => [];
  heartbeatError: { status: number; code: string } | undefined;
  /** While set, heartbeat answers wait for it (a heartbeat "in flight"). */
  heartbeatGate: Promise<void> | undefined;
  onHeartbeat: ((req: Messages['HeartbeatRequest']) => void) | undefined;
  checkpointStore = new Map<string, { token: string; seq: bigint }>();
  getCheckpointError: { status: number; code: string } | undefined;
  private clientCounter = 0;
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => this.route(req.url ?? '', Buffer.concat(chunks), res));
  });
  endpoint = '';

  async start() {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  async stop() {
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }

  private route(path: string, body: Buffer, res: http.ServerResponse) {
    const ok = <N extends MessageName>(name: N, msg: Messages[N]) => res.writeHead(200).end(Buffer.from(encodeMessage(name, msg)));
    const fail = (e: { status: number; code: string }) =>
      res.writeHead(e.status, { 'x-ots-requestid': 'r1' }).end(Buffer.from(encodeMessage('Error', { code: e.code, message: 'scripted' })));
    switch (path) {
      case '/tunnel/connect':
        this.connects.push(decodeMessage('ConnectRequest', body));
        return ok('ConnectResponse', { client_id: `client-${++this.clientCounter}` });
      case '/tunnel/heartbeat': {
        const req = decodeMessage('HeartbeatRequest', body);
        this.heartbeats.push(req);
        this.onHeartbeat?.(req);
        if (this.heartbeatError) return fail(this.heartbeatError);
        const answer = () => ok('HeartbeatResponse', { channels: this.assign(req) });
        if (this.heartbeatGate) void this.heartbeatGate.then(answer);
        else answer();
        return;
      }
      case '/tunnel/getcheckpoint': {
        const req = decodeMessage('GetCheckpointRequest', body);
        if (this.getCheckpointError) return fail(this.getCheckpointError);
        const cp = this.checkpointStore.get(req.channel_id) ?? { token: 'START', seq: 0n };
        return ok('GetCheckpointResponse', { checkpoint: cp.token, sequence_number: cp.seq });
      }
      case '/tunnel/checkpoint': {
        const req = decodeMessage('CheckpointRequest', body);
        this.checkpoints.push(req);
        const cp = this.checkpointStore.get(req.channel_id) ?? { token: 'START', seq: 0n };
        if (req.sequence_number <= cp.seq) return fail({ status: 409, code: 'OTSSequenceNumberNotMatch' });
        this.checkpointStore.set(req.channel_id, { token: req.checkpoint, seq: req.sequence_number });
        return ok('CheckpointResponse', {});
      }
      case '/tunnel/shutdown':
        this.shutdowns += 1;
        return ok('ShutdownResponse', {});
      default:
        return fail({ status: 400, code: 'OTSParameterInvalid' });
    }
  }
}

const WAIT = () => AbortSignal.timeout(5_000);

describe('TunnelSession against a scripted Tunnel server', () => {
  let fake: FakeTunnel;
  let client: TunnelClient;
  let session: TunnelSession | undefined;

  const makeSession = (heartbeatIntervalMs = 60_000) =>
    (session = new TunnelSession({
      client,
      tunnelId: 'tun-1',
      clientTag: 'test-host',
      heartbeatIntervalMs,
      heartbeatTimeoutMs: heartbeatIntervalMs * 10,
      closingRoundThreshold: 3,
    }));

  beforeEach(async () => {
    fake = new FakeTunnel();
    await fake.start();
    client = new TunnelClient({
      endpoint: fake.endpoint,
      instanceName: 'i',
      accessKeyId: 'a',
      accessKeySecret: 's',
      retry: { initialDelayMs: 1, maxDelayMs: 2, maxAttempts: 2 },
    });
  });
  afterEach(async () => {
    await session?.shutdown();
    session = undefined;
    client.close();
    await fake.stop();
  });

  it('connects with tag and timeout, heartbeats an empty list first, and exposes assigned channels', async () => {
    fake.assign = () => [{ channel_id: 'ch1', version: 1n, status: OPEN }];
    const s = makeSession();
    const changed = once(s, 'channels', { signal: WAIT() });
    await s.start();
    expect(fake.connects[0]).toEqual({ tunnel_id: 'tun-1', client_config: { timeout: 600n, client_tag: 'test-host' } });
    expect(s.clientId).toBe('client-1');
    expect(fake.heartbeats[0]!.channels).toEqual([]);
    const [owned] = (await changed) as [OwnedChannel[]];
    expect(owned).toEqual([{ channelId: 'ch1', status: OPEN, version: 1n, mustStop: false, assignment: 1 }]);
    expect(s.ownedChannels()).toEqual(owned);
  });

  it('checkpoints with seq = server + 1, +1 per success, and resyncs once on OTSSequenceNumberNotMatch', async () => {
    fake.assign = () => [{ channel_id: 'ch1', version: 1n, status: OPEN }];
    fake.checkpointStore.set('ch1', { token: 'TOK5', seq: 5n });
    const s = makeSession();
    await s.start();
    const start = await s.getStartToken('ch1');
    expect(start).toEqual({ token: 'TOK5', sequenceNumber: 5n, finished: false });
    const cp = s.checkpointer('ch1');
    expect(await cp.checkpoint('TOK6')).toEqual({ kind: 'checkpointed', sequenceNumber: 6n });
    expect(cp.sequenceNumber).toBe(7n);
    // Someone else advanced the server's sequence: our 7 is stale.
    fake.checkpointStore.set('ch1', { token: 'OTHER', seq: 10n });
    expect(await cp.checkpoint('TOK7')).toEqual({ kind: 'checkpointed-after-resync', sequenceNumber: 11n, serverSequenceNumber: 10n });
    expect(fake.checkpoints.map((c) => [c.checkpoint, c.sequence_number])).toEqual([
      ['TOK6', 6n],
      ['TOK7', 7n],
      ['TOK7', 11n],
    ]);
    expect(fake.checkpointStore.get('ch1')).toEqual({ token: 'TOK7', seq: 11n });
  });

  it('markFinished checkpoints "finished" and reports TERMINATED v+1 on the next heartbeat', async () => {
    let terminated = false;
    fake.assign = (req) => {
      terminated ||= req.channels.some((c) => c.status === TERMINATED);
      return terminated ? [] : [{ channel_id: 'base1', version: 4n, status: OPEN }];
    };
    const s = makeSession();
    await s.start();
    await s.getStartToken('base1');
    await s.markFinished('base1');
    expect(fake.checkpoints.at(-1)).toMatchObject({ channel_id: 'base1', checkpoint: 'finished', sequence_number: 1n });
    expect(s.ownedChannels()[0]).toMatchObject({ status: TERMINATED, version: 5n, mustStop: true });
    await s.heartbeatNow(); // release()/markFinished() also wake the loop, so this may be the second report
    expect(fake.heartbeats.map((h) => h.channels)).toContainEqual([{ channel_id: 'base1', version: 5n, status: TERMINATED }]);
    expect(s.ownedChannels()).toEqual([]);
  });

  it('a release made while a heartbeat is in flight is reported right after it, not a whole interval later', async () => {
    fake.assign = (req) => {
      const reported = new Set(req.channels.filter((c) => c.status === CLOSE).map((c) => c.channel_id));
      return (['a', 'b'] as const).filter((id) => !reported.has(id)).map((id) => ({ channel_id: id, version: 1n, status: OPEN }));
    };
    const s = makeSession(60_000);
    await s.start();
    expect(s.ownedChannels().map((c) => c.channelId)).toEqual(['a', 'b']);
    let open!: () => void;
    fake.heartbeatGate = new Promise<void>((r) => (open = r));
    const inFlight = new Promise<void>((r) => (fake.onHeartbeat = () => r()));
    s.release('a'); // wakes the idle loop: its heartbeat now hangs on the gate
    await inFlight;
    s.release('b'); // no idle loop to wake: must not wait for the next 60 s tick
    const bReported = new Promise<void>((r) => {
      fake.onHeartbeat = (req) => {
        if (req.channels.some((c) => c.channel_id === 'b' && c.status === CLOSE)) r();
      };
    });
    fake.heartbeatGate = undefined;
    open();
    await Promise.race([
      bReported,
      new Promise((_, reject) => AbortSignal.timeout(5_000).addEventListener('abort', () => reject(new Error('CLOSE of b not sent')))),
    ]);
  });

  it('a channel whose checkpoint is already "finished" is not read and is reported TERMINATED', async () => {
    fake.assign = () => [{ channel_id: 'p', version: 2n, status: OPEN }];
    fake.checkpointStore.set('p', { token: 'finished', seq: 3n });
    const s = makeSession();
    await s.start();
    expect(await s.getStartToken('p')).toEqual({ token: 'finished', sequenceNumber: 3n, finished: true });
    expect(s.ownedChannels()[0]).toMatchObject({ status: TERMINATED, version: 3n });
  });

  it('CLOSING means stop: release reports CLOSE v+1 and the server drops the channel', async () => {
    let serverStatus: ChannelMsg = { channel_id: 'ch2', version: 1n, status: OPEN };
    let closed = false;
    fake.assign = (req) => {
      closed ||= req.channels.some((c) => c.status === CLOSE);
      return closed ? [] : [serverStatus];
    };
    const s = makeSession();
    await s.start();
    serverStatus = { channel_id: 'ch2', version: 2n, status: CLOSING };
    await s.heartbeatNow();
    expect(s.ownedChannels()[0]).toMatchObject({ status: CLOSING, mustStop: true });
    await expect(s.getStartToken('ch2')).rejects.toMatchObject({ code: 'OTSL_TUNNEL_CHANNEL_STATE' });
    expect(s.release('ch2')).toBe(true);
    await s.heartbeatNow();
    expect(fake.heartbeats.map((h) => h.channels)).toContainEqual([{ channel_id: 'ch2', version: 3n, status: CLOSE }]);
    expect(s.ownedChannels()).toEqual([]);
    expect(s.release('ch2')).toBe(false);
    expect(() => s.checkpointer('ch2')).toThrow(expect.objectContaining({ code: 'OTSL_TUNNEL_CHANNEL_STATE' }));
  });

  it('forces CLOSE on a channel stuck in CLOSING for 3 heartbeats', async () => {
    fake.assign = () => [{ channel_id: 'stuck', version: 7n, status: CLOSING }];
    const s = makeSession();
    await s.start(); // round 1
    await s.heartbeatNow(); // round 2
    expect(s.ownedChannels()[0]).toMatchObject({ status: CLOSING });
    await s.heartbeatNow(); // round 3
    expect(s.ownedChannels()[0]).toMatchObject({ status: CLOSE, version: 8n });
    await s.heartbeatNow();
    expect(fake.heartbeats.at(-1)!.channels).toEqual([{ channel_id: 'stuck', version: 8n, status: CLOSE }]);
  });

  it('a failed GetCheckpoint releases the channel (CLOSE v+1) and rethrows', async () => {
    fake.assign = () => [{ channel_id: 'c', version: 1n, status: OPEN }];
    fake.getCheckpointError = { status: 400, code: 'OTSParameterInvalid' };
    const s = makeSession();
    await s.start();
    await expect(s.getStartToken('c')).rejects.toMatchObject({ code: 'OTSL_TUNNEL_SERVER', context: { serverCode: 'OTSParameterInvalid', channelId: 'c' } });
    expect(s.ownedChannels()[0]).toMatchObject({ status: CLOSE, version: 2n });
  });

  it('reconnects with a new client id when the background heartbeat gets OTSResourceGone', async () => {
    fake.assign = () => [{ channel_id: 'ch1', version: 1n, status: OPEN }];
    const s = makeSession(10);
    await s.start();
    expect(s.ownedChannels()).toHaveLength(1);
    const dropped = new Promise<void>((resolve) => s.on('channels', (o) => o.length === 0 && resolve()));
    const reconnected = once(s, 'reconnected', { signal: WAIT() });
    fake.heartbeatError = { status: 410, code: 'OTSResourceGone' };
    await dropped;
    fake.heartbeatError = undefined;
    const [clientId] = await reconnected;
    expect(clientId).toBe('client-2');
    await s.nextChange(WAIT()); // the new client's first heartbeat assigns ch1 again
    expect(s.ownedChannels()[0]).toMatchObject({ channelId: 'ch1', status: OPEN });
    expect(fake.heartbeats.at(-1)!.client_id).toBe('client-2');
  });

  it('treats OTSTunnelServerUnavailable as transient, but reconnects once heartbeats fail for longer than the timeout', async () => {
    fake.assign = () => [{ channel_id: 'ch1', version: 1n, status: OPEN }];
    const s = new TunnelSession({ client, tunnelId: 'tun-1', heartbeatIntervalMs: 10, heartbeatTimeoutMs: 80 });
    session = s;
    await s.start();
    const dropped = new Promise<void>((resolve) => s.on('channels', (o) => o.length === 0 && resolve()));
    const reconnected = once(s, 'reconnected', { signal: WAIT() });
    const failedAt = Date.now();
    fake.heartbeatError = { status: 503, code: 'OTSTunnelServerUnavailable' };
    const beatsBefore = fake.heartbeats.length;
    await dropped;
    expect(Date.now() - failedAt).toBeGreaterThanOrEqual(80);
    // Transient failures were retried and were not fatal: the session kept heartbeating (how many times
    // fit in the timeout depends on the machine's load) and stays running to reconnect.
    expect(fake.heartbeats.length - beatsBefore).toBeGreaterThanOrEqual(1);
    expect(s.state).toBe('running');
    fake.heartbeatError = undefined;
    const [clientId] = await reconnected;
    expect(clientId).toBe('client-2');
    expect(s.state).toBe('running');
  });

  it('fails (no reconnect) on a fatal server code', async () => {
    const s = makeSession(10);
    await s.start();
    const failed = once(s, 'failed', { signal: WAIT() });
    fake.heartbeatError = { status: 410, code: 'OTSTunnelExpired' };
    const [err] = (await failed) as [OtslakeError];
    expect(err.context.serverCode).toBe('OTSTunnelExpired');
    expect(s.state).toBe('failed');
    expect(fake.connects).toHaveLength(1);
  });

  it('shutdown stops the loop and calls ShutdownTunnel once; nextChange honours abort', async () => {
    const s = makeSession(10);
    await s.start();
    const ac = new AbortController();
    const waiting = s.nextChange(ac.signal);
    ac.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'OTSL_ABORTED' });
    await s.shutdown();
    await s.shutdown();
    expect(fake.shutdowns).toBe(1);
    expect(s.state).toBe('stopped');
    const beats = fake.heartbeats.length;
    await new Promise<void>((r) => setImmediate(r));
    expect(fake.heartbeats.length).toBe(beats);
  });

  it('rejects a heartbeat timeout not longer than the interval', () => {
    expect(() => new TunnelSession({ client, tunnelId: 't', heartbeatIntervalMs: 1000, heartbeatTimeoutMs: 1000 })).toThrow(
      expect.objectContaining({ code: 'OTSL_CONFIG_INVALID' }),
    );
  });
});
