import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { OtslakeError } from '../../../common/errors.js';
import { crc8Range } from '../../../tunnel/crc8.js';
import { CELL_OP, PlainBufferDecoder, VT, decodeRecords, type CellValue, type RecordSink } from '../../../tunnel/plainbuffer.js';
import { decodeRecordToObject } from '../../../tunnel/plainbuffer-object.js';
import { ActionType, type RecordMsg } from '../../../tunnel/proto.js';
import { bin, bool, dbl, encodeRow, int, str, type EncRow } from '../../helpers/plainbuffer-encoder.js';

const fixture = (name: string) =>
  Uint8Array.from(Buffer.from(readFileSync(new URL(`../../fixtures/plainbuffer/${name}.hex`, import.meta.url), 'utf8').replace(/\s+/g, ''), 'hex'));

const EX1 = fixture('example1-put-row');
const EX2 = fixture('example2-update-row');
const EX3 = fixture('example3-delete-row');
const EX4 = fixture('example4-base-row');
const TS = 1700000000000;

function decodeError(fn: () => unknown): OtslakeError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(OtslakeError);
    expect((err as OtslakeError).code).toBe('OTSL_DECODE_CORRUPT_RECORD');
    return err as OtslakeError;
  }
  throw new Error('expected OTSL_DECODE_CORRUPT_RECORD');
}

describe('CRC-8', () => {
  it('matches the Java test vector (docs/plainbuffer.md §CRC-8)', () => {
    const seen: number[] = [];
    let crc = 0;
    for (const b of [1, 3, 7, 255, 128, 0]) {
      crc = crc8Range(crc, Uint8Array.of(b), 0, 1);
      seen.push(crc);
    }
    expect(seen).toEqual([7, 28, 65, 51, 16, 112]);
  });
});

