/**
 * An order-preserving encoding of a Tablestore primary key, as lowercase hex text.
 *
 * Mirror files record the range of keys they hold (`add.tags`), and a changed key's file is found by
 * comparing keys as plain strings, so the text must sort exactly as the key does:
 * - INTEGER (long): 8 bytes big-endian with the sign bit flipped, so negatives sort first;
 * - STRING/BINARY: the bytes (UTF-8 for strings) with 0x00 escaped as 00 ff, then the terminator 00 01,
 *   so a prefix sorts before its extensions and the next column can follow without ambiguity.
 * Hex keeps byte order under JavaScript's `<` (UTF-16 code-unit order) and survives JSON and tags.
 * Strings compare by UTF-8 bytes, which is Tablestore's own order for STRING primary keys.
 */
import { OtslakeError } from '../../common/errors.js';

export type KeyColumnType = 'long' | 'string' | 'binary';

export interface KeyColumn {
  readonly name: string;
  readonly type: KeyColumnType;
}

const HEX: string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const SIGN_FLIP = 1n << 63n;
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;
const encoder = new TextEncoder();

function badKey(column: KeyColumn, value: unknown, expected: string): OtslakeError {
  const shown = typeof value === 'bigint' ? `${value}n` : value instanceof Uint8Array ? `${value.length} bytes` : (JSON.stringify(value) ?? String(value));
  return new OtslakeError('OTSL_LAKE_SCHEMA', `primary-key column "${column.name}" (${column.type}) needs ${expected}, got ${shown}`, {
    context: { column: column.name, columnType: column.type },
  });
}

function encodeLong(column: KeyColumn, value: unknown): string {
  let v: bigint;
  if (typeof value === 'bigint') v = value;
  else if (typeof value === 'number' && Number.isSafeInteger(value)) v = BigInt(value);
  else throw badKey(column, value, 'an integer');
  if (v < INT64_MIN || v > INT64_MAX) throw badKey(column, value, 'a value inside int64');
  return (BigInt.asUintN(64, v) ^ SIGN_FLIP).toString(16).padStart(16, '0');
}

function encodeBytes(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b === 0 ? '00ff' : HEX[b]!;
  return out + '0001';
}

/** The hex key of `row`'s primary-key columns, in key order. A missing or mistyped value is OTSL_LAKE_SCHEMA. */
export function encodeKey(columns: readonly KeyColumn[], row: Readonly<Record<string, unknown>>): string {
  let out = '';
  for (const column of columns) {
    const value = row[column.name];
    if (value === null || value === undefined) throw badKey(column, value, 'a value (primary-key columns are never null)');
    switch (column.type) {
      case 'long':
        out += encodeLong(column, value);
        break;
      case 'string':
        if (typeof value !== 'string') throw badKey(column, value, 'a string');
        out += encodeBytes(encoder.encode(value));
        break;
      case 'binary':
        if (!(value instanceof Uint8Array)) throw badKey(column, value, 'a Uint8Array');
        out += encodeBytes(value);
        break;
    }
  }
  return out;
}

/** Orders encoded keys (they are ASCII, so code-unit order is byte order). */
export function compareKeys(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The primary-key columns as key columns; any other type is OTSL_LAKE_SCHEMA (Tablestore keys are INTEGER, STRING or BINARY). */
export function keyColumnsOf(columns: readonly { name: string; type: string }[]): KeyColumn[] {
  return columns.map((c) => {
    if (c.type !== 'long' && c.type !== 'string' && c.type !== 'binary') {
      throw new OtslakeError('OTSL_LAKE_SCHEMA', `primary-key column "${c.name}" has type ${c.type}; keys must be long, string or binary`, {
        context: { column: c.name, columnType: c.type },
      });
    }
    return { name: c.name, type: c.type };
  });
}
