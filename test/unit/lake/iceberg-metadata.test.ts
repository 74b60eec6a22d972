/**
 * The pieces of the Iceberg metadata that readers prune on or resolve columns by: field-id
 * assignment, the spec's single-value serialization of bounds, metrics from Delta stats (bounds
 * that stay bounds where Delta truncated), partition data, and the Avro container files as written
 * and read back (header metadata Iceberg readers require). Parquet files carry the field ids.
 */
import { parquetMetadata } from 'hyparquet';
import { describe, expect, it } from 'vitest';
import type { StructType } from '../../../lake/actions.js';
import { decodeAvroFile, encodeAvroFile } from '../../../lake/iceberg/avro-file.js';
import {
  MANIFEST_LIST_SCHEMA,
  manifestEntrySchema,
  readManifest,
  readManifestList,
  writeManifest,
  writeManifestList,
  type ManifestEntry,
} from '../../../lake/iceberg/manifests.js';
import { assignFieldIds, fieldIdsOf, icebergSchemaOf, nameMappingOf, partitionSpecOf } from '../../../lake/iceberg/schema.js';
import { compareValues, metricsOf, partitionRecordOf, partitionValueOf, serializeValue } from '../../../lake/iceberg/values.js';
import { dataColumnsOf } from '../../../lake/parquet-columns.js';
import { writeParquetFiles } from '../../../lake/parquet-file.js';
import { LocalStore } from '../../../lake/local-store.js';
import { createTmpDir } from '../../helpers/tmp-dir.js';

/** A live manifest entry of snapshot 7 (sequence 3) for a one-row Parquet file, with `dataFile`'s fields. */
function manifestEntryOf(dataFile: Partial<ManifestEntry['data_file']>): ManifestEntry {
  return {
    status: 1,
    snapshot_id: 7,
    sequence_number: 3,
    file_sequence_number: 3,
    data_file: {
      content: 0,
      file_path: 'file:///t/a.parquet',
      file_format: 'PARQUET',
      partition: {},
      record_count: 1,
      file_size_in_bytes: 100,
      column_sizes: null,
      value_counts: null,
      null_value_counts: null,
      nan_value_counts: null,
      lower_bounds: null,
      upper_bounds: null,
      key_metadata: null,
      split_offsets: null,
      equality_ids: null,
      sort_order_id: null,
      ...dataFile,
    },
  };
}

const SCHEMA: StructType = {
  type: 'struct',
  fields: [
    { name: 'id', type: 'long', nullable: false, metadata: {} },
    { name: '_deleted_columns', type: { type: 'array', elementType: 'string', containsNull: true }, nullable: true, metadata: {} },
    { name: 'name', type: 'string', nullable: true, metadata: {} },
    { name: '_ts', type: 'timestamp', nullable: true, metadata: {} },
    { name: 'amount', type: 'double', nullable: true, metadata: {} },
    { name: 'day', type: 'date', nullable: true, metadata: {} },
  ],
};

describe('field ids', () => {
  it('are assigned in schema order, a list taking one for its element; known columns keep theirs', () => {
    expect([...fieldIdsOf(SCHEMA)]).toEqual([
      ['id', { id: 1 }],
      ['_deleted_columns', { id: 2, elementId: 3 }],
      ['name', { id: 4 }],
      ['_ts', { id: 5 }],
      ['amount', { id: 6 }],
      ['day', { id: 7 }],
    ]);
    // `name` was dropped once (id 4 retired): a column of that name later gets a fresh id.
    const { ids, lastColumnId } = assignFieldIds(SCHEMA.fields, new Map([['id', { id: 1 }]]), 7);
    expect(ids.get('id')).toEqual({ id: 1 });
    expect(ids.get('_deleted_columns')).toEqual({ id: 8, elementId: 9 });
    expect(ids.get('name')).toEqual({ id: 10 });
    expect(lastColumnId).toBe(13);
  });

  it('map to Iceberg types, a spec and a name mapping', () => {
    const schema = icebergSchemaOf(SCHEMA, fieldIdsOf(SCHEMA), 0);
    expect(schema.fields.map((f) => [f.name, f.type, f.required])).toEqual([
      ['id', 'long', true],
      ['_deleted_columns', { type: 'list', 'element-id': 3, element: 'string', 'element-required': false }, false],
      ['name', 'string', false],
      ['_ts', 'timestamptz', false],
      ['amount', 'double', false],
      ['day', 'date', false],
    ]);
    expect(partitionSpecOf(['day'], schema).fields).toEqual([{ 'source-id': 7, 'field-id': 1000, name: 'day', transform: 'identity' }]);
    expect(JSON.parse(nameMappingOf(schema))[1]).toEqual({ 'field-id': 2, names: ['_deleted_columns'], fields: [{ 'field-id': 3, names: ['element'] }] });
  });

  it('are written into Parquet files (PARQUET:field_id) by parquet-rs', async () => {
    const tmp = await createTmpDir();
    try {
      const store = new LocalStore(tmp.path, { fsync: false });
      const [file] = await writeParquetFiles([{ id: 1n, _deleted_columns: ['a'], name: 'x', _ts: 5n, amount: 1.5 }], {
        store,
        columns: dataColumnsOf(SCHEMA, ['day']),
      });
      const bytes = await store.get(file!.path);
      const footer = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      expect(footer.schema.filter((s) => s.field_id !== undefined).map((s) => [s.name, s.field_id])).toEqual([
        ['id', 1],
        ['_deleted_columns', 2],
        ['element', 3],
        ['name', 4],
        ['_ts', 5],
        ['amount', 6],
      ]);
    } finally {
      await tmp.cleanup();
    }
  });
});