describe('PlainBuffer worked examples (docs/plainbuffer.md §Worked examples)', () => {
  it('example 1: PUT_ROW with an INTEGER cell and sequence info', () => {
    expect(EX1.length).toBe(92);
    expect(decodeRecordToObject(EX1, ActionType.PUT_ROW)).toEqual({
      actionType: ActionType.PUT_ROW,
      primaryKey: [{ name: 'id', type: VT.STRING, value: 'a' }],
      cells: [{ name: 'col', op: CELL_OP.PUT, type: VT.INTEGER, value: 1n, timestampMs: TS }],
      deleteMarker: false,
      sequenceInfo: { epoch: 0, timestamp: 1700000000000123, rowIndex: 0 },
    });
  });

  it('example 2: UPDATE_ROW with PUT, DELETE_ONE_VERSION and DELETE_ALL_VERSION cells', () => {
    expect(EX2.length).toBe(121);
    expect(decodeRecordToObject(EX2, ActionType.UPDATE_ROW)).toEqual({
      actionType: ActionType.UPDATE_ROW,
      primaryKey: [{ name: 'id', type: VT.STRING, value: 'a' }],
      cells: [
        { name: 'c1', op: CELL_OP.PUT, type: VT.STRING, value: 'x', timestampMs: TS + 1 },
        { name: 'c2', op: CELL_OP.DELETE_ONE_VERSION, type: VT.NONE, value: undefined, timestampMs: TS },
        { name: 'c3', op: CELL_OP.DELETE_ALL_VERSION, type: VT.NONE, value: undefined, timestampMs: -1 },
      ],
      deleteMarker: false,
      sequenceInfo: { epoch: 0, timestamp: 1700000000000456, rowIndex: 1 },
    });
  });

  it('example 3: DELETE_ROW with the delete marker', () => {
    expect(EX3.length).toBe(58);
    expect(decodeRecordToObject(EX3, ActionType.DELETE_ROW)).toEqual({
      actionType: ActionType.DELETE_ROW,
      primaryKey: [{ name: 'id', type: VT.STRING, value: 'a' }],
      cells: [],
      deleteMarker: true,
      sequenceInfo: { epoch: 0, timestamp: 1700000000000789, rowIndex: 0 },
    });
  });

  it('example 4: base-data row, two PK columns, no extension', () => {
    expect(EX4.length).toBe(86);
    expect(decodeRecordToObject(EX4)).toEqual({
      actionType: ActionType.PUT_ROW,
      primaryKey: [
        { name: 'id', type: VT.STRING, value: 'a' },
        { name: 'n', type: VT.INTEGER, value: 7n },
      ],
      cells: [{ name: 'col', op: CELL_OP.PUT, type: VT.INTEGER, value: 1n, timestampMs: TS }],
      deleteMarker: false,
      sequenceInfo: null,
    });
  });

  it('the test encoder reproduces all four examples byte for byte', () => {
    const pk = [{ name: 'id', value: str('a') }];
    expect(encodeRow({ pk, cells: [{ name: 'col', value: int(1), timestampMs: TS }], seq: { epoch: 0, timestampUs: 1700000000000123n, rowIndex: 0 } })).toEqual(
      EX1,
    );
    expect(
      encodeRow({
        pk,
        cells: [
          { name: 'c1', value: str('x'), timestampMs: TS + 1 },
          { name: 'c2', op: 'delete-one', timestampMs: TS },
          { name: 'c3', op: 'delete-all' },
        ],
        seq: { epoch: 0, timestampUs: 1700000000000456n, rowIndex: 1 },
      }),
    ).toEqual(EX2);
    expect(encodeRow({ pk, deleteMarker: true, seq: { epoch: 0, timestampUs: 1700000000000789n, rowIndex: 0 } })).toEqual(EX3);
    expect(encodeRow({ pk: [...pk, { name: 'n', value: int(7) }], cells: [{ name: 'col', value: int(1), timestampMs: TS }] })).toEqual(EX4);
  });

  it('rejects example 4 once its cell checksum byte 0x50 becomes 0x51', () => {
    const bad = Uint8Array.from(EX4);
    const at = bad.lastIndexOf(0x50);
    bad[at] = 0x51;
    const err = decodeError(() => decodeRecordToObject(bad, ActionType.PUT_ROW, 'ch-7'));
    expect(err.context).toMatchObject({ channelId: 'ch-7', recordIndex: 0, byteOffset: at });
    expect(err.message).toContain('checksum mismatch');
  });
});

