/**
 * `otslake resync` (docs/operations.md §Table lifecycle): a changelog table moves to a fresh BaseAndStream tunnel in one
 * Delta commit, and the old tunnel is deleted after it. The next run of the daemon lands the new tunnel's full
 * snapshot — the new baseline — then its changes. A mirror table lands the new snapshot beside the live one first
 * and replaces its contents in the switch commit (pipeline/resync-mirror.ts); steps 1, 2 and 4 are the same.
 *
 *   1. refuse while a client still reads the table's tunnel (the daemon must not run this table);
 *   2. the new tunnel: `<tunnel.name>-resync-<8 hex of the old tunnel id>`, created or found by that name, so a
 *      rerun after a crash takes the same one;
 *   3. ONE commit (operation RESYNC): the table property otslake.tunnel.id names the new tunnel; the old
 *      tunnel's txns stay as history, the new tunnel's channels start from its beginning (no txn yet);
 *   4. the old tunnel is deleted.
 *
 * A crash before 3 leaves the lake on the old tunnel (a rerun reuses the new one); after 3, a rerun only
 * finishes 4. Exactly-once holds as for any start: the lake's positions (none yet for the new tunnel) decide.
 * The baseline is marked: its rows have `_seq` null and a `_channel` of the new tunnel, and are committed after
 * the RESYNC commit (its version and both tunnel ids are in its commitInfo and in otslake.resync.* properties).
 */
import { createHash } from 'node:crypto';
import { OtslakeError, hasCode } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { TableConfig } from '../config/load.js';
import type { ObjectStore } from '../lake/object-store.js';
import { MIRROR_MODE_PROPERTY } from '../lake/mirror/layout.js';
import { loadSnapshot } from '../lake/snapshot.js';
import { commit } from '../lake/transaction.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';
import { lakeTunnelOf, TUNNEL_ID_PROPERTY } from './tunnel-binding.js';
import { crashPoint } from './resync-crash-point.js';
import { dropStagingLog, stageAndSwitch, type StagingDeps } from './resync-mirror.js';
import { PREVIOUS_TUNNEL_PROPERTY, type SwitchResult } from './resync-switch.js';
import { describeTunnel, ensureTunnel } from './tunnel-setup.js';

export interface ResyncResult {
  readonly previousTunnelId: string | null;
  readonly tunnelId: string;
  readonly tunnelName: string;
  /** The RESYNC commit; null when a previous run had made it already. */
  readonly version: number | null;
  readonly deletedPreviousTunnel: boolean;
  /** Mode mirror: what the switch commit changed (null when a previous run had switched already). */
  readonly mirror?: SwitchResult;
}

export function resyncTunnelName(table: TableConfig, previousTunnelId: string | null): string {
  const suffix = createHash('sha256')
    .update(previousTunnelId ?? 'none')
    .digest('hex')
    .slice(0, 8);
  return `${table.tunnel.name}-resync-${suffix}`;
}

