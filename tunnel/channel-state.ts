/**
 * The client-side channel state machine of docs/tunnel-protocol.md §Channel lifecycle, as data.
 *
 * A channel the client holds has a wire status and an int64 version. Two kinds of event move it:
 *   - the server's view, from a heartbeat response: applied only if `server.version >= local.version`
 *     (ties go to the server); a stale message is ignored, not an error;
 *   - the owner's action: `release` (stopped → report CLOSE), `finish` (checkpointed "finished" → report
 *     TERMINATED), `stuck` (CLOSING for too many heartbeats → force CLOSE; docs/tunnel-protocol.md
 *     §Stuck CLOSING channels). Local changes bump the version by one so the server sees them as newer.
 *
 *            server OPEN            owner release / server CLOSE / stuck
 *   (new) ───────────────▶ OPEN ─── server CLOSING ──▶ CLOSING ─────────────▶ CLOSE ── server OPEN (re-dial) ──▶ OPEN
 *                            │                            │
 *                            └──── owner finish ──────────┴─────────────────▶ TERMINATED (final)
 *
 * A combination missing from TRANSITIONS is illegal and throws OTSL_TUNNEL_CHANNEL_STATE.
 */
import { OtslakeError } from '../common/errors.js';
import { ChannelStatus, type ChannelMsg } from './proto.js';

export type ChannelTrigger = 'server-open' | 'server-closing' | 'server-close' | 'server-terminated' | 'release' | 'finish' | 'stuck';

/**
 * `report` says whether the new state must be reported back to the server with a bumped version
 * (a local decision, or a closed/finished channel answering a server status that disagrees).
 */
interface Transition {
  to: ChannelStatus;
  report: boolean;
}

const { OPEN, CLOSING, CLOSE, TERMINATED } = ChannelStatus;
const take = (to: ChannelStatus): Transition => ({ to, report: false });
const report = (to: ChannelStatus): Transition => ({ to, report: true });

export const TRANSITIONS: Readonly<Record<ChannelStatus, Partial<Record<ChannelTrigger, Transition>>>> = {
  [OPEN]: {
    'server-open': take(OPEN),
    'server-closing': take(CLOSING),
    'server-close': take(CLOSE),
    'server-terminated': take(TERMINATED),
    release: report(CLOSE),
    finish: report(TERMINATED),
  },
  [CLOSING]: {
    'server-open': take(OPEN),
    'server-closing': take(CLOSING),
    'server-close': take(CLOSE),
    'server-terminated': take(TERMINATED),
    release: report(CLOSE),
    finish: report(TERMINATED),
    stuck: report(CLOSE),
  },
  // Closed locally: only a fresh OPEN (version >= ours) brings it back; any other server status gets our CLOSE again.
  [CLOSE]: {
    'server-open': take(OPEN),
    'server-closing': report(CLOSE),
    'server-close': take(CLOSE),
    'server-terminated': take(TERMINATED),
    release: take(CLOSE),
    finish: report(TERMINATED),
  },
  // Final: the data is consumed. Whatever the server says, the answer is TERMINATED (as the Go and Java SDKs answer).
  [TERMINATED]: {
    'server-open': report(TERMINATED),
    'server-closing': report(TERMINATED),
    'server-close': report(TERMINATED),
    'server-terminated': take(TERMINATED),
    finish: take(TERMINATED),
  },
};

export interface ChannelState {
  readonly channelId: string;
  readonly status: ChannelStatus;
  readonly version: bigint;
  /** Consecutive heartbeat responses that left the channel CLOSING (stuck detection). */
  readonly closingRounds: number;
  /** Increments each time the channel is (re)opened to us: a new assignment needs a new GetCheckpoint. */
  readonly assignment: number;
}

