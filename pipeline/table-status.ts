/**
 * A table's status read from the outside (lake + DescribeTunnel), so that `otslake status` works
 * without a running daemon: lake version and rows, per channel the offset entry in force, the
 * server's view of the channel (state, owner, newest checkpointed change), the tunnel stage and
 * full-snapshot progress. The two sides are read independently: with Tablestore down the lake side
 * is still shown (and the other way round), the failing side carries its error.
 *
 * No lag here: from the outside nothing tells whether changes are pending behind a quiet channel's
 * newest checkpointed change; a running daemon's /status has the lag it measured.
 */
import { hasCode, toOtslakeError } from '../common/errors.js';
import { typeConflictPolicyOf, type TableConfig } from '../config/load.js';
import type { ObjectStore } from '../lake/object-store.js';
import { parseTxnAppId, readOffsetEntry } from '../lake/offset-log.js';
import { loadSnapshot, parseStats, readCommitInfos } from '../lake/snapshot.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';
import { fleetClients, fleetCommits, type TableFleet } from './fleet.js';
import { summarizeTunnel, type TunnelProgress } from './tunnel-progress.js';
import { describeTunnel, findTunnelId } from './tunnel-setup.js';

export interface ChannelStatusLine {
  channelId: string;
  /** From DescribeTunnel; null when the server no longer lists it. */
  type: string | null;
  state: string | null;
  owner: string | null;
  /** ISO time of the newest change the Tunnel holds a checkpoint past (the Tunnel's "RPO"). */
  newestCheckpointedChangeAt: string | null;
  /** The offset entry in force (txn version); null when nothing was committed for the channel. */
  committedSeq: number | null;
  finished: boolean | null;
  recordsInLastBatch: number | null;
  lastSequence: string | null;
  committedAtMs: number | null;
}

export interface TableStatus {
  table: string;
  path: string;
  tunnel: {
    name: string;
    id: string | null;
    stage: string | null;
    baseChannels: TunnelProgress['baseChannels'] | null;
    newestCheckpointedChangeAt: string | null;
    /** Set when the Tunnel could not be read (Tablestore down, bad credentials). */
    error: SideError | null;
  };
  lake: {
    exists: boolean;
    version: number | null;
    rows: number | null;
    files: number | null;
    mode: string | null;
    changeDataFeed: boolean | null;
    error: SideError | null;
  };
  /** tables[].typeConflictPolicy in force, and the companion columns (`<name>__<type>`) it has created so far. */
  typeConflicts: { policy: string; companionColumns: string[] };
  channels: ChannelStatusLine[];
  /** Who holds which channels, and how busy the table's log is (docs/operations.md §Many daemons per table). */
  fleet: TableFleet;
}

export interface SideError {
  code: string;
  message: string;
}

const sideError = (err: unknown): SideError => {
  const e = toOtslakeError(err);
  return { code: e.code, message: e.message };
};
const isoOf = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

const COMPANION = /^(.+)__(long|double|boolean|string|binary)$/;
/** How many of the newest commits the fleet's commit rate is read from. */
const RECENT_COMMITS = 100;

export async function collectTableStatus(table: TableConfig, lakeRoot: ObjectStore, client: TunnelClient): Promise<TableStatus> {
  const store = lakeRoot.child(table.path);
  const status: TableStatus = {
    table: table.table,
    path: table.path,
    tunnel: { name: table.tunnel.name, id: null, stage: null, baseChannels: null, newestCheckpointedChangeAt: null, error: null },
    lake: { exists: false, version: null, rows: null, files: null, mode: null, changeDataFeed: null, error: null },
    typeConflicts: { policy: typeConflictPolicyOf(table), companionColumns: [] },
    channels: [],
    fleet: { clients: [], unownedChannels: [], commits: null },
  };
  const byChannel = new Map<string, ChannelStatusLine>();
  const line = (channelId: string): ChannelStatusLine => {
    let l = byChannel.get(channelId);
    if (!l) {
      l = {
        channelId,
        type: null,
        state: null,
        owner: null,
        newestCheckpointedChangeAt: null,
        committedSeq: null,
        finished: null,
        recordsInLastBatch: null,
        lastSequence: null,
        committedAtMs: null,
      };
      byChannel.set(channelId, l);
    }
    return l;
  };

  let tunnelId: string | null = null;
  try {
    tunnelId = await findTunnelId(client, table);
    status.tunnel.id = tunnelId;
    if (tunnelId !== null) {
      const summary = summarizeTunnel(await describeTunnel(client, table, tunnelId));
      Object.assign(status.tunnel, {
        stage: summary.stage,
        baseChannels: summary.baseChannels,
        newestCheckpointedChangeAt: isoOf(summary.checkpointedChangeAtMs),
      });
      status.fleet = { ...status.fleet, ...fleetClients(summary.channels) };
      for (const c of summary.channels) {
        Object.assign(line(c.channelId), { type: c.type, state: c.status, owner: c.owner, newestCheckpointedChangeAt: isoOf(c.checkpointedChangeAtMs) });
      }
    }
  } catch (err) {
    status.tunnel.error = sideError(err);
  }

  let snapshot;
  try {
    snapshot = await loadSnapshot(store);
  } catch (err) {
    if (!hasCode(err, 'OTSL_LAKE_NOT_A_TABLE')) status.lake.error = sideError(err);
  }
  if (snapshot) {
    let rows: number | null = 0;
    for (const add of snapshot.files.values()) {
      const n = parseStats(add)?.numRecords;
      rows = rows !== null && typeof n === 'number' ? rows + n : null;
    }
    const conf = snapshot.metadata.configuration;
    status.lake = {
      exists: true,
      version: snapshot.version,
      rows,
      files: snapshot.files.size,
      mode: conf['otslake.mode'] ?? 'changelog',
      changeDataFeed: conf['delta.enableChangeDataFeed'] === 'true',
      error: null,
    };
    status.fleet = { ...status.fleet, commits: fleetCommits(await readCommitInfos(store, Math.max(0, snapshot.version - RECENT_COMMITS + 1))) };
    const names = new Set(snapshot.schema.fields.map((f) => f.name));
    status.typeConflicts.companionColumns = [...names].filter((n) => {
      const m = COMPANION.exec(n);
      return m !== null && names.has(m[1]!);
    });
    await Promise.all(
      [...snapshot.txns.values()].map(async (txn) => {
        const ids = parseTxnAppId(txn.appId);
        // With the Tunnel unreadable its id is unknown: show every tunnel's entries then.
        if (!ids || (tunnelId !== null && ids.tunnelId !== tunnelId) || (tunnelId === null && status.tunnel.error === null)) return;
        const entry = await readOffsetEntry(store, ids.tunnelId, ids.channelId, txn.version);
        Object.assign(line(ids.channelId), {
          committedSeq: txn.version,
          finished: entry.finished,
          recordsInLastBatch: entry.records,
          lastSequence: entry.lastSequence ?? null,
          committedAtMs: txn.lastUpdated ?? null,
        });
      }),
    );
  }
  status.channels = [...byChannel.values()].sort((a, b) => (a.channelId < b.channelId ? -1 : a.channelId > b.channelId ? 1 : 0));
  return status;
}

