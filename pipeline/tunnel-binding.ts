/**
 * A lake knows its tunnel (docs/errors.md §OTSL_TUNNEL_LOST, §OTSL_TUNNEL_LAKE_MISMATCH): the table property
 * `otslake.tunnel.id`, written when the daemon creates the Delta table, else the tunnel id in the txns of the
 * lake's positions (`otslake/<tunnelId>/<channelId>`, tables created before the property existed).
 *
 * | lake                 | tunnel (by the lake's id, else by name) | outcome                                      |
 * |----------------------|-----------------------------------------|----------------------------------------------|
 * | knows tunnel T       | T listed, not expired                   | read T (whatever its name now)               |
 * | knows tunnel T       | T gone or expired                       | OTSL_TUNNEL_LOST: the table stops            |
 * | empty (no positions) | none of that name                       | create it (the first start stays automatic)  |
 * | empty                | one with progress (checkpoints)         | OTSL_TUNNEL_LAKE_MISMATCH: the table stops   |
 * | empty                | one without progress                    | read it                                      |
 *
 * Silently creating a new tunnel for a lake whose tunnel is gone would land a fresh snapshot over the old
 * state and miss every change in between, deletes among them; starting an empty lake on a consumed tunnel
 * would miss the table's history. Both are refused by name instead, for this table only.
 */
import { OtslakeError, hasCode } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { TableConfig } from '../config/load.js';
import type { Metadata } from '../lake/actions.js';
import type { ObjectStore } from '../lake/object-store.js';
import { loadSnapshot } from '../lake/snapshot.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';
import type { ChannelInfo } from '../tunnel/proto.js';
import { describeTunnel, ensureTunnel } from './tunnel-setup.js';

/** The table property naming the tunnel whose positions the lake holds. */
export const TUNNEL_ID_PROPERTY = 'otslake.tunnel.id';

const TXN_PREFIX = 'otslake/';

/** The tunnel a lake's positions belong to; null for an empty lake (no table, or one without positions). */
export function lakeTunnelOf(metadata: Metadata | null, appIds: Iterable<string>): string | null {
  const recorded = metadata?.configuration[TUNNEL_ID_PROPERTY];
  if (recorded) return recorded;
  for (const appId of appIds) {
    if (!appId.startsWith(TXN_PREFIX)) continue;
    const tunnelId = appId.slice(TXN_PREFIX.length).split('/')[0];
    if (tunnelId) return tunnelId;
  }
  return null;
}

/** A tunnel has progress once a channel checkpointed something past its start, or finished. */
export function hasProgress(channels: readonly ChannelInfo[]): boolean {
  return channels.some((c) => (c.channel_count ?? 0n) > 0n || (c.channel_rpo ?? 0n) > 0n || c.channel_status === 'TERMINATED');
}

/** Why a lake's tunnel is lost: gone from the list, or expired (a change it still had to deliver was trimmed). */
export type TunnelLossCause = 'deleted' | 'expired';

const LOSS_TEXT: Record<TunnelLossCause, string> = {
  deleted: 'no longer exists (deleted, or removed by Tablestore after 30 days disabled)',
  expired: "has expired (a change it still had to deliver passed the table's stream retention: OTSTunnelExpired)",
};

export function tunnelLost(table: TableConfig, tunnelId: string, cause: TunnelLossCause): OtslakeError {
  return new OtslakeError(
    'OTSL_TUNNEL_LOST',
    `table ${table.table}: the tunnel ${tunnelId} its lake at ${table.path} was reading ${LOSS_TEXT[cause]}; the changes since the lake's positions cannot be read any more. Rebuild the table from a new tunnel: otslake resync --config FILE --table ${table.table} (docs/errors.md §OTSL_TUNNEL_LOST)`,
    { context: { table: table.table, tunnelId, path: table.path, cause } },
  );
}

/** The id of the tunnel this table reads, checked against what the lake recorded. */
export async function bindTunnel(client: TunnelClient, table: TableConfig, lakeTunnelId: string | null, log: Logger, signal?: AbortSignal): Promise<string> {
  const listed = (await client.listTunnel({ table_name: table.table }, { signal })).tunnels.filter((t) => t.table_name === table.table);
  if (lakeTunnelId !== null) {
    const own = listed.find((t) => t.tunnel_id === lakeTunnelId);
    if (own === undefined) throw tunnelLost(table, lakeTunnelId, 'deleted');
    if (own.expired === true) throw tunnelLost(table, lakeTunnelId, 'expired');
    if (own.tunnel_name !== table.tunnel.name) {
      log.warn('the lake reads the tunnel its positions belong to, not the one the config names', {
        tunnelId: lakeTunnelId,
        tunnelName: own.tunnel_name,
        configured: table.tunnel.name,
      });
    }
    return lakeTunnelId;
  }
  const named = listed.find((t) => t.tunnel_name === table.tunnel.name);
  if (named === undefined) return ensureTunnel(client, table, log, signal);
  const described = await describeTunnel(client, table, named.tunnel_id, signal);
  if (named.expired === true || hasProgress(described.channels)) {
    throw new OtslakeError(
      'OTSL_TUNNEL_LAKE_MISMATCH',
      `table ${table.table}: the lake at ${table.path} holds no positions, but tunnel "${table.tunnel.name}" (${named.tunnel_id}) was already consumed; starting here would miss the table's history. Give this lake its own tunnel name, or delete the tunnel if no other lake reads it (docs/errors.md)`,
      { context: { table: table.table, tunnelId: named.tunnel_id, tunnelName: table.tunnel.name, path: table.path } },
    );
  }
  return named.tunnel_id;
}

/** The tunnel this table reads, as its lake knows it. A lake that looked empty is read once more before a
 * refusal: another daemon of this deployment may have created the table and made progress between the reads. */
export async function resolveTableTunnel(client: TunnelClient, table: TableConfig, store: ObjectStore, log: Logger, signal?: AbortSignal): Promise<string> {
  const lakeTunnel = async () => {
    try {
      const snapshot = await loadSnapshot(store, signal ? { signal } : {});
      return lakeTunnelOf(snapshot.metadata, snapshot.txns.keys());
    } catch (err) {
      if (hasCode(err, 'OTSL_LAKE_NOT_A_TABLE')) return null;
      throw err;
    }
  };
  const recorded = await lakeTunnel();
  try {
    return await bindTunnel(client, table, recorded, log, signal);
  } catch (err) {
    if (recorded !== null || !hasCode(err, 'OTSL_TUNNEL_LAKE_MISMATCH')) throw err;
    const again = await lakeTunnel();
    if (again !== null && again === (err as OtslakeError).context.tunnelId) return again;
    throw err;
  }
}

/** OTSL_TUNNEL_LOST when the tunnel is no longer listed or has expired; null when it is there (or the answer is unknown). */
export async function lostTunnel(client: TunnelClient, table: TableConfig, tunnelId: string): Promise<OtslakeError | null> {
  try {
    const listed = await client.listTunnel({ table_name: table.table });
    const own = listed.tunnels.find((t) => t.tunnel_id === tunnelId);
    if (own === undefined) return tunnelLost(table, tunnelId, 'deleted');
    return own.expired === true ? tunnelLost(table, tunnelId, 'expired') : null;
  } catch {
    return null;
  }
}
