import { describe, expect, it } from 'vitest';
import { hasCode } from '../../../common/errors.js';
import { VT } from '../../../tunnel/plainbuffer.js';
import { BatchSchema, columnTypeOfPrimaryKey, columnTypeOfValue, METADATA_COLUMNS, valueTypeOfColumn } from '../../../workers/schema-map.js';
import type { PrimaryKeyType } from '../../../workers/protocol.js';

function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected a throw');
}

describe('type mapping', () => {
  it('maps Tablestore types to Delta types and back', () => {
    expect([VT.INTEGER, VT.DOUBLE, VT.BOOLEAN, VT.STRING, VT.BINARY, VT.NONE].map(columnTypeOfValue)).toEqual([
      'long',
      'double',
      'boolean',
      'string',
      'binary',
      null,
    ]);
    expect(valueTypeOfColumn('long')).toBe(VT.INTEGER);
    expect(valueTypeOfColumn('timestamp')).toBeNull();
    expect(columnTypeOfPrimaryKey('BINARY')).toBe('binary');
    expect(
      hasCode(
        thrown(() => columnTypeOfPrimaryKey('long' as PrimaryKeyType)),
        'OTSL_LAKE_SCHEMA',
      ),
    ).toBe(true);
  });
});

describe('BatchSchema', () => {
  it('adds a primary key the column list lacks, skips metadata columns, and puts metadata last', () => {
    const schema = new BatchSchema(
      [
        { name: 'a', type: 'string' },
        { name: '_op', type: 'string' },
        { name: '_ts', type: 'timestamp' },
      ],
      [{ name: 'id', type: 'INTEGER' }],
      false,
    );
    expect(schema.fileColumns().map((c) => `${c.name}:${c.type}`)).toEqual(['id:long', 'a:string', ...METADATA_COLUMNS.map((c) => `${c.name}:${c.type}`)]);
    expect(schema.newColumns).toEqual([]);
  });

  it('refuses a primary key of another type, a metadata name of another type and case duplicates', () => {
    expect(
      hasCode(
        thrown(() => new BatchSchema([{ name: 'id', type: 'string' }], [{ name: 'id', type: 'INTEGER' }], false)),
        'OTSL_LAKE_SCHEMA',
      ),
    ).toBe(true);
    expect(
      hasCode(
        thrown(() => new BatchSchema([{ name: '_op', type: 'long' }], [], false)),
        'OTSL_LAKE_SCHEMA',
      ),
    ).toBe(true);
    const dup = thrown(
      () =>
        new BatchSchema(
          [
            { name: 'a', type: 'long' },
            { name: 'A', type: 'long' },
          ],
          [],
          false,
        ),
    );
    expect(hasCode(dup, 'OTSL_LAKE_SCHEMA')).toBe(true);
    expect((dup as Error).message).toMatch(/"A"/);
  });

  it('discovers a column from its first value and bumps the version', () => {
    const schema = new BatchSchema([{ name: 'id', type: 'long' }], [{ name: 'id', type: 'INTEGER' }], true);
    const v = schema.version;
    expect(schema.conflictOf('ID')).toBe('case-duplicate');
    expect(schema.conflictOf('_SEQ')).toBe('reserved');
    expect(schema.conflictOf('x')).toBeNull();
    schema.discoverColumn('x', VT.BINARY);
    expect(schema.version).toBe(v + 1);
    expect(schema.lookup('x')).toEqual({ name: 'x', type: 'binary', valueType: VT.BINARY, index: 1 });
    expect(schema.newColumns).toEqual([{ name: 'x', type: 'binary' }]);
    expect(
      hasCode(
        thrown(() => schema.discoverColumn('y', VT.NONE)),
        'OTSL_INTERNAL',
      ),
    ).toBe(true);
  });
});