function cell(v: unknown): string {
  return v === null || v === undefined ? '-' : String(v);
}

/** Human-readable rendering for the terminal. */
export function renderTableStatus(s: TableStatus): string {
  const out: string[] = [];
  const base = s.tunnel.baseChannels;
  out.push(`table ${s.table} (lake path ${s.path})`);
  out.push(
    `  lake:   ${s.lake.error ? `unreadable: ${s.lake.error.code}: ${s.lake.error.message}` : s.lake.exists ? `${s.lake.mode} table${s.lake.changeDataFeed ? ' with change data feed' : ''}, version ${s.lake.version}, ${cell(s.lake.rows)} rows in ${s.lake.files} files` : 'no Delta table yet'}`,
  );
  out.push(
    `  type conflicts: policy ${s.typeConflicts.policy}; companion columns: ${s.typeConflicts.companionColumns.length > 0 ? s.typeConflicts.companionColumns.join(', ') : 'none'}`,
  );
  out.push(
    `  tunnel: ${s.tunnel.name} ` +
      (s.tunnel.error
        ? `unreadable: ${s.tunnel.error.code}: ${s.tunnel.error.message}`
        : s.tunnel.id === null
          ? '(does not exist)'
          : `id ${s.tunnel.id}, stage ${cell(s.tunnel.stage)}` +
            (base && base.total > 0 ? `, full snapshot ${base.finished}/${base.total} base channels finished` : '')),
  );
  if (s.channels.length > 0) {
    // owner: the Tunnel's word; a client that stopped heartbeating keeps its channels until the Tunnel expires it.
    out.push(
      '  channel                                   type      state       owner                                 seq  finished  newest checkpointed change',
    );
    for (const c of s.channels) {
      out.push(
        `  ${c.channelId.padEnd(40)}  ${cell(c.type).padEnd(8)}  ${cell(c.state).padEnd(10)}  ${cell(c.owner).padEnd(36)}  ${cell(c.committedSeq).padStart(3)}  ${cell(c.finished).padEnd(8)}  ${cell(c.newestCheckpointedChangeAt)}`,
      );
    }
  }
  out.push(...renderFleet(s.fleet));
  return out.join('\n');
}

function renderFleet(f: TableFleet): string[] {
  const out: string[] = [];
  if (f.commits) {
    const c = f.commits;
    out.push(
      `  commits: ${c.perSecond}/s over the last ${Math.round(c.windowMs / 1000)}s from ${c.writers} daemon(s), ${c.lostRacesPerCommit} lost races per commit`,
    );
  }
  if (f.clients.length > 0 || f.unownedChannels.length > 0) {
    out.push('  clients of the tunnel:');
    for (const client of f.clients) {
      const lag = client.lagMs === null ? '-' : `${(client.lagMs / 1000).toFixed(1)}s`;
      out.push(`    ${client.clientId}  ${client.channels.length} channel(s), lag ${lag}: ${client.channels.join(', ')}`);
    }
    if (f.unownedChannels.length > 0) out.push(`    (no owner)  ${f.unownedChannels.length} channel(s): ${f.unownedChannels.join(', ')}`);
  }
  return out;
}