describe('PlainBuffer decoding', () => {
  it('round-trips all five value types, extremes included', () => {
    const blob = Uint8Array.of(0, 255, 7);
    const row: EncRow = {
      pk: [
        { name: 'k', value: int(-9223372036854775808n) },
        { name: 'b', value: bin(blob) },
      ],
      cells: [
        { name: 'i', value: int(9223372036854775807n), timestampMs: 1 },
        { name: 'd', value: dbl(-0.5), timestampMs: 2 },
        { name: 'nan', value: dbl(Number.NaN), timestampMs: 2 },
        { name: 't', value: bool(true), timestampMs: 3 },
        { name: 'f', value: bool(false), timestampMs: 3 },
        { name: 's', value: str('héllo ✓ 你好'), timestampMs: 4 },
        { name: 'empty', value: str(''), timestampMs: 5 },
        { name: 'bin', value: bin(new Uint8Array(0)), timestampMs: 0 },
        { name: 'колонка', value: int(0), timestampMs: 2 ** 50 },
      ],
      seq: { epoch: 3, timestampUs: 1700000000000000n, rowIndex: 2147483647 },
    };
    const out = decodeRecordToObject(encodeRow(row), ActionType.UPDATE_ROW);
    expect(out.primaryKey).toEqual([
      { name: 'k', type: VT.INTEGER, value: -9223372036854775808n },
      { name: 'b', type: VT.BINARY, value: blob },
    ]);
    expect(out.cells.map((c) => [c.name, c.type, c.value, c.timestampMs])).toEqual([
      ['i', VT.INTEGER, 9223372036854775807n, 1],
      ['d', VT.DOUBLE, -0.5, 2],
      ['nan', VT.DOUBLE, Number.NaN, 2],
      ['t', VT.BOOLEAN, true, 3],
      ['f', VT.BOOLEAN, false, 3],
      ['s', VT.STRING, 'héllo ✓ 你好', 4],
      ['empty', VT.STRING, '', 5],
      ['bin', VT.BINARY, new Uint8Array(0), 0],
      ['колонка', VT.INTEGER, 0n, 2 ** 50],
    ]);
    expect(out.sequenceInfo).toEqual({ epoch: 3, timestamp: 1700000000000000, rowIndex: 2147483647 });
  });

  it('decodes an origin_record without primary key, and skips unknown extension entries by length', () => {
    const record: RecordMsg = {
      action_type: ActionType.UPDATE_ROW,
      record: encodeRow({
        pk: [{ name: 'id', value: int(1) }],
        cells: [{ name: 'v', value: int(2), timestampMs: 10 }],
        seq: { epoch: 0, timestampUs: 5n, rowIndex: 0 },
        extraExtension: [{ tag: 0x42, bytes: Uint8Array.of(1, 2, 3, 0x09, 0x0b) }],
      }),
      origin_record: encodeRow({ cells: [{ name: 'v', value: int(1), timestampMs: 9 }] }),
    };
    const out = decodeRecordToObject(record);
    expect(out.sequenceInfo).toEqual({ epoch: 0, timestamp: 5, rowIndex: 0 });
    expect(out.origin).toEqual({
      actionType: ActionType.UPDATE_ROW,
      primaryKey: [],
      cells: [{ name: 'v', op: CELL_OP.PUT, type: VT.INTEGER, value: 1n, timestampMs: 9 }],
      deleteMarker: false,
      sequenceInfo: null,
    });
    // An extension holding only unknown entries: no sequence info.
    const onlyUnknown = encodeRow({ pk: [{ name: 'id', value: int(1) }], extraExtension: [{ tag: 0x7f, bytes: Uint8Array.of(9) }] });
    expect(decodeRecordToObject(onlyUnknown).sequenceInfo).toBeNull();
  });

  it('accepts a DELETE_ROW without the delete marker', () => {
    const out = decodeRecordToObject(
      encodeRow({ pk: [{ name: 'id', value: str('z') }], seq: { epoch: 0, timestampUs: 1n, rowIndex: 0 } }),
      ActionType.DELETE_ROW,
    );
    expect(out).toMatchObject({ actionType: ActionType.DELETE_ROW, deleteMarker: false, cells: [] });
  });

  it('streams records through a sink in order, with record indexes and one string per column name', () => {
    const records: RecordMsg[] = [
      { action_type: ActionType.PUT_ROW, record: EX1 },
      { action_type: ActionType.UPDATE_ROW, record: EX2 },
      { action_type: ActionType.DELETE_ROW, record: EX3 },
    ];
    const events: string[] = [];
    const names = new Set<string>();
    const sink: RecordSink = {
      beginRow: (i, a, o) => events.push(`begin ${i} ${a} ${o}`),
      primaryKey: (n, t, v) => {
        names.add(n);
        events.push(`pk ${n} ${t} ${String(v)}`);
      },
      cell: (n, op, t, v: CellValue | undefined, ts) => events.push(`cell ${n} ${op} ${t} ${String(v)} ${ts}`),
      endRow: (d, s, e, ts, ri) => events.push(`end ${d} ${s} ${e}:${ts}:${ri}`),
    };
    const decoder = new PlainBufferDecoder();
    expect(decoder.decodeRecords(records, sink, { firstRecordIndex: 10 })).toBe(3);
    expect(events).toEqual([
      'begin 10 1 false',
      'pk id 3 a',
      `cell col 0 0 1 ${TS}`,
      'end false true 0:1700000000000123:0',
      'begin 11 2 false',
      'pk id 3 a',
      `cell c1 0 3 x ${TS + 1}`,
      `cell c2 3 -1 undefined ${TS}`,
      'cell c3 1 -1 undefined -1',
      'end false true 0:1700000000000456:1',
      'begin 12 3 false',
      'pk id 3 a',
      'end true true 0:1700000000000789:0',
    ]);
    expect(decodeRecords(records, { beginRow() {}, primaryKey() {}, cell() {}, endRow() {} })).toBe(3);
  });

  it.each<[string, EncRow | Uint8Array, string]>([
    ['PUT without timestamp', { pk: [{ name: 'id', value: int(1) }], cells: [{ name: 'c', value: int(1) }] }, 'should have both value and timestamp'],
    ['DELETE_ONE_VERSION without timestamp', { pk: [{ name: 'id', value: int(1) }], cells: [{ name: 'c', op: 'delete-one' }] }, 'should have timestamp'],
    [
      'DELETE_ALL_VERSION with timestamp',
      { pk: [{ name: 'id', value: int(1) }], cells: [{ name: 'c', op: 'delete-all', timestampMs: 1 }] },
      'should not have value and timestamp',
    ],
    ['DELETE with a value', { pk: [{ name: 'id', value: int(1) }], cells: [{ name: 'c', op: 'delete-all', value: int(1) }] }, 'should not have value'],
    ['missing primary key in a record', { cells: [{ name: 'c', value: int(1), timestampMs: 1 }] }, 'expected TAG_ROW_PK'],
    ['bad header', Uint8Array.of(0x74, 0, 0, 0, 1, 9, 0), 'header'],
    ['empty bytes', new Uint8Array(0), 'header'],
  ])('rejects %s with a typed error', (_name, input, reason) => {
    const bytes = input instanceof Uint8Array ? input : encodeRow(input);
    const err = decodeError(() => decodeRecordToObject(bytes));
    expect(err.message).toContain(reason);
    expect(err.context).toMatchObject({ recordIndex: 0 });
    expect(err.context.byteOffset).toBeGreaterThanOrEqual(0);
    expect(err.context.byteOffset).toBeLessThanOrEqual(bytes.length);
  });

  it('rejects INCREMENT cells, trailing bytes, unknown value types and action types', () => {
    const inc = encodeRow({ pk: [{ name: 'id', value: int(1) }], cells: [{ name: 'n', value: int(1), op: 0x04 }] });
    expect(decodeError(() => decodeRecordToObject(inc, ActionType.UPDATE_ROW)).message).toContain('unknown cell type 0x4');
    const trailing = Uint8Array.from([...EX4, 0]);
    expect(decodeError(() => decodeRecordToObject(trailing)).message).toContain('trailing bytes');
    const badVt = Uint8Array.from(EX4);
    badVt[18] = 0x05; // PK id's value type STRING → unknown 0x05
    expect(decodeError(() => decodeRecordToObject(badVt)).message).toContain('unknown value type 0x5');
    expect(decodeError(() => decodeRecordToObject(EX4, 9 as ActionType)).message).toContain('unknown action type');
  });

  it('reports the record index and channel of a corrupt record in a batch', () => {
    const records: RecordMsg[] = [
      { action_type: ActionType.PUT_ROW, record: EX1 },
      { action_type: ActionType.PUT_ROW, record: EX4.subarray(0, 40) },
    ];
    const err = decodeError(() =>
      new PlainBufferDecoder().decodeRecords(records, { beginRow() {}, primaryKey() {}, cell() {}, endRow() {} }, { channelId: 'ch-9' }),
    );
    expect(err.context).toMatchObject({ channelId: 'ch-9', recordIndex: 1 });
    expect(err.message).toContain('truncated');
  });
});

