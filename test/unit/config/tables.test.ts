import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../config/config-error.js';
import { resolveConfig } from '../../../config/load.js';
import { RESERVED_COLUMNS } from '../../../config/table-list.js';
import { DATE_COLUMN, METADATA_COLUMNS } from '../../../workers/schema-map.js';

const BASE = { source: { endpoint: 'http://127.0.0.1:8780', instance: 'i', accessKeyId: 'id', accessKeySecret: 'secret' } };

function issuesOf(tables: unknown[]): string[] {
  try {
    resolveConfig({ ...BASE, tables });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).issues.map((i) => `${i.key}: ${i.problem}`);
  }
  throw new Error('expected a ConfigError');
}

function tablesOf(tables: unknown[]) {
  return resolveConfig({ ...BASE, tables }).tables;
}

describe('tables[] entries: what run would refuse, found offline', () => {
  it('a metadataPrefix frees the default metadata names and reserves its own, per table', () => {
    const [t] = tablesOf([{ table: 'events', metadataPrefix: 'otslake_', columns: [{ name: '_op', type: 'STRING' }], partitionBy: ['otslake_date'] }]);
    expect(t).toMatchObject({ metadataPrefix: 'otslake_', partitionBy: ['otslake_date'] });
    expect(issuesOf([{ table: 'events', metadataPrefix: 'otslake_', columns: [{ name: 'otslake_ts', type: 'STRING' }] }])).toEqual([
      'tables[0].columns[0].name: "otslake_ts" is reserved for otslake\'s metadata columns (otslake_op, otslake_ts, otslake_seq, otslake_channel, otslake_deleted_columns, otslake_date); to land a source column of this name, set metadataPrefix (e.g. "otslake_")',
    ]);
    expect(
      issuesOf([
        { table: 'a', metadataPrefix: '9x' },
        { table: 'b', mode: 'mirror', metadataPrefix: 'x_', retention: '30d' },
      ]),
    ).toEqual([
      expect.stringMatching(/^tables\[0\]\.metadataPrefix: must be 1 to 32 letters/),
      'tables[1].metadataPrefix: is only allowed with mode changelog (a mirror table keeps _ts and _seq)',
      'tables[1].retention: is only allowed with mode changelog (a mirror holds the current rows, not their history)',
    ]);
  });

  it('columns that differ only in case, from each other or from a metadata column', () => {
    const issues = issuesOf([
      {
        table: 'orders',
        columns: [
          { name: 'amount', type: 'DOUBLE' },
          { name: 'Amount', type: 'DOUBLE' },
          { name: '_OP', type: 'STRING' },
        ],
      },
    ]);
    expect(issues).toEqual([
      'tables[0].columns[1].name: column "Amount" differs from column "amount" only in case (Delta column names are case-insensitive)',
      'tables[0].columns[2].name: "_OP" differs from the metadata column "_op" only in case (Delta column names are case-insensitive)',
    ]);
  });

  it('partitionBy must name declared columns of a partitionable type, exactly and once', () => {
    const columns = [
      { name: 'region', type: 'STRING' },
      { name: 'price', type: 'DOUBLE' },
    ];
    expect(issuesOf([{ table: 'a', columns, partitionBy: ['id'] }])).toEqual([
      'tables[0].partitionBy[0]: "id" is not a declared column: declare it in tables[0].columns with type INTEGER, STRING, BOOLEAN (primary-key columns cannot be partition columns)',
    ]);
    expect(issuesOf([{ table: 'a', columns, partitionBy: ['Region'] }])).toEqual([
      'tables[0].partitionBy[0]: "Region" is not a declared column; the declared column is "region" (names must match exactly)',
    ]);
    expect(issuesOf([{ table: 'a', columns, partitionBy: ['price'] }])).toEqual([
      'tables[0].partitionBy[0]: "price" is DOUBLE: a partition column must be INTEGER, STRING, BOOLEAN',
    ]);
    expect(issuesOf([{ table: 'a', columns, partitionBy: ['region', 'region'] }])).toEqual(['tables[0].partitionBy[1]: column "region" is listed twice']);
    expect(issuesOf([{ table: 'a', columns, partitionBy: ['_op'] }])[0]).toMatch(/^tables\[0\]\.partitionBy\[0\]: "_op" is not a declared column/);
    expect(tablesOf([{ table: 'a', columns, partitionBy: ['region'] }])[0]!.partitionBy).toEqual(['region']);
  });

  it('keys of mode mirror are refused on a changelog table; partitionBy on a mirror table', () => {
    expect(issuesOf([{ table: 'a', changeDataFeed: true, mirror: { buckets: 4 } }])).toEqual([
      'tables[0].changeDataFeed: is only allowed with mode mirror (a changelog table is its own change feed)',
      'tables[0].mirror: is only allowed with mode mirror',
    ]);
    expect(issuesOf([{ table: 'a', mode: 'mirror', columns: [{ name: 'r', type: 'STRING' }], partitionBy: ['r'] }])).toEqual([
      'tables[0].partitionBy: must be empty with mode mirror (mirror tables are laid out by primary-key hash buckets)',
    ]);
  });

  it('checks mirror settings with the same formats as top-level keys, sizes in human units', () => {
    expect(tablesOf([{ table: 'a', mode: 'mirror', mirror: { targetFileSize: '4MiB' }, changeDataFeed: true }])[0]!.mirror).toEqual({
      buckets: 16,
      targetFileSizeBytes: 4 * 1024 * 1024,
      changeDataFeed: true,
    });
    expect(tablesOf([{ table: 'a', mode: 'mirror' }])[0]!.mirror).toEqual({ buckets: 16, targetFileSizeBytes: 8 * 1024 * 1024, changeDataFeed: false });
    expect(issuesOf([{ table: 'a', mode: 'mirror', mirror: { buckets: 5000, targetFileSize: '10B', shards: 2 } }])).toEqual([
      'tables[0].mirror.shards: unknown key (allowed here: buckets, targetFileSize)',
      'tables[0].mirror.buckets: must be an integer in 1..4096, got 5000',
      'tables[0].mirror.targetFileSize: must be a size of at least 1KiB, e.g. "8MiB", got 10',
    ]);
  });

  it('derives the defaults that depend on the table name, and checks the derived path', () => {
    expect(tablesOf([{ table: 'orders', path: 'sales/orders/' }])[0]).toMatchObject({
      tunnel: { name: expect.stringMatching(/^otslake-orders-[0-9a-f]{8}$/) },
      path: 'sales/orders',
    });
    expect(issuesOf([{ table: '_hidden' }])).toEqual([
      'tables[0].path: the default, the table name "_hidden", is not a valid folder (segment "_hidden" is not allowed: use letters, digits, "_", "-", ".", "=", not starting with "_" or "." (Delta and vacuum treat those as hidden)): set a path',
    ]);
    expect(tablesOf([{ table: '_hidden', path: 'hidden' }])[0]!.path).toBe('hidden');
  });

  it('carries typeConflictPolicy only when the file sets it', () => {
    const [plain, set] = tablesOf([{ table: 'a' }, { table: 'b', typeConflictPolicy: 'string' }]);
    expect(plain).not.toHaveProperty('typeConflictPolicy');
    expect(set!.typeConflictPolicy).toBe('string');
  });

  it('names a missing column type and a missing table as required', () => {
    expect(issuesOf([{ columns: [{ name: 'x' }] }])).toEqual([
      'tables[0].table: is required',
      'tables[0].columns[0].type: is required: one of INTEGER, DOUBLE, BOOLEAN, STRING, BINARY',
    ]);
  });

  it('refuses an object where a list belongs instead of merging it into the empty default', () => {
    expect(() => resolveConfig({ ...BASE, tables: { orders: { table: 'orders' } } })).toThrow('tables: must be a list, not an object');
    expect(issuesOf([{ table: 'a', columns: { name: 'x', type: 'STRING' } }])).toEqual(['tables[0].columns: must be a list, not an object']);
  });

  it("reserves exactly the workers' changelog metadata columns", () => {
    expect(RESERVED_COLUMNS).toEqual([...METADATA_COLUMNS.map((c) => c.name), DATE_COLUMN]);
  });
});
