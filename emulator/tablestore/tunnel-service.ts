/**
 * tablestore-local's Tunnel service: the /tunnel/* RPCs of docs/tunnel-protocol.md §RPCs over the
 * emulator's table store. The HTTP server has verified the signature and calls handle(); errors
 * leave as RpcError(httpStatus, code) so the server can write the protobuf Error.
 *
 * Every handler runs its state changes synchronously, then awaits persistence before answering,
 * so concurrent requests never interleave halfway and an answered change survives a restart.
 */
import { randomBytes } from 'node:crypto';
import { hasCode } from '../../common/errors.js';
import { decodeMessage, encodeMessage, type MessageName, type Messages } from '../../tunnel/proto.js';
import type { TableStoreView } from './model.js';
import { RpcError, type RpcContext, type RpcService } from './rpc.js';
import { createTunnelRecord, describeChannels, invalid, rpoJsonOf, syncStreamChannels, tunnelInfoOf, tunnelRpoOf } from './tunnel-catalog.js';
import { resolveTunnelOptions, type ResolvedTunnelOptions, type TunnelServiceOptions } from './tunnel-options.js';
import { RecordTamper } from './record-tamper.js';
import { initialToken, readRecords, streamIndexOf, validateToken } from './tunnel-reader.js';
import { applyHeartbeat, applySchedule, isComplete, isExpired, releaseClientChannels, stageOf } from './tunnel-scheduler.js';
import { loadTunnelState, TunnelStateWriter, type ChannelRecord, type ClientRecord, type TunnelRecord, type TunnelState } from './tunnel-state.js';

export type { TunnelServiceOptions } from './tunnel-options.js';

type Handler = (body: Uint8Array, nowMs: number) => Uint8Array;

export class TunnelService implements RpcService {
  private readonly opts: ResolvedTunnelOptions;
  private readonly state: TunnelState;
  private readonly writer: TunnelStateWriter;
  private readonly handlers: Record<string, Handler>;
  private readonly sweepTimer: NodeJS.Timeout | undefined;
  private readonly unsubscribe: () => void;
  private dirty = false;
  /** Test hook: corrupt records of the next ReadRecords answers (docs/emulator.md). */
  readonly tamper = new RecordTamper();

  constructor(
    readonly store: TableStoreView,
    readonly options: TunnelServiceOptions,
  ) {
    this.opts = resolveTunnelOptions(options);
    this.state = loadTunnelState(options.dataDir);
    this.writer = new TunnelStateWriter(options.dataDir);
    // Clients of a previous run get a full timeout from now to reconnect their heartbeats.
    const now = this.clock();
    for (const client of this.state.clients) client.lastHeartbeatMs = now;
    this.handlers = {
      '/tunnel/create': (b, n) => this.createTunnel(b, n),
      '/tunnel/delete': (b) => this.deleteTunnel(b),
      '/tunnel/list': (b, n) => this.listTunnel(b, n),
      '/tunnel/describe': (b, n) => this.describeTunnel(b, n),
      '/tunnel/getrpo': (b, n) => this.getRpo(b, n),
      '/tunnel/getrpobyoffset': (b, n) => this.getRpo(b, n),
      '/tunnel/schedule': (b) => this.schedule(b),
      '/tunnel/connect': (b, n) => this.connect(b, n),
      '/tunnel/heartbeat': (b, n) => this.heartbeat(b, n),
      '/tunnel/shutdown': (b) => this.shutdown(b),
      '/tunnel/getcheckpoint': (b, n) => this.getCheckpoint(b, n),
      '/tunnel/checkpoint': (b, n) => this.checkpoint(b, n),
      '/tunnel/readrecords': (b, n) => this.readRecords(b, n),
    };
    this.unsubscribe = store.subscribe((event) => {
      if (event.kind === 'table-deleted') this.dropTable(event.table);
    });
    if (this.opts.sweepIntervalMs > 0) {
      this.sweepTimer = setInterval(() => {
        this.sweepExpiredClients(this.clock()).catch(() => undefined);
      }, this.opts.sweepIntervalMs);
      this.sweepTimer.unref();
    }
  }

