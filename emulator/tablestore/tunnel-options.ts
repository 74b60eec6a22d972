/**
 * Options of tablestore-local's Tunnel service. Every behaviour the protocol reference marks
 * unverified (docs/tunnel-protocol.md §Unverified behaviour) is a switch here, with the default documented in
 * docs/emulator.md, so that a test can pin the variant it depends on.
 */

/** Which signal makes a channel "complete" (unblocks children, ends the base phase). */
export type CompletionSignal = 'either' | 'checkpoint' | 'terminated';

/** How a Checkpoint's sequence number must relate to the stored one. */
export type SequenceRule = 'greater' | 'next';

export interface TunnelServiceOptions {
  /** Instance name reported in TunnelInfo.instance_name. */
  instance: string;
  /** Directory for tunnel-state.json; without it the state lives in memory only. */
  dataDir?: string;
  /** ms since epoch; defaults to the request's receivedAt (RPCs) or Date.now() (timers). */
  clock?: () => number;
  /** How long a new tunnel stays in InitBaseDataAndStreamShard. */
  initDelayMs?: number;
  /** ReadRecords page limits. */
  readMaxRecords?: number;
  readMaxBytes?: number;
  /** Heartbeat timeout used when ConnectTunnel carries none (seconds, as on the wire). */
  defaultClientTimeoutSec?: number;
  /** Period of the expired-client sweep; 0 disables the timer (tests call sweepExpiredClients). */
  sweepIntervalMs?: number;
  completionSignal?: CompletionSignal;
  sequenceRule?: SequenceRule;
  /** Accept sequence_number 0 unconditionally (the Spark connector always sends 0). */
  acceptZeroSequence?: boolean;
  /**
   * ReadRecords, GetCheckpoint and Checkpoint answer only the live client that owns the channel;
   * others (shut down, expired, unknown, or the channel moved on) get OTSResourceGone (410).
   * 'checkpoint' checks Checkpoint only; 'off' checks nothing (Spark checkpoints as an unconnected client).
   */
  ownership?: 'enforce' | 'checkpoint' | 'off';
  /** DescribeTunnel shows schedulable-but-unowned channels as OPEN ("Spark mode"; docs/tunnel-protocol.md §Unverified behaviour). */
  describeSchedulableAsOpen?: boolean;
  /** ReadRecords with token "finished": 'error' = OTSParameterInvalid, 'finished' = empty page, finished again. */
  finishedTokenRead?: 'error' | 'finished';
  /**
   * How many channels each live client should hold when the heartbeat rebalances: 'even' = the counts
   * differ by at most one (floor, one more for the remainder); 'ceil' = ceil(channels / clients) each.
   */
  balance?: 'even' | 'ceil';
  /** A channel its owner reports CLOSE may be granted back to that owner in the same heartbeat (else another client's next heartbeat gets it first). */
  regrantReleased?: boolean;
}

export type ResolvedTunnelOptions = Required<Omit<TunnelServiceOptions, 'dataDir' | 'clock'>> & Pick<TunnelServiceOptions, 'dataDir' | 'clock'>;

export const TUNNEL_DEFAULTS = {
  initDelayMs: 100,
  readMaxRecords: 1000,
  readMaxBytes: 1024 * 1024,
  defaultClientTimeoutSec: 300,
  sweepIntervalMs: 1000,
  completionSignal: 'either',
  sequenceRule: 'greater',
  acceptZeroSequence: true,
  ownership: 'enforce',
  describeSchedulableAsOpen: false,
  finishedTokenRead: 'error',
  balance: 'even',
  regrantReleased: false,
} as const satisfies Omit<ResolvedTunnelOptions, 'instance' | 'dataDir' | 'clock'>;

export function resolveTunnelOptions(options: TunnelServiceOptions): ResolvedTunnelOptions {
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined));
  return { ...TUNNEL_DEFAULTS, ...defined } as ResolvedTunnelOptions;
}
