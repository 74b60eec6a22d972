import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import type { ChangeRecord, StoredRow } from '../../../emulator/tablestore/model.js';
import { decodeRow, decodeRows, encodePrimaryKey, encodeRows, encodeStreamRecord } from '../../../emulator/tablestore/plainbuffer-codec.js';
import { crcByte } from '../../../emulator/tablestore/plainbuffer-format.js';

const require = createRequire(import.meta.url);
// The official SDK's PlainBuffer reader: the client the emulator's GetRange rows must satisfy.
const TableStore = require('tablestore');

function hex(text: string): Uint8Array {
  return Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'));
}

const PK_A = [{ name: 'id', value: { type: 'STRING' as const, value: 'a' } }];

// docs/plainbuffer.md §Worked examples (test/fixtures/plainbuffer/), byte for byte.
const EXAMPLE_1 = hex(`75 00 00 00 01 03 04 02 00 00 00 69 64 05 06 00 00 00 03 01 00 00 00 61 0a 91 02 03 04 03 00 00 00 63 6f 6c
05 09 00 00 00 00 01 00 00 00 00 00 00 00 07 00 68 e5 cf 8b 01 00 00 0a 50 0b 18 00 00 00 0c 13 00 00 00 0d
00 00 00 00 0e 7b 40 1e 18 24 0a 06 00 0f 00 00 00 00 09 ce`);
const EXAMPLE_2 = hex(`75 00 00 00 01 03 04 02 00 00 00 69 64 05 06 00 00 00 03 01 00 00 00 61 0a 91 02 03 04 02 00 00 00 63 31 05
06 00 00 00 03 01 00 00 00 78 07 01 68 e5 cf 8b 01 00 00 0a b1 03 04 02 00 00 00 63 32 06 03 07 00 68 e5 cf
8b 01 00 00 0a af 03 04 02 00 00 00 63 33 06 01 0a b9 0b 18 00 00 00 0c 13 00 00 00 0d 00 00 00 00 0e c8 41
1e 18 24 0a 06 00 0f 01 00 00 00 09 b4`);
const EXAMPLE_3 = hex(`75 00 00 00 01 03 04 02 00 00 00 69 64 05 06 00 00 00 03 01 00 00 00 61 0a 91 08 0b 18 00 00 00 0c 13 00 00
00 0d 00 00 00 00 0e 15 43 1e 18 24 0a 06 00 0f 00 00 00 00 09 f3`);
const EXAMPLE_4 = hex(`75 00 00 00 01 03 04 02 00 00 00 69 64 05 06 00 00 00 03 01 00 00 00 61 0a 91 03 04 01 00 00 00 6e 05 09 00
00 00 00 07 00 00 00 00 00 00 00 0a 22 02 03 04 03 00 00 00 63 6f 6c 05 09 00 00 00 00 01 00 00 00 00 00 00
00 07 00 68 e5 cf 8b 01 00 00 0a 50 09 d9`);

describe('CRC-8', () => {
  it('matches the Java test vector', () => {
    let crc = 0;
    const seen = [1, 3, 7, 255, 128, 0].map((b) => (crc = crcByte(crc, b)));
    expect(seen).toEqual([7, 28, 65, 51, 16, 112]);
  });
});

