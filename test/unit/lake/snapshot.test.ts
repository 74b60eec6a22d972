import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeActions, type Action } from '../../../lake/actions.js';
import { commitKey, checkpointKey, LAST_CHECKPOINT } from '../../../lake/log-path.js';
import { advanceSnapshot, decodeFilePath, fileKey, loadSnapshot, parseIntervalMs, parseStats, readCommitInfos } from '../../../lake/snapshot.js';
import { LocalStore } from '../../../lake/local-store.js';
import { writeCheckpoint } from '../../../lake/checkpoint-writer.js';
import { rejectionOf } from '../../helpers/rejection.js';

const DAY_MS = 86_400_000;
const NOW = Date.UTC(2026, 0, 10);
const SCHEMA = JSON.stringify({
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: true, metadata: {} },
    { name: 'p', type: 'string', nullable: true, metadata: {} },
  ],
});

const protocol = (r = 1, w = 2, extra: Record<string, unknown> = {}): Action => ({ protocol: { minReaderVersion: r, minWriterVersion: w, ...extra } });
const metaData = (configuration: Record<string, string> = {}): Action => ({
  metaData: { id: 'tbl-1', format: { provider: 'parquet', options: {} }, schemaString: SCHEMA, partitionColumns: ['p'], configuration, createdTime: 1 },
});
const add = (p: string, extra: Record<string, unknown> = {}): Action => ({
  add: { path: p, partitionValues: { p: 'a' }, size: 100, modificationTime: 1, dataChange: true, ...extra },
});
const remove = (p: string, deletionTimestamp: number, extra: Record<string, unknown> = {}): Action => ({
  remove: { path: p, deletionTimestamp, dataChange: true, ...extra },
});
const commitInfo = (timestamp: number): Action => ({ commitInfo: { timestamp, operation: 'WRITE' } });

let dir: string;
let store: LocalStore;

