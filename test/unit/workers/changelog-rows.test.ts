import { describe, expect, it } from 'vitest';
import { PlainBufferDecoder } from '../../../tunnel/plainbuffer.js';
import { ActionType, type RecordMsg } from '../../../tunnel/proto.js';
import { ChangelogRowSink, formatSequence } from '../../../workers/changelog-rows.js';
import { BatchSchema } from '../../../workers/schema-map.js';
import { bin, bool, dbl, encodeRow, int, str, type EncRow } from '../../helpers/plainbuffer-encoder.js';

const PK = [{ name: 'id', type: 'INTEGER' as const }];
const SEQ = { epoch: 1, timestampUs: 1_700_000_000_123_456n, rowIndex: 2 };

function decode(sink: ChangelogRowSink, action: ActionType, row: EncRow, origin?: EncRow): void {
  const record: RecordMsg = { action_type: action, record: encodeRow(row), ...(origin ? { origin_record: encodeRow(origin) } : {}) };
  new PlainBufferDecoder().decodeRecord(record, sink, { channelId: 'ch' });
}

function sinkFor(columns: Array<{ name: string; type: 'long' | 'string' | 'double' | 'boolean' | 'binary' }>, discover = false) {
  const schema = new BatchSchema([{ name: 'id', type: 'long' }, ...columns], PK, discover);
  return { schema, sink: new ChangelogRowSink(schema, 'ch-1') };
}

describe('formatSequence', () => {
  it("is %08x:%016x:%08x, zero-padded, two's complement for a negative epoch", () => {
    expect(formatSequence(1, 0x1234, 5)).toBe('00000001:0000000000001234:00000005');
    expect(formatSequence(-1, 1_700_000_000_123_456, 0)).toBe('ffffffff:00060a2418202240:00000000');
  });
});

