/**
 * source.maxChannelsPerTable (docs/operations.md §Balanced work): which of the OPEN channels the Tunnel
 * gave us this daemon reads, and which it hands back (reports CLOSE) for another daemon to take.
 *
 * The channels already being read are kept first (their positions are resolved, their work goes on),
 * then the others in id order, so the same ones are kept from batch to batch. A channel handed back is
 * not handed back again for `rehandMs` when the Tunnel offers it to us again meanwhile: no other client
 * had room for it (a daemon alone, the first of a fleet restart), and handing it back at once would only
 * bounce it between us and the Tunnel at every heartbeat. Until then it is held, unread; the Tunnel moves
 * it to a daemon that joins the usual way (CLOSING), or we hand it back once more.
 */
import type { OwnedChannel } from '../tunnel/tunnel-session.js';

export interface CapPlan {
  /** Read these. */
  readonly keep: OwnedChannel[];
  /** Report these CLOSE now. */
  readonly handBack: OwnedChannel[];
}

export class ChannelCap {
  private readonly handedBack = new Map<string, number>();

  /** `max` 0 = no cap. */
  constructor(
    readonly max: number,
    private readonly rehandMs: number,
  ) {}

  plan(open: readonly OwnedChannel[], reading: ReadonlySet<string>, nowMs = Date.now()): CapPlan {
    if (this.max <= 0 || open.length <= this.max) return { keep: [...open], handBack: [] };
    const ranked = [...open].sort((a, b) => Number(reading.has(b.channelId)) - Number(reading.has(a.channelId)) || (a.channelId < b.channelId ? -1 : 1));
    for (const [id, atMs] of this.handedBack) if (atMs <= nowMs - this.rehandMs) this.handedBack.delete(id);
    const handBack = ranked.slice(this.max).filter((c) => !this.handedBack.has(c.channelId));
    for (const c of handBack) this.handedBack.set(c.channelId, nowMs);
    return { keep: ranked.slice(0, this.max), handBack };
  }

  /** We read as many channels as we may: channels waiting for an owner are not ours to fetch. */
  full(reading: number): boolean {
    return this.max > 0 && reading >= this.max;
  }
}
