/**
 * What the pipeline caches of a table between batches instead of a full snapshot: its version,
 * metadata and committed txns. TableViewCache owns it, and owns the rule that ties it to the channel
 * positions: when other writers' commits carry a txn for a channel we hold, that channel's position
 * is reset (the other daemon held it meanwhile); when the view cannot be followed commit by commit
 * (a gap, a protocol change), it is reloaded and every position reset.
 *
 * Every commit is read once: new commits by their known keys at the start of a batch, the commits
 * our own commit raced from what commit() read anyway. A lost race advances the view over the
 * winners instead of reloading the snapshot.
 */
import type { Logger } from '../common/log.js';
import type { Metadata, Protocol } from '../lake/actions.js';
import type { ObjectStore } from '../lake/object-store.js';
import { readNewCommits, type CommitSummary } from '../lake/commit-summary.js';
import { loadSnapshot } from '../lake/snapshot.js';
import type { ChannelPositions } from './channel-positions.js';

export interface TableView {
  readonly version: number;
  readonly metadata: Metadata;
  /** A commit that changes it is never followed: the view is reloaded (absorb). */
  readonly protocol: Protocol;
  /** appId → committed txn version. */
  readonly txns: ReadonlyMap<string, number>;
}

export class TableViewCache {
  private view: TableView | null = null;

  constructor(
    private readonly store: ObjectStore,
    private readonly positions: ChannelPositions,
    private readonly log: Logger,
    /** Sees every other writer's commit once (commit pacing). */
    private readonly onOthers: (commits: readonly CommitSummary[]) => void = () => undefined,
  ) {}

  /** The cached view, or null before the first batch and after invalidate(). */
  get current(): TableView | null {
    return this.view;
  }

  /** The table as it is now: the cache advanced over any new commits (one GET when there is none), else a snapshot. */
  async refresh(signal?: AbortSignal): Promise<TableView> {
    const cached = this.view;
    if (cached !== null) {
      const commits = await readNewCommits(this.store, cached.version, signal ? { signal } : {});
      if (commits.length === 0) return cached;
      if (this.absorb(cached, commits, 'other writers committed')) return this.view!;
    }
    const loaded = await this.load(signal);
    this.positions.reset(cached === null ? 'the table view was loaded' : 'the table could not be followed commit by commit', { version: loaded.version });
    this.view = loaded;
    return loaded;
  }

  /**
   * Our commit of `version` on top of `read`, after the other writers' commits our commit raced
   * (`others`, from commit()): the view follows all of them, and ours.
   */
  committed(read: TableView, version: number, metadata: Metadata, txns: ReadonlyMap<string, number>, others: readonly CommitSummary[] = []): void {
    if (others.length > 0 && !this.absorb(read, others, 'other writers committed before us')) return;
    const base = this.view !== null && others.length > 0 ? this.view : read;
    if (version !== base.version + 1) {
      this.invalidate('our commit landed above commits we did not read', { readVersion: base.version, version });
      return;
    }
    const merged = new Map(base.txns);
    for (const [appId, seq] of txns) merged.set(appId, seq);
    this.view = { version, metadata, protocol: base.protocol, txns: merged };
  }

  /** Our commit lost its race to `others` (fenced or not): the view advances over them; channels they moved are reset. */
  lostRace(read: TableView, others: readonly CommitSummary[], reason: string): void {
    if (others.length === 0) this.invalidate(reason);
    else this.absorb(read, others, reason);
  }

  /** Forget the view and every channel position: the next batch re-reads both from the lake. */
  invalidate(reason: string, fields: Record<string, unknown> = {}): void {
    this.view = null;
    this.positions.reset(reason, fields);
  }

  /**
   * `from` advanced over `commits` (other writers', in version order right after it): the view, and
   * a reset of the positions whose txns they moved. False (and the view invalidated) when they do not
   * follow on or change the protocol.
   */
  private absorb(from: TableView, commits: readonly CommitSummary[], reason: string): boolean {
    const txns = new Map(from.txns);
    const moved = new Set<string>();
    let metadata = from.metadata;
    let version = from.version;
    for (const c of commits) {
      if (c.version <= version) continue;
      if (c.version !== version + 1 || c.protocol !== null) {
        this.invalidate('the table could not be followed commit by commit', { fromVersion: from.version, atVersion: c.version });
        return false;
      }
      for (const t of c.txns) {
        txns.set(t.appId, t.version);
        moved.add(t.appId);
      }
      if (c.metadata !== null) metadata = c.metadata;
      version = c.version;
    }
    this.onOthers(commits);
    this.positions.resetMoved(moved, reason);
    this.view = { version, metadata, protocol: from.protocol, txns };
    this.log.debug('table view advanced over other writers’ commits', { fromVersion: from.version, toVersion: version });
    return true;
  }

  private async load(signal?: AbortSignal): Promise<TableView> {
    const snapshot = await loadSnapshot(this.store, signal ? { signal } : {});
    const txns = new Map<string, number>();
    for (const [appId, txn] of snapshot.txns) txns.set(appId, txn.version);
    this.log.debug('table snapshot loaded', { version: snapshot.version });
    return { version: snapshot.version, metadata: snapshot.metadata, protocol: snapshot.protocol, txns };
  }
}
