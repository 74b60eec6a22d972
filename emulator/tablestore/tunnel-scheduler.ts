/**
 * Who reads which channel: tunnel stages, completion, the heartbeat protocol (docs/tunnel-protocol.md
 * §Channel lifecycle; the emulator's own rules in docs/emulator.md §Fixed choices (not switchable)),
 * client expiry and manual scheduling. Pure functions over the state records; the service persists
 * whatever they report as changed.
 *
 * Rules: whoever changes a channel's status increments its version; a heartbeat response lists every
 * channel the client owns (OPEN or CLOSING) with a version >= the client's; children stay unassigned
 * until all their parents are complete.
 */
import { ChannelStatus, FINISHED_TOKEN, type ChannelMsg, type TunnelStage } from '../../tunnel/proto.js';
import { RpcError } from './rpc.js';
import type { ResolvedTunnelOptions } from './tunnel-options.js';
import type { ChannelRecord, ChannelState, ClientRecord, TunnelRecord } from './tunnel-state.js';

type SchedulerOptions = Pick<ResolvedTunnelOptions, 'initDelayMs' | 'completionSignal'> & Partial<Pick<ResolvedTunnelOptions, 'balance' | 'regrantReleased'>>;

export function isComplete(channel: ChannelRecord, options: SchedulerOptions): boolean {
  const byCheckpoint = channel.checkpoint?.token === FINISHED_TOKEN;
  switch (options.completionSignal) {
    case 'checkpoint':
      return byCheckpoint;
    case 'terminated':
      return channel.terminated;
    default:
      return byCheckpoint || channel.terminated;
  }
}

export function stageOf(tunnel: TunnelRecord, nowMs: number, options: SchedulerOptions): TunnelStage {
  if (nowMs - tunnel.createTimeMs < options.initDelayMs) return 'InitBaseDataAndStreamShard';
  if (tunnel.kind === 'Stream') return 'ProcessStream';
  if (tunnel.kind === 'BaseData') return 'ProcessBaseData';
  const baseDone = tunnel.channels.every((c) => c.kind !== 'BaseData' || isComplete(c, options));
  return baseDone ? 'ProcessStream' : 'ProcessBaseData';
}

/** Unowned, not finished, allowed by the stage, and every parent complete. */
export function isSchedulable(tunnel: TunnelRecord, channel: ChannelRecord, stage: TunnelStage, options: SchedulerOptions): boolean {
  if (channel.owner !== null || channel.suspended || channel.terminated) return false;
  if (channel.status !== 'WAIT' && channel.status !== 'CLOSE') return false;
  if (isComplete(channel, options)) return false;
  const kindStage = channel.kind === 'BaseData' ? 'ProcessBaseData' : 'ProcessStream';
  if (stage !== kindStage) return false;
  return channel.parents.every((parentId) => {
    const parent = tunnel.channels.find((c) => c.id === parentId);
    return parent === undefined || isComplete(parent, options);
  });
}

export function isExpired(client: ClientRecord, nowMs: number): boolean {
  return nowMs - client.lastHeartbeatMs > client.timeoutMs;
}

export interface HeartbeatOutcome {
  channels: ChannelMsg[];
  changed: boolean;
}

/**
 * One heartbeat of a live client: accept its CLOSE/TERMINATED reports, rebalance, and answer with
 * the channels it owns. The caller has checked that the client exists and has not expired.
 */
export function applyHeartbeat(
  tunnel: TunnelRecord,
  client: ClientRecord,
  reported: ChannelMsg[],
  liveClients: ClientRecord[],
  nowMs: number,
  options: SchedulerOptions,
): HeartbeatOutcome {
  let changed = false;
  const released = new Set<string>();
  for (const report of reported) {
    const channel = tunnel.channels.find((c) => c.id === report.channel_id);
    if (channel === undefined || channel.owner !== client.id) continue;
    const version = Number(report.version);
    if (version <= channel.version) continue;
    if (report.status === ChannelStatus.CLOSE) {
      setStatus(channel, 'CLOSE', null, version);
      released.add(channel.id);
    } else if (report.status === ChannelStatus.TERMINATED) {
      setStatus(channel, 'TERMINATED', null, version);
      channel.terminated = true;
    } else {
      // Only the server opens or closes; a higher client version still must never be answered lower.
      channel.version = version;
    }
    changed = true;
  }
  if (rebalance(tunnel, client, liveClients, stageOf(tunnel, nowMs, options), options, options.regrantReleased ? new Set() : released)) changed = true;
  const channels = ownedBy(tunnel, client.id).map(toChannelMsg);
  return { channels, changed };
}

/**
 * The heartbeating client's share, then: its OPEN channels beyond the share go CLOSING, or it gets
 * schedulable channels up to the share. `released`: channels this client handed back in this very
 * heartbeat, which go to another client rather than straight back to it.
 */
