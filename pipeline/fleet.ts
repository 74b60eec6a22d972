/**
 * The fleet of one table (docs/operations.md §Many daemons per table): which Tunnel client holds
 * which channels and how far behind each is, and how busy the table's Delta log is — commits per
 * second, the writers behind them, and how many races each commit lost (commitInfo.attempt: the
 * versions a commit tried). Built from DescribeTunnel and the log alone, so `otslake status` shows it
 * without a running daemon, and /status shows the same from the daemon's own view.
 */
import type { CommitSummary } from '../lake/commit-summary.js';
import { writerOf } from './commit-pacer.js';

export interface FleetClient {
  readonly clientId: string;
  readonly channels: string[];
  /** Age of the oldest checkpointed position among its channels (from the channels' RPO); null when unknown. */
  readonly lagMs: number | null;
}

export interface FleetCommits {
  /** The span the figures cover, ending at the newest commit. */
  readonly windowMs: number;
  readonly commits: number;
  readonly perSecond: number;
  /** Distinct commitInfo.otslake.writer values (daemons) over the window. */
  readonly writers: number;
  /** Lost races per commit (attempt − 1, averaged); commits from before the field existed count as 0. */
  readonly lostRacesPerCommit: number;
}

export interface TableFleet {
  readonly clients: FleetClient[];
  /** Channels no client holds that are not finished. */
  readonly unownedChannels: string[];
  readonly commits: FleetCommits | null;
}

interface ChannelView {
  readonly channelId: string;
  readonly status: string;
  readonly owner: string | null;
  readonly checkpointedChangeAtMs: number | null;
}

export function fleetClients(channels: readonly ChannelView[], nowMs = Date.now()): Pick<TableFleet, 'clients' | 'unownedChannels'> {
  const byClient = new Map<string, { channels: string[]; oldest: number | null }>();
  const unowned: string[] = [];
  for (const c of channels) {
    if (c.status === 'TERMINATED') continue;
    if (c.owner === null) {
      unowned.push(c.channelId);
      continue;
    }
    const entry = byClient.get(c.owner) ?? { channels: [], oldest: null };
    entry.channels.push(c.channelId);
    const at = c.checkpointedChangeAtMs;
    if (at !== null) entry.oldest = entry.oldest === null ? at : Math.min(entry.oldest, at);
    byClient.set(c.owner, entry);
  }
  const clients = [...byClient].map(([clientId, e]) => ({
    clientId,
    channels: e.channels.sort(),
    lagMs: e.oldest === null ? null : Math.max(0, nowMs - e.oldest),
  }));
  return { clients: clients.sort((a, b) => (a.clientId < b.clientId ? -1 : 1)), unownedChannels: unowned.sort() };
}

/** The log's recent activity from its newest commits (those within `windowMs` of the newest). */
export function fleetCommits(recent: readonly CommitSummary[], windowMs = 60_000): FleetCommits | null {
  if (recent.length === 0) return null;
  const newest = Math.max(...recent.map((c) => c.timestamp));
  const inWindow = recent.filter((c) => c.timestamp > newest - windowMs);
  const writers = new Set(inWindow.map(writerOf).filter((w): w is string => w !== null));
  const lost = inWindow.reduce((sum, c) => sum + Math.max(0, attemptOf(c) - 1), 0);
  const span = Math.max(1_000, newest - Math.min(...inWindow.map((c) => c.timestamp)));
  return {
    windowMs: span,
    commits: inWindow.length,
    perSecond: Number(((inWindow.length * 1000) / span).toFixed(2)),
    writers: writers.size,
    lostRacesPerCommit: Number((lost / inWindow.length).toFixed(3)),
  };
}

function attemptOf(c: Pick<CommitSummary, 'commitInfo'>): number {
  const attempt = (c.commitInfo as { attempt?: unknown } | null)?.attempt;
  return typeof attempt === 'number' && attempt >= 1 ? attempt : 1;
}
