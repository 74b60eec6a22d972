/**
 * A connected Tunnel client: ConnectTunnel, a background heartbeat loop that keeps the authoritative list
 * of channels this client holds, and the per-channel operations the daemon needs around a batch
 * (docs/tunnel-protocol.md §Channel lifecycle, §Heartbeat, §Checkpoints and sequence numbers).
 *
 *   start() ─▶ Connect(client_tag, timeout) ─▶ Heartbeat([]) ─▶ every heartbeatIntervalMs: Heartbeat(local view)
 *                 ▲                                                    │ merge (channel-state.ts) → 'channels' event
 *                 └──── new client id ◀── ResourceGone / other server error / no success for heartbeatTimeoutMs
 *
 * The session decides nothing about data: the daemon asks `ownedChannels()` (or awaits `nextChange()`),
 * reads from `getStartToken()`, checkpoints through `checkpointer()`, and reports with `release()` /
 * `markFinished()`. It never touches `process`; every long operation takes an AbortSignal.
 */
import { EventEmitter } from 'node:events';
import { hostname } from 'node:os';
import { OtslakeError, hasCode } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { WakeableDelay } from '../common/wakeable-delay.js';
import { applyLocalEvent, mergeHeartbeat, mustStop, toHeartbeatChannels, type ChannelState } from './channel-state.js';
import { Checkpointer } from './checkpointer.js';
import { ChannelStatus, FINISHED_TOKEN } from './proto.js';
import { isFatalTunnelCode } from './server-errors.js';
import type { TunnelClient } from './tunnel-client.js';

export interface TunnelSessionOptions {
  client: TunnelClient;
  tunnelId: string;
  /** Prefix of the server-made client id; the SDKs use the host name. */
  clientTag?: string;
  heartbeatIntervalMs?: number;
  /** Sent as ClientConfig.timeout (seconds); also when this side gives up on a silent server. */
  heartbeatTimeoutMs?: number;
  /** Heartbeats a channel may stay CLOSING before we force CLOSE (Java's default 3); 0 disables. */
  closingRoundThreshold?: number;
  logger?: Logger;
}

export interface OwnedChannel {
  channelId: string;
  status: ChannelStatus;
  version: bigint;
  /** The owner must stop working on it (CLOSING, or already closed/terminated). */
  mustStop: boolean;
  /** Changes when the server (re)assigns the channel to us; a new assignment needs a new getStartToken(). */
  assignment: number;
}

export interface StartPosition {
  token: string;
  /** The server's sequence number; the channel's checkpointer continues from it + 1. */
  sequenceNumber: bigint;
  /** The channel was already consumed; it has been reported TERMINATED and must not be read. */
  finished: boolean;
}

export type SessionState = 'created' | 'running' | 'stopped' | 'failed';

interface SessionEvents {
  channels: [OwnedChannel[]];
  reconnected: [clientId: string];
  failed: [error: OtslakeError];
}

const DEFAULT_HEARTBEAT_INTERVAL_MS = 30_000;
const DEFAULT_HEARTBEAT_TIMEOUT_MS = 300_000;

export class TunnelSession extends EventEmitter<SessionEvents> {
  private readonly client: TunnelClient;
  private readonly tunnelId: string;
  private readonly clientTag: string;
  private readonly intervalMs: number;
  private readonly timeoutMs: number;
  private readonly closingThreshold: number;
  private readonly logger: Logger;

  private stateValue: SessionState = 'created';
  private clientIdValue: string | undefined;
  private channels = new Map<string, ChannelState>();
  private positions = new Map<string, { assignment: number; checkpointer: Checkpointer }>();
  private lastSuccessMs = 0;
  private assignmentCounter = 0;
  private heartbeatChain: Promise<void> = Promise.resolve();
  private readonly loopAbort = new AbortController();
  /** Between heartbeats; release()/markFinished() end it so that reports reach the server promptly. */
  private readonly pause = new WakeableDelay();
  private loopDone: Promise<void> = Promise.resolve();
  private lastEmitted = '';

  constructor(options: TunnelSessionOptions) {
    super();
    this.client = options.client;
    this.tunnelId = options.tunnelId;
    this.clientTag = options.clientTag ?? hostname();
    this.intervalMs = options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.timeoutMs = options.heartbeatTimeoutMs ?? DEFAULT_HEARTBEAT_TIMEOUT_MS;
    this.closingThreshold = options.closingRoundThreshold ?? 3;
    this.logger = (options.logger ?? silentLogger).child({ tunnelId: options.tunnelId });
    if (this.timeoutMs <= this.intervalMs) {
      throw new OtslakeError('OTSL_CONFIG_INVALID', 'heartbeat timeout must be longer than the heartbeat interval', {
        context: { key: 'heartbeatTimeoutMs', heartbeatTimeoutMs: this.timeoutMs, heartbeatIntervalMs: this.intervalMs },
      });
    }
  }

  get state(): SessionState {
    return this.stateValue;
  }

  get clientId(): string | undefined {
    return this.clientIdValue;
  }

