/**
 * Per channel we hold: where its next batch starts, and what the Tunnel server was last told.
 *
 * A channel's position is the offset entry the table's txn names; only without a txn is it the
 * Tunnel checkpoint (docs/exactly-once.md §How otslake keeps it). It is resolved once per assignment (a channel moved away and back
 * may have advanced under another daemon), and again whenever the table moved under us.
 */
import type { Logger } from '../common/log.js';
import { readOffsetEntry, txnAppId } from '../lake/offset-log.js';
import type { ObjectStore } from '../lake/object-store.js';
import { ChannelStatus } from '../tunnel/proto.js';
import type { OwnedChannel, TunnelSession } from '../tunnel/tunnel-session.js';
import type { TableView } from './changelog-committer.js';

export interface ChannelSlot {
  readonly channelId: string;
  /** The session's assignment counter this slot was resolved for. */
  assignment: number;
  /** txn version in force (0 = no commit yet). */
  committedSeq: number;
  /** Token the next batch reads from. */
  token: string;
  /** The position in force is the channel's end. */
  finished: boolean;
  /** The token the Tunnel server holds as our checkpoint (null = unknown). */
  checkpointedToken: string | null;
}

export interface SlotContext {
  readonly store: ObjectStore;
  readonly session: TunnelSession;
  readonly tunnelId: string;
  readonly log: Logger;
}

/** Resolves the start of a newly assigned channel; null when the server already has it finished. */
export async function resolveSlot(ctx: SlotContext, view: TableView, channel: OwnedChannel, signal?: AbortSignal): Promise<ChannelSlot | null> {
  // Always ask: it also gives the session the checkpointer for this assignment.
  const start = await ctx.session.getStartToken(channel.channelId, signal);
  const committedSeq = view.txns.get(txnAppId(ctx.tunnelId, channel.channelId)) ?? 0;
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