describe('values', () => {
  it('serialize as the spec says (Appendix D)', () => {
    expect([...serializeValue('long', 2n ** 40n + 3n)]).toEqual([3, 0, 0, 0, 0, 1, 0, 0]);
    expect([...serializeValue('long', -1)]).toEqual([255, 255, 255, 255, 255, 255, 255, 255]);
    expect([...serializeValue('int', 1)]).toEqual([1, 0, 0, 0]);
    expect([...serializeValue('date', 19723)]).toEqual([0x0b, 0x4d, 0, 0]);
    expect([...serializeValue('double', 1)]).toEqual([0, 0, 0, 0, 0, 0, 0xf0, 0x3f]);
    expect([...serializeValue('boolean', true)]).toEqual([1]);
    expect(serializeValue('string', 'é').toString('hex')).toBe('c3a9');
    expect([...serializeValue('timestamptz', 1_700_000_000_000_001n)]).toEqual([...serializeValue('long', 1_700_000_000_000_001n)]);
  });

  it('bounds from Delta stats stay bounds where Delta truncated them', () => {
    const schema = icebergSchemaOf(SCHEMA, fieldIdsOf(SCHEMA), 0);
    const metrics = metricsOf(
      {
        numRecords: 10,
        minValues: { id: 3, name: 'abc', _ts: '2024-01-02T03:04:05.678Z', amount: -1.5 },
        maxValues: { id: 2 ** 60, name: 'abd\u007f', _ts: '2024-01-02T03:04:05.999Z', amount: 2 },
        nullCount: { id: 0, name: 2, _ts: 1, amount: 0, _deleted_columns: 4 },
      },
      schema,
      ['day'],
    );
    expect(metrics.value_counts).toEqual([
      { key: 1, value: 10 },
      { key: 4, value: 10 },
      { key: 5, value: 10 },
      { key: 6, value: 10 },
    ]);
    expect(metrics.null_value_counts!.map((e) => [e.key, e.value])).toEqual([
      [1, 0],
      [4, 2],
      [5, 1],
      [6, 0],
    ]);
    const bound = (side: 'lower_bounds' | 'upper_bounds', key: number) => metrics[side]!.find((e) => e.key === key)?.value;
    // id: max beyond 2^53 lost precision in JSON: no bounds at all.
    expect(bound('lower_bounds', 1)).toBeUndefined();
    expect(bound('upper_bounds', 4)!.toString('utf8')).toBe('abd\u007f');
    // ms-truncated timestamps: the lower bound is the ms, the upper the last µs of it.
    expect(bound('lower_bounds', 5)!.readBigInt64LE()).toBe(1_704_164_645_678_000n);
    expect(bound('upper_bounds', 5)!.readBigInt64LE()).toBe(1_704_164_645_999_999n);
    expect(bound('lower_bounds', 6)!.readDoubleLE()).toBe(-1.5);
    expect(metricsOf(null, schema, [])).toEqual({ value_counts: null, null_value_counts: null, lower_bounds: null, upper_bounds: null });
  });

  it('partition data is typed from Delta partition values, empty and null being null', () => {
    const schema = icebergSchemaOf(SCHEMA, fieldIdsOf(SCHEMA), 0);
    const spec = partitionSpecOf(['day', 'name', 'id'], schema);
    expect(partitionRecordOf(spec, schema, { day: '2024-01-01', name: '', id: '42' })).toEqual({ day: 19723, name: null, id: 42 });
    expect(partitionRecordOf(spec, schema, { day: null, name: 'x', id: null })).toEqual({ day: null, name: 'x', id: null });
  });

  it('long partition values are exact beyond 2^53 (bigint there); values not of the type are refused by name', () => {
    const schema = icebergSchemaOf(SCHEMA, fieldIdsOf(SCHEMA), 0);
    const spec = partitionSpecOf(['id'], schema);
    expect(partitionRecordOf(spec, schema, { id: '9007199254740993' })).toEqual({ id: 9007199254740993n });
    expect(partitionRecordOf(spec, schema, { id: '-9223372036854775808' })).toEqual({ id: -(2n ** 63n) });
    // Safe integers stay numbers: one form per value, as the manifest reads them back.
    expect(partitionRecordOf(spec, schema, { id: '9007199254740991' })).toEqual({ id: 9007199254740991 });
    expect(compareValues(9007199254740993n, 9007199254740992n)).toBe(1);
    expect(compareValues(-9007199254740993n, -9007199254740991)).toBe(-1);
    expect(compareValues(5, 5)).toBe(0);
    const refused = (column: string, value: string) =>
      expect.objectContaining({ code: 'OTSL_LAKE_SCHEMA', context: expect.objectContaining({ column, value }) });
    expect(() => partitionRecordOf(spec, schema, { id: '9223372036854775808' })).toThrow(refused('id', '9223372036854775808'));
    expect(() => partitionRecordOf(spec, schema, { id: '1e3' })).toThrow(refused('id', '1e3'));
    expect(partitionValueOf('int', '-2147483648')).toBe(-(2 ** 31));
    expect(() => partitionValueOf('int', '2147483648', 'n')).toThrow(refused('n', '2147483648'));
    expect(() => partitionValueOf('int', '1.5', 'n')).toThrow(refused('n', '1.5'));
    expect(partitionValueOf('date', '2024-01-01')).toBe(19723);
    expect(() => partitionValueOf('date', '2024-13-01', '_date')).toThrow(refused('_date', '2024-13-01'));
    expect(() => partitionValueOf('date', 'yesterday', '_date')).toThrow(refused('_date', 'yesterday'));
  });
});