async function commit(version: number, actions: Action[]): Promise<void> {
  await store.put(commitKey(version), encodeActions(actions));
}

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  return (await rejectionOf<{ code?: string }>(p)).code;
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'otsl-snapshot-'));
  store = new LocalStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('loadSnapshot: JSON commit replay', () => {
  it('reconciles protocol, metadata, adds, removes and txns across commits', async () => {
    await commit(0, [commitInfo(NOW - 3000), protocol(), metaData(), add('a.parquet'), add('b.parquet')]);
    await commit(1, [
      commitInfo(NOW - 2000),
      remove('a.parquet', NOW - DAY_MS),
      add('c.parquet'),
      { txn: { appId: 'otslake/t/ch1', version: 1, lastUpdated: NOW } },
    ]);
    await commit(2, [
      commitInfo(NOW - 1000),
      protocol(1, 4),
      { txn: { appId: 'otslake/t/ch1', version: 2, lastUpdated: NOW } },
      { txn: { appId: 'otslake/t/ch2', version: 7 } },
    ]);
    const s = await loadSnapshot(store, { nowMs: NOW });
    expect(s.version).toBe(2);
    expect(s.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 4 });
    expect(s.metadata.id).toBe('tbl-1');
    expect(s.schema.fields.map((f) => f.name)).toEqual(['id', 'p']);
    expect([...s.files.keys()].sort()).toEqual(['b.parquet', 'c.parquet']);
    expect([...s.tombstones.keys()]).toEqual(['a.parquet']);
    expect(Object.fromEntries([...s.txns].map(([k, t]) => [k, t.version]))).toEqual({ 'otslake/t/ch1': 2, 'otslake/t/ch2': 7 });
    expect(s.timestamp).toBe(NOW - 1000);
    expect(s.checkpointVersion).toBeNull();
  });

  it('a re-added file leaves the tombstones and a later metaData replaces the earlier one', async () => {
    await commit(0, [protocol(), metaData(), add('a.parquet')]);
    await commit(1, [remove('a.parquet', NOW - 1000)]);
    await commit(2, [add('a.parquet', { size: 200 }), metaData({ 'delta.appendOnly': 'true' })]);
    const s = await loadSnapshot(store, { nowMs: NOW });
    expect(s.files.get('a.parquet')?.size).toBe(200);
    expect(s.tombstones.size).toBe(0);
    expect(s.metadata.configuration).toEqual({ 'delta.appendOnly': 'true' });
  });

  it('keys files with a deletion vector by path and DV id', async () => {
    const dv = { storageType: 'u', pathOrInlineDv: 'ab^-aqEH.-t@S}K{vb[*k^', offset: 4, sizeInBytes: 40, cardinality: 2 };
    await commit(0, [protocol(3, 7, { readerFeatures: ['deletionVectors'], writerFeatures: ['deletionVectors'] }), metaData(), add('a.parquet')]);
    await commit(1, [remove('a.parquet', NOW - 10), add('a.parquet', { deletionVector: dv })]);
    const s = await loadSnapshot(store, { nowMs: NOW });
    const key = fileKey({ path: 'a.parquet', deletionVector: dv });
    expect(key).toBe('a.parquet#uab^-aqEH.-t@S}K{vb[*k^@4');
    expect([...s.files.keys()]).toEqual([key]);
    expect([...s.tombstones.keys()]).toEqual(['a.parquet']);
  });

  it('expires tombstones per delta.deletedFileRetentionDuration and txns per setTransactionRetentionDuration', async () => {
    await commit(0, [
      protocol(),
      metaData({ 'delta.deletedFileRetentionDuration': 'interval 2 days', 'delta.setTransactionRetentionDuration': 'interval 1 day' }),
      add('old.parquet'),
      add('new.parquet'),
      { txn: { appId: 'stale', version: 1, lastUpdated: NOW - 2 * DAY_MS } },
      { txn: { appId: 'fresh', version: 1, lastUpdated: NOW - 1000 } },
      { txn: { appId: 'nolast', version: 3 } },
    ]);
    await commit(1, [remove('old.parquet', NOW - 3 * DAY_MS), remove('new.parquet', NOW - DAY_MS)]);
    const s = await loadSnapshot(store, { nowMs: NOW });
    expect([...s.tombstones.keys()]).toEqual(['new.parquet']);
    expect([...s.txns.keys()].sort()).toEqual(['fresh', 'nolast']);
    // the default retention is one week
    const s2 = await loadSnapshot(store, { nowMs: NOW + 8 * DAY_MS });
    expect(s2.tombstones.size).toBe(0);
  });

  it('time travels to every version and rejects versions that do not exist', async () => {
    await commit(0, [commitInfo(1000), protocol(), metaData(), add('a.parquet')]);
    await commit(1, [commitInfo(2000), add('b.parquet')]);
    await commit(2, [commitInfo(3000), remove('a.parquet', NOW)]);
    const sizes = [];
    for (const version of [0, 1, 2]) {
      const s = await loadSnapshot(store, { version, nowMs: NOW });
      expect(s.version).toBe(version);
      sizes.push(s.files.size);
      expect(s.timestamp).toBe((version + 1) * 1000);
    }
    expect(sizes).toEqual([1, 2, 1]);
    expect(await codeOf(loadSnapshot(store, { version: 3 }))).toBe('OTSL_LAKE_NOT_FOUND');
    expect(await codeOf(loadSnapshot(store, { version: -1 }))).toBe('OTSL_LAKE_NOT_FOUND');
  });

  it('uses the commit file mtime when there is no commitInfo', async () => {
    await commit(0, [protocol(), metaData()]);
    const s = await loadSnapshot(store);
    const head = await store.head(commitKey(0));
    expect(s.timestamp).toBe(head!.lastModified);
  });
});

