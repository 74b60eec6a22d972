/**
 * What one table is doing, as an operator needs to know it: a state with its since-when, the time of
 * the last successful batch (empty ones included, so "stopped moving" means stuck, never "quiet"),
 * the last error with its time (cleared on recovery), the lag and the backoff after failures.
 *
 *   starting ──▶ running ◀──▶ caught-up
 *      │            ▲  ▲
 *      │            │  └──▶ waiting   (channels held by a client that stopped heartbeating)
 *      └──────▶ failing ◀── any state (a batch, a task, the start or DescribeTunnel failed)
 *   any state ──▶ stopped   (an error of this table alone that no retry cures: common/errors.ts isTableStopError)
 *   any state ──▶ resyncing (the daemon rebuilds the table from a fresh tunnel; a new runner takes over after it)
 *
 * One line is logged per state change; while failing, one summary line per `summaryIntervalMs`
 * instead of one per attempt. Failures back off exponentially with jitter, capped.
 */
import type { OtslakeError } from '../common/errors.js';
import type { Logger } from '../common/log.js';

export type TableState = 'starting' | 'running' | 'caught-up' | 'waiting' | 'failing' | 'stopped' | 'resyncing';

export interface BackoffSettings {
  /** Pause after the first failure. */
  initialMs: number;
  /** Longest pause between two attempts. */
  maxMs: number;
}

/** A client that holds channels of ours-to-be but stopped heartbeating (a SIGKILLed daemon). */
export interface WaitingClient {
  clientId: string;
  channels: string[];
  /** Upper bound of the time until the Tunnel expires the client and hands its channels out. */
  expiresInMs: number;
}

export interface HealthSnapshot {
  state: TableState;
  since: string;
  lastSuccessfulBatchAt: string | null;
  /** Age of the oldest change not yet in the lake, as far as it is known; 0 when caught up. */
  lagMs: number;
  lastError: { code: string; message: string; at: string } | null;
  /** Consecutive failed attempts; 0 unless failing. */
  failures: number;
  nextAttemptInMs: number | null;
  waitingFor: WaitingClient[];
  reason: string | null;
}

export interface TableHealthOptions {
  table: string;
  log: Logger;
  backoff: BackoffSettings;
  summaryIntervalMs?: number;
  now?: () => number;
  random?: () => number;
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

export class TableHealth {
  private stateValue: TableState = 'starting';
  private sinceMs: number;
  private readonly createdMs: number;
  private lastSuccessMs: number | null = null;
  private lastErrorValue: { code: string; message: string; atMs: number } | null = null;
  private failures = 0;
  private stoppedErrorValue: OtslakeError | null = null;
  private failedTasksWhileFailing = 0;
  private lastSummaryMs = 0;
  private nextAttemptAtMs: number | null = null;
  private waitingForValue: WaitingClient[] = [];
  /** Per channel, the commit time of the newest change landed while more was pending; absent when read to its end. */
  private readonly pendingSince = new Map<string, number>();
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(private readonly options: TableHealthOptions) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.sinceMs = this.now();
    this.createdMs = this.sinceMs;
  }

  get state(): TableState {
    return this.stateValue;
  }

  get lastSuccessfulBatchMs(): number | null {
    return this.lastSuccessMs;
  }

  /** Why the table is not fine, for /readyz; null when it is. */
  get reason(): string | null {
    if ((this.stateValue === 'failing' || this.stateValue === 'stopped') && this.lastErrorValue)
      return `${this.stateValue} since ${iso(this.sinceMs)}: ${this.lastErrorValue.code}: ${this.lastErrorValue.message}`;
    if (this.stateValue === 'waiting') return waitingText(this.waitingForValue);
    if (this.stateValue === 'starting') return 'starting';
    if (this.stateValue === 'resyncing') return `resyncing since ${iso(this.sinceMs)}`;
    return null;
  }

  /**
   * A batch ran without a failure. `channels` are the channel tasks it ran: read to the live tail (or
   * nothing read: nothing older than the batch is pending), or stopped on a budget (the changes after
   * the newest one read are pending).
   */
  batchSucceeded(channels: readonly { channelId: string; records: number; readToTail: boolean; lastRecordTimeMs: number | null }[]): void {
    this.lastSuccessMs = this.now();
    for (const c of channels) {
      if (c.readToTail || c.records === 0) this.pendingSince.delete(c.channelId);
      else if (c.lastRecordTimeMs !== null) this.pendingSince.set(c.channelId, c.lastRecordTimeMs);
    }
    if (this.stateValue === 'stopped') return;
    if (this.stateValue === 'failing' || this.stateValue === 'starting') this.recover();
  }

  /** Start-up done (the table's first batch is next). */
  started(): void {
    if (this.stateValue === 'starting') this.transition('running', {});
  }

  /**
   * An attempt failed; returns how long to wait before the next one. `channels` (the failed ones) keep their
   * changes pending from the last success on, until a batch reads them to the tail: a later batch that
   * succeeds without them (it holds no channel, after a reconnect) must not make their lag vanish.
   */
  failed(err: OtslakeError, what: string, failedTasks = 0, channels: Iterable<string> = []): number {
    const now = this.now();
    for (const c of channels) if (!this.pendingSince.has(c)) this.pendingSince.set(c, this.lastSuccessMs ?? this.createdMs);
    this.failures++;
    this.failedTasksWhileFailing += failedTasks;
    if (this.stateValue !== 'stopped') this.lastErrorValue = { code: err.code, message: err.message, atMs: now };
    const ceiling = Math.min(this.options.backoff.maxMs, this.options.backoff.initialMs * 2 ** Math.min(30, this.failures - 1));
    const delayMs = Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
    this.nextAttemptAtMs = now + delayMs;
    if (this.stateValue !== 'failing') {
      this.lastSummaryMs = now;
      this.transition('failing', { what, error: err, retryInMs: delayMs });
    } else if (now - this.lastSummaryMs >= (this.options.summaryIntervalMs ?? 60_000)) {
      this.lastSummaryMs = now;
      this.options.log.warn('table still failing', {
        since: iso(this.sinceMs),
        attempts: this.failures,
        failedTasks: this.failedTasksWhileFailing,
        what,
        error: err,
        retryInMs: delayMs,
      });
    }
    return delayMs;
  }

