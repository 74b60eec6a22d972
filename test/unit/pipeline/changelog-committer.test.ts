/**
 * The committer against a real table in a temp dir: one commit per batch with a txn per channel and
 * every file, new columns merged (a result whose column clashes is left out), results without an
 * offset entry skipped, and a stale writer fenced by the winner's txn for the same channel.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../common/log.js';
import { ChangelogCommitter } from '../../../pipeline/changelog-committer.js';
import { ChannelPositions } from '../../../pipeline/channel-positions.js';
import { planCommit, type ChannelResult } from '../../../pipeline/commit-plan.js';
import { TableViewCache, type TableView } from '../../../pipeline/table-view.js';
import { LocalStore } from '../../../lake/local-store.js';
import { loadSnapshot } from '../../../lake/snapshot.js';
import { createTable } from '../../../lake/table-create.js';
import type { ChannelTaskOk, DataColumn } from '../../../workers/protocol.js';
import { createTmpDir, type TmpDir } from '../../helpers/tmp-dir.js';

let dir: TmpDir;
let store: LocalStore;
let view: TableView;

beforeEach(async () => {
  dir = await createTmpDir('otslake-committer-');
  store = new LocalStore(dir.path);
  const created = await createTable(store, { schema: { type: 'struct', fields: [{ name: 'id', type: 'long', nullable: false, metadata: {} }] } });
  view = { version: 0, metadata: created.metadata, protocol: { minReaderVersion: 1, minWriterVersion: 2 }, txns: new Map() };
});

afterEach(async () => {
  await dir.cleanup();
});

function commitBatch(batch: { batchId: string; results: ChannelResult[] }) {
  return new ChangelogCommitter({ store, identity: { tunnelId: 't1', writer: 'test' }, log: silentLogger }).commit({ view, ...batch });
}

/** A view cache that starts at `view` and follows our commit the way the batch cycle does. */
async function cacheAfter(out: Awaited<ReturnType<typeof commitBatch>>): Promise<TableViewCache> {
  const positions = new ChannelPositions(silentLogger, 't');
  const cache = new TableViewCache(store, positions, silentLogger);
  if (out.kind !== 'committed') throw new Error(`expected a commit, got ${out.kind}`);
  cache.committed(view, out.version, out.metadata, out.plan.txns, out.others);
  return cache;
}

function result(channelId: string, offsetSeq: number | null, opts: { files?: number; newColumns?: DataColumn[]; finished?: boolean } = {}): ChannelResult {
  const files = Array.from({ length: opts.files ?? 1 }, (_, i) => ({
    path: `part-${channelId}-${offsetSeq}-${i}.parquet`,
    size: 100,
    numRecords: 3,
    modificationTime: 1,
    partitionValues: {},
    stats: { numRecords: 3 },
  }));
  const ok: ChannelTaskOk = {
    kind: 'ok',
    endToken: `end-${channelId}-${offsetSeq}`,
    finished: opts.finished ?? false,
    endedOnBudget: false,
    files,
    deadLetters: [],
    offsetSeq,
    newColumns: opts.newColumns ?? [],
    lastSequence: null,
    stats: { records: 3, bytesRead: 10, rowsWritten: 3, bytesWritten: 100, readRequests: 1, durationMs: 1, lastRecordTimeMs: null },
  };
  return { channelId, startToken: `start-${channelId}`, result: ok };
}

describe('committer', () => {
  it('commits every channel with its txn and files, and merges new columns', async () => {
    const out = await commitBatch({
      batchId: 'b1',
      results: [
        result('c1', 1, { newColumns: [{ name: 'qty', type: 'long' }] }),
        result('c2', 4, { files: 2, newColumns: [{ name: 'qty', type: 'long' }] }),
        result('c3', null, { files: 0 }),
      ],
    });
    expect(out.kind).toBe('committed');
    const snapshot = await loadSnapshot(store);
    expect(snapshot.version).toBe(1);
    expect(Object.fromEntries([...snapshot.txns].map(([k, t]) => [k, t.version]))).toEqual({ 'otslake/t1/c1': 1, 'otslake/t1/c2': 4 });
    expect(snapshot.files.size).toBe(3);
    expect(snapshot.schema.fields.map((f) => f.name)).toEqual(['id', 'qty']);
    const next = (await cacheAfter(out)).current;
    expect(next?.version).toBe(1);
    expect(next?.txns.get('otslake/t1/c2')).toBe(4);
    expect(next?.metadata.schemaString).toContain('qty');
  });

  it('leaves out a result whose new column clashes with one already merged in the batch', () => {
    const plan = planCommit(view, { tunnelId: 't1', writer: 'test' }, 'b1', [
      result('c1', 1, { newColumns: [{ name: 'qty', type: 'long' }] }),
      result('c2', 1, { newColumns: [{ name: 'QTY', type: 'string' }] }),
    ]);
    expect(plan.included.map((r) => r.channelId)).toEqual(['c1']);
    expect(plan.deferred.map((d) => d.result.channelId)).toEqual(['c2']);
    expect(plan.actions.filter((a) => 'txn' in a)).toHaveLength(1);
  });

  it('leaves out files that come without an offset entry, and commits nothing when nothing moved', async () => {
    const out = await commitBatch({ batchId: 'b1', results: [result('c1', null)] });
    expect(out.kind).toBe('nothing');
    expect(out.plan.deferred).toHaveLength(1);
    expect((await loadSnapshot(store)).version).toBe(0);
  });

  it('is fenced when another writer committed the same channel after our view', async () => {
    const winner = await commitBatch({ batchId: 'b1', results: [result('c1', 1)] });
    expect(winner.kind).toBe('committed');
    const stale = await commitBatch({ batchId: 'b2', results: [result('c1', 2)] });
    expect(stale).toMatchObject({ kind: 'dropped', fenced: true, winningVersion: 1 });
    const other = await commitBatch({ batchId: 'b3', results: [result('c9', 1)] });
    expect(other).toMatchObject({ kind: 'committed', version: 2 });
    // Landed above someone else's commit: the view follows theirs (read once, by the commit) and ours.
    expect(other.kind === 'committed' && other.others.map((c) => c.version)).toEqual([1]);
    const followed = (await cacheAfter(other)).current;
    expect(followed?.version).toBe(2);
    expect(followed?.txns.get('otslake/t1/c1')).toBe(1);
    expect(followed?.txns.get('otslake/t1/c9')).toBe(1);
    expect((await loadSnapshot(store)).txns.get('otslake/t1/c1')?.version).toBe(1);
  });
});
