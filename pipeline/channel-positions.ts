/**
 * Per channel we hold: where its next batch starts, and what the Tunnel server was last told. One
 * owner for that state (ChannelPositions), changed only through named transitions:
 *
 *   resolve   a newly assigned channel gets its position in force (below)
 *   advance   our commit made the channel's end position the one in force
 *   checkpointed   the Tunnel server now holds that position (a finished channel is then done)
 *   release   the channel left us (CLOSING, moved to another daemon)
 *   reset     every position is forgotten, with the reason: the table moved under us or a batch lost
 *             its commit race, so the next batch re-reads them from the lake
 *
 * A channel's position is the offset entry the table's txn names; only without a txn is it the
 * Tunnel checkpoint (docs/exactly-once.md §How otslake keeps it). It is resolved once per assignment
 * (a channel moved away and back may have advanced under another daemon), and again after every reset.
 */
import type { Logger } from '../common/log.js';
import { readOffsetEntry, txnAppId } from '../lake/offset-log.js';
import type { ObjectStore } from '../lake/object-store.js';
import { ChannelStatus } from '../tunnel/proto.js';
import type { OwnedChannel, TunnelSession } from '../tunnel/tunnel-session.js';

export interface ChannelPosition {
  readonly channelId: string;
  /** The session's assignment counter this position was resolved for. */
  readonly assignment: number;
  /** txn version in force (0 = no commit yet). */
  readonly committedSeq: number;
  /** Token the next batch reads from. */
  readonly token: string;
  /** The position in force is the channel's end. */
  readonly finished: boolean;
  /** The token the Tunnel server holds as our checkpoint (null = unknown). */
  readonly checkpointedToken: string | null;
}

/** The Tunnel server does not hold the position in force yet (or a finished channel is not reported). */
export function needsCheckpoint(p: ChannelPosition): boolean {
  return p.finished || p.token !== p.checkpointedToken;
}

export class ChannelPositions {
  private readonly byChannel = new Map<string, ChannelPosition>();

  /** `tunnelId` names our txns (`otslake/<tunnelId>/<channelId>`), so that other writers' txns can be told apart. */
  constructor(
    private readonly log: Logger,
    private readonly tunnelId: string,
  ) {}

  get size(): number {
    return this.byChannel.size;
  }

  get(channelId: string): ChannelPosition | undefined {
    return this.byChannel.get(channelId);
  }

  list(): ChannelPosition[] {
    return [...this.byChannel.values()];
  }

  channelIds(): Set<string> {
    return new Set(this.byChannel.keys());
  }

  /** True when the channel's position is unknown for its current assignment. */
  needsResolve(channel: OwnedChannel): boolean {
    return this.byChannel.get(channel.channelId)?.assignment !== channel.assignment;
  }

  /** The position resolved for a newly assigned channel; null when the channel has nothing left to read. */
  resolve(channelId: string, position: ChannelPosition | null): void {
    if (position === null) this.byChannel.delete(channelId);
    else this.byChannel.set(channelId, position);
  }

  /** Our commit put `endToken` (txn `offsetSeq`) in force for the channel. */
  advance(channelId: string, end: { offsetSeq: number; endToken: string; finished: boolean }): ChannelPosition | undefined {
    const p = this.byChannel.get(channelId);
    if (p === undefined) return undefined;
    const next = { ...p, committedSeq: end.offsetSeq, token: end.endToken, finished: end.finished };
    this.byChannel.set(channelId, next);
    return next;
  }

  /** The Tunnel server holds `token` for the channel now; a finished channel is done and forgotten. */
  checkpointed(channelId: string, token: string, finished: boolean): void {
    const p = this.byChannel.get(channelId);
    if (p === undefined) return;
    if (finished) this.byChannel.delete(channelId);
    else this.byChannel.set(channelId, { ...p, checkpointedToken: token });
  }

  /** The channel left us. */
  release(channelId: string): void {
    this.byChannel.delete(channelId);
  }

  /** Channels we no longer hold are forgotten. */
  keepOnly(held: ReadonlySet<string>): void {
    for (const id of this.byChannel.keys()) if (!held.has(id)) this.byChannel.delete(id);
  }

  /**
   * Other writers committed these txns: a channel of ours among them was advanced by another daemon
   * (it held the channel meanwhile), so its position is forgotten and resolved again; the others stay.
   */
  resetMoved(appIds: Iterable<string>, reason: string): void {
    for (const appId of appIds) {
      for (const id of this.byChannel.keys()) {
        if (txnAppId(this.tunnelId, id) !== appId) continue;
        this.byChannel.delete(id);
        this.log.info('channel position reset; re-read from the lake', { channelId: id, reason });
      }
    }
  }

  /** Every position is forgotten: the next batch resolves each channel again from the lake. */
  reset(reason: string, fields: Record<string, unknown> = {}): void {
    if (this.byChannel.size > 0) this.log.info('channel positions reset; re-read from the lake', { reason, channels: this.byChannel.size, ...fields });
    this.byChannel.clear();
  }
}

export interface ResolveContext {
  readonly store: ObjectStore;
  readonly session: TunnelSession;
  readonly tunnelId: string;
  readonly log: Logger;
}

/**
 * The position in force of a newly assigned channel, given the table's committed txns (appId →
 * version); null when the server already has it finished.
 */
export async function resolvePosition(
  ctx: ResolveContext,
  txns: ReadonlyMap<string, number>,
  channel: OwnedChannel,
  signal?: AbortSignal,
): Promise<ChannelPosition | null> {
  // Always ask: it also gives the session the checkpointer for this assignment.
  const start = await ctx.session.getStartToken(channel.channelId, signal);
  const committedSeq = txns.get(txnAppId(ctx.tunnelId, channel.channelId)) ?? 0;
  if (committedSeq === 0) {
    if (start.finished) return null;
    return {
      channelId: channel.channelId,
      assignment: channel.assignment,
      committedSeq: 0,
      token: start.token,
      finished: false,
      checkpointedToken: start.token,
    };
  }
  const entry = await readOffsetEntry(ctx.store, ctx.tunnelId, channel.channelId, committedSeq, signal);
  if (start.finished && !entry.finished) {
    // The server says finished but the lake does not: someone else consumed the rest; we cannot read past "finished".
    ctx.log.warn('tunnel checkpoint is finished ahead of the lake position', { channelId: channel.channelId, committedSeq });
    return null;
  }
  return {
    channelId: channel.channelId,
    assignment: channel.assignment,
    committedSeq,
    token: entry.endToken,
    finished: entry.finished,
    checkpointedToken: start.finished ? entry.endToken : start.token,
  };
}

/** OPEN channels we should read, CLOSING ones we must give back (nothing of theirs is in flight here). */
export function partitionOwned(owned: readonly OwnedChannel[]): { open: OwnedChannel[]; closing: OwnedChannel[] } {
  const open: OwnedChannel[] = [];
  const closing: OwnedChannel[] = [];
  for (const ch of owned) {
    if (ch.status === ChannelStatus.OPEN) open.push(ch);
    else if (ch.status === ChannelStatus.CLOSING) closing.push(ch);
  }
  return { open, closing };
}
