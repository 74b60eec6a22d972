/**
 * Base-data records kept per row (base-images.ts): basePage() must answer exactly what encoding
 * the current row image answers (scan() + encodeStreamRecord), whatever was kept before, after
 * every kind of write; kept bytes (from a row's second read on) are shared between reads of an unchanged row; the budget bounds
 * what is kept without changing what is answered.
 */
import { describe, expect, it } from 'vitest';
import type { ColumnValue, PkCell } from '../../../emulator/tablestore/model.js';
import { encodeStreamRecord } from '../../../emulator/tablestore/plainbuffer-write.js';
import { BaseImages, type ImageRow } from '../../../emulator/tablestore/base-images.js';
import { TableStore, type RowWrite } from '../../../emulator/tablestore/table-store.js';
import { seededRandom } from '../../helpers/seeded-random.js';

const ALL = { hashStart: 0, hashEnd: 2 ** 32 };
const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');
const key = (i: number): PkCell[] => [
  { name: 'g', value: { type: 'STRING', value: `g${i % 7}` } },
  { name: 'id', value: { type: 'INTEGER', value: BigInt(i) } },
];

function randomValue(rand: () => number): ColumnValue {
  switch (Math.floor(rand() * 5)) {
    case 0:
      return { type: 'INTEGER', value: BigInt(Math.floor(rand() * 2 ** 53)) - 2n ** 52n };
    case 1:
      return { type: 'STRING', value: ['', 'x', 'é中', 'long '.repeat(30)][Math.floor(rand() * 4)]! };
    case 2:
      return { type: 'BINARY', value: Uint8Array.from({ length: Math.floor(rand() * 20) }, () => Math.floor(rand() * 256)) };
    case 3:
      return { type: 'DOUBLE', value: [0, -0, NaN, 1.5, -1e300][Math.floor(rand() * 5)]! };
    default:
      return { type: 'BOOLEAN', value: rand() < 0.5 };
  }
}

/** Names out of order on purpose (the image sorts them), some sharing a prefix. */
const NAMES = ['zeta', 'a', 'b', 'ab', 'B', 'é', 'amount'];

function randomWrite(rand: () => number, rows: number, ts: number): RowWrite {
  const primaryKey = key(Math.floor(rand() * rows));
  const pick = () => NAMES[Math.floor(rand() * NAMES.length)]!;
  const r = rand();
  if (r < 0.35) {
    const cells = Array.from({ length: Math.floor(rand() * 5) }, () => ({ name: pick(), value: randomValue(rand), timestamp: ts }));
    return { kind: 'put', primaryKey, cells, condition: 'IGNORE' };
  }
  if (r < 0.85) {
    const changes = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => {
      const c = rand();
      if (c < 0.6) return { op: 'put' as const, name: pick(), value: randomValue(rand), timestamp: ts - Math.floor(rand() * 3) };
      if (c < 0.8) return { op: 'delete-one' as const, name: pick(), timestamp: ts - 1 };
      return { op: 'delete-all' as const, name: pick() };
    });
    return { kind: 'update', primaryKey, changes, condition: 'IGNORE' };
  }
  return { kind: 'delete', primaryKey, condition: 'IGNORE' };
}

/** What a base read must answer now: the current images, freshly encoded. */
function expected(store: TableStore, table: string, range = ALL): string[] {
  return store.scan(table, range, null, 1_000_000).rows.map((row) => hex(encodeStreamRecord(row, { withSequence: false })));
}

function basePages(store: TableStore, table: string, pageSize: number, range = ALL): Uint8Array[] {
  const out: Uint8Array[] = [];
  let after: PkCell[] | null = null;
  for (;;) {
    const page = store.basePage(table, range, after, pageSize);
    expect(page.records).toHaveLength(page.primaryKeys.length);
    out.push(...page.records);
    if (page.done) return out;
    after = page.primaryKeys.at(-1)!;
  }
}

