/**
 * Checkpoints written by otslake are complete (a copy without the JSON commits they cover reads the
 * same in chdb and in loadSnapshot) and in Spark's schema; a crash around `_last_checkpoint` never
 * breaks a load.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Action, StructType } from '../../lake/actions.js';
import { checkpointIfDue, writeCheckpoint } from '../../lake/checkpoint-writer.js';
import { commitKey, checkpointKey } from '../../lake/log-path.js';
import { dataColumnsOf } from '../../lake/parquet-columns.js';
import { writeParquetFiles } from '../../lake/parquet-file.js';
import { readParquetMetadata, readRowsViaArrow } from '../../lake/parquet-read.js';
import { loadSnapshot, type Snapshot } from '../../lake/snapshot.js';
import { createTable } from '../../lake/table-create.js';
import { addActionFor, commit, removeActionFor, txnAction } from '../../lake/transaction.js';
import { LocalStore } from '../../lake/local-store.js';
import { deltaSql, runChdb } from '../helpers/chdb.js';

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: 'v', type: 'string', nullable: true, metadata: {} },
    { name: 'region', type: 'string', nullable: true, metadata: {} },
  ],
};

let root: string;
let dir: string;
let store: LocalStore;
const checkpoints: number[] = [];

function summary(s: Snapshot) {
  return {
    files: [...s.files.keys()].sort(),
    tombstones: [...s.tombstones.keys()].sort(),
    txns: Object.fromEntries([...s.txns].map(([k, t]) => [k, t.version])),
    schema: s.metadata.schemaString,
    protocol: s.protocol,
  };
}

beforeAll(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'otslake-ckpt-'));
  dir = path.join(root, 'table');
  store = new LocalStore(dir, { fsync: false });
  await createTable(store, { schema: SCHEMA, partitionColumns: ['region'], configuration: { 'delta.checkpointInterval': '5' } });
  const columns = dataColumnsOf(SCHEMA, ['region']);
  for (let v = 1; v <= 7; v++) {
    const region = v % 2 ? 'us east' : null; // a space and a null partition exercise the path and map encodings
    const files = await writeParquetFiles(
      [
        { id: BigInt(v * 10), v: `r${v}` },
        { id: BigInt(v * 10 + 1), v: null },
      ],
      { store, columns, partitionValues: { region } },
    );
    const actions: Action[] = [txnAction(`otslake/t/c${v % 3}`, v), ...files.map((f) => addActionFor(f))];
    if (v === 4) {
      // Retire the file of version 1: its remove must survive in the checkpoint as a tombstone.
      const snap = await loadSnapshot(store);
      const first = [...snap.files.values()].find((a) => a.stats?.includes('"minValues":{"id":10'))!;
      actions.push(removeActionFor(first, { dataChange: true }));
    }
    const result = await commit(store, actions, { readVersion: v - 1, operation: 'STREAMING UPDATE' });
    expect(result).toMatchObject({ kind: 'committed', version: v });
    const cp = await checkpointIfDue(store, v);
    if (cp) checkpoints.push(cp.version);
  }
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe('checkpoint writer', () => {
  it('checkpoints every delta.checkpointInterval commits and writes _last_checkpoint after it', async () => {
    expect(checkpoints).toEqual([5]);
    const hint = JSON.parse(await readFile(path.join(dir, '_delta_log/_last_checkpoint'), 'utf8'));
    const snap5 = await loadSnapshot(store, { version: 5 });
    expect(hint).toMatchObject({ version: 5, numOfAddFiles: snap5.files.size, size: 2 + snap5.txns.size + snap5.files.size + snap5.tombstones.size });
    const bytes = await readFile(path.join(dir, checkpointKey(5)));
    expect(hint.sizeInBytes).toBe(bytes.length);
  });

  it('uses Spark checkpoint types: nullable action structs, a real MAP for partitionValues, 3-level lists', async () => {
    const meta = readParquetMetadata(await readFile(path.join(dir, checkpointKey(5))));
    const names = meta.schema.map((s) => s.name);
    for (const top of ['txn', 'add', 'remove', 'metaData', 'protocol']) {
      expect(meta.schema.find((s) => s.name === top)).toMatchObject({ repetition_type: 'OPTIONAL' });
    }
    const pvIndex = names.indexOf('partitionValues');
    expect(meta.schema[pvIndex]).toMatchObject({ converted_type: 'MAP' });
    expect(meta.schema[pvIndex + 1]).toMatchObject({ name: 'key_value', repetition_type: 'REPEATED' });
    expect(meta.schema[pvIndex + 2]).toMatchObject({ name: 'key', repetition_type: 'REQUIRED' });
    const pc = names.indexOf('partitionColumns');
    expect(meta.schema[pc]).toMatchObject({ converted_type: 'LIST' });
    expect(meta.schema[pc + 1]).toMatchObject({ name: 'list', repetition_type: 'REPEATED' });
    expect(meta.schema[pc + 2]).toMatchObject({ name: 'element' });
  });

  it('is complete: without the JSON it covers, chdb and loadSnapshot read the same table', async () => {
    const copy = path.join(root, 'copy');
    await cp(dir, copy, { recursive: true });
    for (let v = 0; v <= 5; v++) await rm(path.join(copy, commitKey(v)));
    const copyStore = new LocalStore(copy, { fsync: false });

    const [orig, fromCheckpoint] = await Promise.all([loadSnapshot(store), loadSnapshot(copyStore)]);
    expect(fromCheckpoint.checkpointVersion).toBe(5);
    expect(summary(fromCheckpoint)).toEqual(summary(orig));
    expect(fromCheckpoint.tombstones.size).toBe(1);
    expect(fromCheckpoint.files.get([...orig.files.keys()][0]!)).toEqual(orig.files.get([...orig.files.keys()][0]!));

    const out = await runChdb([deltaSql(dir, { orderBy: 'id' }), deltaSql(copy, { orderBy: 'id' }), deltaSql(copy, { orderBy: 'id', version: 5 })]);
    expect(out[0]!.ok).toBe(true);
    expect(out[1]).toEqual(out[0]);
    const rows = out[0]!.ok ? out[0]!.rows : [];
    expect(rows.map((r) => r.id)).toEqual(['20', '21', '30', '31', '40', '41', '50', '51', '60', '61', '70', '71']);
    expect(rows.find((r) => r.id === '20')).toEqual({ id: '20', v: 'r2', region: null });
    expect(rows.find((r) => r.id === '30')).toEqual({ id: '30', v: 'r3', region: 'us east' });
    expect(out[2]!.ok && out[2]!.rows.length).toBe(8);
  });

  it('a stale or dangling _last_checkpoint never breaks a load (crash between the two writes)', async () => {
    const copy = path.join(root, 'crash');
    await cp(dir, copy, { recursive: true });
    const copyStore = new LocalStore(copy, { fsync: false });
    const want = summary(await loadSnapshot(store));
    // The hint names a checkpoint whose put never happened.
    await writeFile(path.join(copy, '_delta_log/_last_checkpoint'), JSON.stringify({ version: 7, size: 3, sizeInBytes: 100, numOfAddFiles: 1 }));
    expect(summary(await loadSnapshot(copyStore))).toEqual(want);
    // No hint at all (crash before it was first written).
    await rm(path.join(copy, '_delta_log/_last_checkpoint'));
    expect(summary(await loadSnapshot(copyStore))).toEqual(want);
    const out = await runChdb([deltaSql(copy, { select: 'id', orderBy: 'id' })]);
    expect(out[0]!.ok && out[0]!.rows.length).toBe(12);
  });

  it('leaves an existing checkpoint alone and does not move the hint backwards', async () => {
    const before = await readFile(path.join(dir, checkpointKey(5)));
    const again = await checkpointIfDue(store, 5);
    expect(again).toMatchObject({ version: 5, written: false });
    expect(await readFile(path.join(dir, checkpointKey(5)))).toEqual(before);
    expect(await checkpointIfDue(store, 6)).toBeNull();
  });

  it('a checkpoint of thousands of actions (read back through parquet-rs) holds every file, tombstone and txn', async () => {
    const big = new LocalStore(path.join(root, 'big'), { fsync: false });
    await createTable(big, { schema: SCHEMA, partitionColumns: ['region'], configuration: {} });
    await commit(big, [txnAction('otslake/big/ch', 1)], { readVersion: 0, operation: 'STREAMING UPDATE' });
    const snapshot = await loadSnapshot(big);
    const now = Date.now();
    for (let i = 0; i < 1_500; i++) {
      const region = i % 3 === 0 ? null : i % 3 === 1 ? 'us east' : 'zone \u00e9\u4e1c';
      const p = `region=${encodeURIComponent(String(region))}/part-${i}.parquet`;
      snapshot.files.set(p, {
        path: p,
        partitionValues: { region },
        size: 1000 + i,
        modificationTime: now - i,
        dataChange: true,
        stats: JSON.stringify({ numRecords: i, minValues: { id: i, v: `v${i}` }, maxValues: { id: i + 1, v: `w${i}` }, nullCount: { id: 0, v: i % 2 } }),
        ...(i % 5 === 0 ? { tags: { bucket: String(i % 7), keyMin: `k${i}` } } : {}),
      });
    }
    for (let i = 0; i < 3_000; i++) {
      const p = `region=us%20east/old-${i}.parquet`;
      snapshot.tombstones.set(p, {
        path: p,
        deletionTimestamp: now - i,
        dataChange: i % 2 === 0,
        extendedFileMetadata: true,
        partitionValues: { region: 'us east' },
        size: i,
      });
    }
    for (let i = 0; i < 50; i++) snapshot.txns.set(`otslake/big/ch-${i}`, { appId: `otslake/big/ch-${i}`, version: i * 1000, lastUpdated: now });
    await writeCheckpoint(big, snapshot);

    // Large enough for the parquet-rs path, which must take it (no silent hyparquet fallback).
    expect(readRowsViaArrow(await big.get(checkpointKey(1)), ['txn', 'add', 'remove', 'metaData', 'protocol'])).toHaveLength(2 + 51 + 1_500 + 3_000);
    const loaded = await loadSnapshot(big);
    expect(loaded.checkpointVersion).toBe(1);
    const sorted = <T>(m: Map<string, T>) => [...m].sort(([a], [b]) => (a < b ? -1 : 1));
    expect(sorted(loaded.files)).toEqual(sorted(snapshot.files));
    expect(sorted(loaded.tombstones)).toEqual(sorted(snapshot.tombstones));
    expect(sorted(loaded.txns)).toEqual(sorted(snapshot.txns));
    expect(loaded.metadata).toEqual({ name: null, description: null, ...snapshot.metadata });
    expect(loaded.protocol).toEqual(snapshot.protocol);
  });
});