describe('encodeStreamRecord', () => {
  it('reproduces example 1 (PUT_ROW with sequence)', () => {
    const record: ChangeRecord = {
      partitionId: 'p',
      action: 'PUT_ROW',
      primaryKey: PK_A,
      seq: { epoch: 0, timestamp: 1700000000000123n, rowIndex: 0 },
      changes: [{ op: 'put', name: 'col', value: { type: 'INTEGER', value: 1n }, timestamp: 1700000000000 }],
    };
    expect(Buffer.from(encodeStreamRecord(record, { withSequence: true })).toString('hex')).toBe(Buffer.from(EXAMPLE_1).toString('hex'));
  });

  it('reproduces example 2 (UPDATE_ROW with put, delete-one, delete-all)', () => {
    const record: ChangeRecord = {
      partitionId: 'p',
      action: 'UPDATE_ROW',
      primaryKey: PK_A,
      seq: { epoch: 0, timestamp: 1700000000000456n, rowIndex: 1 },
      changes: [
        { op: 'put', name: 'c1', value: { type: 'STRING', value: 'x' }, timestamp: 1700000000001 },
        { op: 'delete-one', name: 'c2', timestamp: 1700000000000 },
        { op: 'delete-all', name: 'c3' },
      ],
    };
    expect(Buffer.from(encodeStreamRecord(record, { withSequence: true })).toString('hex')).toBe(Buffer.from(EXAMPLE_2).toString('hex'));
  });

  it('reproduces example 3 (DELETE_ROW with marker)', () => {
    const record: ChangeRecord = {
      partitionId: 'p',
      action: 'DELETE_ROW',
      primaryKey: PK_A,
      seq: { epoch: 0, timestamp: 1700000000000789n, rowIndex: 0 },
      changes: [],
    };
    expect(Buffer.from(encodeStreamRecord(record, { withSequence: true })).toString('hex')).toBe(Buffer.from(EXAMPLE_3).toString('hex'));
  });

  it('reproduces example 4 (base row, no extension)', () => {
    const row: StoredRow = {
      primaryKey: [...PK_A, { name: 'n', value: { type: 'INTEGER', value: 7n } }],
      cells: [{ name: 'col', value: { type: 'INTEGER', value: 1n }, timestamp: 1700000000000 }],
    };
    expect(Buffer.from(encodeStreamRecord(row, { withSequence: false })).toString('hex')).toBe(Buffer.from(EXAMPLE_4).toString('hex'));
  });

  it('omits the extension when withSequence is false', () => {
    const record: ChangeRecord = {
      partitionId: 'p',
      action: 'DELETE_ROW',
      primaryKey: PK_A,
      seq: { epoch: 0, timestamp: 1n, rowIndex: 0 },
      changes: [],
    };
    const decoded = decodeRow(encodeStreamRecord(record, { withSequence: false }));
    expect(decoded.sequence).toBeUndefined();
    expect(decoded.deleteMarker).toBe(true);
  });
});

describe('decodeRow', () => {
  it('reads the four examples back, checking both CRCs', () => {
    const r2 = decodeRow(EXAMPLE_2);
    expect(r2.cells).toEqual([
      { name: 'c1', value: { type: 'STRING', value: 'x' }, timestamp: 1700000000001 },
      { name: 'c2', op: 'delete-one', timestamp: 1700000000000 },
      { name: 'c3', op: 'delete-all' },
    ]);
    expect(r2.sequence).toEqual({ epoch: 0, timestamp: 1700000000000456n, rowIndex: 1 });
    expect(decodeRow(EXAMPLE_3).deleteMarker).toBe(true);
    expect(decodeRow(EXAMPLE_4).primaryKey[1]).toEqual({ name: 'n', value: { type: 'INTEGER', value: 7n } });
    expect(decodeRow(EXAMPLE_1).cells[0]?.timestamp).toBe(1700000000000);
  });

  it('rejects a flipped cell checksum and a truncated row with a typed error', () => {
    const bad = EXAMPLE_4.slice();
    bad[bad.length - 3] = 0x51; // the cell checksum 0x50 of "col"
    expect(() => decodeRow(bad)).toThrow(expect.objectContaining({ code: 'OTSL_DECODE_CORRUPT_RECORD' }));
    expect(() => decodeRow(EXAMPLE_4.slice(0, 40))).toThrow(expect.objectContaining({ code: 'OTSL_DECODE_CORRUPT_RECORD' }));
    expect(() => decodeRow(EXAMPLE_4.slice(1))).toThrow(/header/);
  });

  it('reads what the SDK builder writes: INF_MIN/INF_MAX keys, update cells with types', () => {
    const key = TableStore.PlainBufferBuilder.serializePrimaryKey([{ id: TableStore.INF_MIN }, { n: TableStore.INF_MAX }]);
    expect(decodeRow(key).primaryKey.map((c) => c.value.type)).toEqual(['INF_MIN', 'INF_MAX']);
    const change = TableStore.PlainBufferBuilder.serializeForUpdateRow(
      [{ id: 'k' }],
      [
        { PUT: [{ s: 'é', timestamp: 5 }, { i: TableStore.Long.fromString('9007199254740993') }, { d: 1.5 }, { b: true }] },
        { DELETE: [{ old: TableStore.Long.fromNumber(7) }] },
        { DELETE_ALL: ['gone'] },
      ],
    );
    const row = decodeRow(change);
    expect(row.cells).toEqual([
      { name: 's', value: { type: 'STRING', value: 'é' }, timestamp: 5 },
      { name: 'i', value: { type: 'INTEGER', value: 9007199254740993n } },
      { name: 'd', value: { type: 'DOUBLE', value: 1.5 } },
      { name: 'b', value: { type: 'BOOLEAN', value: true } },
      { name: 'old', op: 'delete-one', timestamp: 7 },
      { name: 'gone', op: 'delete-all' },
    ]);
    const del = decodeRow(TableStore.PlainBufferBuilder.serializeForDeleteRow([{ id: 'k' }]));
    expect(del.deleteMarker).toBe(true);
  });
});