describe('basePage: kept base-data records', () => {
  it('answers the current row images, byte for byte, across random writes between reads (maxVersions 1 and 3)', () => {
    for (const maxVersions of [1, 3]) {
      const rand = seededRandom(maxVersions);
      const store = new TableStore({ partitionsPerTable: 2 });
      store.createTable({
        name: 't',
        primaryKey: [
          { name: 'g', type: 'STRING' },
          { name: 'id', type: 'INTEGER' },
        ],
        maxVersions,
      });
      let ts = 1_700_000_000_000;
      for (let round = 0; round < 30; round++) {
        store.writeRows(
          't',
          Array.from({ length: 40 }, () => randomWrite(rand, 60, ts++)),
        );
        // Every read in between keeps images that the next round's writes must drop.
        expect(basePages(store, 't', 1 + (round % 9)).map(hex), `round ${round}`).toEqual(expected(store, 't'));
        for (const range of store.partitions('t')) expect(basePages(store, 't', 1000, range).map(hex)).toEqual(expected(store, 't', range));
      }
    }
  });

  it('shows an update, a replacing put and a delete after the rows were read once; unchanged rows share their kept bytes', () => {
    const store = new TableStore({ partitionsPerTable: 1 });
    store.createTable({
      name: 't',
      primaryKey: [
        { name: 'g', type: 'STRING' },
        { name: 'id', type: 'INTEGER' },
      ],
    });
    const put = (i: number, cells: Array<[string, ColumnValue]>): RowWrite => ({
      kind: 'put',
      primaryKey: key(i),
      cells: cells.map(([name, value]) => ({ name, value, timestamp: 1000 })),
      condition: 'IGNORE',
    });
    const s = (v: string): ColumnValue => ({ type: 'STRING', value: v });
    store.writeRows(
      't',
      [1, 2, 3, 4].map((i) =>
        put(i, [
          ['name', s(`n${i}`)],
          ['amount', { type: 'DOUBLE', value: i }],
        ]),
      ),
    );
    const once = store.basePage('t', ALL, null, 100);
    const first = store.basePage('t', ALL, null, 100);
    expect(first.records.map(hex)).toEqual(expected(store, 't'));
    // Kept from a row's second read on: the first read kept nothing, the third shares the second's bytes.
    expect(first.records.some((b, i) => b === once.records[i])).toBe(false);
    expect(store.basePage('t', ALL, null, 100).records.every((b, i) => b === first.records[i])).toBe(true);

    store.writeRows('t', [
      { kind: 'update', primaryKey: key(1), changes: [{ op: 'put', name: 'name', value: s('changed'), timestamp: 2000 }], condition: 'IGNORE' },
      put(2, [['other', s('replaced')]]),
      { kind: 'delete', primaryKey: key(3), condition: 'IGNORE' },
    ]);
    const second = store.basePage('t', ALL, null, 100);
    expect(second.records.map(hex)).toEqual(expected(store, 't'));
    const ids = second.primaryKeys.map((pk) => Number(pk[1]!.value.value));
    expect(ids.sort()).toEqual([1, 2, 4]);
    const at = (page: typeof first, id: number) => page.records[page.primaryKeys.findIndex((pk) => pk[1]!.value.value === BigInt(id))]!;
    expect(Buffer.from(at(second, 1)).includes('changed')).toBe(true);
    expect(Buffer.from(at(second, 2)).includes('replaced')).toBe(true);
    expect(Buffer.from(at(second, 2)).includes('n2')).toBe(false);
    // The untouched row is answered from the bytes kept before; the written ones were encoded again,
    // and are kept again only from their next read on.
    expect(at(second, 4)).toBe(at(first, 4));
    expect(at(second, 1)).not.toBe(at(first, 1));
    const third = store.basePage('t', ALL, null, 100);
    expect(at(third, 1)).not.toBe(at(second, 1));
    expect(store.basePage('t', ALL, null, 100).records.every((b, i) => b === third.records[i])).toBe(true);
    // A deleted and re-created row is a new row: no image survives from before.
    store.writeRows('t', [put(3, [['name', s('back')]])]);
    expect(store.basePage('t', ALL, null, 100).records.map(hex)).toEqual(expected(store, 't'));
  });

  it('keeps no more than the budget and still answers every row, also after the kept rows were all rewritten', () => {
    const slab = 256 * 1024;
    const store = new TableStore({ partitionsPerTable: 1, baseImageBytes: slab });
    store.createTable({
      name: 't',
      primaryKey: [
        { name: 'g', type: 'STRING' },
        { name: 'id', type: 'INTEGER' },
      ],
    });
    const rows = 6000; // ~90 bytes each: about twice what one slab holds
    const write = (tag: string) =>
      store.writeRows(
        't',
        Array.from({ length: rows }, (_, i) => ({
          kind: 'put' as const,
          primaryKey: key(i),
          cells: [{ name: 'v', value: { type: 'STRING' as const, value: `${tag}-${i}-${'x'.repeat(40)}` }, timestamp: 1 }],
          condition: 'IGNORE' as const,
        })),
      );
    write('a');
    basePages(store, 't', 1000); // read once: nothing kept yet
    const once = basePages(store, 't', 1000);
    const twice = basePages(store, 't', 1000);
    expect(twice.map(hex)).toEqual(expected(store, 't'));
    const shared = twice.filter((b, i) => b === once[i]).length;
    // Kept rows come back as the same bytes; the rest past one slab are encoded per read.
    expect(shared).toBeGreaterThan(1000);
    expect(shared).toBeLessThan(rows);
    expect(shared * 90).toBeLessThanOrEqual(slab);
    // Every kept row written again: its slab is dead bytes, so the table starts over within the same budget.
    write('b');
    basePages(store, 't', 1000);
    const after = basePages(store, 't', 1000);
    expect(after.map(hex)).toEqual(expected(store, 't'));
    const again = basePages(store, 't', 1000);
    expect(again.filter((b, i) => b === after[i]).length).toBeGreaterThan(1000);
  });

  it('keeps nothing with a zero budget, and a deleted table gives its share back', () => {
    const none = new TableStore({ partitionsPerTable: 1, baseImageBytes: 0 });
    none.createTable({
      name: 't',
      primaryKey: [
        { name: 'g', type: 'STRING' },
        { name: 'id', type: 'INTEGER' },
      ],
    });
    none.writeRows('t', [{ kind: 'put', primaryKey: key(1), cells: [], condition: 'IGNORE' }]);
    const [a, b] = [none.basePage('t', ALL, null, 10).records[0]!, none.basePage('t', ALL, null, 10).records[0]!];
    expect(hex(a)).toBe(hex(b));
    expect(a).not.toBe(b);

    const store = new TableStore({ partitionsPerTable: 1, baseImageBytes: 256 * 1024 });
    for (const round of [1, 2]) {
      store.createTable({
        name: 't',
        primaryKey: [
          { name: 'g', type: 'STRING' },
          { name: 'id', type: 'INTEGER' },
        ],
      });
      store.writeRows('t', [{ kind: 'put', primaryKey: key(1), cells: [], condition: 'IGNORE' }]);
      store.basePage('t', ALL, null, 10);
      const first = store.basePage('t', ALL, null, 10).records[0]!;
      // Kept in both rounds: the first table's slab left the budget with the table.
      expect(store.basePage('t', ALL, null, 10).records[0], `round ${round}`).toBe(first);
      store.deleteTable('t');
    }
  });

  it('never walks the rows of a table that holds no slab (zero budget, or the budget held by other tables)', () => {
    for (const budget of [
      { limitBytes: 0, usedBytes: 0 },
      { limitBytes: 256 * 1024, usedBytes: 256 * 1024 },
    ]) {
      const rows: ImageRow[] = Array.from({ length: 50 }, (_, i) => ({
        primaryKey: key(i),
        columns: new Map([['v', [{ value: { type: 'INTEGER' as const, value: BigInt(i) }, timestamp: 1 }]]]),
        image: undefined,
      }));
      let walks = 0;
      const images = new BaseImages(budget, () => {
        walks++;
        return rows;
      });
      // Three reads: the second and third would keep, but the budget allows nothing.
      for (let read = 0; read < 3; read++) {
        for (const row of rows) {
          const bytes = images.bytesOf(row);
          expect(hex(bytes)).toBe(
            hex(
              encodeStreamRecord(
                { primaryKey: row.primaryKey, cells: [{ name: 'v', value: row.columns.get('v')![0]!.value, timestamp: 1 }] },
                { withSequence: false },
              ),
            ),
          );
        }
      }
      expect(walks).toBe(0);
      expect(budget.usedBytes).toBe(budget.limitBytes);
    }
  });
});