  /** The error the table stopped on, while stopped. */
  get stoppedError(): OtslakeError | null {
    return this.stateValue === 'stopped' ? this.stoppedErrorValue : null;
  }

  /** The table stopped for good on `err` (no retry): it stays stopped, with the error, until the daemon restarts. */
  stopped(err: OtslakeError): void {
    this.lastErrorValue = { code: err.code, message: err.message, atMs: this.now() };
    this.stoppedErrorValue = err;
    this.nextAttemptAtMs = null;
    if (this.stateValue !== 'stopped') this.transition('stopped', { error: err });
  }

  /**
   * The daemon took the table down to resync it (docs/operations.md §Table lifecycle); its next runner starts
   * afresh. Final for this health: the in-flight batch that still ends after it (caught up, failed) must not
   * show the table running again, nor let the daemon take a second resync of it for a first that ended.
   */
  resyncing(): void {
    this.transition('resyncing', {});
  }

  caughtUp(): void {
    this.pendingSince.clear();
    this.waitingForValue = [];
    if (this.stateValue !== 'caught-up' && this.stateValue !== 'failing') this.transition('caught-up', {});
  }

  /** Not caught up: more to read, or channels only a departed client's expiry will free. */
  notCaughtUp(waitingFor: readonly WaitingClient[]): void {
    this.waitingForValue = [...waitingFor];
    if (this.stateValue === 'failing') return;
    if (waitingFor.length > 0) {
      if (this.stateValue !== 'waiting') this.transition('waiting', { waitingFor, reason: waitingText(waitingFor) });
    } else if (this.stateValue !== 'running') this.transition('running', {});
  }

  /** Data was read: the table is busy. */
  busy(): void {
    if (this.stateValue === 'caught-up') this.transition('running', {});
  }

  lagMs(): number {
    if (this.stateValue === 'caught-up') return 0;
    const now = this.now();
    let oldest = now;
    for (const t of this.pendingSince.values()) oldest = Math.min(oldest, t);
    // While failing or stopped, changes newer than the last success may be waiting: the age since then bounds them
    // (a stopped table reads nothing, so its changes only age: the retention guard must see that).
    if (this.stateValue === 'failing' || this.stateValue === 'stopped') oldest = Math.min(oldest, this.lastSuccessMs ?? this.createdMs);
    if (this.stateValue === 'waiting' || this.stateValue === 'starting' || this.stateValue === 'resyncing') oldest = Math.min(oldest, this.sinceMs);
    return Math.max(0, now - oldest);
  }

  snapshot(): HealthSnapshot {
    const now = this.now();
    return {
      state: this.stateValue,
      since: iso(this.sinceMs)!,
      lastSuccessfulBatchAt: iso(this.lastSuccessMs),
      lagMs: this.lagMs(),
      lastError: this.lastErrorValue ? { code: this.lastErrorValue.code, message: this.lastErrorValue.message, at: iso(this.lastErrorValue.atMs)! } : null,
      failures: this.stateValue === 'failing' ? this.failures : 0,
      nextAttemptInMs: this.stateValue === 'failing' && this.nextAttemptAtMs !== null ? Math.max(0, this.nextAttemptAtMs - now) : null,
      waitingFor: this.waitingForValue,
      reason: this.reason,
    };
  }

  private recover(): void {
    const wasFailing = this.stateValue === 'failing';
    const fields = wasFailing ? { failingForMs: this.now() - this.sinceMs, attempts: this.failures, failedTasks: this.failedTasksWhileFailing } : {};
    this.failures = 0;
    this.failedTasksWhileFailing = 0;
    this.nextAttemptAtMs = null;
    this.lastErrorValue = null;
    this.transition('running', wasFailing ? { recovered: true, ...fields } : {});
  }

  private transition(next: TableState, fields: Record<string, unknown>): void {
    if (this.stateValue === 'resyncing') return; // see resyncing()
    // Stopped is final for this health too (see stopped()), but for a resync, which is how a stopped table is
    // rebuilt: a batch or a DescribeTunnel still in flight when the table stopped must not show it running again.
    if (this.stateValue === 'stopped' && next !== 'resyncing') return;
    const previous = this.stateValue;
    this.stateValue = next;
    this.sinceMs = this.now();
    // running ⇄ caught-up flips with every write on a nearly caught-up table: not worth an info line each.
    const routine = (previous === 'running' && next === 'caught-up') || (previous === 'caught-up' && next === 'running');
    const level = next === 'failing' || next === 'stopped' ? 'error' : next === 'waiting' ? 'warn' : routine ? 'debug' : 'info';
    this.options.log[level]('table state changed', { table: this.options.table, from: previous, to: next, ...fields });
  }
}

function waitingText(waitingFor: readonly WaitingClient[]): string {
  return waitingFor
    .map(
      (w) =>
        `waiting for client ${w.clientId} to expire, ~${Math.ceil(w.expiresInMs / 1000)} s (holds ${w.channels.length} channel${w.channels.length === 1 ? '' : 's'})`,
    )
    .join('; ');
}
