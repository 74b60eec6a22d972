import { describe, expect, it } from 'vitest';
import { OtslakeError } from '../../../common/errors.js';
import {
  applyLocalEvent,
  applyServerChannel,
  mergeHeartbeat,
  mustStop,
  toHeartbeatChannels,
  transition,
  TRANSITIONS,
  type ChannelState,
  type ChannelTrigger,
} from '../../../tunnel/channel-state.js';
import { ChannelStatus, type ChannelMsg } from '../../../tunnel/proto.js';

const { OPEN, CLOSING, CLOSE, TERMINATED } = ChannelStatus;
const msg = (channel_id: string, status: ChannelStatus, version: bigint): ChannelMsg => ({ channel_id, status, version });
const held = (channelId: string, status: ChannelStatus, version: bigint): ChannelState => ({ channelId, status, version, closingRounds: 0, assignment: 1 });

describe('channel state machine', () => {
  it('follows the Go SDK worked sequence (its TestTunnelStateMachine_BatchUpdateStatus)', () => {
    // 1. CLOSING v1 → owner stops → CLOSE v2
    let cid3 = applyServerChannel(undefined, msg('cid-3', CLOSING, 1n));
    expect(mustStop(cid3)).toBe(true);
    cid3 = applyLocalEvent(cid3, 'release');
    expect([cid3.status, cid3.version]).toEqual([CLOSE, 2n]);
    // 2. the server re-opens with version >= ours → OPEN, a new assignment (re-dial)
    const reopened = applyServerChannel(cid3, msg('cid-3', OPEN, 2n));
    expect([reopened.status, reopened.version]).toEqual([OPEN, 2n]);
    expect(reopened.assignment).toBe(cid3.assignment + 1);
    // 3. processor error on OPEN v0 → CLOSE v1
    expect(applyLocalEvent(held('bad', OPEN, 0n), 'release')).toMatchObject({ status: CLOSE, version: 1n });
    // 4. a stale CLOSING v1 while we hold OPEN v2 → ignored
    expect(applyServerChannel(reopened, msg('cid-3', CLOSING, 1n))).toBe(reopened);
    // 5. finished → TERMINATED v1
    expect(applyLocalEvent(held('cid-6', OPEN, 0n), 'finish')).toMatchObject({ status: TERMINATED, version: 1n });
  });

  it('lets the server win a version tie and keeps our CLOSE/TERMINATED answer newer', () => {
    const open = held('c', OPEN, 4n);
    expect(applyServerChannel(open, msg('c', CLOSING, 4n))).toMatchObject({ status: CLOSING, version: 4n });
    const closed = held('c', CLOSE, 5n);
    expect(applyServerChannel(closed, msg('c', CLOSING, 5n))).toMatchObject({ status: CLOSE, version: 6n });
    const done = held('c', TERMINATED, 3n);
    expect(applyServerChannel(done, msg('c', OPEN, 7n))).toMatchObject({ status: TERMINATED, version: 8n });
  });

  it.each<[ChannelStatus, ChannelTrigger]>([
    [TERMINATED, 'release'],
    [OPEN, 'stuck'],
    [CLOSE, 'stuck'],
    [TERMINATED, 'stuck'],
  ])('rejects illegal transition from %s on %s with OTSL_TUNNEL_CHANNEL_STATE', (status, trigger) => {
    let caught: unknown;
    try {
      transition(held('ch-x', status, 1n), trigger);
    } catch (err) {
      caught = err;
    }
    expect(caught).toBeInstanceOf(OtslakeError);
    expect(caught).toMatchObject({ code: 'OTSL_TUNNEL_CHANNEL_STATE', context: { channelId: 'ch-x', trigger } });
  });

  it('every listed transition bumps the version exactly when it reports', () => {
    for (const [from, table] of Object.entries(TRANSITIONS)) {
      for (const [trigger, t] of Object.entries(table)) {
        const next = transition(held('c', Number(from) as ChannelStatus, 10n), trigger as ChannelTrigger);
        expect(next.status).toBe(t!.to);
        expect(next.version).toBe(t!.report ? 11n : 10n);
      }
    }
  });

  it('rejects an unknown wire status', () => {
    expect(() => applyServerChannel(undefined, msg('c', 9 as ChannelStatus, 1n))).toThrow(expect.objectContaining({ code: 'OTSL_TUNNEL_PROTOCOL' }));
  });

  it('merges a heartbeat: new channels, dropped channels, request view', () => {
    const local = new Map([
      ['a', held('a', OPEN, 1n)],
      ['b', held('b', CLOSE, 3n)],
    ]);
    let n = 100;
    const merged = mergeHeartbeat(local, [msg('a', OPEN, 1n), msg('c', OPEN, 1n)], 3, () => ++n);
    expect(merged.dropped).toEqual(['b']);
    expect(merged.channels.get('c')).toMatchObject({ status: OPEN, assignment: 101 });
    expect(merged.channels.get('a')).toBe(merged.channels.get('a'));
    expect(toHeartbeatChannels(merged.channels)).toEqual([msg('a', OPEN, 1n), msg('c', OPEN, 1n)]);
  });

  it('forces CLOSE after a channel stays CLOSING for the threshold number of heartbeats', () => {
    let channels = new Map<string, ChannelState>();
    const forced: string[][] = [];
    for (let round = 0; round < 3; round++) {
      const r = mergeHeartbeat(channels, [msg('s', CLOSING, 2n)], 3);
      channels = r.channels;
      forced.push(r.forcedClose);
    }
    expect(forced).toEqual([[], [], ['s']]);
    expect(channels.get('s')).toMatchObject({ status: CLOSE, version: 3n });
    // disabled with 0
    let c2 = new Map<string, ChannelState>();
    for (let round = 0; round < 5; round++) c2 = mergeHeartbeat(c2, [msg('s', CLOSING, 2n)], 0).channels;
    expect(c2.get('s')).toMatchObject({ status: CLOSING, closingRounds: 5 });
  });
});
