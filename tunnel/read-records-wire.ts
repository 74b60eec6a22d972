/**
 * A direct codec for the one message that carries data, ReadRecordsResponse (docs/tunnel-protocol.md §Messages):
 *
 *   ReadRecordsResponse { repeated Record records = 1; required string next_token = 2; optional bool may_more_record = 3; }
 *   Record              { required ActionType action_type = 1; required bytes record = 2; optional bytes origin_record = 3; }
 *
 * and an encoder for its request (`ReadRecordsRequest { required string tunnel_id = 1; required string client_id = 2;
 * required string channel_id = 3; required string token = 4; }`), so that a worker thread, which sends no other
 * message, never loads protobufjs.
 *
 * The generic path (proto.ts) copies every record into a wire object, then through protobufjs's
 * fromObject, and on the way in through fromWire: three objects per record for a few hundred bytes.
 * This codec reads and writes the bytes directly and returns exactly what the generic path returns
 * (same bytes out, same object shapes in, Buffer views where protobufjs gives them). It handles the
 * canonical form only — ASCII tokens, known action types, no unknown fields, short varints — and
 * answers null for anything else, so that the generic path decides (or throws) as it always did.
 */

export enum ActionType {
  PUT_ROW = 1,
  UPDATE_ROW = 2,
  DELETE_ROW = 3,
}
export interface RecordMsg {
  action_type: ActionType;
  record: Uint8Array;
  origin_record?: Uint8Array;
}
export interface ReadRecordsResponse {
  records: RecordMsg[];
  next_token: string;
  may_more_record?: boolean;
}

const TAG_RECORDS = (1 << 3) | 2;
const TAG_NEXT_TOKEN = (2 << 3) | 2;
const TAG_MAY_MORE = (3 << 3) | 0;
const TAG_ACTION = (1 << 3) | 0;
const TAG_RECORD = (2 << 3) | 2;
const TAG_ORIGIN = (3 << 3) | 2;

function varintSize(n: number): number {
  return n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x200000 ? 3 : n < 0x10000000 ? 4 : 5;
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= 0x80) return false;
  return true;
}

/** PUT_ROW, UPDATE_ROW, DELETE_ROW: the enum is closed (proto2), other values are not the canonical form. */
function isAction(value: unknown): value is ActionType {
  return value === 1 || value === 2 || value === 3;
}

/** Size of one Record's body, or -1 when it is not in the canonical form. */
function recordBodySize(r: RecordMsg): number {
  if (r === null || typeof r !== 'object' || !isAction(r.action_type) || !(r.record instanceof Uint8Array)) return -1;
  let size = 2 + 1 + varintSize(r.record.length) + r.record.length;
  const origin = r.origin_record;
  if (origin !== undefined && origin !== null) {
    if (!(origin instanceof Uint8Array)) return -1;
    size += 1 + varintSize(origin.length) + origin.length;
  }
  return size;
}

