import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalStore } from '../../../lake/local-store.js';
import { claimOffsetEntry, listOffsetEntries, offsetEntryKey, parseTxnAppId, pruneOffsetEntries, readOffsetEntry, txnAppId } from '../../../lake/offset-log.js';

let dir: string;
let store: LocalStore;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'otsl-offsets-'));
  store = new LocalStore(dir, { fsync: false });
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const entry = (channelId: string, endToken: string) => ({
  tunnelId: 'tun-1',
  channelId,
  batchId: `b-${endToken}`,
  startToken: 'S',
  endToken,
  finished: false,
  records: 1,
});

describe('offset log', () => {
  it('round-trips appIds, including channel ids with separators', () => {
    expect(parseTxnAppId(txnAppId('tun-1', 'BaseData_p/1'))).toEqual({ tunnelId: 'tun-1', channelId: 'BaseData_p/1' });
    expect(parseTxnAppId('spark-query-7')).toBeNull();
  });

  it('claims the next number above the committed one and reads back the entry in force', async () => {
    const first = await claimOffsetEntry(store, 0, entry('ch', 'T1'));
    expect(first.seq).toBe(1);
    const second = await claimOffsetEntry(store, 1, entry('ch', 'T2'));
    expect(second.seq).toBe(2);
    expect(await readOffsetEntry(store, 'tun-1', 'ch', 2)).toMatchObject({ seq: 2, endToken: 'T2', batchId: 'b-T2' });
  });

  it('skips entries left by batches that never committed instead of overwriting them', async () => {
    await claimOffsetEntry(store, 0, entry('ch', 'T1'));
    await claimOffsetEntry(store, 1, entry('ch', 'LEFTOVER-A')); // seq 2, never committed
    await claimOffsetEntry(store, 1, entry('ch', 'LEFTOVER-B')); // seq 3, never committed
    const redo = await claimOffsetEntry(store, 1, entry('ch', 'REDO'));
    expect(redo.seq).toBe(4);
    expect((await readOffsetEntry(store, 'tun-1', 'ch', 2)).endToken).toBe('LEFTOVER-A');
    expect(await listOffsetEntries(store, 'tun-1', 'ch')).toEqual([1, 2, 3, 4]);
  });

  it('gives racing claimers distinct numbers, so their commits fence each other', async () => {
    const claims = await Promise.all(Array.from({ length: 6 }, (_, i) => claimOffsetEntry(store, 0, entry('ch', `R${i}`))));
    const seqs = claims.map((c) => c.seq).sort((a, b) => a - b);
    expect(new Set(seqs).size).toBe(6);
    for (const c of claims) expect((await readOffsetEntry(store, 'tun-1', 'ch', c.seq)).endToken).toBe(c.endToken);
  });

  it('a txn naming a missing entry is a corrupt-log error naming the file', async () => {
    await expect(readOffsetEntry(store, 'tun-1', 'ch', 9)).rejects.toMatchObject({
      code: 'OTSL_LAKE_LOG_CORRUPT',
      context: { channelId: 'ch', version: 9, file: offsetEntryKey('tun-1', 'ch', 9) },
    });
  });

  it('prunes only entries below the one in force and older than the minimum age', async () => {
    for (let i = 0; i < 5; i++) await claimOffsetEntry(store, i, entry('a', `A${i}`)); // a: 1..5
    for (let i = 0; i < 3; i++) await claimOffsetEntry(store, i, entry('b', `B${i}`)); // b: 1..3
    const txns = new Map([
      [txnAppId('tun-1', 'a'), 4],
      [txnAppId('tun-1', 'b'), 1],
      ['someone-else', 3],
    ]);
    // Too young: nothing goes.
    expect(await pruneOffsetEntries(store, txns, { minAgeMs: 60_000 })).toBe(0);
    const deleted = await pruneOffsetEntries(store, txns, { minAgeMs: 60_000, nowMs: Date.now() + 120_000 });
    expect(deleted).toBe(3);
    expect(await listOffsetEntries(store, 'tun-1', 'a')).toEqual([4, 5]); // in force + a batch in flight
    expect(await listOffsetEntries(store, 'tun-1', 'b')).toEqual([1, 2, 3]);
  });
});