function rebalance(
  tunnel: TunnelRecord,
  client: ClientRecord,
  liveClients: ClientRecord[],
  stage: TunnelStage,
  options: SchedulerOptions,
  released: ReadonlySet<string>,
): boolean {
  const schedulable = tunnel.channels.filter((c) => isSchedulable(tunnel, c, stage, options));
  const ownedTotal = tunnel.channels.filter((c) => c.owner !== null).length;
  const target = shareOf(tunnel, client, liveClients, schedulable.length + ownedTotal, options.balance ?? 'even');
  const mine = ownedBy(tunnel, client.id);
  const open = mine.filter((c) => c.status === 'OPEN');
  let changed = false;
  if (open.length > target) {
    for (const channel of open.slice(target)) setStatus(channel, 'CLOSING', client.id, channel.version + 1);
    return true;
  }
  const grantable = schedulable.filter((c) => !released.has(c.id));
  const grant = Math.min(grantable.length, Math.max(0, target - mine.length));
  for (const channel of grantable.slice(0, grant)) {
    setStatus(channel, 'OPEN', client.id, channel.version + 1);
    changed = true;
  }
  return changed;
}

/**
 * How many channels a client should hold. 'ceil': ceil(total / clients) each, so the last clients may
 * get fewer (7 channels, 3 clients: 3, 3, 1). 'even': floor(total / clients), and one more for as many
 * clients as the remainder — those holding the most already (then by id), so nothing moves needlessly:
 * the counts differ by at most one (3, 2, 2).
 */
function shareOf(tunnel: TunnelRecord, client: ClientRecord, liveClients: ClientRecord[], total: number, balance: 'even' | 'ceil'): number {
  const clients = Math.max(1, liveClients.length);
  if (balance === 'ceil') return Math.ceil(total / clients);
  const held = (id: string) => tunnel.channels.filter((c) => c.owner === id).length;
  const ranked = [...liveClients].sort((a, b) => held(b.id) - held(a.id) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const rank = ranked.findIndex((c) => c.id === client.id);
  return Math.floor(total / clients) + (rank >= 0 && rank < total % clients ? 1 : 0);
}

/** Releases every channel of a departed client so that others can take them (version + 1). */
export function releaseClientChannels(tunnel: TunnelRecord, clientId: string): boolean {
  let changed = false;
  for (const channel of tunnel.channels) {
    if (channel.owner !== clientId) continue;
    setStatus(channel, 'CLOSE', null, channel.version + 1);
    changed = true;
  }
  return changed;
}

/** Schedule(channels): OPEN resumes, CLOSING suspends, TERMINATED finishes (Go's Schedule API). */
export function applySchedule(tunnel: TunnelRecord, requests: ChannelMsg[]): void {
  for (const request of requests) {
    const channel = tunnel.channels.find((c) => c.id === request.channel_id);
    if (channel === undefined) {
      throw new RpcError(400, 'OTSParameterInvalid', `channel ${request.channel_id} does not exist in tunnel ${tunnel.id}`);
    }
    if (request.status === ChannelStatus.OPEN) {
      channel.suspended = false;
      if (channel.owner !== null && channel.status === 'CLOSING') setStatus(channel, 'OPEN', channel.owner, channel.version + 1);
    } else if (request.status === ChannelStatus.CLOSING) {
      channel.suspended = true;
      if (channel.owner !== null && channel.status === 'OPEN') setStatus(channel, 'CLOSING', channel.owner, channel.version + 1);
    } else if (request.status === ChannelStatus.TERMINATED) {
      channel.terminated = true;
      setStatus(channel, 'TERMINATED', null, channel.version + 1);
    } else {
      throw new RpcError(400, 'OTSParameterInvalid', `Schedule accepts OPEN, CLOSING or TERMINATED, not ${String(request.status)}`);
    }
  }
}

/** The status string DescribeTunnel shows for a channel. */
export function describedStatus(
  tunnel: TunnelRecord,
  channel: ChannelRecord,
  stage: TunnelStage,
  options: SchedulerOptions & { describeSchedulableAsOpen: boolean },
): ChannelState {
  if (channel.terminated) return 'TERMINATED';
  if (channel.suspended) return 'CLOSING';
  if (channel.owner !== null) return channel.status;
  if (isComplete(channel, options)) return 'TERMINATED';
  if (options.describeSchedulableAsOpen && isSchedulable(tunnel, channel, stage, options)) return 'OPEN';
  return channel.status;
}

function ownedBy(tunnel: TunnelRecord, clientId: string): ChannelRecord[] {
  return tunnel.channels.filter((c) => c.owner === clientId);
}

function setStatus(channel: ChannelRecord, status: ChannelState, owner: string | null, version: number): void {
  channel.status = status;
  channel.owner = owner;
  channel.version = version;
}

/** Owned channels are OPEN or CLOSING; nothing else is ever sent back. */
function toChannelMsg(channel: ChannelRecord): ChannelMsg {
  const status = channel.status === 'CLOSING' ? ChannelStatus.CLOSING : ChannelStatus.OPEN;
  return { channel_id: channel.id, version: BigInt(channel.version), status };
}
