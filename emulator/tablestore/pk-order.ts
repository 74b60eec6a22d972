/**
 * Primary-key order, identity and partition hash for tablestore-local.
 * Order is Tablestore's: column by column, INTEGER as signed 64-bit, STRING and BINARY bytewise
 * (UTF-8 for strings, which differs from JS string order for astral characters).
 */
import type { PkCell, PkValue } from './model.js';
import type { KeyValue } from './plainbuffer-read.js';

const utf8 = new TextEncoder();

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = a[i]! - b[i]!;
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

function isAscii(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return false;
  return true;
}

function compareStrings(a: string, b: string): number {
  if (isAscii(a) && isAscii(b)) return a === b ? 0 : a < b ? -1 : 1;
  return compareBytes(utf8.encode(a), utf8.encode(b));
}

export function compareValues(a: KeyValue, b: KeyValue): number {
  if (a.type === 'INF_MIN') return b.type === 'INF_MIN' ? 0 : -1;
  if (a.type === 'INF_MAX') return b.type === 'INF_MAX' ? 0 : 1;
  if (b.type === 'INF_MIN') return 1;
  if (b.type === 'INF_MAX') return -1;
  if (a.type === 'INTEGER' && b.type === 'INTEGER') return a.value === b.value ? 0 : a.value < b.value ? -1 : 1;
  if (a.type === 'STRING' && b.type === 'STRING') return compareStrings(a.value, b.value);
  if (a.type === 'BINARY' && b.type === 'BINARY') return compareBytes(a.value, b.value);
  // The schema forbids mixed types in one column; order by type only to stay total.
  return a.type < b.type ? -1 : 1;
}

export function comparePks(a: ReadonlyArray<{ value: KeyValue }>, b: ReadonlyArray<{ value: KeyValue }>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = compareValues(a[i]!.value, b[i]!.value);
    if (d !== 0) return d;
  }
  return a.length - b.length;
}

/** A string identity of a primary key, for Map lookups. */
export function pkKey(pk: PkCell[]): string {
  let out = '';
  for (const cell of pk) {
    const v = cell.value;
    const body = v.type === 'BINARY' ? Buffer.from(v.value).toString('base64') : String(v.value);
    out += `${v.type[0]}${body.length}:${body}`;
  }
  return out;
}

/**
 * How a table maps its first key column to [0, 2^32). `spread` (every table created now): FNV-1a then
 * the murmur3 finaliser, so keys that differ only in their last characters land anywhere, as rows
 * of a real table spread over range partitions after splits. `fnv1a`: plain FNV-1a, which clusters
 * such keys (60 keys `sm-000…059` fell in 2 of 4 partitions); kept for tables of older data dirs.
 */
export type KeyHash = 'spread' | 'fnv1a';

export function partitionHash(value: PkValue, scheme: KeyHash = 'spread'): number {
  let bytes: Uint8Array;
  if (value.type === 'INTEGER') {
    bytes = new Uint8Array(9);
    bytes[0] = 0;
    new DataView(bytes.buffer).setBigInt64(1, value.value, true);
  } else {
    const raw = value.type === 'STRING' ? utf8.encode(value.value) : value.value;
    bytes = new Uint8Array(raw.length + 1);
    bytes[0] = value.type === 'STRING' ? 3 : 7;
    bytes.set(raw, 1);
  }
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  if (scheme === 'spread') {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

export const HASH_SPACE = 2 ** 32;