describe('records read from a reused buffer', () => {
  it('decodes the names of the bytes now in the buffer, not of the record it held before (the name cache keeps copies)', () => {
    const row = (name: string) => encodeRow({ pk: [{ name: 'id', value: int(1) }], cells: [{ name, value: int(2), timestampMs: TS }] });
    const first = row('alpha');
    const second = row('gamma'); // same length, same layout: only the name's bytes differ
    expect(second.length).toBe(first.length);
    const buffer = Buffer.from(first);
    const names: string[] = [];
    const sink: RecordSink = { beginRow() {}, primaryKey() {}, cell: (name) => void names.push(name), endRow() {} };
    const decoder = new PlainBufferDecoder();
    decoder.decodeRecord({ action_type: ActionType.PUT_ROW, record: buffer }, sink);
    buffer.set(second); // the transport hands a released page's buffer to the next response
    decoder.decodeRecord({ action_type: ActionType.PUT_ROW, record: buffer }, sink);
    expect(names).toEqual(['alpha', 'gamma']);
  });
});

describe('PlainBuffer fuzzing: every mutation decodes or throws the typed error', () => {
  const noopSink: RecordSink = { beginRow() {}, primaryKey() {}, cell() {}, endRow() {} };
  const decoder = new PlainBufferDecoder();
  const generated = encodeRow({
    pk: [
      { name: 'id', value: int(42) },
      { name: 'p', value: bin(Uint8Array.of(1, 2)) },
    ],
    cells: [
      { name: 's', value: str('text'), timestampMs: TS },
      { name: 'd', value: dbl(1.5), timestampMs: TS },
      { name: 'b', value: bool(true), timestampMs: TS },
      { name: 'x', op: 'delete-one', timestampMs: TS },
      { name: 'y', op: 'delete-all' },
    ],
    deleteMarker: false,
    seq: { epoch: 1, timestampUs: 123n, rowIndex: 4 },
    extraExtension: [{ tag: 0x33, bytes: Uint8Array.of(5, 6) }],
  });
  const samples = [EX1, EX2, EX3, EX4, generated];

  const attempt = (bytes: Uint8Array): 'ok' | 'typed' => {
    try {
      decoder.decodeRecords([{ action_type: ActionType.UPDATE_ROW, record: bytes, origin_record: bytes.length % 2 ? bytes : undefined }], noopSink, {
        channelId: 'fz',
      });
      return 'ok';
    } catch (err) {
      if (!(err instanceof OtslakeError) || err.code !== 'OTSL_DECODE_CORRUPT_RECORD') throw err;
      expect(err.context.byteOffset).toBeGreaterThanOrEqual(0);
      expect(err.context.byteOffset).toBeLessThanOrEqual(bytes.length);
      return 'typed';
    }
  };

  it('truncation at every length is always the typed error', () => {
    for (const s of samples) for (let len = 0; len < s.length; len++) expect(attempt(s.subarray(0, len))).toBe('typed');
  });

  it('single-byte changes outside the extension payload never decode; inside it they decode or fail typed', () => {
    // The extension is the only part not covered by a CRC (docs/plainbuffer.md §Checksums); its payload is [len-2-extLen, len-2).
    const extLens = [24, 24, 24, 0, 31];
    samples.forEach((s, k) => {
      const extStart = s.length - 2 - extLens[k]!;
      for (let i = 0; i < s.length; i++) {
        for (const mask of [0x01, 0x80, 0xff, 0x5a]) {
          const m = Uint8Array.from(s);
          m[i] = m[i]! ^ mask;
          const outcome = attempt(m);
          if (i < extStart || i >= s.length - 2) expect(outcome, `sample ${k} byte ${i} mask ${mask}`).toBe('typed');
        }
      }
    });
  });

  it('random multi-byte mutations and splices never escape as another exception type', () => {
    let seed = 12345;
    const rand = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed % n;
    };
    for (let iter = 0; iter < 4000; iter++) {
      const s = samples[rand(samples.length)]!;
      const m = Uint8Array.from(s);
      const edits = 1 + rand(4);
      for (let e = 0; e < edits; e++) m[rand(m.length)] = rand(256);
      const cut = rand(3) === 0 ? rand(m.length + 1) : m.length;
      attempt(m.subarray(0, cut));
    }
  });
});
