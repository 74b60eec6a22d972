/**
 * The table's mode decides its committer, once (at start). A mirror's layout comes from the table itself (fixed
 * at creation), its file target from the config; a changelog's lost races teach the table's commit pacer.
 */
import type { Logger } from '../common/log.js';
import type { TableConfig } from '../config/load.js';
import type { Metadata } from '../lake/actions.js';
import { mirrorSettingsOf } from '../lake/mirror/layout.js';
import type { ObjectStore } from '../lake/object-store.js';
import type { WorkerPool } from '../workers/pool.js';
import type { BatchCommitter } from './batch-committer.js';
import { ChangelogCommitter } from './changelog-committer.js';
import type { CommitPacer } from './commit-pacer.js';
import type { CommitIdentity } from './commit-plan.js';
import { MirrorCommitter } from './mirror-committer.js';

export interface CommitterChoice {
  table: TableConfig;
  metadata: Metadata;
  store: ObjectStore;
  identity: CommitIdentity;
  pacer: CommitPacer;
  pool: WorkerPool;
  log: Logger;
}

export function committerForTable({ table, metadata, store, identity, pacer, pool, log }: CommitterChoice): BatchCommitter {
  if (table.mode !== 'mirror') {
    return new ChangelogCommitter({ store, identity, log, onLostRace: (winners, lost) => pacer.backoffAfterLostRace(winners, lost) });
  }
  const layout = mirrorSettingsOf(metadata.configuration);
  return new MirrorCommitter({
    store,
    pool,
    identity,
    table: table.table,
    tablePath: table.path,
    log,
    metadataPrefix: table.metadataPrefix,
    settings: { buckets: layout.buckets, changeDataFeed: layout.changeDataFeed, targetFileBytes: table.mirror!.targetFileSizeBytes },
  });
}