  /** Connects, runs the first heartbeat, then keeps heartbeating in the background until shutdown(). */
  async start(signal?: AbortSignal): Promise<void> {
    if (this.stateValue !== 'created') {
      throw new OtslakeError('OTSL_TUNNEL_CHANNEL_STATE', `session cannot start from state ${this.stateValue}`, { context: { tunnelId: this.tunnelId } });
    }
    await this.connect(signal);
    await this.heartbeatNow(signal);
    this.stateValue = 'running';
    this.loopDone = this.runLoop();
  }

  ownedChannels(): OwnedChannel[] {
    return [...this.channels.values()].map((c) => ({
      channelId: c.channelId,
      status: c.status,
      version: c.version,
      mustStop: mustStop(c),
      assignment: c.assignment,
    }));
  }

  /** Resolves with the channel list at the next change (new, dropped, or a status/version change). */
  nextChange(signal?: AbortSignal): Promise<OwnedChannel[]> {
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.off('channels', onChange);
        reject(new OtslakeError('OTSL_ABORTED', 'waiting for channel changes aborted', { cause: signal?.reason }));
      };
      const onChange = (owned: OwnedChannel[]) => {
        signal?.removeEventListener('abort', onAbort);
        resolve(owned);
      };
      if (signal?.aborted) return onAbort();
      this.once('channels', onChange);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * GetCheckpoint for a channel we hold OPEN: its start token, and a fresh Checkpointer. A channel whose
   * checkpoint is already "finished" is reported TERMINATED here. If GetCheckpoint fails the channel is
   * released (CLOSE), as the SDKs do, and the error is rethrown.
   */
  async getStartToken(channelId: string, signal?: AbortSignal): Promise<StartPosition> {
    const held = this.requireHeld(channelId, 'getStartToken');
    if (held.status !== ChannelStatus.OPEN) {
      throw new OtslakeError('OTSL_TUNNEL_CHANNEL_STATE', `getStartToken: channel is ${ChannelStatus[held.status]}, not OPEN`, {
        context: { tunnelId: this.tunnelId, channelId, status: ChannelStatus[held.status] },
      });
    }
    const clientId = this.requireClientId();
    let resp;
    try {
      resp = await this.client.getCheckpoint({ tunnel_id: this.tunnelId, client_id: clientId, channel_id: channelId }, { signal });
    } catch (err) {
      if (this.channels.get(channelId)?.status === ChannelStatus.OPEN) this.updateLocal(channelId, 'release');
      throw err;
    }
    this.positions.set(channelId, {
      assignment: held.assignment,
      checkpointer: new Checkpointer(this.client, { tunnelId: this.tunnelId, clientId, channelId }, resp.sequence_number),
    });
    const finished = resp.checkpoint === FINISHED_TOKEN;
    if (finished && this.channels.has(channelId)) this.updateLocal(channelId, 'finish');
    return { token: resp.checkpoint, sequenceNumber: resp.sequence_number, finished };
  }

  /** The channel's checkpointer for its current assignment (after getStartToken). */
  checkpointer(channelId: string): Checkpointer {
    const held = this.requireHeld(channelId, 'checkpointer');
    const pos = this.positions.get(channelId);
    if (!pos || pos.assignment !== held.assignment) {
      throw new OtslakeError('OTSL_TUNNEL_CHANNEL_STATE', 'no start token fetched for this assignment of the channel', {
        context: { tunnelId: this.tunnelId, channelId },
      });
    }
    return pos.checkpointer;
  }

  /** After the channel's last data is committed: checkpoint "finished", then report TERMINATED (v+1). */
  async markFinished(channelId: string, signal?: AbortSignal): Promise<void> {
    await this.checkpointer(channelId).checkpoint(FINISHED_TOKEN, signal);
    if (this.channels.has(channelId)) this.updateLocal(channelId, 'finish');
  }

  /** The owner stopped working on the channel: report CLOSE (v+1). False if we no longer hold it. */
  release(channelId: string): boolean {
    if (!this.channels.has(channelId)) return false;
    this.updateLocal(channelId, 'release');
    return true;
  }

  /** Runs one heartbeat now (serialised with the background loop). */
  heartbeatNow(signal?: AbortSignal): Promise<void> {
    const run = this.heartbeatChain.then(() => this.heartbeatOnce(signal));
    this.heartbeatChain = run.catch(() => undefined);
    return run;
  }

  /** Stops the loop and tells the server (ShutdownTunnel) so our channels move on at once. Idempotent. */
  async shutdown(signal?: AbortSignal): Promise<void> {
    if (this.stateValue === 'stopped') return;
    const wasConnected = this.clientIdValue !== undefined;
    this.stateValue = 'stopped';
    this.loopAbort.abort(new Error('session shutdown'));
    this.pause.wake();
    await this.loopDone;
    await this.heartbeatChain;
    if (wasConnected) {
      try {
        await this.client.shutdown({ tunnel_id: this.tunnelId, client_id: this.clientIdValue! }, { signal });
      } catch (err) {
        // The server times the client out anyway; a failed goodbye only delays re-assignment.
        this.logger.warn('tunnel shutdown failed', { clientId: this.clientIdValue, error: err });
      }
    }
    this.replaceChannels(new Map());
  }

