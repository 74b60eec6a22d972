/**
 * What the pipeline caches of a table between batches instead of a full snapshot: its version,
 * metadata and committed txns. TableViewCache owns it, and owns the rule that ties it to the channel
 * positions: whenever the view moves in a way our own commits do not explain (another writer, a lost
 * race, a lost view), the positions are reset, because another writer may have taken a channel.
 */
import type { Logger } from '../common/log.js';
import type { Metadata } from '../lake/actions.js';
import { commitKey } from '../lake/log-path.js';
import type { ObjectStore } from '../lake/object-store.js';
import { loadSnapshot, readCommitInfos } from '../lake/snapshot.js';
import type { ChannelPositions } from './channel-positions.js';

export interface TableView {
  readonly version: number;
  readonly metadata: Metadata;
  /** appId → committed txn version. */
  readonly txns: ReadonlyMap<string, number>;
}

export class TableViewCache {
  private view: TableView | null = null;

  constructor(
    private readonly store: ObjectStore,
    private readonly positions: ChannelPositions,
    private readonly log: Logger,
  ) {}

  /** The cached view, or null before the first batch and after invalidate(). */
  get current(): TableView | null {
    return this.view;
  }

  /** The table as it is now: the cache unless a commit exists after it, else advanced over the new commits or reloaded. */
  async refresh(signal?: AbortSignal): Promise<TableView> {
    const cached = this.view;
    if (cached !== null && (await this.store.head(commitKey(cached.version + 1), signal ? { signal } : {})) === null) return cached;
    const advanced = cached === null ? null : await this.advance(cached, signal);
    const next = advanced ?? (await this.load(signal));
    if (cached !== null) this.positions.reset('the table moved under us', { fromVersion: cached.version, toVersion: next.version });
    else this.positions.reset('the table view was reloaded', { version: next.version });
    this.view = next;
    return next;
  }

  /**
   * Our commit of `version` on top of `read` with these txns: the view follows it, unless the commit
   * landed above other writers' commits — their txns are not in `read`, and a stale txn for a channel
   * later assigned to us would let a duplicate through.
   */
  committed(read: TableView, version: number, metadata: Metadata, txns: ReadonlyMap<string, number>): void {
    if (version !== read.version + 1) {
      this.invalidate('our commit landed above other writers’ commits', { readVersion: read.version, version });
      return;
    }
    const merged = new Map(read.txns);
    for (const [appId, seq] of txns) merged.set(appId, seq);
    this.view = { version, metadata, txns: merged };
  }

  /** Forget the view and every channel position: the next batch re-reads both from the lake. */
  invalidate(reason: string, fields: Record<string, unknown> = {}): void {
    this.view = null;
    this.positions.reset(reason, fields);
  }

  /** The view moved forward over other writers' commits by reading only those; null when that is not enough (a gap left by log cleanup, a protocol change). */
  private async advance(view: TableView, signal?: AbortSignal): Promise<TableView | null> {
    const commits = await readCommitInfos(this.store, view.version + 1, signal ? { signal } : {});
    const txns = new Map(view.txns);
    let metadata = view.metadata;
    let version = view.version;
    for (const c of commits) {
      if (c.version !== version + 1 || c.protocol !== null) return null;
      for (const t of c.txns) txns.set(t.appId, t.version);
      if (c.metadata !== null) metadata = c.metadata;
      version = c.version;
    }
    return version === view.version ? null : { version, metadata, txns };
  }

  private async load(signal?: AbortSignal): Promise<TableView> {
    const snapshot = await loadSnapshot(this.store, signal ? { signal } : {});
    const txns = new Map<string, number>();
    for (const [appId, txn] of snapshot.txns) txns.set(appId, txn.version);
    this.log.debug('table snapshot loaded', { version: snapshot.version });
    return { version: snapshot.version, metadata: snapshot.metadata, txns };
  }
}