describe('loadSnapshot: errors', () => {
  it('a missing version is OTSL_LAKE_LOG_CORRUPT naming it', async () => {
    await commit(0, [protocol(), metaData()]);
    await commit(1, [add('a.parquet')]);
    await commit(3, [add('b.parquet')]);
    const err = (await loadSnapshot(store).catch((e: unknown) => e)) as { code: string; context: { version: number }; message: string };
    expect(err.code).toBe('OTSL_LAKE_LOG_CORRUPT');
    expect(err.context.version).toBe(2);
    expect(err.message).toContain('commit 2');
    // versions before the gap are still readable
    expect((await loadSnapshot(store, { version: 1 })).files.size).toBe(1);
  });

  it('no protocol or no metadata is a clear OTSL_LAKE_LOG_CORRUPT', async () => {
    await commit(0, [metaData(), add('a.parquet')]);
    await expect(loadSnapshot(store)).rejects.toMatchObject({ code: 'OTSL_LAKE_LOG_CORRUPT', message: expect.stringContaining('no protocol') });
    await commit(0 + 1, [protocol()]);
    rmSync(path.join(dir, commitKey(0)));
    await commit(0, [protocol(), add('a.parquet')]);
    await expect(loadSnapshot(store)).rejects.toMatchObject({ code: 'OTSL_LAKE_LOG_CORRUPT', message: expect.stringContaining('no metaData') });
  });

  it('an empty location is OTSL_LAKE_NOT_A_TABLE and a broken commit line is OTSL_LAKE_LOG_CORRUPT', async () => {
    expect(await codeOf(loadSnapshot(store))).toBe('OTSL_LAKE_NOT_A_TABLE');
    await commit(0, [protocol(), metaData()]);
    await store.put(commitKey(1), new TextEncoder().encode('{"add":{"path":"x"\n'));
    expect(await codeOf(loadSnapshot(store))).toBe('OTSL_LAKE_LOG_CORRUPT');
  });

  it('refuses unknown reader features and reader versions above 3, naming the feature', async () => {
    await commit(0, [protocol(3, 7, { readerFeatures: ['catalogManaged'], writerFeatures: ['catalogManaged'] }), metaData()]);
    await expect(loadSnapshot(store)).rejects.toMatchObject({ code: 'OTSL_LAKE_UNSUPPORTED_FEATURE', context: { feature: 'catalogManaged' } });
    await commit(1, [protocol(4, 7)]);
    await expect(loadSnapshot(store)).rejects.toMatchObject({ code: 'OTSL_LAKE_UNSUPPORTED_FEATURE' });
  });
});

describe('loadSnapshot: checkpoint hints and fallbacks', () => {
  it('ignores a corrupt _last_checkpoint and one pointing at a missing checkpoint', async () => {
    await commit(0, [protocol(), metaData(), add('a.parquet')]);
    await commit(1, [add('b.parquet')]);
    await store.put(LAST_CHECKPOINT, new TextEncoder().encode('{not json'));
    expect((await loadSnapshot(store)).files.size).toBe(2);
    await store.put(LAST_CHECKPOINT, new TextEncoder().encode('{"version":1,"size":3}'));
    const s = await loadSnapshot(store);
    expect(s.files.size).toBe(2);
    expect(s.checkpointVersion).toBeNull();
  });

  it('falls back to the JSON commits when a checkpoint is partial, and ignores incomplete multi-part checkpoints', async () => {
    await commit(0, [protocol(), metaData(), add('a.parquet')]);
    await commit(1, [add('b.parquet')]);
    await commit(2, [add('c.parquet')]);
    await store.put(checkpointKey(1), new TextEncoder().encode('PAR1 truncated'));
    await store.put('_delta_log/00000000000000000002.checkpoint.0000000001.0000000002.parquet', new TextEncoder().encode('PAR1'));
    await store.put(LAST_CHECKPOINT, new TextEncoder().encode('{"version":2,"size":3,"parts":2}'));
    const s = await loadSnapshot(store);
    expect(s.version).toBe(2);
    expect(s.files.size).toBe(3);
    expect(s.checkpointVersion).toBeNull();
  });
});