describe('encodeRows', () => {
  it('produces rows the SDK decoder accepts, with every type', () => {
    const rows: StoredRow[] = [
      {
        primaryKey: [
          { name: 'id', value: { type: 'STRING', value: 'ü-1' } },
          { name: 'n', value: { type: 'INTEGER', value: -5n } },
        ],
        cells: [
          { name: 'big', value: { type: 'INTEGER', value: 9007199254740993n }, timestamp: 1700000000000 },
          { name: 'd', value: { type: 'DOUBLE', value: -2.25 }, timestamp: 1 },
          { name: 'b', value: { type: 'BOOLEAN', value: false }, timestamp: 2 },
          { name: 'bin', value: { type: 'BINARY', value: Uint8Array.of(0, 255, 7) }, timestamp: 3 },
        ],
      },
      {
        primaryKey: [
          { name: 'id', value: { type: 'BINARY', value: Uint8Array.of(1) } },
          { name: 'n', value: { type: 'INTEGER', value: 0n } },
        ],
        cells: [],
      },
    ];
    const bytes = Object.assign(Buffer.from(encodeRows(rows)), {});
    // The SDK reads a protobufjs bytes field: a Buffer view whose end it sets as `limit`.
    (bytes as unknown as { limit: number }).limit = bytes.byteOffset + bytes.length;
    const input = new TableStore.PlainBufferCodedInputStream(new TableStore.PlainBufferInputStream(bytes));
    const decoded = input.readRows();
    expect(decoded).toHaveLength(2);
    expect(decoded[0].primaryKey[0]).toEqual({ name: 'id', value: 'ü-1' });
    expect(decoded[0].primaryKey[1].value.toString()).toBe('-5');
    expect(decoded[0].attributes.map((a: { columnName: string }) => a.columnName)).toEqual(['big', 'd', 'b', 'bin']);
    expect(decoded[0].attributes[0].columnValue.toString()).toBe('9007199254740993');
    expect(decoded[0].attributes[1].columnValue).toBe(-2.25);
    expect(decoded[0].attributes[2].columnValue).toBe(false);
    expect([...decoded[0].attributes[3].columnValue]).toEqual([0, 255, 7]);
    expect(decoded[0].attributes[0].timestamp.toNumber()).toBe(1700000000000);
    expect(decoded[1].attributes).toEqual([]);
    expect(decodeRows(bytes)).toHaveLength(2);
  });

  it('encodes a primary key alone that decodes to the same key', () => {
    const pk = [{ name: 'id', value: { type: 'STRING' as const, value: 'z' } }];
    expect(decodeRow(encodePrimaryKey(pk)).primaryKey).toEqual(pk);
    expect(encodeRows([])).toHaveLength(0);
  });
});