function triggerOf(status: ChannelStatus): ChannelTrigger {
  switch (status) {
    case OPEN:
      return 'server-open';
    case CLOSING:
      return 'server-closing';
    case CLOSE:
      return 'server-close';
    case TERMINATED:
      return 'server-terminated';
    default:
      throw new OtslakeError('OTSL_TUNNEL_PROTOCOL', `unknown channel status ${String(status)}`);
  }
}

/** Hands out assignment numbers; a session uses one counter so that numbers never repeat across channels. */
export type AssignmentAllocator = () => number;

export function transition(state: ChannelState, trigger: ChannelTrigger, baseVersion: bigint = state.version, allocate?: AssignmentAllocator): ChannelState {
  const t = TRANSITIONS[state.status]?.[trigger];
  if (!t) {
    throw new OtslakeError('OTSL_TUNNEL_CHANNEL_STATE', `illegal channel transition: ${ChannelStatus[state.status]} on ${trigger}`, {
      context: { channelId: state.channelId, status: ChannelStatus[state.status], trigger, version: Number(state.version) },
    });
  }
  const reopened = t.to === OPEN && state.status !== OPEN && state.status !== CLOSING;
  return {
    channelId: state.channelId,
    status: t.to,
    version: t.report ? baseVersion + 1n : baseVersion,
    closingRounds: t.to === CLOSING ? state.closingRounds : 0,
    assignment: reopened ? (allocate ? allocate() : state.assignment + 1) : state.assignment,
  };
}

/** Applies one channel of a heartbeat response; undefined when the server does not hand it to us at all. */
export function applyServerChannel(current: ChannelState | undefined, msg: ChannelMsg, allocate?: AssignmentAllocator): ChannelState {
  if (!current) {
    triggerOf(msg.status); // rejects an unknown status
    return { channelId: msg.channel_id, status: msg.status, version: msg.version, closingRounds: 0, assignment: allocate ? allocate() : 1 };
  }
  if (msg.version < current.version) return current; // stale: the server's entry wins only when its version is >= ours
  return transition(current, triggerOf(msg.status), msg.version, allocate);
}

export function applyLocalEvent(current: ChannelState, event: 'release' | 'finish' | 'stuck'): ChannelState {
  return transition(current, event);
}

export function mustStop(state: ChannelState): boolean {
  return state.status !== OPEN;
}

export interface MergeResult {
  channels: Map<string, ChannelState>;
  /** Channels that were held before and are absent from the response: their work must stop. */
  dropped: string[];
  /** Channels forced from CLOSING to CLOSE by stuck detection. */
  forcedClose: string[];
}

/**
 * Merges a heartbeat response into the local view (docs/tunnel-protocol.md §Versions, §Heartbeat,
 * §Stuck CLOSING channels). The response is the authoritative list: channels it omits are dropped.
 * `closingRoundThreshold` 0 disables stuck detection.
 */
export function mergeHeartbeat(
  local: ReadonlyMap<string, ChannelState>,
  response: readonly ChannelMsg[],
  closingRoundThreshold: number,
  allocate?: AssignmentAllocator,
): MergeResult {
  const channels = new Map<string, ChannelState>();
  const forcedClose: string[] = [];
  for (const msg of response) {
    let next = applyServerChannel(local.get(msg.channel_id), msg, allocate);
    if (next.status === CLOSING) {
      next = { ...next, closingRounds: next.closingRounds + 1 };
      if (closingRoundThreshold > 0 && next.closingRounds >= closingRoundThreshold) {
        next = applyLocalEvent(next, 'stuck');
        forcedClose.push(next.channelId);
      }
    }
    channels.set(msg.channel_id, next);
  }
  const dropped = [...local.keys()].filter((id) => !channels.has(id));
  return { channels, dropped, forcedClose };
}

/** What the next heartbeat request carries: our view of every channel we hold. */
export function toHeartbeatChannels(channels: ReadonlyMap<string, ChannelState>): ChannelMsg[] {
  return [...channels.values()].map((c) => ({ channel_id: c.channelId, version: c.version, status: c.status }));
}
