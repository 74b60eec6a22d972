/**
 * Finding (or creating) the tunnel a table entry names, and waiting out its initialisation stage.
 * A worker started while the stage is still InitBaseDataAndStreamShard "keeps getting stuck"
 * (docs/tunnel-protocol.md §Stages; the official example polls ListTunnel), so we poll DescribeTunnel the
 * same way before connecting.
 */
import { OtslakeError } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import { sleep } from '../common/retry.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';
import { TunnelType, type DescribeTunnelResponse } from '../tunnel/proto.js';
import type { TableConfig } from '../config/load.js';

export const INIT_STAGE = 'InitBaseDataAndStreamShard';
const STAGE_POLL_MS = 200;

export async function findTunnelId(client: TunnelClient, table: TableConfig, signal?: AbortSignal): Promise<string | null> {
  const listed = await client.listTunnel({ table_name: table.table }, { signal });
  return listed.tunnels.find((t) => t.tunnel_name === table.tunnel.name && t.table_name === table.table)?.tunnel_id ?? null;
}

/** The tunnel's id; creates it when the config names one that does not exist yet. */
export async function ensureTunnel(client: TunnelClient, table: TableConfig, log: Logger, signal?: AbortSignal): Promise<string> {
  const existing = await findTunnelId(client, table, signal);
  if (existing !== null) return existing;
  try {
    const created = await client.createTunnel(
      { tunnel: { table_name: table.table, tunnel_name: table.tunnel.name, tunnel_type: TunnelType[table.tunnel.type] } },
      { signal },
    );
    log.info('tunnel created', { tunnelName: table.tunnel.name, tunnelId: created.tunnel_id, tunnelType: table.tunnel.type });
    return created.tunnel_id;
  } catch (err) {
    // Another daemon created it between our list and our create.
    if ((err as OtslakeError).context?.serverCode === 'OTSTunnelExist') {
      const raced = await findTunnelId(client, table, signal);
      if (raced !== null) return raced;
    }
    throw err;
  }
}

export function describeTunnel(client: TunnelClient, table: TableConfig, tunnelId: string, signal?: AbortSignal): Promise<DescribeTunnelResponse> {
  return client.describeTunnel({ table_name: table.table, tunnel_name: table.tunnel.name, tunnel_id: tunnelId }, { signal });
}

/** Resolves, with the DescribeTunnel that said so, once the tunnel left InitBaseDataAndStreamShard; rejects with OTSL_ABORTED on abort. */
export async function waitUntilInitialised(
  client: TunnelClient,
  table: TableConfig,
  tunnelId: string,
  log: Logger,
  signal?: AbortSignal,
): Promise<DescribeTunnelResponse> {
  let logged = false;
  for (;;) {
    const described = await describeTunnel(client, table, tunnelId, signal);
    if (described.tunnel.stage !== INIT_STAGE) return described;
    if (!logged) log.info('waiting for the tunnel to initialise', { tunnelId, stage: described.tunnel.stage });
    logged = true;
    await sleep(STAGE_POLL_MS, signal);
  }
}
