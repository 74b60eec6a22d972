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
import { lakeTunnelOf } from './tunnel-binding.js';
import { retentionLagMs, retentionWindowOf } from './retention-guard.js';
import type { DescribeSourceTable } from './table-schema.js';

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
  /**
   * The table against the Tunnel's log retention, as far as it shows from the outside (a running daemon's
   * /status has the lag): the window, whether the tunnel expired, and a full snapshot's age against the window.
   */
  retention: RetentionView;
}

export interface RetentionView {
  /** The table's stream expiration_time (DescribeTable), else source.streamRetentionMs; null when not asked. */
  windowSeconds: number | null;
  windowSource: 'table' | 'config' | null;
  /** The Tunnel says the tunnel expired (OTSTunnelExpired): the table stops with OTSL_TUNNEL_LOST; resync it. */
  expired: boolean | null;
  /** While a BaseAndStream tunnel is in its full phase: its age, the time its unread stream has waited. */
  fullPhaseSeconds: number | null;
  /** window − fullPhaseSeconds (never below 0); null outside the full phase. */
  fullPhaseHeadroomSeconds: number | null;
}

/** How `otslake status` learns the retention window (DescribeTable through the SDK, else the config's). */
export interface RetentionSource {
  describeTable: DescribeSourceTable;
  fallbackWindowMs: number;
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

export async function collectTableStatus(
  table: TableConfig,
  lakeRoot: ObjectStore,
  client: TunnelClient,
  retentionSource?: RetentionSource,
): Promise<TableStatus> {
  const store = lakeRoot.child(table.path);
  const status: TableStatus = {
    table: table.table,
    path: table.path,
    tunnel: { name: table.tunnel.name, id: null, stage: null, baseChannels: null, newestCheckpointedChangeAt: null, error: null },
    lake: { exists: false, version: null, rows: null, files: null, mode: null, changeDataFeed: null, error: null },
    typeConflicts: { policy: typeConflictPolicyOf(table), companionColumns: [] },
    channels: [],
    fleet: { clients: [], unownedChannels: [], commits: null },
    retention: { windowSeconds: null, windowSource: null, expired: null, fullPhaseSeconds: null, fullPhaseHeadroomSeconds: null },
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

  let snapshot;
  try {
    snapshot = await loadSnapshot(store);
  } catch (err) {
    if (!hasCode(err, 'OTSL_LAKE_NOT_A_TABLE')) status.lake.error = sideError(err);
  }
  let tunnelId: string | null = null;
  try {
    // The tunnel the lake's positions belong to (after a resync not the one the config names), else the config's.
    tunnelId = lakeTunnelOf(snapshot?.metadata ?? null, snapshot ? [...snapshot.txns.values()].map((t) => t.appId) : []) ?? (await findTunnelId(client, table));
    status.tunnel.id = tunnelId;
    if (tunnelId !== null) {
      const described = await describeTunnel(client, table, tunnelId);
      const summary = summarizeTunnel(described);
      status.retention.expired = described.tunnel.expired === true;
      const fullPhaseMs = retentionLagMs(0, table.tunnel.type, summary, Date.now());
      if (fullPhaseMs > 0) status.retention.fullPhaseSeconds = Math.round(fullPhaseMs / 1000);
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
  // Asked only of a reachable Tablestore: an outage is reported once, by the Tunnel side, and quickly.
  const window = retentionSource && status.tunnel.error === null ? await retentionWindowMs(table, retentionSource) : null;
  if (window !== null) {
    const r = status.retention;
    Object.assign(r, { windowSeconds: Math.round(window.ms / 1000), windowSource: window.source });
    if (r.fullPhaseSeconds !== null) r.fullPhaseHeadroomSeconds = Math.max(0, r.windowSeconds! - r.fullPhaseSeconds);
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

/** The table's stream retention: DescribeTable's expiration_time, else the config's; null when DescribeTable failed. */
async function retentionWindowMs(table: TableConfig, source: RetentionSource): Promise<{ ms: number; source: 'table' | 'config' } | null> {
  try {
    return retentionWindowOf((await source.describeTable(table.table)).streamExpirationHours, source.fallbackWindowMs);
  } catch {
    return null; // the Tunnel side reports the outage
  }
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
  const r = s.retention;
  if (r.windowSeconds !== null || r.expired === true) {
    const days = (sec: number) => `${(sec / 86_400).toFixed(1)} days`;
    const parts = [r.windowSeconds !== null ? `window ${days(r.windowSeconds)} (${r.windowSource})` : 'window unknown'];
    if (r.fullPhaseSeconds !== null)
      parts.push(`full snapshot running for ${days(r.fullPhaseSeconds)}, ${r.fullPhaseHeadroomSeconds === null ? '-' : days(r.fullPhaseHeadroomSeconds)} left`);
    if (r.expired === true) parts.push('TUNNEL EXPIRED: the table stops with OTSL_TUNNEL_LOST; rebuild it with otslake resync');
    out.push(`  retention: ${parts.join('; ')}`);
  }
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
