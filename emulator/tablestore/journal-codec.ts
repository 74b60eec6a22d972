/**
 * How tablestore-local writes its values, keys and change records as JSON (journal and snapshot).
 * Every value is an explicit `[tag, payload]` pair built here, never left to JSON.stringify: a
 * Buffer (which the SDK's decoded rows are) has a toJSON that runs before any replacer, and doubles
 * such as NaN or -0 have no JSON form. Explicit encoding also makes loading a plain JSON.parse (no
 * reviver walking every node), which is what keeps a large journal quick to load.
 */
import type { CellChange, ChangeRecord, ColumnValue, PartitionInfo, PkCell, PkValue } from './model.js';

/** I = INTEGER (decimal string), S = STRING, B = BINARY (base64), D = DOUBLE (number or "NaN"/"Infinity"/"-Infinity"/"-0"), T = BOOLEAN. */
export type EncodedValue = ['I', string] | ['S', string] | ['B', string] | ['D', number | string] | ['T', boolean];

export function encodeValue(v: ColumnValue): EncodedValue {
  switch (v.type) {
    case 'INTEGER':
      return ['I', v.value.toString()];
    case 'STRING':
      return ['S', v.value];
    case 'BINARY':
      return ['B', Buffer.from(v.value.buffer, v.value.byteOffset, v.value.byteLength).toString('base64')];
    case 'DOUBLE':
      return ['D', Number.isFinite(v.value) && !Object.is(v.value, -0) ? v.value : Object.is(v.value, -0) ? '-0' : String(v.value)];
    case 'BOOLEAN':
      return ['T', v.value];
  }
}

export function decodeValue(e: EncodedValue): ColumnValue {
  switch (e[0]) {
    case 'I':
      return { type: 'INTEGER', value: BigInt(e[1]) };
    case 'S':
      return { type: 'STRING', value: e[1] };
    case 'B': {
      const b = Buffer.from(e[1], 'base64');
      return { type: 'BINARY', value: new Uint8Array(b.buffer, b.byteOffset, b.byteLength) };
    }
    case 'D':
      return { type: 'DOUBLE', value: typeof e[1] === 'number' ? e[1] : Number(e[1]) };
    case 'T':
      return { type: 'BOOLEAN', value: e[1] };
    default:
      throw new Error(`unknown value tag ${JSON.stringify(e[0])}`);
  }
}

export type EncodedKey = Array<[string, EncodedValue]>;

export function encodeKey(pk: PkCell[]): EncodedKey {
  return pk.map((c) => [c.name, encodeValue(c.value)]);
}

export function decodeKey(e: EncodedKey): PkCell[] {
  return e.map(([name, v]) => ({ name, value: decodeValue(v) as PkValue }));
}

/** [op, name, value?, timestamp?]: p = put, o = delete one version, a = delete all versions. */
type EncodedChange = ['p', string, EncodedValue, number] | ['o', string, number] | ['a', string];

export interface EncodedRecord {
  /** partition id */
  p: string;
  /** [epoch, timestamp µs as a decimal string, row index] */
  s: [number, string, number];
  a: 'P' | 'U' | 'D';
  k: EncodedKey;
  c: EncodedChange[];
}

const ACTION_TAG = { PUT_ROW: 'P', UPDATE_ROW: 'U', DELETE_ROW: 'D' } as const;
const TAG_ACTION = { P: 'PUT_ROW', U: 'UPDATE_ROW', D: 'DELETE_ROW' } as const;

function encodeChange(c: CellChange): EncodedChange {
  if (c.op === 'put') return ['p', c.name, encodeValue(c.value), c.timestamp];
  if (c.op === 'delete-one') return ['o', c.name, c.timestamp];
  return ['a', c.name];
}

function decodeChange(e: EncodedChange): CellChange {
  if (e[0] === 'p') return { op: 'put', name: e[1], value: decodeValue(e[2]), timestamp: e[3] };
  if (e[0] === 'o') return { op: 'delete-one', name: e[1], timestamp: e[2] };
  return { op: 'delete-all', name: e[1] };
}

export function encodeRecord(r: ChangeRecord): EncodedRecord {
  return {
    p: r.partitionId,
    s: [r.seq.epoch, r.seq.timestamp.toString(), r.seq.rowIndex],
    a: ACTION_TAG[r.action],
    k: encodeKey(r.primaryKey),
    c: r.changes.map(encodeChange),
  };
}

export function decodeRecord(e: EncodedRecord): ChangeRecord {
  return {
    partitionId: e.p,
    seq: { epoch: e.s[0], timestamp: BigInt(e.s[1]), rowIndex: e.s[2] },
    action: TAG_ACTION[e.a],
    primaryKey: decodeKey(e.k),
    changes: e.c.map(decodeChange),
  };
}

export type EncodedPartition = Omit<PartitionInfo, 'createdAtUs'> & { createdAtUs: string };

export function encodePartition(p: PartitionInfo): EncodedPartition {
  return { ...p, parents: [...p.parents], createdAtUs: p.createdAtUs.toString() };
}

export function decodePartition(e: EncodedPartition): PartitionInfo {
  return { ...e, parents: [...e.parents], createdAtUs: BigInt(e.createdAtUs) };
}

/**
 * Journals written before the explicit encoding tagged bigint and bytes as `{$big}` / `{$bytes}`,
 * and lost Buffer values to `{"type":"Buffer","data":[…]}` (Buffer.toJSON ran first). This reviver
 * reads all three back, so an old data directory loads (once; it is then compacted to the new form).
 */
export function legacyReviver(_key: string, value: unknown): unknown {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    const v = value as Record<string, unknown>;
    const keys = Object.keys(v);
    if (keys.length === 1 && typeof v.$big === 'string') return BigInt(v.$big);
    if (keys.length === 1 && typeof v.$bytes === 'string') return Uint8Array.from(Buffer.from(v.$bytes, 'base64'));
    if (keys.length === 2 && v.type === 'Buffer' && Array.isArray(v.data)) return Uint8Array.from(v.data as number[]);
  }
  return value;
}
