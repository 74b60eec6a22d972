/**
 * Tunnel definitions and their channels: CreateTunnel's validation and channel layout, and the
 * TunnelInfo / ChannelInfo / RPO views of ListTunnel, DescribeTunnel and GetRpo.
 *
 * Layout: one BaseData channel per open partition (`BaseData_<partitionId>`, covering the
 * partition's hash range) and one Stream channel per partition (id = partition id, parents = the
 * partition's parents). Partitions that appear later (splits, merges) get their Stream channel the
 * next time the tunnel is looked at (syncStreamChannels).
 */
import { randomUUID } from 'node:crypto';
import {
  StartOffsetFlag,
  TunnelType,
  type ChannelInfo,
  type StreamTunnelConfig,
  type TunnelInfo,
  type TunnelMsg,
  type TunnelStage,
} from '../../tunnel/proto.js';
import type { PartitionInfo, TableInfo, TableStoreView } from './model.js';
import { RpcError } from './rpc.js';
import type { ResolvedTunnelOptions } from './tunnel-options.js';
import { describedStatus, stageOf } from './tunnel-scheduler.js';
import type { ChannelRecord, StreamConfigState, TunnelKind, TunnelRecord } from './tunnel-state.js';
import { decodeToken } from './tunnel-token.js';

const KIND_BY_TYPE: Record<number, TunnelKind> = {
  [TunnelType.BaseData]: 'BaseData',
  [TunnelType.Stream]: 'Stream',
  [TunnelType.BaseAndStream]: 'BaseAndStream',
};

export function invalid(message: string): RpcError {
  return new RpcError(400, 'OTSParameterInvalid', message);
}

/** Stream retention CreateTunnel gives a table whose stream it switches on (7 days, as documented). */
export const TUNNEL_STREAM_EXPIRATION_HOURS = 168;
/** A start offset must lie at least this far inside the retention window (documented: now − retention + 5 min). */
const START_OFFSET_MARGIN_NS = 5n * 60n * 1_000_000_000n;

/**
 * Builds a new tunnel (stage InitBaseDataAndStreamShard) or throws OTSParameterInvalid. A Stream or
 * BaseAndStream tunnel on a table without a stream switches the table's stream on (7-day retention),
 * after every check passed, so a refused request changes nothing.
 */
export function createTunnelRecord(store: TableStoreView, request: TunnelMsg, nowMs: number): TunnelRecord {
  let table = store.getTable(request.table_name);
  if (table === undefined) throw invalid(`table ${request.table_name} does not exist`);
  if (request.tunnel_name.trim() === '') throw invalid('tunnel_name must not be empty');
  const kind = KIND_BY_TYPE[request.tunnel_type];
  if (kind === undefined) throw invalid(`unknown tunnel_type ${String(request.tunnel_type)}`);
  const enableStream = kind !== 'BaseData' && !table.streamEnabled;
  const retentionHours = enableStream ? TUNNEL_STREAM_EXPIRATION_HOURS : table.streamExpirationHours;
  const streamConfig = parseStreamConfig(request.stream_tunnel_config, table.name, retentionHours, nowMs);
  if (enableStream) {
    store.enableStream(table.name, TUNNEL_STREAM_EXPIRATION_HOURS);
    table = store.getTable(table.name)!;
  }
  const tunnel: TunnelRecord = {
    id: randomUUID(),
    name: request.tunnel_name,
    table: table.name,
    kind,
    createTimeMs: nowMs,
    streamId: table.streamId,
    streamConfig,
    channels: [],
  };
  const partitions = store.partitions(table.name);
  if (kind !== 'Stream') {
    for (const p of partitions.filter((x) => !x.closed)) tunnel.channels.push(newChannel(`BaseData_${p.id}`, 'BaseData', p, [], 0));
  }
  if (kind !== 'BaseData') {
    // A closed partition takes no writes after now, so a LATEST tunnel has nothing to read there.
    const latest = streamConfig?.startOffsetNs === undefined && streamConfig?.flag !== 'EARLIEST';
    for (const p of partitions) {
      if (latest && p.closed) continue;
      const start = latest ? store.changeCount(table.name, p.id) : startIndexOf(store, tunnel, table, p.id);
      tunnel.channels.push(newChannel(p.id, 'Stream', p, p.parents, start));
    }
  }
  return tunnel;
}

function parseStreamConfig(config: StreamTunnelConfig | undefined, table: string, retentionHours: number, nowMs: number): StreamConfigState | null {
  if (config === undefined) return null;
  const out: StreamConfigState = { flag: config.flag === StartOffsetFlag.EARLIEST ? 'EARLIEST' : 'LATEST' };
  const nowNs = BigInt(nowMs) * 1_000_000n;
  const start = config.startOffset ?? 0n;
  const end = config.endOffset ?? 0n;
  if (start !== 0n) {
    if (start > nowNs) throw invalid(`startOffset ${start} ns lies in the future (now ${nowNs} ns)`);
    const oldestNs = nowNs - BigInt(retentionHours) * 3_600_000_000_000n + START_OFFSET_MARGIN_NS;
    if (start < oldestNs) {
      throw invalid(`startOffset ${start} ns lies before now - stream retention (${retentionHours} h) + 5 min of table ${table} (${oldestNs} ns)`);
    }
    out.startOffsetNs = start.toString();
  }
  if (end !== 0n) {
    if (end <= start) throw invalid(`endOffset ${end} ns must be after startOffset ${start} ns`);
    out.endOffsetNs = end.toString();
  }
  return out;
}

function newChannel(id: string, kind: 'BaseData' | 'Stream', p: PartitionInfo, parents: string[], startIndex: number): ChannelRecord {
  return {
    id,
    kind,
    partitionId: p.id,
    hashStart: p.hashStart,
    hashEnd: p.hashEnd,
    parents: [...parents],
    status: 'WAIT',
    version: 0,
    owner: null,
    suspended: false,
    terminated: false,
    checkpoint: null,
    startIndex,
  };
}

