import { describe, expect, it } from 'vitest';
import {
  ActionType,
  decodeMessage,
  decodeMessageGeneric,
  encodeMessage,
  encodeMessageGeneric,
  type ReadRecordsResponse,
  type RecordMsg,
} from '../../../tunnel/proto.js';
import {
  RecordPage,
  decodeReadRecordsResponse,
  decodeRecordPage,
  encodeReadRecordsRequest,
  encodeReadRecordsResponse,
} from '../../../tunnel/read-records-wire.js';
import { seededRandom as prng } from '../../helpers/seeded-random.js';

function randomBytes(rand: () => number, maxLen: number): Uint8Array {
  // Lengths across the 1-, 2- and 3-byte varint boundaries, zero included.
  const pick = rand();
  const len = pick < 0.1 ? 0 : pick < 0.97 ? Math.floor(rand() * maxLen) : 16_384 + Math.floor(rand() * 300);
  const out = new Uint8Array(len);
  for (let i = 0; i < len; i++) out[i] = Math.floor(rand() * 256);
  return out;
}

function randomMessage(rand: () => number): ReadRecordsResponse {
  const records: RecordMsg[] = [];
  const n = rand() < 0.1 ? 0 : Math.floor(rand() * 40);
  for (let i = 0; i < n; i++) {
    const action = [ActionType.PUT_ROW, ActionType.UPDATE_ROW, ActionType.DELETE_ROW][Math.floor(rand() * 3)]!;
    const record: RecordMsg = { action_type: action, record: randomBytes(rand, 400) };
    if (rand() < 0.2) record.origin_record = randomBytes(rand, 200);
    records.push(record);
  }
  const tokenLen = Math.floor(rand() * 300);
  let token = '';
  for (let i = 0; i < tokenLen; i++) token += String.fromCharCode(32 + Math.floor(rand() * 95));
  const may = rand();
  return may < 0.33 ? { records, next_token: token } : { records, next_token: token, may_more_record: may < 0.66 };
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** The decoded message with bytes as hex plus their kind (deep equality over big Buffers is slow). */
function shape(msg: ReadRecordsResponse): unknown {
  const bytes = (b: Uint8Array) => ({ kind: Buffer.isBuffer(b) ? 'Buffer' : b.constructor.name, hex: hex(b) });
  return {
    keys: Object.keys(msg),
    ...msg,
    records: msg.records.map((r) => ({
      keys: Object.keys(r),
      action_type: r.action_type,
      record: bytes(r.record),
      ...(r.origin_record === undefined ? {} : { origin_record: bytes(r.origin_record) }),
    })),
  };
}

describe('ReadRecordsResponse fast path', () => {
  it('encodes byte-identically to protobufjs and decodes to the same objects, on 200 random messages', () => {
    const rand = prng(20261120);
    for (let i = 0; i < 200; i++) {
      const msg = randomMessage(rand);
      const fast = encodeReadRecordsResponse(msg);
      expect(fast, `message ${i} should take the fast path`).not.toBeNull();
      const generic = encodeMessageGeneric('ReadRecordsResponse', msg);
      expect(hex(fast!)).toBe(hex(generic));
      expect(hex(encodeMessage('ReadRecordsResponse', msg))).toBe(hex(generic));

      const decoded = decodeReadRecordsResponse(fast!);
      expect(decoded, `message ${i} should decode on the fast path`).not.toBeNull();
      // Same fields, same key order, and views of the same kind (Buffer in, Buffer out).
      expect(shape(decoded!)).toEqual(shape(decodeMessageGeneric('ReadRecordsResponse', fast!)));
    }
  });

  it('gives plain Uint8Array views for a plain Uint8Array input, as protobufjs does', () => {
    const msg: ReadRecordsResponse = { records: [{ action_type: ActionType.PUT_ROW, record: Uint8Array.of(1, 2, 3) }], next_token: 't' };
    const bytes = new Uint8Array(encodeMessageGeneric('ReadRecordsResponse', msg));
    const fast = decodeReadRecordsResponse(bytes)!;
    const reference = decodeMessageGeneric('ReadRecordsResponse', bytes);
    expect(fast).toEqual(reference);
    expect(Buffer.isBuffer(fast.records[0]!.record)).toBe(false);
    expect(fast.records[0]!.record.buffer).toBe(bytes.buffer);
  });

  it('declines what is not the canonical form, and decodeMessage then answers as protobufjs does', () => {
    const base = Buffer.from(
      encodeMessageGeneric('ReadRecordsResponse', {
        records: [{ action_type: ActionType.UPDATE_ROW, record: Uint8Array.of(9) }],
        next_token: 'tok',
        may_more_record: true,
      }),
    );
    const unknownField = Buffer.concat([base, Buffer.from([0x20, 0x05])]); // field 4, varint
    const unicodeToken = Buffer.from(encodeMessageGeneric('ReadRecordsResponse', { records: [], next_token: 'tök' }));
    const unknownAction = Buffer.from([0x0a, 0x05, 0x08, 0x07, 0x12, 0x01, 0x00, 0x12, 0x01, 0x74]); // action_type 7
    for (const bytes of [unknownField, unicodeToken]) {
      expect(decodeReadRecordsResponse(bytes)).toBeNull();
      expect(decodeMessage('ReadRecordsResponse', bytes)).toEqual(decodeMessageGeneric('ReadRecordsResponse', bytes));
    }
    expect(decodeReadRecordsResponse(unknownAction)).toBeNull();
    expect(() => decodeMessage('ReadRecordsResponse', unknownAction)).toThrow(/action_type/);

    const noToken = Buffer.from([0x0a, 0x05, 0x08, 0x01, 0x12, 0x01, 0x00]);
    const truncated = base.subarray(0, base.length - 3);
    for (const bytes of [noToken, truncated]) {
      expect(decodeReadRecordsResponse(bytes)).toBeNull();
      expect(() => decodeMessage('ReadRecordsResponse', bytes)).toThrow(expect.objectContaining({ code: 'OTSL_TUNNEL_PROTOCOL' }));
    }
  });

  it('leaves unusual values to the generic encoder, with the same outcome as before', () => {
    const unicode: ReadRecordsResponse = { records: [], next_token: 'tök' };
    expect(encodeReadRecordsResponse(unicode)).toBeNull();
    expect(hex(encodeMessage('ReadRecordsResponse', unicode))).toBe(hex(encodeMessageGeneric('ReadRecordsResponse', unicode)));
    const missing = { records: [] } as unknown as ReadRecordsResponse;
    expect(encodeReadRecordsResponse(missing)).toBeNull();
    expect(() => encodeMessage('ReadRecordsResponse', missing)).toThrow(expect.objectContaining({ code: 'OTSL_TUNNEL_PROTOCOL' }));
  });
});

describe('ReadRecordsRequest fast path', () => {
  it('encodes byte-identically to protobufjs, across varint boundaries and non-ASCII text', () => {
    const rand = prng(7);
    const text = (len: number): string => Array.from({ length: len }, () => (rand() < 0.1 ? 'é' : rand() < 0.02 ? '🙂' : 'a')).join('');
    for (let i = 0; i < 100; i++) {
      const msg = {
        tunnel_id: text(Math.floor(rand() * 40)),
        client_id: text(Math.floor(rand() * 200)),
        channel_id: text(36),
        token: text(Math.floor(rand() * 20_000)),
      };
      const fast = encodeReadRecordsRequest(msg);
      expect(fast).not.toBeNull();
      expect(hex(fast!)).toBe(hex(encodeMessageGeneric('ReadRecordsRequest', msg)));
      expect(hex(encodeMessage('ReadRecordsRequest', msg))).toBe(hex(fast!));
      expect(decodeMessageGeneric('ReadRecordsRequest', fast!)).toEqual(msg);
    }
  });

  it('leaves a missing field to the generic encoder, which rejects it as before', () => {
    const missing = { tunnel_id: 't', client_id: 'c', channel_id: 'p' } as never;
    expect(encodeReadRecordsRequest(missing)).toBeNull();
    expect(() => encodeMessage('ReadRecordsRequest', missing)).toThrow(expect.objectContaining({ code: 'OTSL_TUNNEL_PROTOCOL' }));
  });
});

describe('RecordPage', () => {
  /** What a page says about its records, as the decoder's objects would (an empty origin_record counts as none). */
  const view = (page: RecordPage) => ({
    records: Array.from({ length: page.count }, (_, i) => {
      const r = page.record(i);
      return { action: page.actionType(i), record: hex(r.record), origin: r.origin_record ? hex(r.origin_record) : '', size: page.sizeOf(i) };
    }),
    token: page.next_token,
    mayMore: page.may_more_record,
    recordBytes: page.recordBytes,
  });
  const expected = (msg: ReadRecordsResponse) => ({
    records: msg.records.map((r) => ({
      action: r.action_type,
      record: hex(r.record),
      origin: r.origin_record ? hex(r.origin_record) : '',
      size: r.record.length + (r.origin_record?.length ?? 0),
    })),
    token: msg.next_token,
    mayMore: msg.may_more_record,
    recordBytes: msg.records.reduce((n, r) => n + r.record.length + (r.origin_record?.length ?? 0), 0),
  });

  it('reads the records where they lie in the body, as they were encoded, on 200 random messages', () => {
    const rand = prng(7);
    for (let n = 0; n < 200; n++) {
      const msg = randomMessage(rand);
      const bytes = encodeReadRecordsResponse(msg)!;
      const page = decodeRecordPage(bytes, 'req-1', null)!;
      expect(view(page)).toEqual(expected(msg));
      expect(page.body).toBe(bytes);
      expect(page).toMatchObject({ responseBytes: bytes.length, requestId: 'req-1' });
      expect(view(RecordPage.fromRecords(msg, bytes.length, undefined))).toEqual(expected(msg));
    }
  });

  it('grows its layout past 1024 records', () => {
    const records = Array.from({ length: 2500 }, (_, i) => ({ action_type: ActionType.PUT_ROW, record: Uint8Array.of(i & 0xff, i >> 8) }));
    const page = decodeRecordPage(encodeReadRecordsResponse({ records, next_token: 't' })!, undefined, null)!;
    expect(page.count).toBe(2500);
    expect(hex(page.record(2499).record)).toBe('c309');
  });

  it('declines what is not the canonical form (the client then asks the generic decoder)', () => {
    const good = encodeReadRecordsResponse({ records: [{ action_type: ActionType.PUT_ROW, record: Uint8Array.of(1) }], next_token: 't' })!;
    expect(decodeRecordPage(Buffer.concat([good, Buffer.of(0x20, 1)]), undefined, null)).toBeNull(); // unknown field 4
    const badAction = Buffer.from(good);
    badAction[3] = 9;
    expect(decodeRecordPage(badAction, undefined, null)).toBeNull();
  });

  it('hands its body back once, on the first release', () => {
    let released = 0;
    const page = decodeRecordPage(encodeReadRecordsResponse({ records: [], next_token: 't' })!, undefined, () => released++)!;
    page.release();
    page.release();
    expect(released).toBe(1);
  });
});
