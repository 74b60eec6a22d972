/**
 * The per-table commit budget (docs/operations.md §Many daemons per table). Every daemon of a table sees every
 * commit of it (its cached view reads each new commit once), so each one can tell how many writers
 * are committing and at what rate, without a coordinator: with k writers active over the window and
 * a budget of B commits/s, a daemon that starts its batches at least k / B seconds apart keeps the
 * table at ≤ B commits/s in sum. Freshness then degrades to about k / B seconds — never correctness.
 *
 * A writer is the `commitInfo.otslake.writer` of its commits; commits without one (compaction, other
 * engines) count toward the rate but do not stretch anyone's interval. A writer stays counted for four
 * paced intervals after it was last seen (each writer commits about once per interval, and we see it
 * only at our next batch), the rate is measured over at least two. Writers that have not committed yet
 * are counted through the Tunnel: every client holding channels of the table's tunnel may commit, so
 * their number (DescribeTunnel) is a floor. Until that count can be trusted — the Tunnel service spreads the
 * channels over a crowd of new clients only at their next heartbeats — a starting daemon presumes that every
 * channel of the tunnel may have a daemon of its own (observeChannels: a slow start of about two heartbeats;
 * a lone daemon on a table of C channels paces at C ÷ budget meanwhile, which matters only while it is
 * behind). A daemon that joins reads the table's recent history first
 * and waits a random part of its paced interval before its first batch, so that a crowd starting
 * together spreads over one interval. The phase of each daemon's batches is jittered (±20 % of its rate, about the
 * interval) so that daemons drift apart instead of racing for the same version forever.
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
  /** Writers known: distinct committers over the window (ourselves included) or the tunnel's clients holding channels. */
  readonly writers: number;
  /** The writers the interval is paced for: `writers`, or more during the slow start (observeChannels). */
  readonly pacedForWriters: number;
  /** The least time between the starts of two of our batches that keeps the table within its budget. */
  readonly minIntervalMs: number;
  readonly budget: number;
}

const DEFAULT_WINDOW_MS = 10_000;
/** The commit rate is measured over at least this many paced intervals. */
const RATE_WINDOW_INTERVALS = 2;
/** A writer is counted until it has not been seen for this many paced intervals (see expire()). */
const WRITER_MEMORY_INTERVALS = 4;

/** `commitInfo.otslake.writer` of a commit, or null. */
export function writerOf(commit: Pick<CommitSummary, 'commitInfo'>): string | null {
  const otslake = (commit.commitInfo as { otslake?: { writer?: unknown } } | null)?.otslake;
  return typeof otslake?.writer === 'string' ? otslake.writer : null;
}

export class CommitPacer {
  /** Commits seen lately, in time order: the table's commit rate. */
  private readonly seen: Seen[] = [];
  private readonly versions = new Set<number>();
  /** When each writer was last seen committing (ourselves included once we committed). */
  private readonly writers = new Map<string, number>();
  /** Clients holding channels of the table's tunnel at the last DescribeTunnel (observeClients). */
  private tunnelClients = 0;
  /** observeChannels: the tunnel's channels, counted as writers until `presumedUntilMs`. */
  private presumedWriters = 0;
  private presumedUntilMs = 0;
  private readonly windowMs: number;
  private readonly random: () => number;

