/**
 * The emulator's scratch-buffer encoder against the independent test encoder (test/helpers), on
 * random records of every value and cell kind, plus the kept bytes of recordBytesOf: equal to a
 * fresh encoding, stable while later records are encoded, and the same bytes on every re-read.
 */
import { describe, expect, it } from 'vitest';
import type { CellChange, ChangeRecord, ColumnValue, PkCell, StoredRow } from '../../../emulator/tablestore/model.js';
import { encodeRow, encodeStreamRecord, recordBytesOf } from '../../../emulator/tablestore/plainbuffer-write.js';
import { encodeRow as referenceEncode, type EncCell, type EncValue } from '../../helpers/plainbuffer-encoder.js';
import { seededRandom as prng } from '../../helpers/seeded-random.js';

const TEXTS = ['', 'a', 'status', 'é', 'zé中文', '😀 smile', 'x'.repeat(63), 'y'.repeat(64), 'long '.repeat(40), 'lone \ud800 surrogate'];

function randomValue(rand: () => number, pkOnly: boolean): ColumnValue {
  const kinds = pkOnly ? ['INTEGER', 'STRING', 'BINARY'] : ['INTEGER', 'STRING', 'BINARY', 'DOUBLE', 'BOOLEAN'];
  const kind = kinds[Math.floor(rand() * kinds.length)]!;
  switch (kind) {
    case 'INTEGER': {
      const choices = [0n, -1n, 2n ** 63n - 1n, -(2n ** 63n), BigInt(Math.floor(rand() * 2 ** 53)) - 2n ** 52n];
      return { type: 'INTEGER', value: choices[Math.floor(rand() * choices.length)]! };
    }
    case 'STRING':
      return { type: 'STRING', value: TEXTS[Math.floor(rand() * TEXTS.length)]! };
    case 'BINARY':
      return { type: 'BINARY', value: Uint8Array.from({ length: Math.floor(rand() * 40) }, () => Math.floor(rand() * 256)) };
    case 'DOUBLE': {
      const choices = [0, -0, 1.5, -1e300, Number.MIN_VALUE, Infinity, NaN, rand() * 1e6];
      return { type: 'DOUBLE', value: choices[Math.floor(rand() * choices.length)]! };
    }
    default:
      return { type: 'BOOLEAN', value: rand() < 0.5 };
  }
}

function toEnc(value: ColumnValue): EncValue {
  switch (value.type) {
    case 'INTEGER':
      return { type: 'integer', value: value.value };
    case 'DOUBLE':
      return { type: 'double', value: value.value };
    case 'BOOLEAN':
      return { type: 'boolean', value: value.value };
    case 'STRING':
      return { type: 'string', value: value.value };
    case 'BINARY':
      return { type: 'binary', value: value.value };
  }
}

function randomRecord(rand: () => number, i: number): ChangeRecord {
  const primaryKey: PkCell[] = Array.from({ length: 1 + Math.floor(rand() * 3) }, (_, k) => ({
    name: `pk${k}`,
    value: randomValue(rand, true) as PkCell['value'],
  }));
  const action = (['PUT_ROW', 'UPDATE_ROW', 'DELETE_ROW'] as const)[Math.floor(rand() * 3)]!;
  const tsMs = rand() < 0.1 ? 0 : 1_700_000_000_000 + Math.floor(rand() * 1e9);
  const changes: CellChange[] = [];
  if (action !== 'DELETE_ROW') {
    for (let k = Math.floor(rand() * 6); k > 0; k--) {
      const name = TEXTS[Math.floor(rand() * TEXTS.length)]! || `c${k}`;
      const op = action === 'PUT_ROW' ? 0 : Math.floor(rand() * 3);
      changes.push(
        op === 0
          ? { op: 'put', name, value: randomValue(rand, false), timestamp: tsMs }
          : op === 1
            ? { op: 'delete-one', name, timestamp: tsMs }
            : { op: 'delete-all', name },
      );
    }
  }
  const seq = { epoch: Math.floor(rand() * 2 ** 31), timestamp: BigInt(tsMs) * 1000n + BigInt(i % 1000), rowIndex: Math.floor(rand() * 2 ** 31) };
  return { partitionId: 'p', seq, action, primaryKey, changes };
}