/**
 * First change-log index a Stream channel reads: the oldest record kept, at or after the moment the
 * table's stream was switched on and the tunnel's start offset (if any).
 */
function startIndexOf(store: TableStoreView, tunnel: TunnelRecord, table: TableInfo, partitionId: string): number {
  const startNs = tunnel.streamConfig?.startOffsetNs;
  const offsetUs = startNs === undefined ? 0n : BigInt(startNs) / 1000n;
  const startUs = offsetUs > table.streamLastEnableUs ? offsetUs : table.streamLastEnableUs;
  let index = store.logStart(tunnel.table, partitionId);
  for (;;) {
    const page = store.changes(tunnel.table, partitionId, index, 1000);
    const hit = page.records.findIndex((r) => r.seq.timestamp >= startUs);
    if (hit >= 0) return index + hit;
    if (page.records.length === 0) return index;
    index = page.nextIndex;
  }
}

/** Adds Stream channels for partitions born after the tunnel; returns whether any was added. */
export function syncStreamChannels(store: TableStoreView, tunnel: TunnelRecord): boolean {
  const table = store.getTable(tunnel.table);
  if (tunnel.kind === 'BaseData' || table === undefined) return false;
  let added = false;
  for (const p of store.partitions(tunnel.table)) {
    if (tunnel.channels.some((c) => c.kind === 'Stream' && c.partitionId === p.id)) continue;
    tunnel.channels.push(newChannel(p.id, 'Stream', p, p.parents, startIndexOf(store, tunnel, table, p.id)));
    added = true;
  }
  return added;
}

export function tunnelInfoOf(tunnel: TunnelRecord, instance: string, stage: TunnelStage): TunnelInfo {
  const info: TunnelInfo = {
    tunnel_id: tunnel.id,
    tunnel_type: tunnel.kind,
    table_name: tunnel.table,
    instance_name: instance,
    stream_id: tunnel.streamId,
    stage,
    expired: tunnel.expired === true,
    tunnel_name: tunnel.name,
    public: false,
    create_time: BigInt(tunnel.createTimeMs) * 1_000_000n,
  };
  const cfg = tunnel.streamConfig;
  if (cfg !== null) {
    info.stream_tunnel_config = {
      flag: cfg.flag === 'EARLIEST' ? StartOffsetFlag.EARLIEST : StartOffsetFlag.LATEST,
      ...(cfg.startOffsetNs !== undefined ? { startOffset: BigInt(cfg.startOffsetNs) } : {}),
      ...(cfg.endOffsetNs !== undefined ? { endOffset: BigInt(cfg.endOffsetNs) } : {}),
    };
  }
  return info;
}

/** Consume point (ns) and records consumed, from the channel's checkpoint token. */
export function progressOf(channel: ChannelRecord): { rpoNs: bigint; count: bigint } {
  const token = channel.checkpoint?.token;
  if (token === undefined || token === 'finished') return { rpoNs: 0n, count: 0n };
  const position = decodeToken(token);
  const rpoNs = position.kind === 'stream' ? position.timestampUs * 1000n : 0n;
  return { rpoNs, count: BigInt(position.totalCount) };
}

type DescribeOptions = Pick<ResolvedTunnelOptions, 'initDelayMs' | 'completionSignal' | 'describeSchedulableAsOpen'>;

export function describeChannels(tunnel: TunnelRecord, nowMs: number, options: DescribeOptions): ChannelInfo[] {
  const stage = stageOf(tunnel, nowMs, options);
  return tunnel.channels.map((channel) => {
    const { rpoNs, count } = progressOf(channel);
    return {
      channel_id: channel.id,
      channel_type: channel.kind,
      channel_status: describedStatus(tunnel, channel, stage, options),
      client_id: channel.owner ?? '',
      channel_rpo: rpoNs,
      channel_count: count,
    };
  });
}

/** Tunnel RPO: the consume point of the slowest unfinished Stream channel (0 when none has one). */
export function tunnelRpoOf(channels: ChannelInfo[]): bigint {
  const live = channels.filter((c) => c.channel_type === 'Stream' && c.channel_status !== 'TERMINATED');
  if (live.length === 0) return 0n;
  return live.reduce((min, c) => ((c.channel_rpo ?? 0n) < min ? (c.channel_rpo ?? 0n) : min), live[0]?.channel_rpo ?? 0n);
}

/** GetRpo's JSON: rpo_infos keyed by client id ("" = unowned), then channel id; tunnel_rpo_infos keyed by tunnel id. */
export function rpoJsonOf(tunnel: TunnelRecord, channels: ChannelInfo[], nowMs: number): { rpo: string; tunnelRpo: string } {
  const byClient: Record<string, Record<string, unknown>> = {};
  let total = 0n;
  for (const c of channels) {
    const owner = c.client_id ?? '';
    const rpoTime = Number((c.channel_rpo ?? 0n) / 1000n);
    (byClient[owner] ??= {})[c.channel_id] = {
      ChannelTyp: c.channel_type,
      Status: c.channel_status,
      TotalCount: Number(c.channel_count ?? 0n),
      AccessTime: nowMs * 1000,
      RpoTime: rpoTime,
    };
    total += c.channel_count ?? 0n;
  }
  const tunnelRpo = {
    [tunnel.id]: { Status: 'OK', TotalCount: Number(total), AccessTime: nowMs * 1000, RpoTime: Number(tunnelRpoOf(channels) / 1000n) },
  };
  return { rpo: JSON.stringify(byClient), tunnelRpo: JSON.stringify(tunnelRpo) };
}