  constructor(private readonly options: PacerOptions) {
    this.windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
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
   * How many clients of the table's tunnel hold channels (DescribeTunnel; ourselves included): every
   * one of them may commit, so the count is a floor of the writers until the next DescribeTunnel —
   * a crowd that has not committed yet is counted before its first commits race ours.
   */
  observeClients(count: number): void {
    this.tunnelClients = Math.max(0, count);
  }

  /**
   * The tunnel's channels at start (DescribeTunnel): only a client holding a channel commits, so at most
   * that many daemons share the table. Counted as writers until `untilMs` — about two heartbeats, by when the
   * Tunnel has handed every client that started with us its share and observeClients counts them all.
   */
  observeChannels(channels: number, untilMs: number): void {
    this.presumedWriters = Math.max(0, channels);
    this.presumedUntilMs = untilMs;
  }

  /**
   * The pause before our commit reads the winners and tries the next version after losing `lost`
   * races: full jitter doubling from 10 ms, up to the paced interval — a crowd that started together
   * then takes turns instead of all chasing every next version. `others`: the commits read so far.
   */
  backoffAfterLostRace(others: readonly CommitSummary[], lost: number, nowMs = Date.now()): number {
    this.observe(others, nowMs);
    return raceBackoffMs(lost, { baseMs: 10, capMs: Math.max(1_000, this.status(nowMs).minIntervalMs) }, this.random);
  }

  /** Our own commit. */
  committed(version: number, nowMs = Date.now()): void {
    this.add({ version, atMs: nowMs, writer: this.options.writer });
  }

  status(nowMs = Date.now()): PacerStatus {
    this.expire(nowMs);
    const writers = this.knownWriters();
    const pacedFor = this.pacedFor(nowMs);
    const rateWindow = Math.max(this.windowMs, RATE_WINDOW_INTERVALS * this.intervalFor(pacedFor));
    const span = Math.min(rateWindow, Math.max(1_000, nowMs - (this.seen[0]?.atMs ?? nowMs)));
    return {
      commitRate: (this.seen.length * 1000) / span,
      writers,
      pacedForWriters: pacedFor,
      minIntervalMs: this.intervalFor(pacedFor),
      budget: this.options.commitsPerSecond,
    };
  }

  /**
   * How long from `nowMs` until our next batch may start for the table to stay within its budget:
   * the paced interval after the last start, jittered so that daemons do not stay in step.
   */
  pacedDelayMs(lastStartMs: number, nowMs = Date.now()): number {
    const { minIntervalMs, pacedForWriters: writers } = this.status(nowMs);
    // The jitter is on the rate (±20 %), not on the interval: 1/x of an interval jittered evenly averages above
    // 1 (by 1.4 % for ±20 %), which a crowd would add up to a table ~1.4 % over its budget.
    const jitter = writers > 1 ? 1 / (1 + (this.random() - 0.5) * 0.4) : 1;
    return Math.max(0, lastStartMs + minIntervalMs * jitter - nowMs);
  }

  /**
   * The pause before a daemon's first batch: a random part of the paced interval, so that daemons
   * that start together (a deploy, a reboot of the fleet) commit spread over one interval instead of
   * all racing for the first versions.
   */
  startDelayMs(nowMs = Date.now()): number {
    const { minIntervalMs, pacedForWriters: writers } = this.status(nowMs);
    return writers > 1 ? this.random() * minIntervalMs : 0;
  }

  private intervalFor(writers: number): number {
    return Math.ceil((writers * 1000) / this.options.commitsPerSecond);
  }

  private pacedFor(nowMs: number): number {
    return Math.max(this.knownWriters(), nowMs < this.presumedUntilMs ? this.presumedWriters : 0);
  }

  private knownWriters(): number {
    return Math.max(this.tunnelClients, this.writers.size + (this.writers.has(this.options.writer) ? 0 : 1));
  }

  private add(s: Seen): void {
    if (this.versions.has(s.version)) return;
    this.versions.add(s.version);
    if (s.writer !== null) this.writers.set(s.writer, Math.max(this.writers.get(s.writer) ?? s.atMs, s.atMs));
    // Kept in time order (history is placed back in time, live commits arrive in order).
    let i = this.seen.length;
    while (i > 0 && this.seen[i - 1]!.atMs > s.atMs) i--;
    this.seen.splice(i, 0, s);
  }

  /**
   * Forgets commits past the rate window and writers not seen for WRITER_MEMORY_INTERVALS paced
   * intervals. Both horizons follow from the count *before* forgetting: a writer commits about once
   * per paced interval (±20 %, plus its batch), and we see its commit only at our next batch, so two
   * of our sightings of one writer can be ~2.4 intervals apart; forgetting sooner would count fewer
   * writers than there are, shorten everyone's interval and overrun the budget.
   */
  private expire(nowMs: number): void {
    const interval = this.intervalFor(this.pacedFor(nowMs));
    const rateWindow = Math.max(this.windowMs, RATE_WINDOW_INTERVALS * interval);
    while (this.seen.length > 0 && this.seen[0]!.atMs < nowMs - rateWindow) this.versions.delete(this.seen.shift()!.version);
    const memory = Math.max(this.windowMs, WRITER_MEMORY_INTERVALS * interval);
    for (const [writer, lastMs] of this.writers) if (lastMs < nowMs - memory) this.writers.delete(writer);
  }
}
