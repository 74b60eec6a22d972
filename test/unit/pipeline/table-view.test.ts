/**
 * The pipeline's cross-batch state against a real table in a temp dir: the view cache advances over
 * other writers' commits (reading only those) and resets every channel position when it does, keeps
 * them across our own commit, and forgets both when our commit landed above someone else's.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../common/log.js';
import { LocalStore } from '../../../lake/local-store.js';
import { createTable } from '../../../lake/table-create.js';
import { commit, txnAction } from '../../../lake/transaction.js';
import { ChannelPositions, needsCheckpoint, type ChannelPosition } from '../../../pipeline/channel-positions.js';
import { TableViewCache } from '../../../pipeline/table-view.js';
import { createTmpDir, type TmpDir } from '../../helpers/tmp-dir.js';

let dir: TmpDir;
let store: LocalStore;

beforeEach(async () => {
  dir = await createTmpDir('otslake-table-view-');
  store = new LocalStore(dir.path);
  await createTable(store, { schema: { type: 'struct', fields: [{ name: 'id', type: 'long', nullable: false, metadata: {} }] } });
});

afterEach(async () => {
  await dir.cleanup();
});

const position = (channelId: string, over: Partial<ChannelPosition> = {}): ChannelPosition => ({
  channelId,
  assignment: 1,
  committedSeq: 0,
  token: 't0',
  finished: false,
  checkpointedToken: 't0',
  ...over,
});

describe('ChannelPositions', () => {
  it('moves a channel only through its named transitions', () => {
    const positions = new ChannelPositions(silentLogger, 't');
    positions.resolve('a', position('a'));
    positions.resolve('b', position('b'));
    positions.resolve('gone', null);
    expect(positions.needsResolve({ channelId: 'a', assignment: 1 } as never)).toBe(false);
    expect(positions.needsResolve({ channelId: 'a', assignment: 2 } as never)).toBe(true);

    const advanced = positions.advance('a', { offsetSeq: 3, endToken: 't3', finished: false });
    expect(advanced).toMatchObject({ committedSeq: 3, token: 't3', checkpointedToken: 't0' });
    expect(needsCheckpoint(advanced!)).toBe(true);
    positions.checkpointed('a', 't3', false);
    expect(needsCheckpoint(positions.get('a')!)).toBe(false);

    positions.advance('b', { offsetSeq: 1, endToken: 'finished', finished: true });
    positions.checkpointed('b', 'finished', true);
    expect(positions.get('b')).toBeUndefined();

    positions.keepOnly(new Set(['x']));
    expect(positions.size).toBe(0);
    positions.resolve('c', position('c'));
    positions.reset('test');
    expect(positions.list()).toEqual([]);
  });
});

describe('TableViewCache', () => {
  it('advances over another writer’s commit and resets positions; follows our own commit without a reset', async () => {
    const positions = new ChannelPositions(silentLogger, 't');
    const cache = new TableViewCache(store, positions, silentLogger);
    const first = await cache.refresh();
    expect(first.version).toBe(0);
    positions.resolve('c1', position('c1'));
    expect(await cache.refresh()).toBe(first); // nothing new: the same object, positions kept
    expect(positions.size).toBe(1);

    // Another daemon commits channel c1.
    const other = await commit(store, [txnAction('otslake/t/c1', 5)], { readVersion: 0, operation: 'STREAMING UPDATE' });
    expect(other.kind).toBe('committed');
    const moved = await cache.refresh();
    expect(moved.version).toBe(1);
    expect(moved.txns.get('otslake/t/c1')).toBe(5);
    expect(positions.size).toBe(0);

    // Our own commit right on top: the view follows, positions stay.
    positions.resolve('c2', position('c2'));
    const ours = await commit(store, [txnAction('otslake/t/c2', 1)], { readVersion: 1, operation: 'STREAMING UPDATE' });
    if (ours.kind !== 'committed') throw new Error('expected a commit');
    cache.committed(moved, ours.version, moved.metadata, new Map([['otslake/t/c2', 1]]));
    expect(cache.current).toMatchObject({ version: 2 });
    expect(cache.current!.txns.get('otslake/t/c1')).toBe(5);
    expect(positions.size).toBe(1);
  });

  it('follows the commits our commit raced; resets only the channels they moved; forgets all when it cannot follow', async () => {
    const positions = new ChannelPositions(silentLogger, 't');
    const seen: number[] = [];
    const cache = new TableViewCache(store, positions, silentLogger, (others) => seen.push(...others.map((c) => c.version)));
    const view = await cache.refresh();
    positions.resolve('c1', position('c1'));
    positions.resolve('c2', position('c2'));
    await commit(store, [txnAction('otslake/t/c9', 1)], { readVersion: 0, operation: 'STREAMING UPDATE' });
    await commit(store, [txnAction('otslake/t/c2', 7)], { readVersion: 1, operation: 'STREAMING UPDATE' });
    const ours = await commit(store, [txnAction('otslake/t/c1', 1)], { readVersion: 0, operation: 'STREAMING UPDATE' });
    if (ours.kind !== 'committed') throw new Error('expected a commit');
    expect(ours.version).toBe(3);
    expect(ours.others.map((c) => c.version)).toEqual([1, 2]);
    cache.committed(view, ours.version, view.metadata, new Map([['otslake/t/c1', 1]]), ours.others);
    expect(cache.current?.version).toBe(3);
    expect(Object.fromEntries(cache.current!.txns)).toEqual({ 'otslake/t/c9': 1, 'otslake/t/c2': 7, 'otslake/t/c1': 1 });
    expect(seen).toEqual([1, 2]);
    // c2 was advanced by another daemon: its position is re-read; c1 (ours) stays.
    expect(positions.channelIds()).toEqual(new Set(['c1']));

    // Without the commits in between, the view cannot be followed: everything is forgotten.
    cache.committed(cache.current!, 9, view.metadata, new Map());
    expect(cache.current).toBeNull();
    expect(positions.size).toBe(0);
  });

  it('a lost race advances the view over the winner and resets only the channel it fenced', async () => {
    const positions = new ChannelPositions(silentLogger, 't');
    const cache = new TableViewCache(store, positions, silentLogger);
    const view = await cache.refresh();
    positions.resolve('c1', position('c1'));
    positions.resolve('c2', position('c2'));
    await commit(store, [txnAction('otslake/t/c1', 4)], { readVersion: 0, operation: 'STREAMING UPDATE' });
    const lost = await commit(store, [txnAction('otslake/t/c1', 1), txnAction('otslake/t/c2', 1)], { readVersion: 0, operation: 'STREAMING UPDATE' });
    if (lost.kind !== 'conflict') throw new Error('expected a conflict');
    expect(lost.fenced).toBe(true);
    cache.lostRace(view, lost.others, 'batch fenced');
    expect(cache.current?.version).toBe(1);
    expect(cache.current?.txns.get('otslake/t/c1')).toBe(4);
    expect(positions.channelIds()).toEqual(new Set(['c2']));
  });
});
