/**
 * What tablestore-local keeps between reads (base images per row, stream bytes per log index) across the
 * lifecycle around them: a table deleted and created again under the same name with other rows, a trim of
 * the stream log that happens inside the read itself, a reader whose position the trim passed. Every answer
 * must be what encoding the current state answers.
 */
import { describe, expect, it } from 'vitest';
import type { PkCell } from '../../../emulator/tablestore/model.js';
import { encodeStreamRecord } from '../../../emulator/tablestore/plainbuffer-write.js';
import { TableStore } from '../../../emulator/tablestore/table-store.js';

const ALL = { hashStart: 0, hashEnd: 2 ** 32 };
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const pk = (i: number): PkCell[] => [{ name: 'id', value: { type: 'INTEGER', value: BigInt(i) } }];
const put = (i: number, text: string) => ({
  kind: 'put' as const,
  primaryKey: pk(i),
  cells: [{ name: 'v', value: { type: 'STRING' as const, value: text } }],
  condition: 'IGNORE' as const,
});

function baseHex(store: TableStore, table: string): string[] {
  return store.basePage(table, ALL, null, 1_000_000).records.map(hex);
}
function expectedBase(store: TableStore, table: string): string[] {
  return store.scan(table, ALL, null, 1_000_000).rows.map((row) => hex(encodeStreamRecord(row, { withSequence: false })));
}

describe('kept bytes of tablestore-local across deletes, re-creates and trims', () => {
  it('a table created again under the same name answers its own rows, never the kept bytes of the one deleted', () => {
    const store = new TableStore({ partitionsPerTable: 2, baseImageBytes: 1 << 20 });
    for (const round of ['old', 'new']) {
      store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }], streamEnabled: true, streamExpirationHours: 24 });
      store.writeRows(
        't',
        Array.from({ length: 50 }, (_, i) => put(i, `${round}-${i}`)),
      );
      // Read twice: the second answer comes from what the first kept.
      baseHex(store, 't');
      const base = baseHex(store, 't');
      expect(base).toEqual(expectedBase(store, 't'));
      expect(base.join('')).not.toContain(Buffer.from(round === 'new' ? 'old-' : 'new-').toString('hex'));
      for (const p of store.partitions('t')) {
        store.streamPage('t', p.id, 0, 1000);
        const page = store.streamPage('t', p.id, 0, 1000);
        expect(page.records.length).toBeGreaterThan(0);
        expect(page.bytes.map(hex)).toEqual(page.records.map((r) => hex(encodeStreamRecord(r, { withSequence: true }))));
        expect(page.records.every((r) => (r.changes[0] as { value: { value: string } }).value.value.startsWith(round))).toBe(true);
      }
      store.deleteTable('t');
    }
  });

  it('a trim inside the read itself (no logStart before it) keeps each record with its own bytes, for readers before and after the cut', () => {
    let nowUs = 1_700_000_000_000_000n;
    const store = new TableStore({ partitionsPerTable: 1, clockUs: () => nowUs });
    store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }], streamEnabled: true, streamExpirationHours: 1 });
    const p = store.partitions('t')[0]!.id;
    for (let i = 0; i < 2600; i++) {
      if (i === 1500) nowUs += 1_800_000_000n;
      store.writeRows('t', [put(i, `v${i}`)]);
    }
    // Bytes kept for the records on both sides of the coming cut, none yet for the last ones.
    store.streamPage('t', p, 0, 2400);
    nowUs += 1_800_000_001n; // the first 1500 are now past the retention
    const check = (from: number, limit: number) => {
      const page = store.streamPage('t', p, from, limit);
      expect(page.bytes.map(hex)).toEqual(page.records.map((r) => hex(encodeStreamRecord(r, { withSequence: true }))));
      return page;
    };
    // A reader the trim passed starts at the oldest record kept; one past the cut reads its own.
    expect(check(1200, 50).records[0]!.primaryKey[0]!.value).toEqual({ type: 'INTEGER', value: 1500n });
    expect(check(1550, 100).records[0]!.primaryKey[0]!.value).toEqual({ type: 'INTEGER', value: 1550n });
    expect(check(0, 5000).records).toHaveLength(1100);
    store.writeRows('t', [put(5000, 'after-trim')]);
    expect(check(2600, 10).records.map((r) => r.primaryKey[0]!.value)).toEqual([{ type: 'INTEGER', value: 5000n }]);
  });
});
