/** source.maxChannelsPerTable: which channels are read, which handed back, and no bouncing of a channel the Tunnel offers again. */
import { describe, expect, it } from 'vitest';
import { ChannelCap } from '../../../pipeline/channel-cap.js';
import { ChannelStatus } from '../../../tunnel/proto.js';
import type { OwnedChannel } from '../../../tunnel/tunnel-session.js';

const open = (...ids: string[]): OwnedChannel[] =>
  ids.map((channelId) => ({ channelId, status: ChannelStatus.OPEN, version: 1n, mustStop: false, assignment: 1 }));
const ids = (channels: readonly OwnedChannel[]) => channels.map((c) => c.channelId);

describe('ChannelCap', () => {
  it('without a cap, or within it, reads everything', () => {
    expect(ids(new ChannelCap(0, 1_000).plan(open('a', 'b', 'c'), new Set()).keep)).toEqual(['a', 'b', 'c']);
    expect(new ChannelCap(3, 1_000).plan(open('a', 'b', 'c'), new Set()).handBack).toEqual([]);
  });

  it('keeps the channels it is reading, then by id; hands the rest back once per rehand period', () => {
    const cap = new ChannelCap(2, 1_000);
    const first = cap.plan(open('d', 'c', 'b', 'a'), new Set(['d']), 0);
    expect(ids(first.keep)).toEqual(['d', 'a']);
    expect(ids(first.handBack)).toEqual(['b', 'c']);
    // The Tunnel offers them again at once (nobody else had room): held, not handed back again…
    expect(cap.plan(open('a', 'b', 'c', 'd'), new Set(['a', 'd']), 500).handBack).toEqual([]);
    // …until the period has passed.
    expect(ids(cap.plan(open('a', 'b', 'c', 'd'), new Set(['a', 'd']), 1_000).handBack)).toEqual(['b', 'c']);
    expect(cap.full(2)).toBe(true);
    expect(cap.full(1)).toBe(false);
    expect(new ChannelCap(0, 1_000).full(100)).toBe(false);
  });
});