describe('Avro container files', () => {
  it('carry the header metadata and field ids Iceberg readers need, and read back', async () => {
    const schema = icebergSchemaOf(SCHEMA, fieldIdsOf(SCHEMA), 0);
    const spec = partitionSpecOf(['day'], schema);
    const avroSchema = manifestEntrySchema(spec, schema);
    const meta = {
      schema: JSON.stringify(schema),
      'partition-spec': JSON.stringify(spec.fields),
      'partition-spec-id': '0',
      'format-version': '2',
      content: 'data',
    };
    const entry = manifestEntryOf({
      file_path: 'file:///t/day=2024-01-01/a.parquet',
      partition: { day: 19723 },
      record_count: 10,
      file_size_in_bytes: 1234,
      value_counts: [{ key: 1, value: 10 }],
      null_value_counts: [{ key: 1, value: 0 }],
      lower_bounds: [{ key: 1, value: serializeValue('long', 3) }],
      upper_bounds: [{ key: 1, value: serializeValue('long', 9) }],
    });
    const bytes = encodeAvroFile(avroSchema, [entry], meta);
    expect(Buffer.from(bytes.subarray(0, 4)).toString('latin1')).toBe('Obj\u0001');
    const decoded = await decodeAvroFile(bytes, 'm.avro');
    expect(decoded.metadata).toMatchObject(meta);
    const written = JSON.parse(decoded.metadata['avro.schema']!);
    expect(written.fields.map((f: { name: string; 'field-id': number }) => [f.name, f['field-id']])).toEqual([
      ['status', 0],
      ['snapshot_id', 1],
      ['sequence_number', 3],
      ['file_sequence_number', 4],
      ['data_file', 2],
    ]);
    expect(JSON.stringify(written)).toContain('"name":"k126_v127"');
    expect(decoded.records).toHaveLength(1);
    expect(decoded.records[0]).toMatchObject({ status: 1, data_file: { file_path: entry.data_file.file_path, partition: { day: 19723 } } });
    // An empty manifest list is still a valid container (header only).
    const empty = await decodeAvroFile(encodeAvroFile(MANIFEST_LIST_SCHEMA, [], { 'format-version': '2' }), 'l.avro');
    expect(empty).toMatchObject({ metadata: { 'format-version': '2' }, records: [] });
  });

  it('hold long partition values beyond 2^53 exactly, and the manifest list bounds them exactly', async () => {
    const tmp = await createTmpDir();
    try {
      const store = new LocalStore(tmp.path, { fsync: false });
      const schema = icebergSchemaOf(SCHEMA, fieldIdsOf(SCHEMA), 0);
      const spec = partitionSpecOf(['id'], schema);
      const ctx = { store, location: 'file:///t', schema, spec, snapshotId: 7, sequenceNumber: 3 };
      const entryOf = (i: number, id: string | null): ManifestEntry =>
        manifestEntryOf({ file_path: `file:///t/id=${id}/${i}.parquet`, partition: partitionRecordOf(spec, schema, { id }) });
      // Each next to its neighbour that a double would round it to.
      const ids = ['9007199254740993', '-9007199254740993', '9007199254740992', '-9007199254740992', '5', null];
      const { file, key, put } = await writeManifest(
        ctx,
        ids.map((id, i) => entryOf(i, id)),
      );
      await put;
      const entries = await readManifest(store, key);
      expect(entries.map((e) => e.data_file.partition.id)).toEqual([9007199254740993n, -9007199254740993n, 9007199254740992n, -9007199254740992n, 5, null]);
      const listKey = await writeManifestList({ ...ctx, parentSnapshotId: null }, [file]);
      const [summary] = (await readManifestList(store, listKey))[0]!.partitions!;
      expect(summary!.contains_null).toBe(true);
      expect(Buffer.from(summary!.lower_bound!).readBigInt64LE()).toBe(-9007199254740993n);
      expect(Buffer.from(summary!.upper_bound!).readBigInt64LE()).toBe(9007199254740993n);
    } finally {
      await tmp.cleanup();
    }
  });
});
