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

describe('tables[].select: column selection and renaming, checked offline', () => {
  it('resolves include, exclude and rename; declared columns and partitionBy use lake names', () => {
    const [a, b, c] = tablesOf([
      { table: 'a', select: { exclude: ['secret', '_op'], rename: { customer_email: 'email' } }, columns: [{ name: 'email', type: 'STRING' }] },
      {
        table: 'b',
        select: { include: ['amount', 'region_code'], rename: { region_code: 'region' } },
        columns: [{ name: 'region', type: 'STRING' }],
        partitionBy: ['region'],
      },
      { table: 'c' },
    ]);
    expect(a!.select).toEqual({ include: [], exclude: ['secret', '_op'], rename: { customer_email: 'email' } });
    expect(b!.select).toEqual({ include: ['amount', 'region_code'], exclude: [], rename: { region_code: 'region' } });
    expect(c!.select).toEqual({ include: [], exclude: [], rename: {} });
  });

  it('names every contradiction by its key', () => {
    expect(
      issuesOf([
        { table: 'a', select: { include: ['x', 'x'], exclude: ['y'] } },
        { table: 'b', select: { rename: { a: 'a', b: '_TS', c: 'same', d: 'SAME', e: 'kept' }, include: ['a', 'b', 'c', 'd', 'kept'] } },
        { table: 'c', select: { exclude: ['gone', 'dropped'], rename: { gone: 'back' } }, columns: [{ name: 'dropped', type: 'STRING' }] },
        { table: 'd', select: { rename: { old: 'new' } }, columns: [{ name: 'old', type: 'STRING' }] },
        { table: 'e', select: { include: ['_op', 'v'], rename: { w: 'z' } }, columns: [{ name: 'other', type: 'STRING' }] },
        { table: 'f', metadataPrefix: 'meta_', select: { rename: { _op: 'meta_OP' } } },
        { table: 'g', select: { rename: { a: 3 }, include: 'x' } },
      ]),
    ).toEqual([
      // Formats first (every entry), then what the entries say against themselves.
      'tables[6].select.include: must be a list of column names, got "x"',
      expect.stringMatching(/^tables\[6\]\.select\.rename: "a" must map to a column name/),
      'tables[0].select.include[1]: "x" is listed twice',
      'tables[0].select.exclude: set include or exclude, not both (include lands only what it lists)',
      'tables[1].select.rename.a: renames "a" to itself',
      'tables[1].select.rename.b: "_TS" is the metadata column "_ts" (Delta names ignore case); pick another name or set metadataPrefix',
      'tables[1].select.rename.d: "SAME" is already the lake name of "c" (Delta names ignore case)',
      'tables[1].select.rename.e: "kept" is the lake name of the included column "kept", which lands under its own name',
      'tables[1].select.rename.e: "e" is not in tables[1].select.include: list the source name there to land it renamed',
      'tables[2].select.rename.gone: "gone" is excluded in tables[2].select.exclude: renaming it has no effect',
      'tables[2].columns[0].name: "dropped" is left out by tables[2].select.exclude: a declared column must land',
      'tables[3].columns[0].name: "old" is renamed to "new" by tables[3].select.rename: declare the lake name "new"',
      'tables[4].select.include[0]: "_op" is named like a metadata column: rename it in tables[4].select.rename or set metadataPrefix',
      'tables[4].select.rename.w: "w" is not in tables[4].select.include: list the source name there to land it renamed',
      'tables[4].columns[0].name: "other" is left out by tables[4].select.include: a declared column must land',
      'tables[5].select.rename._op: "meta_OP" is the metadata column "meta_op" (Delta names ignore case); pick another name or set metadataPrefix',
    ]);
  });

  it('takes partitionBy by lake names: a renamed source name is not a column', () => {
    const table = { table: 'p', select: { rename: { region_code: 'region' } }, columns: [{ name: 'region', type: 'STRING' }] };
    expect(tablesOf([{ ...table, partitionBy: ['region'] }])[0]!.partitionBy).toEqual(['region']);
    expect(issuesOf([{ ...table, partitionBy: ['region_code'] }])).toEqual([
      'tables[0].partitionBy[0]: "region_code" is not a declared column: declare it in tables[0].columns with type INTEGER, STRING, BOOLEAN (primary-key columns cannot be partition columns)',
    ]);
  });

  it('lets a mirror table set metadataPrefix', () => {
    expect(tablesOf([{ table: 'm', mode: 'mirror', metadataPrefix: 'otslake_' }])[0]).toMatchObject({ mode: 'mirror', metadataPrefix: 'otslake_' });
  });
});