describe('helpers', () => {
  it('parseStats parses lazily and tolerates absent or broken stats', () => {
    expect(parseStats({ stats: '{"numRecords":5,"minValues":{"id":1}}' })).toEqual({ numRecords: 5, minValues: { id: 1 } });
    expect(parseStats({})).toBeNull();
    expect(parseStats({ stats: '{broken' })).toBeNull();
  });

  it('decodeFilePath undoes the URI encoding of add.path once', () => {
    expect(decodeFilePath('ts=2013-07-05%2017%253A01%253A00.123456/part-0.parquet')).toBe('ts=2013-07-05 17%3A01%3A00.123456/part-0.parquet');
    expect(() => decodeFilePath('bad%zz')).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_LOG_CORRUPT' }));
  });

  it('parseIntervalMs reads Spark intervals and rejects garbage', () => {
    expect(parseIntervalMs('interval 1 week')).toBe(7 * DAY_MS);
    expect(parseIntervalMs('interval 2 days 3 hours')).toBe(2 * DAY_MS + 3 * 3_600_000);
    expect(() => parseIntervalMs('interval a fortnight', 'delta.x')).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_LOG_CORRUPT' }));
  });

  it('readCommitInfos returns commitInfo, timestamp and txns from a version on', async () => {
    await commit(0, [commitInfo(1000), protocol(), metaData()]);
    await commit(1, [commitInfo(2000), { txn: { appId: 'x', version: 1 } }, add('a.parquet')]);
    await commit(2, [commitInfo(3000), { txn: { appId: 'x', version: 2 } }, { txn: { appId: 'y', version: 1 } }]);
    const infos = await readCommitInfos(store, 1);
    expect(infos.map((c) => c.version)).toEqual([1, 2]);
    expect(infos.map((c) => c.timestamp)).toEqual([2000, 3000]);
    expect(infos[1]!.txns.map((t) => t.appId)).toEqual(['x', 'y']);
    expect(infos[0]!.commitInfo?.operation).toBe('WRITE');
    expect((await readCommitInfos(store, 0, { toVersion: 0 })).map((c) => c.version)).toEqual([0]);
  });
});

describe('advanceSnapshot', () => {
  const summary = (s: Awaited<ReturnType<typeof loadSnapshot>>) => ({
    version: s.version,
    files: [...s.files.keys()].sort(),
    tombstones: [...s.tombstones.keys()].sort(),
    txns: [...s.txns.entries()].map(([k, t]) => [k, t.version]).sort(),
    configuration: s.metadata.configuration,
    protocol: s.protocol,
    timestamp: s.timestamp,
  });

  it('replays only the new commits and equals a full load at every step', async () => {
    await commit(0, [commitInfo(1000), protocol(), metaData(), add('a.parquet'), add('b.parquet')]);
    let snap = await loadSnapshot(store, { nowMs: NOW });
    await commit(1, [commitInfo(2000), remove('a.parquet', NOW - 1000), add('c.parquet'), { txn: { appId: 'otslake/t/ch1', version: 1, lastUpdated: NOW } }]);
    await commit(2, [commitInfo(3000), metaData({ 'delta.appendOnly': 'true' }), { txn: { appId: 'otslake/t/ch1', version: 3, lastUpdated: NOW } }]);
    snap = await advanceSnapshot(store, snap, { nowMs: NOW });
    expect(summary(snap)).toEqual(summary(await loadSnapshot(store, { nowMs: NOW })));
    expect(snap.version).toBe(2);
    expect(snap.txns.get('otslake/t/ch1')?.version).toBe(3);
    // Nothing new: the same snapshot comes back.
    expect(await advanceSnapshot(store, snap, { nowMs: NOW })).toBe(snap);
    await commit(3, [commitInfo(4000), protocol(1, 4), add('d.parquet')]);
    snap = await advanceSnapshot(store, snap, { nowMs: NOW });
    expect(summary(snap)).toEqual(summary(await loadSnapshot(store, { nowMs: NOW })));
  });

  it('falls back to a full load when the commits it needs were cleaned up behind a checkpoint', async () => {
    await commit(0, [commitInfo(1000), protocol(), metaData(), add('a.parquet')]);
    const old = await loadSnapshot(store, { nowMs: NOW });
    await commit(1, [commitInfo(2000), add('b.parquet')]);
    await commit(2, [commitInfo(3000), add('c.parquet')]);
    await writeCheckpoint(store, await loadSnapshot(store, { nowMs: NOW }));
    await store.delete(commitKey(0));
    await store.delete(commitKey(1)); // log cleanup behind the checkpoint at 2
    const advanced = await advanceSnapshot(store, old, { nowMs: NOW });
    expect(summary(advanced)).toEqual(summary(await loadSnapshot(store, { nowMs: NOW })));
    expect(advanced.checkpointVersion).toBe(2);
  });
});