describe('ChangelogRowSink', () => {
  it('fills one reused row with values and metadata for a stream PUT', () => {
    const { sink } = sinkFor([
      { name: 'name', type: 'string' },
      { name: 'price', type: 'double' },
      { name: 'ok', type: 'boolean' },
      { name: 'b', type: 'binary' },
    ]);
    decode(sink, ActionType.PUT_ROW, {
      pk: [{ name: 'id', value: int(2n ** 60n) }],
      cells: [
        { name: 'name', value: str('ann'), timestampMs: 5 },
        { name: 'price', value: dbl(1.5), timestampMs: 5 },
        { name: 'ok', value: bool(false), timestampMs: 5 },
        { name: 'b', value: bin(new Uint8Array([1, 2])), timestampMs: 5 },
      ],
      seq: SEQ,
    });
    expect(sink.complete).toBe(true);
    expect(sink.verdict).toBe('ok');
    const { b, ...rest } = sink.row;
    expect(rest).toEqual({
      id: 2n ** 60n,
      name: 'ann',
      price: 1.5,
      ok: false,
      _op: 'PUT',
      _channel: 'ch-1',
      _deleted_columns: null,
      _seq: formatSequence(1, 1_700_000_000_123_456, 2),
      _ts: 1_700_000_000_123_456,
    });
    expect(Array.from(b as Uint8Array)).toEqual([1, 2]);
    const first = sink.row;
    // The next record reuses the object, and resets every column it does not set.
    decode(sink, ActionType.DELETE_ROW, { pk: [{ name: 'id', value: int(3) }], deleteMarker: true, seq: SEQ });
    expect(sink.row).toBe(first);
    expect(sink.row).toMatchObject({ id: 3n, name: null, price: null, b: null, _op: 'DELETE', _deleted_columns: null });
  });

  it('lists the columns an UPDATE deleted; a base row takes its newest cell time and no _seq', () => {
    const { sink } = sinkFor([
      { name: 'a', type: 'string' },
      { name: 'n', type: 'long' },
    ]);
    decode(sink, ActionType.UPDATE_ROW, {
      pk: [{ name: 'id', value: int(1) }],
      cells: [
        { name: 'a', value: str('x'), timestampMs: 10 },
        { name: 'n', op: 'delete-one', timestampMs: 9 },
        { name: 'gone', op: 'delete-all' },
      ],
      seq: SEQ,
    });
    expect(sink.verdict).toBe('ok');
    expect(sink.row).toMatchObject({ _op: 'UPDATE', a: 'x', n: null, _deleted_columns: ['n', 'gone'] });
    decode(sink, ActionType.PUT_ROW, {
      pk: [{ name: 'id', value: int(1) }],
      cells: [
        { name: 'a', value: str('y'), timestampMs: 7 },
        { name: 'n', value: int(1), timestampMs: 42 },
      ],
    });
    expect(sink.row).toMatchObject({ _op: 'PUT', _seq: null, _ts: 42_000 });
    expect(sink.sequence).toBeNull();
  });

  it('ignores origin_record (previous values)', () => {
    const { sink } = sinkFor([{ name: 'a', type: 'string' }]);
    decode(
      sink,
      ActionType.UPDATE_ROW,
      { pk: [{ name: 'id', value: int(1) }], cells: [{ name: 'a', value: str('new'), timestampMs: 1 }], seq: SEQ },
      { cells: [{ name: 'a', value: str('old'), timestampMs: 0 }] },
    );
    expect(sink.row).toMatchObject({ a: 'new', _op: 'UPDATE' });
  });

  it('rejects a value of the wrong type, keeping the first problem', () => {
    const { sink } = sinkFor([
      { name: 'n', type: 'long' },
      { name: 's', type: 'string' },
    ]);
    decode(sink, ActionType.PUT_ROW, {
      pk: [{ name: 'id', value: int(1) }],
      cells: [
        { name: 'n', value: str('12'), timestampMs: 1 },
        { name: 's', value: int(1), timestampMs: 1 },
      ],
      seq: SEQ,
    });
    expect(sink.verdict).toBe('type-mismatch');
    expect(sink.problem).toEqual({ column: 'n', expectedType: 'long', actualType: 'STRING' });
    // A clean record afterwards is ok again.
    decode(sink, ActionType.PUT_ROW, { pk: [{ name: 'id', value: int(2) }], cells: [{ name: 'n', value: int(12), timestampMs: 1 }], seq: SEQ });
    expect(sink.verdict).toBe('ok');
    expect(sink.problem).toBeNull();
  });

  it('rejects unknown columns without discovery; with it, adds them only when the row is accepted', () => {
    const off = sinkFor([]);
    decode(off.sink, ActionType.PUT_ROW, { pk: [{ name: 'id', value: int(1) }], cells: [{ name: 'x', value: dbl(1), timestampMs: 1 }], seq: SEQ });
    expect(off.sink.verdict).toBe('unknown-column');
    expect(off.sink.problem).toEqual({ column: 'x', actualType: 'DOUBLE' });

    const on = sinkFor([{ name: 'n', type: 'long' }], true);
    // x is seen in a row that is rejected for another reason: it must not join the schema.
    decode(on.sink, ActionType.PUT_ROW, {
      pk: [{ name: 'id', value: int(1) }],
      cells: [
        { name: 'x', value: dbl(1), timestampMs: 1 },
        { name: 'n', value: str('bad'), timestampMs: 1 },
      ],
      seq: SEQ,
    });
    expect(on.sink.verdict).toBe('type-mismatch');
    expect(on.schema.lookup('x')).toBeUndefined();
    const version = on.schema.version;
    decode(on.sink, ActionType.PUT_ROW, { pk: [{ name: 'id', value: int(2) }], cells: [{ name: 'x', value: dbl(2), timestampMs: 1 }], seq: SEQ });
    expect(on.sink.verdict).toBe('ok');
    expect(on.sink.acceptRow()).toBe(true);
    expect(on.schema.version).toBe(version + 1);
    expect(on.schema.newColumns).toEqual([{ name: 'x', type: 'double' }]);
    expect(on.sink.row.x).toBe(2);
  });

  it('refuses to discover a column that shadows a metadata column or differs from one only in case', () => {
    const { sink, schema } = sinkFor([{ name: 'name', type: 'string' }], true);
    decode(sink, ActionType.PUT_ROW, { pk: [{ name: 'id', value: int(1) }], cells: [{ name: '_op', value: str('x'), timestampMs: 1 }], seq: SEQ });
    expect(sink.verdict).toBe('column-name-conflict');
    decode(sink, ActionType.PUT_ROW, { pk: [{ name: 'id', value: int(1) }], cells: [{ name: 'Name', value: str('x'), timestampMs: 1 }], seq: SEQ });
    expect(sink.verdict).toBe('column-name-conflict');
    expect(sink.problem?.column).toBe('Name');
    expect(schema.newColumns).toEqual([]);
  });
});
