/**
 * The per-table commit budget (docs/operations.md §Many daemons per table). Every daemon of a table sees every
 * commit of it (its cached view reads each new commit once), so each one can tell how many writers
 * are committing and at what rate, without a coordinator: with k writers active over the window and
 * a budget of B commits/s, a daemon that starts its batches at least k / B seconds apart keeps the
 * table at ≤ B commits/s in sum. Freshness then degrades to about k / B seconds — never correctness.
 *
 * A writer is the `commitInfo.otslake.writer` of its commits; commits without one (compaction, other
 * engines) count toward the rate but do not stretch anyone's interval. The window (10 s) widens to
 * twice the paced interval, since each writer commits only about once per interval; a daemon that
 * joins reads the table's recent history first, so it paces itself from its first batch. The phase of each daemon's
 * batches is jittered (±20 % of the interval) so that daemons that started together drift apart
 * instead of racing for the same version forever.
 */
import type { CommitSummary } from '../lake/commit-summary.js';
import { raceBackoffMs } from '../lake/transaction.js';

export interface PacerOptions {
  /** batch.maxTableCommitsPerSecond: commits per second the table may take in sum, over every daemon. */
  readonly commitsPerSecond: number;
  /** This daemon's writer id (commitInfo.otslake.writer of our commits). */
  readonly writer: string;
  /** How far back commits count. */
  readonly windowMs?: number;
  readonly random?: () => number;
}

interface Seen {
  readonly version: number;
  readonly atMs: number;
  readonly writer: string | null;
}

export interface PacerStatus {
  /** Commits per second over the window, every writer. */
  readonly commitRate: number;
  /** Distinct writers over the window, ourselves included. */
  readonly writers: number;
  /** The least time between the starts of two of our batches that keeps the table within its budget. */
  readonly minIntervalMs: number;
  readonly budget: number;
}

const DEFAULT_WINDOW_MS = 10_000;

/** `commitInfo.otslake.writer` of a commit, or null. */
export function writerOf(commit: Pick<CommitSummary, 'commitInfo'>): string | null {
  const otslake = (commit.commitInfo as { otslake?: { writer?: unknown } } | null)?.otslake;
  return typeof otslake?.writer === 'string' ? otslake.writer : null;
}

export class CommitPacer {
  private readonly seen: Seen[] = [];
  private readonly versions = new Set<number>();
  private readonly windowMs: number;
  private effectiveWindowMs: number;
  private readonly random: () => number;

  constructor(private readonly options: PacerOptions) {
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
    this.effectiveWindowMs = this.windowMs;
    this.random = options.random ?? Math.random;
  }

  /** Other writers' commits as the view read them (each version counts once). */
  observe(commits: readonly CommitSummary[], nowMs = Date.now()): void {
    // Commit timestamps come from other hosts' clocks: the time we saw them is what paces us.
    for (const c of commits) this.add({ version: c.version, atMs: nowMs, writer: writerOf(c) });
  }

  /**
   * The table's recent history, read once at start, so that a daemon joining a busy table paces
   * itself from its first batch: each commit placed back in time by its distance from the newest
   * (differences of one clock's timestamps, so host clock offsets do not matter).
   */
  observeHistory(commits: readonly CommitSummary[], nowMs = Date.now()): void {
    if (commits.length === 0) return;
    const newest = Math.max(...commits.map((c) => c.timestamp));
    for (const c of [...commits].sort((a, b) => a.version - b.version)) {
      this.add({ version: c.version, atMs: nowMs - Math.max(0, newest - c.timestamp), writer: writerOf(c) });
    }
  }

  /**
   * The pause before our commit tries the next version after losing `lost` races to `winners`: the
   * crowd is learnt from the winners at once, and the backoff (full jitter, doubling from 10 ms) may
   * grow up to the paced interval — a crowd that started together then takes turns instead of all
   * chasing every next version.
   */
  backoffAfterLostRace(winners: readonly CommitSummary[], lost: number, nowMs = Date.now()): number {
    this.observe(winners, nowMs);
    return raceBackoffMs(lost, { baseMs: 10, capMs: Math.max(1_000, this.status(nowMs).minIntervalMs) }, this.random);
  }

  /** Our own commit. */
  committed(version: number, nowMs = Date.now()): void {
    this.add({ version, atMs: nowMs, writer: this.options.writer });
  }

  status(nowMs = Date.now()): PacerStatus {
    this.expire(nowMs);
    const status = this.measure(nowMs);
    // Each writer commits about once per paced interval: a window shorter than that would miss some.
    this.effectiveWindowMs = Math.max(this.windowMs, 2 * status.minIntervalMs);
    return status;
  }

  private measure(nowMs: number): PacerStatus {
    const writers = new Set<string>([this.options.writer]);
    for (const s of this.seen) if (s.writer !== null) writers.add(s.writer);
    const span = Math.min(this.effectiveWindowMs, Math.max(1_000, nowMs - (this.seen[0]?.atMs ?? nowMs)));
    return {
      commitRate: (this.seen.length * 1000) / span,
      writers: writers.size,
      minIntervalMs: Math.ceil((writers.size * 1000) / this.options.commitsPerSecond),
      budget: this.options.commitsPerSecond,
    };
  }

  /**
   * How long from `nowMs` until our next batch may start for the table to stay within its budget:
   * the paced interval after the last start, jittered so that daemons do not stay in step.
   */
  pacedDelayMs(lastStartMs: number, nowMs = Date.now()): number {
    const { minIntervalMs, writers } = this.status(nowMs);
    const jitter = writers > 1 ? 1 + (this.random() - 0.5) * 0.4 : 1;
    return Math.max(0, lastStartMs + minIntervalMs * jitter - nowMs);
  }

  private add(s: Seen): void {
    if (this.versions.has(s.version)) return;
    this.versions.add(s.version);
    // Kept in time order (history is placed back in time, live commits arrive in order).
    let i = this.seen.length;
    while (i > 0 && this.seen[i - 1]!.atMs > s.atMs) i--;
    this.seen.splice(i, 0, s);
  }

  private expire(nowMs: number): void {
    while (this.seen.length > 0 && this.seen[0]!.atMs < nowMs - this.effectiveWindowMs) this.versions.delete(this.seen.shift()!.version);
  }
}