/** The bytes `encodeMessage('ReadRecordsRequest', msg)` produces, or null (a field that is not a string) to use the generic path. */
export function encodeReadRecordsRequest(msg: { tunnel_id: string; client_id: string; channel_id: string; token: string }): Buffer | null {
  const fields = [msg.tunnel_id, msg.client_id, msg.channel_id, msg.token];
  let size = 0;
  for (const f of fields) {
    if (typeof f !== 'string') return null;
    const n = Buffer.byteLength(f, 'utf8');
    size += 1 + varintSize(n) + n;
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!;
    out[pos++] = ((i + 1) << 3) | 2;
    let n = Buffer.byteLength(f, 'utf8');
    while (n >= 0x80) {
      out[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[pos++] = n;
    pos += out.write(f, pos, 'utf8');
  }
  return out;
}

/** The bytes `encodeMessage('ReadRecordsResponse', msg)` produces, or null to use the generic path. */
export function encodeReadRecordsResponse(msg: ReadRecordsResponse): Buffer | null {
  const records = msg.records;
  const token = msg.next_token;
  const mayMore = msg.may_more_record;
  if (!Array.isArray(records) || typeof token !== 'string' || !isAscii(token)) return null;
  if (mayMore !== undefined && mayMore !== null && typeof mayMore !== 'boolean') return null;
  const bodySizes = new Array<number>(records.length);
  let size = 1 + varintSize(token.length) + token.length + (typeof mayMore === 'boolean' ? 2 : 0);
  for (let i = 0; i < records.length; i++) {
    const body = recordBodySize(records[i]!);
    if (body < 0) return null;
    bodySizes[i] = body;
    size += 1 + varintSize(body) + body;
  }
  const out = Buffer.allocUnsafe(size);
  let pos = 0;
  const varint = (n: number): void => {
    while (n >= 0x80) {
      out[pos++] = (n & 0x7f) | 0x80;
      n >>>= 7;
    }
    out[pos++] = n;
  };
  for (let i = 0; i < records.length; i++) {
    const r = records[i]!;
    out[pos++] = TAG_RECORDS;
    varint(bodySizes[i]!);
    out[pos++] = TAG_ACTION;
    out[pos++] = r.action_type;
    out[pos++] = TAG_RECORD;
    varint(r.record.length);
    out.set(r.record, pos);
    pos += r.record.length;
    const origin = r.origin_record;
    if (origin !== undefined && origin !== null) {
      out[pos++] = TAG_ORIGIN;
      varint(origin.length);
      out.set(origin, pos);
      pos += origin.length;
    }
  }
  out[pos++] = TAG_NEXT_TOKEN;
  varint(token.length);
  pos += out.write(token, pos, 'latin1');
  if (typeof mayMore === 'boolean') {
    out[pos++] = TAG_MAY_MORE;
    out[pos++] = mayMore ? 1 : 0;
  }
  return out;
}

/** Cursor over the input; every read returns -1 when the bytes are not in the canonical form. */
class Cursor {
  pos = 0;
  constructor(
    readonly bytes: Uint8Array,
    public end: number,
  ) {}

  /** A varint of at most 4 bytes (< 2^28): lengths, tags and small values. */
  varint(): number {
    const b = this.bytes;
    let value = 0;
    for (let shift = 0; shift < 28; shift += 7) {
      if (this.pos >= this.end) return -1;
      const byte = b[this.pos++]!;
      value |= (byte & 0x7f) << shift;
      if (byte < 0x80) return value;
    }
    return -1;
  }

  /** A length-delimited field's [start, end), or -1. */
  span(): number {
    const len = this.varint();
    if (len < 0 || this.pos + len > this.end) return -1;
    const start = this.pos;
    this.pos += len;
    return start;
  }
}

/** `bytes` as a Buffer over the same memory (no copy). */
export function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** What `decodeMessage('ReadRecordsResponse', bytes)` returns, or null to use the generic path. */
export function decodeReadRecordsResponse(bytes: Uint8Array): ReadRecordsResponse | null {
  if (!(bytes instanceof Uint8Array)) return null;
  const page = decodeRecordPage(asBuffer(bytes), undefined, null);
  if (page === null) return null;
  // Views of the input's own type, as protobufjs gives (a Buffer for a Buffer, else a plain Uint8Array).
  const records: RecordMsg[] = new Array(page.count);
  for (let i = 0; i < page.count; i++) records[i] = page.record(i, bytes);
  const mayMore = page.may_more_record;
  return mayMore === undefined ? { records, next_token: page.next_token } : { records, next_token: page.next_token, may_more_record: mayMore };
}

/** Int32 slots per record in a RecordPage's layout: action type, record at, record length, origin at (-1: none), origin length. */
export const RECORD_PAGE_SLOTS = 5;
const SLOTS = RECORD_PAGE_SLOTS;

/**
 * A ReadRecords page as offsets into its response body: no object and no view per record (the channel task
 * decodes a page of a thousand records straight from the bytes). The body may be a buffer the transport
 * reuses: call `release()` once nothing reads the page any more (the channel task, after landing it); a page
 * never released is simply collected. `record(i)` makes the RecordMsg of one record (dead letters, tests).
 */
export class RecordPage {
  /** Record and origin bytes of every record: what the byte budget counts. */
  readonly recordBytes: number;

  constructor(
    /** The bytes every record lies in. */
    readonly body: Buffer,
    readonly count: number,
    /** Per record SLOTS int32s (see SLOTS). */
    readonly layout: Int32Array,
    readonly next_token: string,
    readonly may_more_record: boolean | undefined,
    /** The response's size on the wire. */
    readonly responseBytes: number,
    readonly requestId: string | undefined,
    private releaseBody: (() => void) | null = null,
  ) {
    let bytes = 0;
    for (let i = 0; i < count; i++) bytes += layout[i * SLOTS + 2]! + layout[i * SLOTS + 4]!;
    this.recordBytes = bytes;
  }

  actionType(i: number): ActionType {
    return this.layout[i * SLOTS]! as ActionType;
  }

  /** Bytes of record i with its origin_record. */
  sizeOf(i: number): number {
    return this.layout[i * SLOTS + 2]! + this.layout[i * SLOTS + 4]!;
  }

  /** Record i as the message object: views into the body (copy them to keep them past `release`), or into `of`, a body's twin. */
  record(i: number, of: Uint8Array = this.body): RecordMsg {
    const l = this.layout;
    const o = i * SLOTS;
    const record = of.subarray(l[o + 1]!, l[o + 1]! + l[o + 2]!);
    if (l[o + 3]! < 0) return { action_type: l[o]! as ActionType, record };
    return { action_type: l[o]! as ActionType, record, origin_record: of.subarray(l[o + 3]!, l[o + 3]! + l[o + 4]!) };
  }

  /** Hands the body back to its owner for reuse; the page must not be read afterwards. */
  release(): void {
    const release = this.releaseBody;
    this.releaseBody = null;
    release?.();
  }

  /**
   * A page of record objects (the generic decoder's answer to a response not in the canonical form): their
   * bytes copied into one body. Rare, so the copy does not matter.
   */
  static fromRecords(response: ReadRecordsResponse, responseBytes: number, requestId: string | undefined): RecordPage {
    const records = response.records;
    let size = 0;
    for (const r of records) size += r.record.length + (r.origin_record?.length ?? 0);
    const body = Buffer.allocUnsafe(size);
    const layout = new Int32Array(records.length * SLOTS);
    let at = 0;
    records.forEach((r, i) => {
      layout[i * SLOTS] = r.action_type;
      layout[i * SLOTS + 1] = at;
      layout[i * SLOTS + 2] = r.record.length;
      body.set(r.record, at);
      at += r.record.length;
      const origin = r.origin_record;
      layout[i * SLOTS + 3] = origin === undefined ? -1 : at;
      layout[i * SLOTS + 4] = origin?.length ?? 0;
      if (origin) {
        body.set(origin, at);
        at += origin.length;
      }
    });
    return new RecordPage(body, records.length, layout, response.next_token, response.may_more_record, responseBytes, requestId);
  }
}

/**
 * `decodeReadRecordsResponse` as a RecordPage over `bytes` (not copied), or null to use the generic path.
 * `release` is handed to the page: the owner of `bytes` gets them back when the page is released.
 */
export function decodeRecordPage(bytes: Buffer, requestId: string | undefined, release: (() => void) | null): RecordPage | null {
  const c = new Cursor(bytes, bytes.length);
  let layout = new Int32Array(1024 * SLOTS);
  let count = 0;
  let token: string | undefined;
  let mayMore: boolean | undefined;
  while (c.pos < bytes.length) {
    const tag = bytes[c.pos++]!;
    if (tag === TAG_RECORDS) {
      const start = c.span();
      if (start < 0) return null;
      const end = c.pos;
      c.pos = start;
      if ((count + 1) * SLOTS > layout.length) {
        const wider = new Int32Array(layout.length * 2);
        wider.set(layout);
        layout = wider;
      }
      if (!recordInto(c, end, layout, count * SLOTS)) return null;
      count++;
    } else if (tag === TAG_NEXT_TOKEN) {
      const start = c.span();
      if (start < 0) return null;
      for (let i = start; i < c.pos; i++) if (bytes[i]! >= 0x80) return null;
      token = bytes.toString('latin1', start, c.pos);
    } else if (tag === TAG_MAY_MORE) {
      if (c.pos >= bytes.length) return null;
      const v = bytes[c.pos++]!;
      if (v > 1) return null;
      mayMore = v === 1;
    } else {
      return null;
    }
  }
  if (token === undefined) return null;
  return new RecordPage(bytes, count, layout, token, mayMore, bytes.length, requestId, release);
}

/** One Record message, canonical only: its place written into layout[o, o + SLOTS); false when not canonical. */
function recordInto(c: Cursor, end: number, layout: Int32Array, o: number): boolean {
  const b = c.bytes;
  let action = -1;
  let recordAt = -1;
  let originAt = -1;
  layout[o + 2] = 0;
  layout[o + 4] = 0;
  while (c.pos < end) {
    const tag = b[c.pos++]!;
    if (tag === TAG_RECORD || tag === TAG_ORIGIN) {
      const start = c.span();
      if (start < 0 || c.pos > end) return false;
      if (tag === TAG_RECORD) {
        recordAt = start;
        layout[o + 2] = c.pos - start;
      } else {
        originAt = start;
        layout[o + 4] = c.pos - start;
      }
    } else if (tag === TAG_ACTION) {
      if (c.pos >= end) return false;
      const value = b[c.pos++]!;
      if (!isAction(value)) return false;
      action = value;
    } else {
      return false;
    }
  }
  if (c.pos !== end || action === -1 || recordAt < 0) return false;
  layout[o] = action;
  layout[o + 1] = recordAt;
  layout[o + 3] = originAt; // -1: no origin_record (present but empty is 0 bytes at originAt)
  return true;
}