function reference(record: ChangeRecord, withSequence: boolean): Uint8Array {
  const cells: EncCell[] = record.changes.map((c) =>
    c.op === 'put'
      ? { name: c.name, value: toEnc(c.value), timestampMs: c.timestamp }
      : c.op === 'delete-one'
        ? { name: c.name, op: 'delete-one', timestampMs: c.timestamp }
        : { name: c.name, op: 'delete-all' },
  );
  return referenceEncode({
    pk: record.primaryKey.map((p) => ({ name: p.name, value: toEnc(p.value) })),
    cells: record.action === 'DELETE_ROW' ? [] : cells,
    deleteMarker: record.action === 'DELETE_ROW',
    ...(withSequence ? { seq: { epoch: record.seq.epoch, timestampUs: record.seq.timestamp, rowIndex: record.seq.rowIndex } } : {}),
  });
}

const hex = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('hex');

describe('scratch-buffer PlainBuffer encoder', () => {
  it('writes the bytes of the independent encoder for 3000 random change records, with and without sequence', () => {
    const rand = prng(11);
    for (let i = 0; i < 3000; i++) {
      const record = randomRecord(rand, i);
      expect(hex(encodeStreamRecord(record, { withSequence: true })), `record ${i}`).toBe(hex(reference(record, true)));
      expect(hex(encodeStreamRecord(record, { withSequence: false })), `record ${i}`).toBe(hex(reference(record, false)));
    }
  });

  it('writes base rows and table-API rows alike', () => {
    const rand = prng(12);
    for (let i = 0; i < 500; i++) {
      const r = randomRecord(rand, i);
      const row: StoredRow = {
        primaryKey: r.primaryKey,
        cells: r.changes.flatMap((c) => (c.op === 'put' ? [{ name: c.name, value: c.value, timestamp: c.timestamp }] : [])),
      };
      const asPut: ChangeRecord = {
        ...r,
        action: 'PUT_ROW',
        changes: row.cells.map((c) => ({ op: 'put', name: c.name, value: c.value, timestamp: c.timestamp })),
      };
      const expected = hex(reference(asPut, false));
      expect(hex(encodeStreamRecord(row, { withSequence: false }))).toBe(expected);
      expect(hex(encodeRow(row))).toBe(expected);
    }
  });

  it('keeps each change record bytes once: equal to a fresh encoding, unchanged by later encodes, the same object on re-read', () => {
    const rand = prng(13);
    const records = Array.from({ length: 4000 }, (_, i) => randomRecord(rand, i));
    const kept = records.map((r) => recordBytesOf(r));
    // Later encodes reuse the scratch buffer and fill new slabs: the kept bytes must not move.
    for (let i = 0; i < 2000; i++) encodeStreamRecord(randomRecord(rand, i), { withSequence: true });
    records.forEach((r, i) => {
      expect(hex(kept[i]!), `record ${i}`).toBe(hex(reference(r, true)));
      expect(recordBytesOf(r)).toBe(kept[i]);
    });
  });

  it('grows the scratch buffer for a record larger than it, and shrinks back afterwards', () => {
    const big: ChangeRecord = {
      partitionId: 'p',
      action: 'PUT_ROW',
      seq: { epoch: 0, timestamp: 1n, rowIndex: 0 },
      primaryKey: [{ name: 'id', value: { type: 'INTEGER', value: 1n } }],
      changes: [{ op: 'put', name: 'blob', value: { type: 'BINARY', value: new Uint8Array(3 << 20).fill(7) }, timestamp: 5 }],
    };
    expect(hex(recordBytesOf(big))).toBe(hex(reference(big, true)));
    const small = randomRecord(prng(14), 0);
    expect(hex(encodeStreamRecord(small, { withSequence: true }))).toBe(hex(reference(small, true)));
  });
});