export async function resyncTable(
  client: TunnelClient,
  table: TableConfig,
  store: ObjectStore,
  log: Logger,
  signal?: AbortSignal,
  staging?: StagingDeps,
): Promise<ResyncResult> {
  const opts = signal ? { signal } : {};
  let snapshot;
  try {
    snapshot = await loadSnapshot(store, opts);
  } catch (err) {
    if (!hasCode(err, 'OTSL_LAKE_NOT_A_TABLE')) throw err;
    throw new OtslakeError('OTSL_DAEMON_STATE', `table ${table.table}: no Delta table at ${table.path} yet; run the daemon, it lands the full history`, {
      context: { table: table.table, path: table.path },
    });
  }
  const mirror = snapshot.metadata.configuration[MIRROR_MODE_PROPERTY] === 'mirror' || table.mode === 'mirror';
  if (mirror && staging === undefined) {
    throw new OtslakeError('OTSL_INTERNAL', `table ${table.table}: a mirror resync needs the worker pool to land the new snapshot`, {
      context: { table: table.table },
    });
  }
  const recorded = lakeTunnelOf(snapshot.metadata, snapshot.txns.keys());
  const listed = (await client.listTunnel({ table_name: table.table }, opts)).tunnels.filter((t) => t.table_name === table.table);
  // After a crash past the switch the lake reads the resync tunnel and the old one still exists: only its deletion is left.
  const unfinished = snapshot.metadata.configuration[PREVIOUS_TUNNEL_PROPERTY];
  const switched = unfinished !== undefined && unfinished !== recorded && listed.some((t) => t.tunnel_id === unfinished);
  const previousTunnelId = switched ? unfinished : recorded;
  const previous = listed.find((t) => t.tunnel_id === previousTunnelId);
  if (previous !== undefined && !switched) {
    const readers = (
      await describeTunnel(client, { ...table, tunnel: { ...table.tunnel, name: previous.tunnel_name ?? table.tunnel.name } }, previous.tunnel_id, signal)
    ).channels
      .map((c) => c.client_id ?? '')
      .filter((c) => c !== '');
    if (readers.length > 0) {
      throw new OtslakeError(
        'OTSL_DAEMON_STATE',
        `table ${table.table}: tunnel ${previous.tunnel_id} is still read by client ${readers[0]}; ask the daemon that runs it (POST /tables/${table.table}/resync on its HTTP port, from its host), or remove the table from it (edit the config, systemctl reload) or stop it, then resync`,
        { context: { table: table.table, tunnelId: previous.tunnel_id, clientId: readers[0] } },
      );
    }
  }
  if (mirror && !switched) {
    const tunnelName = resyncTunnelName(table, previousTunnelId);
    const step = await stageAndSwitch(staging!, client, table, store, snapshot.metadata.configuration, tunnelName, previousTunnelId, log, signal);
    const deleted = await finish(client, table, store, previous, step.tunnelId, mirror, log, signal);
    return { previousTunnelId, tunnelId: step.tunnelId, tunnelName, version: step.switched.version, deletedPreviousTunnel: deleted, mirror: step.switched };
  }
  const tunnelName = switched
    ? (listed.find((t) => t.tunnel_id === recorded)?.tunnel_name ?? resyncTunnelName(table, previousTunnelId))
    : resyncTunnelName(table, previousTunnelId);
  const tunnelId =
    switched && recorded !== null ? recorded : await ensureTunnel(client, { ...table, tunnel: { name: tunnelName, type: 'BaseAndStream' } }, log, signal);
  let version: number | null = null;
  if (!switched) {
    const at = new Date().toISOString();
    const configuration = {
      ...snapshot.metadata.configuration,
      [TUNNEL_ID_PROPERTY]: tunnelId,
      [PREVIOUS_TUNNEL_PROPERTY]: previousTunnelId ?? '',
      'otslake.resync.at': at,
    };
    crashPoint('resync-before-switch');
    const result = await commit(store, [{ metaData: { ...snapshot.metadata, configuration } }], {
      readVersion: snapshot.version,
      readMetadata: snapshot.metadata,
      operation: 'RESYNC',
      operationParameters: { tunnelId, previousTunnelId: previousTunnelId ?? '' },
      ...opts,
    });
    if (result.kind === 'conflict') {
      throw new OtslakeError(
        'OTSL_DAEMON_STATE',
        `table ${table.table}: the lake changed during the resync (${result.reason}); is a daemon still writing it?`,
        {
          context: { table: table.table, version: result.winningVersion },
        },
      );
    }
    version = result.version;
    log.info('table resynced: the lake reads a fresh tunnel', { table: table.table, tunnelId, previousTunnelId, version });
    crashPoint('resync-after-switch');
  }
  const deletedPreviousTunnel = await finish(client, table, store, previous, tunnelId, mirror, log, signal);
  return { previousTunnelId, tunnelId, tunnelName, version, deletedPreviousTunnel };
}

/** Step 4: the old tunnel is deleted (and a mirror's staged log dropped): what a rerun after the switch finishes. */
async function finish(
  client: TunnelClient,
  table: TableConfig,
  store: ObjectStore,
  previous: { tunnel_id: string; tunnel_name?: string } | undefined,
  tunnelId: string,
  /** The table is a mirror (by its lake, or its config): its staged log is dropped. */
  mirror: boolean,
  log: Logger,
  signal?: AbortSignal,
): Promise<boolean> {
  if (mirror) await dropStagingLog(store, tunnelId, signal);
  if (previous === undefined || previous.tunnel_id === tunnelId) return false;
  crashPoint('resync-before-tunnel-delete');
  await client.deleteTunnel(
    { table_name: table.table, tunnel_name: previous.tunnel_name ?? table.tunnel.name, tunnel_id: previous.tunnel_id },
    signal ? { signal } : {},
  );
  log.info('previous tunnel deleted', { table: table.table, tunnelId: previous.tunnel_id });
  return true;
}
