/**
 * What DescribeTunnel says about a table's progress: stage, full-snapshot progress, per-channel
 * state, owner and RPO, and whether the table is caught up (what `run --until-idle` waits for).
 *
 * Caught up = past InitBaseDataAndStreamShard (and, for BaseAndStream, past the base stage); every
 * channel TERMINATED or OPEN under an owner; the channels we own are exactly those we just read to
 * their current end. A channel nobody owns (a child whose parent just finished, a stream channel
 * not yet handed out) means there is more to do.
 */
import type { TableConfig } from '../config/load.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';
import type { DescribeTunnelResponse } from '../tunnel/proto.js';
import { describeTunnel, INIT_STAGE } from './tunnel-setup.js';

export interface ChannelProgress {
  channelId: string;
  type: string;
  status: string;
  owner: string | null;
  /** ms since epoch of the newest change checkpointed on the channel; null when none yet. */
  rpoMs: number | null;
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
  /** ms; null when no stream channel has a position yet. */
  tunnelRpoMs: number | null;
}

export function summarizeTunnel(described: DescribeTunnelResponse): Omit<TunnelProgress, 'caughtUp'> {
  const channels: ChannelProgress[] = described.channels.map((c) => ({
    channelId: c.channel_id,
    type: c.channel_type ?? '',
    status: c.channel_status ?? '',
    owner: c.client_id ? c.client_id : null,
    rpoMs: c.channel_rpo !== undefined && c.channel_rpo > 0n ? Number(c.channel_rpo / 1_000_000n) : null,
    count: c.channel_count !== undefined ? Number(c.channel_count) : null,
  }));
  const base = channels.filter((c) => c.type === 'BaseData');
  const rpo = described.tunnel_rpo;
  return {
    stage: described.tunnel.stage,
    baseChannels: { finished: base.filter((c) => c.status === 'TERMINATED').length, total: base.length },
    channels,
    unowned: channels.filter((c) => c.status !== 'TERMINATED' && c.owner === null).length,
    tunnelRpoMs: rpo !== undefined && rpo > 0n ? Number(rpo / 1_000_000n) : null,
  };
}

function isCaughtUp(summary: Omit<TunnelProgress, 'caughtUp'>, table: TableConfig, clientId: string, readByUs: ReadonlySet<string>): boolean {
  if (summary.stage === INIT_STAGE) return false;
  if (table.tunnel.type === 'BaseAndStream' && summary.stage !== 'ProcessStream') return false;
  for (const c of summary.channels) {
    if (c.status === 'TERMINATED') continue;
    if (c.owner === null || c.status !== 'OPEN') return false;
    if (c.owner === clientId && !readByUs.has(c.channelId)) return false;
  }
  return true;
}

export async function assessTunnel(
  client: TunnelClient,
  table: TableConfig,
  tunnelId: string,
  clientId: string,
  readByUs: ReadonlySet<string>,
  signal?: AbortSignal,
): Promise<TunnelProgress> {
  const summary = summarizeTunnel(await describeTunnel(client, table, tunnelId, signal));
  return { ...summary, caughtUp: isCaughtUp(summary, table, clientId, readByUs) };
}