  handles(path: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.handlers, path);
  }

  async handle(path: string, body: Uint8Array, ctx: RpcContext): Promise<Uint8Array> {
    const handler = this.handlers[path];
    if (handler === undefined) throw new RpcError(400, 'OTSParameterInvalid', `unknown Tunnel API ${path}`);
    try {
      return handler(body, this.options.clock?.() ?? ctx.receivedAt);
    } finally {
      // Also after a throw: an expired client is dropped even though its heartbeat fails.
      await this.persistIfDirty();
    }
  }

  /** Releases the channels of every client whose heartbeat is older than its timeout; returns their ids. */
  async sweepExpiredClients(nowMs: number = this.clock()): Promise<string[]> {
    const expired = this.state.clients.filter((c) => isExpired(c, nowMs));
    for (const client of expired) this.dropClient(client);
    await this.persistIfDirty();
    return expired.map((c) => c.id);
  }

  /** Waits for pending state writes and stops the sweep timer. */
  async close(): Promise<void> {
    if (this.sweepTimer !== undefined) clearInterval(this.sweepTimer);
    this.unsubscribe();
    await this.writer.flush();
  }

  // ---- tunnels ----

  private createTunnel(body: Uint8Array, nowMs: number): Uint8Array {
    const { tunnel } = decode('CreateTunnelRequest', body);
    const taken = this.state.tunnels.some((t) => t.table === tunnel.table_name && t.name === tunnel.tunnel_name);
    if (taken) throw new RpcError(409, 'OTSTunnelExist', `tunnel ${tunnel.tunnel_name} already exists on table ${tunnel.table_name}`);
    const record = createTunnelRecord(this.store, tunnel, nowMs);
    this.state.tunnels.push(record);
    this.dirty = true;
    return encodeMessage('CreateTunnelResponse', { tunnel_id: record.id });
  }

  private deleteTunnel(body: Uint8Array): Uint8Array {
    const req = decode('DeleteTunnelRequest', body);
    const tunnel = this.tunnelByName(req.table_name, req.tunnel_name, req.tunnel_id);
    this.state.tunnels = this.state.tunnels.filter((t) => t !== tunnel);
    this.state.clients = this.state.clients.filter((c) => c.tunnelId !== tunnel.id);
    this.dirty = true;
    return encodeMessage('DeleteTunnelResponse', {});
  }

  private listTunnel(body: Uint8Array, nowMs: number): Uint8Array {
    const req = decode('ListTunnelRequest', body);
    const table = req.table_name ?? '';
    const tunnels = this.state.tunnels
      .filter((t) => table === '' || t.table === table)
      .map((t) => {
        this.checkExpiry(t);
        return tunnelInfoOf(t, this.opts.instance, stageOf(t, nowMs, this.opts));
      });
    return encodeMessage('ListTunnelResponse', { tunnels });
  }

  private describeTunnel(body: Uint8Array, nowMs: number): Uint8Array {
    const req = decode('DescribeTunnelRequest', body);
    const tunnel = this.tunnelByName(req.table_name, req.tunnel_name, req.tunnel_id);
    this.sync(tunnel);
    this.checkExpiry(tunnel);
    const channels = describeChannels(tunnel, nowMs, this.opts);
    return encodeMessage('DescribeTunnelResponse', {
      tunnel: tunnelInfoOf(tunnel, this.opts.instance, stageOf(tunnel, nowMs, this.opts)),
      channels,
      tunnel_rpo: tunnelRpoOf(channels),
    });
  }

  private getRpo(body: Uint8Array, nowMs: number): Uint8Array {
    const req = decode('GetRpoRequest', body);
    const tunnel = this.tunnelById(req.tunnel_id ?? '');
    this.sync(tunnel);
    const { rpo, tunnelRpo } = rpoJsonOf(tunnel, describeChannels(tunnel, nowMs, this.opts), nowMs);
    return encodeMessage('GetRpoResponse', {
      rpo_infos: new TextEncoder().encode(rpo),
      tunnel_rpo_infos: new TextEncoder().encode(tunnelRpo),
      tunnel_id: tunnel.id,
    });
  }

  private schedule(body: Uint8Array): Uint8Array {
    const req = decode('ScheduleRequest', body);
    const tunnel = this.tunnelById(req.tunnel_id);
    this.sync(tunnel);
    applySchedule(tunnel, req.channels);
    this.dirty = true;
    return encodeMessage('ScheduleResponse', {});
  }

  // ---- clients ----

  private connect(body: Uint8Array, nowMs: number): Uint8Array {
    const req = decode('ConnectRequest', body);
    const tunnel = this.tunnelById(req.tunnel_id);
    this.checkExpiry(tunnel);
    if (tunnel.expired === true) throw expiredError(tunnel);
    const tag = req.client_config?.client_tag || 'client';
    const timeoutSec = Number(req.client_config?.timeout ?? 0n) > 0 ? Number(req.client_config?.timeout) : this.opts.defaultClientTimeoutSec;
    const client: ClientRecord = {
      id: `${tag}_${randomBytes(8).toString('hex')}`,
      tunnelId: tunnel.id,
      timeoutMs: timeoutSec * 1000,
      lastHeartbeatMs: nowMs,
    };
    this.state.clients.push(client);
    this.dirty = true;
    return encodeMessage('ConnectResponse', { client_id: client.id });
  }

  private heartbeat(body: Uint8Array, nowMs: number): Uint8Array {
    const req = decode('HeartbeatRequest', body);
    const tunnel = this.tunnelById(req.tunnel_id);
    const client = this.state.clients.find((c) => c.id === req.client_id && c.tunnelId === tunnel.id);
    if (client === undefined) throw gone(`client ${req.client_id} is not connected to tunnel ${tunnel.id}`);
    if (isExpired(client, nowMs)) {
      this.dropClient(client);
      throw gone(`client ${client.id} missed its heartbeat timeout of ${client.timeoutMs / 1000} s`);
    }
    client.lastHeartbeatMs = nowMs;
    this.sync(tunnel);
    // Release dead peers now rather than at the next sweep, so their channels can move at once.
    for (const peer of this.state.clients.filter((c) => c.tunnelId === tunnel.id && isExpired(c, nowMs))) this.dropClient(peer);
    const live = this.state.clients.filter((c) => c.tunnelId === tunnel.id);
    const outcome = applyHeartbeat(tunnel, client, req.channels, live, nowMs, this.opts);
    if (outcome.changed) this.dirty = true;
    return encodeMessage('HeartbeatResponse', { channels: outcome.channels });
  }

  private shutdown(body: Uint8Array): Uint8Array {
    const req = decode('ShutdownRequest', body);
    const client = this.state.clients.find((c) => c.id === req.client_id && c.tunnelId === req.tunnel_id);
    // A repeated shutdown (client retry) finds nothing left to release, which is fine.
    if (client !== undefined) this.dropClient(client);
    return encodeMessage('ShutdownResponse', {});
  }

  // ---- channels ----

  private getCheckpoint(body: Uint8Array, nowMs: number): Uint8Array {
    const req = decode('GetCheckpointRequest', body);
    const { tunnel, channel } = this.channelOf(req.tunnel_id, req.channel_id);
    if (this.opts.ownership === 'enforce') this.requireOwner(tunnel, channel, req.client_id, nowMs);
    return encodeMessage('GetCheckpointResponse', {
      checkpoint: channel.checkpoint?.token ?? initialToken(channel),
      sequence_number: BigInt(channel.checkpoint?.seq ?? 0),
    });
  }

  private checkpoint(body: Uint8Array, nowMs: number): Uint8Array {
    const req = decode('CheckpointRequest', body);
    const { tunnel, channel } = this.channelOf(req.tunnel_id, req.channel_id);
    if (this.opts.ownership !== 'off') this.requireOwner(tunnel, channel, req.client_id, nowMs);
    const seq = Number(req.sequence_number);
    const stored = channel.checkpoint?.seq ?? 0;
    const zero = seq === 0 && this.opts.acceptZeroSequence;
    const fits = this.opts.sequenceRule === 'next' ? seq === stored + 1 : seq > stored;
    if (!zero && !fits) {
      throw new RpcError(409, 'OTSSequenceNumberNotMatch', `channel ${channel.id}: sequence_number ${seq} does not follow the stored ${stored}`);
    }
    validateToken(channel, req.checkpoint);
    // An accepted seq 0 keeps the stored number, so it cannot reopen the door to a fenced-off owner.
    channel.checkpoint = { token: req.checkpoint, seq: zero ? stored : seq };
    this.dirty = true;
    return encodeMessage('CheckpointResponse', {});
  }

  private readRecords(body: Uint8Array, nowMs: number): Uint8Array {
    const req = decode('ReadRecordsRequest', body);
    const { tunnel, channel } = this.channelOf(req.tunnel_id, req.channel_id);
    // An expired tunnel fails every read, whoever asks (its clients are likely past their timeout too).
    this.checkExpiry(tunnel);
    if (tunnel.expired) throw expiredError(tunnel);
    if (this.opts.ownership === 'enforce') this.requireOwner(tunnel, channel, req.client_id, nowMs);
    let response;
    try {
      response = readRecords(this.store, tunnel, channel, req.token, nowMs, this.opts);
    } finally {
      // A lagging token may have found the tunnel expired (the reader marks it; TS cannot see that).
      if ((tunnel as { expired?: boolean }).expired === true) this.dirty = true;
    }
    return encodeMessage('ReadRecordsResponse', this.tamper.apply(channel.id, response));
  }

  // ---- helpers ----

  /**
   * The caller must be a connected, unexpired client of the tunnel that owns the channel. An expired
   * client is dropped here (its channels released), as a Heartbeat would.
   */
  private requireOwner(tunnel: TunnelRecord, channel: ChannelRecord, clientId: string, nowMs: number): void {
    const client = this.state.clients.find((c) => c.id === clientId && c.tunnelId === tunnel.id);
    if (client === undefined) throw gone(`client ${clientId} is not connected to tunnel ${tunnel.id} (never connected, shut down or expired)`);
    if (isExpired(client, nowMs)) {
      this.dropClient(client);
      throw gone(`client ${client.id} missed its heartbeat timeout of ${client.timeoutMs / 1000} s`);
    }
    if (channel.owner !== client.id) throw gone(`client ${client.id} does not own channel ${channel.id} of tunnel ${tunnel.id}`);
  }

  /**
   * A tunnel expires once a change it still has to deliver is past the table's stream retention:
   * an unfinished Stream channel whose position (checkpoint, else start) lies before the log start.
   */
  private checkExpiry(tunnel: TunnelRecord): void {
    if (tunnel.expired === true || this.store.getTable(tunnel.table) === undefined) return;
    for (const channel of tunnel.channels) {
      if (channel.kind !== 'Stream' || isComplete(channel, this.opts)) continue;
      const position = streamIndexOf(channel);
      if (position === null) continue;
      if (position < this.store.logStart(tunnel.table, channel.partitionId)) {
        tunnel.expired = true;
        this.dirty = true;
        return;
      }
    }
  }

  private clock(): number {
    return this.options.clock?.() ?? Date.now();
  }

  private sync(tunnel: TunnelRecord): void {
    if (syncStreamChannels(this.store, tunnel)) this.dirty = true;
  }

  private tunnelById(id: string): TunnelRecord {
    const tunnel = this.state.tunnels.find((t) => t.id === id);
    if (tunnel === undefined) throw invalid(`tunnel ${id} does not exist`);
    return tunnel;
  }

  private tunnelByName(table: string, name: string, id: string | undefined): TunnelRecord {
    const tunnel = this.state.tunnels.find((t) => (id ? t.id === id : t.table === table && t.name === name));
    if (tunnel === undefined) throw invalid(`tunnel ${name} does not exist on table ${table}`);
    return tunnel;
  }

  private channelOf(tunnelId: string, channelId: string): { tunnel: TunnelRecord; channel: ChannelRecord } {
    const tunnel = this.tunnelById(tunnelId);
    let channel = tunnel.channels.find((c) => c.id === channelId);
    if (channel === undefined) {
      this.sync(tunnel);
      channel = tunnel.channels.find((c) => c.id === channelId);
    }
    if (channel === undefined) throw invalid(`channel ${channelId} does not exist in tunnel ${tunnel.id}`);
    return { tunnel, channel };
  }

  private dropClient(client: ClientRecord): void {
    const tunnel = this.state.tunnels.find((t) => t.id === client.tunnelId);
    if (tunnel !== undefined) releaseClientChannels(tunnel, client.id);
    this.state.clients = this.state.clients.filter((c) => c !== client);
    this.dirty = true;
  }

  private dropTable(table: string): void {
    const ids = new Set(this.state.tunnels.filter((t) => t.table === table).map((t) => t.id));
    if (ids.size === 0) return;
    this.state.tunnels = this.state.tunnels.filter((t) => !ids.has(t.id));
    this.state.clients = this.state.clients.filter((c) => !ids.has(c.tunnelId));
    this.dirty = true;
    this.persistIfDirty().catch(() => undefined);
  }

  private async persistIfDirty(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    await this.writer.save(this.state);
  }
}

function decode<N extends MessageName>(name: N, body: Uint8Array): Messages[N] {
  try {
    return decodeMessage(name, body);
  } catch (err) {
    if (hasCode(err, 'OTSL_TUNNEL_PROTOCOL')) throw invalid((err as Error).message);
    throw err;
  }
}

function expiredError(tunnel: TunnelRecord): RpcError {
  return new RpcError(400, 'OTSTunnelExpired', `tunnel ${tunnel.id}: changes it has not delivered are past the stream retention of table ${tunnel.table}`);
}

function gone(message: string): RpcError {
  return new RpcError(410, 'OTSResourceGone', message);
}
