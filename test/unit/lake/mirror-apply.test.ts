import { describe, expect, it } from 'vitest';
import { applyChanges, changeOfStagedRow, ColumnFamilies, groupChanges, type RowChange } from '../../../lake/mirror/apply.js';
import type { KeyColumn } from '../../../lake/mirror/key-encoding.js';
import { resolveTypeConflict } from '../../../lake/mirror/type-conflict.js';

const PK: KeyColumn[] = [{ name: 'id', type: 'long' }];
const FAMILIES = new ColumnFamilies(['a', 'b', 'price', 'price__string']);
let order = 0;
function change(op: 'PUT' | 'UPDATE' | 'DELETE', seq: string | null, values: Record<string, unknown> = {}, deleted: string[] = []): RowChange {
  return changeOfStagedRow({ id: 1n, ...values, _op: op, _seq: seq, _ts: 5n, _channel: 'c', _deleted_columns: op === 'UPDATE' ? deleted : null }, PK, order++);
}
const apply = (before: Record<string, unknown> | undefined, changes: RowChange[]) => {
  const grouped = groupChanges(changes);
  return applyChanges(before, [...grouped.values()][0] ?? [], PK, FAMILIES);
};

describe('mirror change application', () => {
  it('PUT replaces the row, UPDATE sets and clears columns, DELETE removes', () => {
    const row = apply(undefined, [change('PUT', 's1', { a: 1n, b: 'x' })]);
    expect(row).toMatchObject({ id: 1n, a: 1n, b: 'x', _seq: 's1', _ts: 5n });
    expect(apply(row, [change('PUT', 's2', { b: 'y' })])).toEqual({ id: 1n, b: 'y', _seq: 's2', _ts: 5n });
    expect(apply(row, [change('UPDATE', 's2', { a: 2n }, ['b'])])).toMatchObject({ id: 1n, a: 2n, b: null });
    expect(apply(row, [change('DELETE', 's2')])).toBeUndefined();
    expect(row).toMatchObject({ a: 1n, b: 'x' });
  });

  it('collapses a key in _seq order whatever the arrival order, base rows first', () => {
    const changes = [
      change('UPDATE', 's3', { a: 3n }),
      change('PUT', 's1', { a: 1n, b: 'p' }),
      change('PUT', null, { a: 0n, b: 'base' }),
      change('UPDATE', 's2', {}, ['b']),
    ];
    expect(apply(undefined, changes)).toMatchObject({ a: 3n, b: null, _seq: 's3' });
  });

  it('never lets a base row overwrite a row the stream wrote; an UPDATE of deletes only creates nothing', () => {
    const streamRow = { id: 1n, a: 9n, b: null, _seq: 's9', _ts: 1n };
    expect(apply(streamRow, [change('PUT', null, { a: 0n })])).toBe(streamRow);
    expect(apply({ id: 1n, a: 9n, _seq: null }, [change('PUT', null, { a: 0n })])).toMatchObject({ a: 0n });
    expect(apply(undefined, [change('UPDATE', 's1', {}, ['a'])])).toBeUndefined();
    expect(apply(undefined, [change('UPDATE', 's1', { a: 4n })])).toMatchObject({ id: 1n, a: 4n });
  });

  it('keeps one value per attribute across type-conflict companions', () => {
    let row = apply(undefined, [change('PUT', 's1', { price: 10n })]);
    row = apply(row, [change('UPDATE', 's2', { price__string: 'ten' })]);
    expect(row).toMatchObject({ price: null, price__string: 'ten' });
    row = apply(row, [change('UPDATE', 's3', { price: 11n })]);
    expect(row).toMatchObject({ price: 11n, price__string: null });
    expect(apply(row, [change('UPDATE', 's4', { a: 1n }, ['price'])])).toMatchObject({ price: null, price__string: null, a: 1n });
  });

  it('rejects a staged row without a valid _op', () => {
    expect(() => changeOfStagedRow({ id: 1n, _op: 'MERGE' }, PK, 0, 'f.parquet')).toThrow(
      expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA', context: expect.objectContaining({ file: 'f.parquet' }) }),
    );
  });
});

describe('type conflict policy', () => {
  it('routes a mismatching value by policy and leaves fitting values alone', () => {
    expect(resolveTypeConflict('price', 'long', 5n, 'companion')).toEqual({ action: 'fits', column: 'price', value: 5n });
    expect(resolveTypeConflict('price', 'long', 'abc', 'companion')).toEqual({
      action: 'land',
      policy: 'companion',
      column: 'price__string',
      type: 'string',
      value: 'abc',
    });
    expect(resolveTypeConflict('price', 'long', 1.5, 'companion')).toMatchObject({ column: 'price__double', value: 1.5 });
    expect(resolveTypeConflict('price', 'string', 2n ** 62n, 'string')).toEqual({
      action: 'land',
      policy: 'string',
      column: 'price__string',
      type: 'string',
      value: '4611686018427387904',
    });
    expect(resolveTypeConflict('p', 'long', Uint8Array.of(1, 2, 255), 'string')).toMatchObject({ value: 'AQL/' });
    expect(resolveTypeConflict('price', 'long', true, 'dead-letter')).toEqual({
      action: 'dead-letter',
      policy: 'dead-letter',
      column: 'price',
      reason: 'type-mismatch',
    });
  });
});