  private async connect(signal?: AbortSignal): Promise<void> {
    const resp = await this.client.connect(
      { tunnel_id: this.tunnelId, client_config: { timeout: BigInt(Math.ceil(this.timeoutMs / 1000)), client_tag: this.clientTag } },
      { signal },
    );
    this.clientIdValue = resp.client_id;
    this.lastSuccessMs = Date.now();
    this.logger.info('tunnel connected', { clientId: resp.client_id });
  }

  private async heartbeatOnce(signal?: AbortSignal): Promise<void> {
    const clientId = this.requireClientId();
    const resp = await this.client.heartbeat({ tunnel_id: this.tunnelId, client_id: clientId, channels: toHeartbeatChannels(this.channels) }, { signal });
    if (clientId !== this.clientIdValue) return; // reconnected meanwhile: this answer is for a dead client id
    this.lastSuccessMs = Date.now();
    const merged = mergeHeartbeat(this.channels, resp.channels, this.closingThreshold, () => ++this.assignmentCounter);
    for (const id of merged.forcedClose) this.logger.warn('channel stuck in CLOSING, forcing CLOSE', { channelId: id, rounds: this.closingThreshold });
    if (merged.dropped.length > 0) this.logger.info('channels dropped by heartbeat', { channelIds: merged.dropped });
    this.replaceChannels(merged.channels);
  }

  private async runLoop(): Promise<void> {
    const signal = this.loopAbort.signal;
    while (this.stateValue === 'running') {
      await this.pause.wait(this.intervalMs, signal);
      if (this.stateValue !== 'running') return;
      try {
        if (this.clientIdValue === undefined) await this.reconnect(signal);
        await this.heartbeatNow(signal);
      } catch (err) {
        if (signal.aborted || this.stateValue !== 'running') return;
        this.onHeartbeatError(err);
      }
    }
  }

  private onHeartbeatError(err: unknown): void {
    const serverCode = typeof (err as OtslakeError)?.context?.serverCode === 'string' ? ((err as OtslakeError).context.serverCode as string) : undefined;
    if (isFatalTunnelCode(serverCode) || hasCode(err, 'OTSL_TUNNEL_AUTH')) {
      this.fail(err as OtslakeError);
      return;
    }
    const silentForMs = Date.now() - this.lastSuccessMs;
    const serverRefused = serverCode !== undefined && serverCode !== 'OTSTunnelServerUnavailable' && !hasCode(err, 'OTSL_RETRIES_EXHAUSTED');
    if (hasCode(err, 'OTSL_TUNNEL_RESOURCE_GONE') || serverRefused || silentForMs > this.timeoutMs) {
      // The server no longer knows this client (or soon will not): drop everything, come back as a new client.
      this.logger.warn('tunnel client lost, reconnecting', { clientId: this.clientIdValue, silentForMs, error: err });
      this.clientIdValue = undefined;
      this.positions.clear();
      this.replaceChannels(new Map());
      return;
    }
    this.logger.warn('heartbeat failed', { clientId: this.clientIdValue, silentForMs, error: err });
  }

  private async reconnect(signal: AbortSignal): Promise<void> {
    await this.connect(signal);
    this.emit('reconnected', this.clientIdValue!);
  }

  private fail(err: OtslakeError): void {
    this.stateValue = 'failed';
    this.logger.error('tunnel session failed', { error: err });
    this.replaceChannels(new Map());
    this.emit('failed', err);
  }

  private updateLocal(channelId: string, event: 'release' | 'finish'): void {
    const current = this.channels.get(channelId)!;
    const next = new Map(this.channels);
    next.set(channelId, applyLocalEvent(current, event));
    this.replaceChannels(next);
    this.pause.wake();
  }

  private replaceChannels(next: Map<string, ChannelState>): void {
    for (const id of this.positions.keys()) if (!next.has(id)) this.positions.delete(id);
    this.channels = next;
    const key = [...next.values()]
      .map((c) => `${c.channelId}:${c.status}:${c.version}:${c.assignment}`)
      .sort()
      .join('|');
    if (key === this.lastEmitted) return;
    this.lastEmitted = key;
    this.emit('channels', this.ownedChannels());
  }

  private requireHeld(channelId: string, op: string): ChannelState {
    const held = this.channels.get(channelId);
    if (!held) {
      throw new OtslakeError('OTSL_TUNNEL_CHANNEL_STATE', `${op}: channel is not held by this client`, { context: { tunnelId: this.tunnelId, channelId } });
    }
    return held;
  }

  private requireClientId(): string {
    if (this.clientIdValue === undefined) {
      throw new OtslakeError('OTSL_TUNNEL_RESOURCE_GONE', 'tunnel session is not connected', { retriable: true, context: { tunnelId: this.tunnelId } });
    }
    return this.clientIdValue;
  }
}
