import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { Action, Metadata } from '../../../lake/actions.js';
import { addColumns } from '../../../lake/table-create.js';
import { commit, findConflict } from '../../../lake/transaction.js';
import type { ObjectStore } from '../../../lake/object-store.js';
import { LocalStore } from '../../../lake/local-store.js';
import { createTmpDir, type TmpDir } from '../../helpers/tmp-dir.js';

const meta: Metadata = {
  id: 'table-1',
  format: { provider: 'parquet', options: {} },
  schemaString: JSON.stringify({
    type: 'struct',
    fields: [
      { name: 'id', type: 'long', nullable: false, metadata: {} },
      { name: 'p', type: 'string', nullable: true, metadata: {} },
    ],
  }),
  partitionColumns: ['p'],
  configuration: {},
};
const add = (path: string): Action => ({ add: { path, partitionValues: {}, size: 1, modificationTime: 1, dataChange: true } });
const remove = (path: string): Action => ({ remove: { path, dataChange: false } });
const txn = (appId: string): Action => ({ txn: { appId, version: 1, lastUpdated: 1 } });

describe('findConflict', () => {
  it('lets blind appends pass each other', () => {
    expect(findConflict([add('a'), txn('x')], [add('b'), txn('y')], meta)).toBeNull();
  });

  it('fences on a winner txn for one of our appIds', () => {
    expect(findConflict([add('a'), txn('x')], [add('b'), txn('x')], meta)).toEqual({ fenced: true, reason: expect.stringContaining('x') });
  });

  it('conflicts when a winner removed a file we remove (URI-encoded either way)', () => {
    expect(findConflict([remove('p=a%20b/f.parquet')], [remove('p=a b/f.parquet')], meta)).toMatchObject({ fenced: false });
    expect(findConflict([remove('f1')], [remove('f2')], meta)).toBeNull();
  });

  it('accepts a winner that only added a column, rejects protocol changes and incompatible schemas', () => {
    expect(findConflict([add('a')], [{ metaData: addColumns(meta, [{ name: 'n', type: 'string' }]) }], meta)).toBeNull();
    expect(findConflict([add('a')], [{ metaData: addColumns(meta, [{ name: 'n', type: 'string' }]) }])).toMatchObject({ fenced: false });
    expect(findConflict([add('a')], [{ metaData: { ...meta, partitionColumns: [] } }], meta)).toMatchObject({ reason: 'the partition columns changed' });
    expect(findConflict([add('a')], [{ metaData: { ...meta, schemaString: JSON.stringify({ type: 'struct', fields: [] }) } }], meta)).toMatchObject({
      reason: expect.stringContaining('id'),
    });
    expect(findConflict([add('a')], [{ protocol: { minReaderVersion: 3, minWriterVersion: 7 } }], meta)).toMatchObject({
      reason: 'the table protocol changed',
    });
    expect(findConflict([add('a'), { metaData: meta }], [{ metaData: meta }], meta)).toMatchObject({ fenced: false });
  });
});

describe('commit input checks', () => {
  const store = {} as ObjectStore; // never reached: validation happens before any I/O
  it('rejects two txns for one appId, duplicate adds and a caller-made commitInfo', async () => {
    await expect(commit(store, [txn('x'), txn('x')], { readVersion: 0, operation: 'WRITE' })).rejects.toMatchObject({ code: 'OTSL_INTERNAL' });
    await expect(commit(store, [add('a'), add('a')], { readVersion: 0, operation: 'WRITE' })).rejects.toMatchObject({ code: 'OTSL_INTERNAL' });
    await expect(commit(store, [{ commitInfo: {} }], { readVersion: 0, operation: 'WRITE' })).rejects.toMatchObject({ code: 'OTSL_INTERNAL' });
  });

  it('refuses a column that exists already', () => {
    expect(() => addColumns(meta, [{ name: 'ID', type: 'long' }])).toThrow(expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA' }));
  });
});

describe('commit after a lost race', () => {
  let dir: TmpDir;
  beforeEach(async () => {
    dir = await createTmpDir();
  });
  afterEach(() => dir.cleanup());

  it('reads the winners after its pause, so the commits that landed during the pause do not cost it another race', async () => {
    const store = new LocalStore(dir.path);
    await commit(store, [add('a')], { readVersion: -1, operation: 'CREATE TABLE' });
    await commit(store, [add('b')], { readVersion: 0, operation: 'WRITE' }); // v1: we lose it
    let during: Promise<unknown> = Promise.resolve();
    const seen: number[][] = [];
    const ours = await commit(store, [add('ours')], {
      readVersion: 0,
      operation: 'WRITE',
      onLostRace: (others, lost) => {
        seen.push(others.map((c) => c.version));
        // Two more writers commit while we pause (v2, v3).
        during = commit(store, [add('c')], { readVersion: 1, operation: 'WRITE' }).then(() =>
          commit(store, [add('d')], { readVersion: 2, operation: 'WRITE' }),
        );
        return lost === 1 ? 200 : 0;
      },
    });
    await during;
    expect(ours).toMatchObject({ kind: 'committed', version: 4, attempts: 2 });
    expect(ours.others.map((c) => c.version)).toEqual([1, 2, 3]);
    expect(seen).toEqual([[]]);
  });
});
