/**
 * What DescribeTunnel says about a table's progress: stage, full-snapshot progress, per-channel
 * state, owner and newest checkpointed change, and whether the table is caught up (what
 * `run --until-idle` waits for).
 *
 * Caught up = past InitBaseDataAndStreamShard (and, for BaseAndStream, past the base stage); every
 * channel TERMINATED or OPEN under a live owner; the channels we own are exactly those we just read
 * to their current end. A channel nobody owns (a child whose parent just finished, a stream channel
 * not yet handed out) means there is more to do.
 *
 * A live owner is us, or another client the Tunnel provably still accepts heartbeats from. The
 * Tunnel does not say when a client last heartbeated, so `OwnerWatch` infers it: a client that
 * checkpointed since we first saw it is alive, and so is one that still holds its channels a client
 * timeout after we first saw it (the server would have expired it otherwise). Until then its
 * channels are *waiting*: a SIGKILLed daemon's channels stay with it until the Tunnel times it out,
 * and the changes in them are not in the lake.
 */
import type { TableConfig } from '../config/load.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';
import type { DescribeTunnelResponse } from '../tunnel/proto.js';
import type { WaitingClient } from './table-health.js';
import { describeTunnel, INIT_STAGE } from './tunnel-setup.js';

export interface ChannelProgress {
  channelId: string;
  type: string;
  status: string;
  owner: string | null;
  /** ms since epoch of the newest change checkpointed on the channel (the Tunnel's "RPO"); null when none yet. */
  checkpointedChangeAtMs: number | null;
  /** Records consumed according to the server's checkpoint. */
  count: number | null;
}

export interface TunnelProgress {
  stage: string;
  baseChannels: { finished: number; total: number };
  channels: ChannelProgress[];
  /** Channels no client owns that are not finished. */
  unowned: number;
  caughtUp: boolean;
  /** Other clients holding channels that are not known to be alive: wait for them to expire. */
  waitingFor: WaitingClient[];
  /** ms since epoch of the newest change checkpointed over the tunnel; null when no stream channel has a position yet. */
  checkpointedChangeAtMs: number | null;
  /** When the tunnel was created (ms since epoch; its stream starts there); null when the server does not say. */
  createdAtMs?: number | null;
  /** The tunnel's type as the server has it: a resync's tunnel is BaseAndStream whatever tables[].tunnel.type says. */
  tunnelType?: string;
}

type Summary = Omit<TunnelProgress, 'caughtUp' | 'waitingFor'>;

export function summarizeTunnel(described: DescribeTunnelResponse): Summary {
  const channels: ChannelProgress[] = described.channels.map((c) => ({
    channelId: c.channel_id,
    type: c.channel_type ?? '',
    status: c.channel_status ?? '',
    owner: c.client_id ? c.client_id : null,
    checkpointedChangeAtMs: c.channel_rpo !== undefined && c.channel_rpo > 0n ? Number(c.channel_rpo / 1_000_000n) : null,
    count: c.channel_count !== undefined ? Number(c.channel_count) : null,
  }));
  const base = channels.filter((c) => c.type === 'BaseData');
  const rpo = described.tunnel_rpo;
  const created = described.tunnel.create_time;
  return {
    stage: described.tunnel.stage,
    baseChannels: { finished: base.filter((c) => c.status === 'TERMINATED').length, total: base.length },
    channels,
    unowned: channels.filter((c) => c.status !== 'TERMINATED' && c.owner === null).length,
    checkpointedChangeAtMs: rpo !== undefined && rpo > 0n ? Number(rpo / 1_000_000n) : null,
    createdAtMs: created !== undefined && created > 0n ? Number(created / 1_000_000n) : null,
    tunnelType: described.tunnel.tunnel_type,
  };
}

/**
 * The tunnel's own type when the service says it (DescribeTunnel), else the config's: a resync moves a Stream
 * table to a BaseAndStream tunnel, whose base phase must end before the table is caught up or its age counts.
 */
export function tunnelTypeOf(described: { readonly tunnelType?: string | undefined } | null, configuredType: string): string {
  return described?.tunnelType || configuredType;
}

function isCaughtUp(summary: Summary, table: TableConfig, clientId: string, readByUs: ReadonlySet<string>, live: (owner: string) => boolean): boolean {
  if (summary.stage === INIT_STAGE) return false;
  if (tunnelTypeOf(summary, table.tunnel.type) === 'BaseAndStream' && summary.stage !== 'ProcessStream') return false;
  for (const c of summary.channels) {
    if (c.status === 'TERMINATED') continue;
    if (c.owner === null || c.status !== 'OPEN') return false;
    if (c.owner === clientId && !readByUs.has(c.channelId)) return false;
    if (c.owner !== clientId && !live(c.owner)) return false;
  }
  return true;
}

/** What we saw of another client: since when it holds channels, and their checkpoint counts then. */
interface Sighting {
  firstSeenMs: number;
  counts: Map<string, string>;
  alive: boolean;
}

/** Infers, across DescribeTunnel calls, which other clients are alive (see the module comment). */
export class OwnerWatch {
  private readonly seen = new Map<string, Sighting>();

  /** `clientTimeoutMs`: the Tunnel client timeout daemons of this deployment connect with. */
  constructor(private readonly clientTimeoutMs: number) {}

  observe(summary: Summary, ourClientId: string, nowMs: number): { live: (owner: string) => boolean; waitingFor: WaitingClient[] } {
    const byOwner = new Map<string, ChannelProgress[]>();
    for (const c of summary.channels) {
      if (c.owner === null || c.owner === ourClientId || c.status === 'TERMINATED') continue;
      byOwner.set(c.owner, [...(byOwner.get(c.owner) ?? []), c]);
    }
    for (const id of this.seen.keys()) if (!byOwner.has(id)) this.seen.delete(id);
    const waitingFor: WaitingClient[] = [];
    for (const [owner, channels] of byOwner) {
      const counts = new Map(channels.map((c) => [c.channelId, `${c.count}:${c.checkpointedChangeAtMs}`]));
      let s = this.seen.get(owner);
      if (!s) {
        s = { firstSeenMs: nowMs, counts, alive: false };
        this.seen.set(owner, s);
      }
      const checkpointed = [...counts].some(([id, v]) => s.counts.has(id) && s.counts.get(id) !== v);
      if (checkpointed || nowMs - s.firstSeenMs > this.clientTimeoutMs) s.alive = true;
      for (const [id, v] of counts) if (!s.counts.has(id)) s.counts.set(id, v);
      if (!s.alive) {
        waitingFor.push({
          clientId: owner,
          channels: channels.map((c) => c.channelId),
          expiresInMs: Math.max(0, s.firstSeenMs + this.clientTimeoutMs - nowMs),
        });
      }
    }
    return { live: (owner) => this.seen.get(owner)?.alive === true, waitingFor };
  }
}

export async function assessTunnel(
  client: TunnelClient,
  table: TableConfig,
  tunnelId: string,
  clientId: string,
  readByUs: ReadonlySet<string>,
  owners: OwnerWatch,
  signal?: AbortSignal,
): Promise<TunnelProgress> {
  const summary = summarizeTunnel(await describeTunnel(client, table, tunnelId, signal));
  const { live, waitingFor } = owners.observe(summary, clientId, Date.now());
  return { ...summary, waitingFor, caughtUp: isCaughtUp(summary, table, clientId, readByUs, live) };
}
