/**
 * The differential test of the columnar hot path: generated records of every type (nulls, deletes,
 * updates with deleted columns, base rows, type conflicts under each policy, unknown and clashing
 * columns, corrupt records, origin records, int64 beyond 2^53, non-ASCII strings) go through the
 * reference path (PlainBufferDecoder → ChangelogRowSink → ParquetFileWriter.appendRow) and the ingest
 * path (decodeRecordRaw → ColumnarRowSink → appendWith). Every record must get the same verdict, the
 * same dead-letter problem, `_seq`/`_ts`, mirror bucket key; the files the same rows (read back by the
 * project's reader and by chdb), logical types, and Delta stats.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasCode } from '../../../common/errors.js';
import { LocalStore } from '../../../lake/local-store.js';
import { encodeKey, keyColumnsOf } from '../../../lake/mirror/key-encoding.js';
import type { TypeConflictPolicy } from '../../../lake/mirror/type-conflict.js';
import { ParquetFileWriter, type WrittenFile } from '../../../lake/parquet-file.js';
import { readParquetRows } from '../../../lake/parquet-read.js';
import { createColumnBuilder } from '../../../lake/column-builders.js';
import { PlainBufferDecoder } from '../../../tunnel/plainbuffer.js';
import { ActionType, type RecordMsg } from '../../../tunnel/proto.js';
import { ChangelogRowSink } from '../../../workers/changelog-rows.js';
import { ColumnSelection } from '../../../workers/column-selection.js';
import { ColumnarRowSink } from '../../../workers/columnar-rows.js';
import type { ColumnSelectionSpec } from '../../../workers/protocol.js';
import { BatchSchema, columnTypeOfPrimaryKey } from '../../../workers/schema-map.js';
import { runChdb } from '../../helpers/chdb.js';
import { bin, bool, dbl, encodeRow, int, str, type EncCell, type EncValue } from '../../helpers/plainbuffer-encoder.js';
import { seededRandom } from '../../helpers/seeded-random.js';
import { createTmpDir, type TmpDir } from '../../helpers/tmp-dir.js';

const PK = [
  { name: 'id', type: 'INTEGER' as const },
  { name: 'k', type: 'STRING' as const },
];
const COLUMNS = [
  { name: 'id', type: 'long' as const },
  { name: 'k', type: 'string' as const },
  { name: 's', type: 'string' as const },
  { name: 'n', type: 'long' as const },
  { name: 'd', type: 'double' as const },
  { name: 'b', type: 'boolean' as const },
  { name: 'x', type: 'binary' as const },
];
const STRINGS = ['', 'a', 'paid', 'ünïcödé', '日本語テキスト', '🙂 astral', 'x'.repeat(40), `long ${'é'.repeat(50)}`, 'zzz'];
const LONGS = [0n, 1n, -1n, 2n ** 53n + 1n, -(2n ** 63n), 2n ** 63n - 1n, 1234567n];
const DOUBLES = [0, -0.5, 1.25, 1e300, -1e-300, Number.NaN, Number.POSITIVE_INFINITY];

/** Records of every kind, from a seed. */
function generate(count: number, seed: number): RecordMsg[] {
  const rnd = seededRandom(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const valueOf = (type: string): EncValue => {
    switch (type) {
      case 'string':
        return str(pick(STRINGS));
      case 'long':
        return int(pick(LONGS));
      case 'double':
        return dbl(pick(DOUBLES));
      case 'boolean':
        return bool(rnd() < 0.5);
      default:
        return bin(Uint8Array.from({ length: Math.floor(rnd() * 40) }, () => Math.floor(rnd() * 256)));
    }
  };
  const types = ['string', 'long', 'double', 'boolean', 'binary'];
  const records: RecordMsg[] = [];
  for (let i = 0; i < count; i++) {
    const ts = 1_700_000_000_000 + i;
    const kind = rnd();
    const pkWrong = rnd() < 0.02;
    const pk = [
      { name: 'id', value: pkWrong ? str('not a number') : int(BigInt(i) * (rnd() < 0.1 ? 2n ** 40n : 1n)) },
      { name: 'k', value: str(pick(STRINGS)) },
    ];
    const cells: EncCell[] = [];
    for (const c of COLUMNS.slice(2)) {
      const r = rnd();
      if (r < 0.55) cells.push({ name: c.name, value: valueOf(c.type), timestampMs: ts });
      else if (r < 0.6) cells.push({ name: c.name, value: valueOf(pick(types)), timestampMs: ts }); // maybe a type conflict
    }
    if (rnd() < 0.1) cells.push({ name: pick(['extra', 'more', 'n__string']), value: valueOf(pick(types)), timestampMs: ts });
    if (rnd() < 0.03) cells.push({ name: pick(['_op', 'S', 'Extra']), value: str('clash'), timestampMs: ts });
    const seq = rnd() < 0.8 ? { epoch: 0, timestampUs: BigInt(ts) * 1000n + BigInt(i % 7), rowIndex: i % 5 } : undefined;
    let action = ActionType.PUT_ROW;
    let row;
    if (kind < 0.55) {
      row = { pk, cells, ...(seq ? { seq } : {}) };
    } else if (kind < 0.85) {
      action = ActionType.UPDATE_ROW;
      cells.push({ name: pick(['s', 'n', 'd']), op: 'delete-all' as const });
      if (rnd() < 0.5) cells.push({ name: 'b', op: 'delete-one' as const, timestampMs: ts - 1 });
      row = { pk, cells, ...(seq ? { seq } : {}) };
    } else {
      action = ActionType.DELETE_ROW;
      row = { pk, deleteMarker: true, ...(seq ? { seq } : {}) };
    }
    const bytes = encodeRow(row);
    if (rnd() < 0.03) bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0x5a; // the row checksum no longer matches
    const origin =
      action === ActionType.UPDATE_ROW && rnd() < 0.3 ? encodeRow({ cells: [{ name: 's', value: str('before'), timestampMs: ts - 5 }] }) : undefined;
    records.push({ action_type: action, record: bytes, ...(origin ? { origin_record: origin } : {}) });
  }
  return records;
}

interface Outcome {
  verdict: string;
  problem?: unknown;
  seq?: string | null;
  ts?: number | null;
  key?: string;
}

/** Writer per schema version, as the channel task keeps it. */
class Files {
  private writer: ParquetFileWriter | null = null;
  private version = -1;
  private readonly closing: Promise<WrittenFile[]>[] = [];
  constructor(
    private readonly store: LocalStore,
    private readonly schema: BatchSchema,
  ) {}
  current(): ParquetFileWriter {
    if (this.writer !== null && this.version !== this.schema.version) {
      this.closing.push(this.writer.close());
      this.writer = null;
    }
    this.writer ??= new ParquetFileWriter({ store: this.store, columns: this.schema.fileColumns(), directory: '', rowGroupRows: 700 });
    this.version = this.schema.version;
    return this.writer;
  }
  async close(): Promise<WrittenFile[]> {
    if (this.writer) this.closing.push(this.writer.close());
    return (await Promise.all(this.closing)).flat();
  }
}

/** The lake side of a task: its columns and key by lake name, and the selection that maps source names to them. */
interface Shape {
  columns: typeof COLUMNS;
  pk: typeof PK;
  select?: ColumnSelectionSpec;
}

const AS_IS: Shape = { columns: COLUMNS, pk: PK };

const schemaOf = (shape: Shape, discover: boolean) => new BatchSchema(shape.columns, shape.pk, discover, [], undefined, ColumnSelection.of(shape.select));
const keyColumnsFor = (shape: Shape) => keyColumnsOf(shape.pk.map((k) => ({ name: k.name, type: columnTypeOfPrimaryKey(k.type) })));

async function runReference(records: RecordMsg[], dir: string, policy: TypeConflictPolicy, discover: boolean, shape: Shape = AS_IS) {
  const schema = schemaOf(shape, discover);
  const keyColumns = keyColumnsFor(shape);
  const sink = new ChangelogRowSink(schema, 'ch-1', policy);
  const files = new Files(new LocalStore(dir, { fsync: false }), schema);
  const decoder = new PlainBufferDecoder();
  const outcomes: Outcome[] = [];
  for (const [i, record] of records.entries()) {
    try {
      decoder.decodeRecord(record, sink, { channelId: 'ch-1', firstRecordIndex: i });
    } catch (err) {
      if (!hasCode(err, 'OTSL_DECODE_CORRUPT_RECORD')) throw err;
      outcomes.push({ verdict: 'corrupt' });
      continue;
    }
    if (sink.verdict !== 'ok') {
      outcomes.push({ verdict: sink.verdict, problem: sink.problem, seq: sink.sequence, ts: sink.timestampUs });
      continue;
    }
    sink.acceptRow();
    outcomes.push({ verdict: 'ok', seq: sink.sequence, ts: sink.timestampUs, key: encodeKey(keyColumns, sink.row) });
    files.current().appendRow(sink.row);
  }
  return { outcomes, files: await files.close(), newColumns: schema.newColumns, conflicts: sink.typeConflicts() };
}

async function runColumnar(records: RecordMsg[], dir: string, policy: TypeConflictPolicy, discover: boolean, shape: Shape = AS_IS) {
  const schema = schemaOf(shape, discover);
  const keyColumns = keyColumnsFor(shape);
  const sink = new ColumnarRowSink(schema, 'ch-1', policy);
  const files = new Files(new LocalStore(dir, { fsync: false }), schema);
  const decoder = new PlainBufferDecoder();
  const outcomes: Outcome[] = [];
  for (const [i, record] of records.entries()) {
    try {
      decoder.decodeRecordRaw(record, sink, { channelId: 'ch-1', firstRecordIndex: i });
    } catch (err) {
      if (!hasCode(err, 'OTSL_DECODE_CORRUPT_RECORD')) throw err;
      outcomes.push({ verdict: 'corrupt' });
      continue;
    }
    const ts = sink.timestampUs < 0 ? null : sink.timestampUs;
    if (sink.verdict !== 'ok') {
      outcomes.push({ verdict: sink.verdict, problem: sink.problem, seq: sink.sequenceText(), ts });
      continue;
    }
    sink.acceptRow();
    outcomes.push({ verdict: 'ok', seq: sink.sequenceText(), ts, key: encodeKey(keyColumns, sink.primaryKeyRow(shape.pk)) });
    files.current().appendWith(sink);
  }
  return { outcomes, files: await files.close(), newColumns: schema.newColumns, conflicts: sink.typeConflicts() };
}

/** Rows with bigint and bytes as text, NaN kept distinguishable: toEqual then compares values exactly. */
async function rowsOf(dir: string, files: WrittenFile[]) {
  const out = [];
  for (const f of files) {
    const bytes = new Uint8Array(await readFile(join(dir, f.path)));
    const rows = await readParquetRows(bytes, { utf8: false, parsers: { timestampFromMicroseconds: (us: bigint | number) => us } as never });
    out.push(
      rows.map((r) =>
        JSON.stringify(r, (_k, v: unknown) =>
          typeof v === 'bigint' ? `${v}n` : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : Number.isNaN(v) ? 'NaN' : v,
        ),
      ),
    );
  }
  return out;
}

let tmp: TmpDir;
beforeAll(async () => {
  tmp = await createTmpDir('otslake-columnar-');
});
afterAll(async () => {
  await tmp.cleanup();
});

const CASES: Array<{ policy: TypeConflictPolicy; discover: boolean }> = [
  { policy: 'dead-letter', discover: false },
  { policy: 'dead-letter', discover: true },
  { policy: 'companion', discover: true },
  { policy: 'string', discover: true },
  { policy: 'companion', discover: false },
];

describe('ColumnarRowSink against ChangelogRowSink (differential)', () => {
  for (const { policy, discover } of CASES) {
    it(`lands the same rows, verdicts, stats and files (policy ${policy}, discovery ${discover ? 'on' : 'off'})`, async () => {
      const records = generate(3000, policy.length * 7 + (discover ? 1 : 0));
      const refDir = join(tmp.path, `${policy}-${discover}-ref`);
      const newDir = join(tmp.path, `${policy}-${discover}-new`);
      const ref = await runReference(records, refDir, policy, discover);
      const got = await runColumnar(records, newDir, policy, discover);

      expect(got.outcomes).toEqual(ref.outcomes);
      const verdicts = new Set(ref.outcomes.map((o) => o.verdict));
      expect(verdicts).toContain('ok');
      expect(verdicts).toContain('corrupt');
      expect(verdicts).toContain(discover ? 'column-name-conflict' : 'unknown-column');
      if (policy === 'dead-letter') expect(verdicts).toContain('type-mismatch');
      // Without discovery a companion column is unknown, so a conflicting value dead-letters its row.
      else if (discover) expect(ref.conflicts.length).toBeGreaterThan(0);
      expect(got.newColumns).toEqual(ref.newColumns);
      expect(got.conflicts).toEqual(ref.conflicts);
      expect(got.files.map((f) => [f.numRecords, f.stats])).toEqual(ref.files.map((f) => [f.numRecords, f.stats]));
      expect(got.files.length).toBeGreaterThan(0);
      expect(await rowsOf(newDir, got.files)).toEqual(await rowsOf(refDir, ref.files));
    });
  }

  // tables[].select: left-out columns never reach a builder or `_deleted_columns`, renamed ones (the key too) land
  // under their lake names, and a source column named like another's lake name is a conflict, in both paths.
  const SELECTIONS: Array<{ name: string; shape: Shape; policy: TypeConflictPolicy }> = [
    {
      name: 'exclude + rename (key, metadata name)',
      policy: 'companion',
      shape: {
        pk: [PK[0]!, { name: 'key', type: 'STRING' }],
        columns: [
          { name: 'id', type: 'long' },
          { name: 'key', type: 'string' },
          { name: 'text', type: 'string' },
          { name: 'extra', type: 'long' },
          { name: 'd', type: 'double' },
          { name: 'flag', type: 'boolean' },
        ],
        select: { exclude: ['x', 'more'], rename: { k: 'key', s: 'text', n: 'extra', b: 'flag', _op: 'src_op' } },
      },
    },
    {
      name: 'include + rename onto a source name',
      policy: 'dead-letter',
      shape: {
        pk: PK,
        columns: [
          { name: 'id', type: 'long' },
          { name: 'k', type: 'string' },
          { name: 'b', type: 'string' },
          { name: 'dbl', type: 'double' },
        ],
        select: { include: ['id', 'k', 's', 'd', 'extra', 'n__string'], rename: { d: 'dbl', s: 'b' } },
      },
    },
  ];
  for (const { name, shape, policy } of SELECTIONS) {
    it(`lands the same rows with a selection: ${name}`, async () => {
      const records = generate(3000, name.length);
      const refDir = join(tmp.path, `select-${name.length}-ref`);
      const newDir = join(tmp.path, `select-${name.length}-new`);
      const ref = await runReference(records, refDir, policy, true, shape);
      const got = await runColumnar(records, newDir, policy, true, shape);
      expect(got.outcomes).toEqual(ref.outcomes);
      expect(got.newColumns).toEqual(ref.newColumns);
      expect(got.conflicts).toEqual(ref.conflicts);
      expect(got.files.map((f) => [f.numRecords, f.stats])).toEqual(ref.files.map((f) => [f.numRecords, f.stats]));
      const rows = await rowsOf(newDir, got.files);
      expect(rows).toEqual(await rowsOf(refDir, ref.files));

      const landed = rows.flat().map((r) => JSON.parse(r) as Record<string, unknown>);
      expect(landed.length).toBeGreaterThan(1000);
      const names = new Set(landed.flatMap((r) => Object.keys(r)));
      const deleted = new Set(landed.flatMap((r) => (r._deleted_columns as string[] | null) ?? []));
      const sources = Object.keys(shape.select!.rename!).filter((n) => n !== '_op'); // `_op` is also the metadata column
      const leftOut = shape.select!.include ? ['x', 'n', 'more'] : shape.select!.exclude!;
      for (const source of [...sources, ...leftOut]) {
        if (shape.columns.some((c) => c.name === source)) continue;
        expect(names.has(source), source).toBe(false);
        expect(deleted.has(source), source).toBe(false);
      }
      for (const lake of Object.values(shape.select!.rename!)) if (lake !== 'src_op') expect(names.has(lake), lake).toBe(true);
      const conflicts = ref.outcomes.filter((o) => o.verdict === 'column-name-conflict').map((o) => (o.problem as { column: string }).column);
      const mismatches = ref.outcomes.filter((o) => o.verdict === 'type-mismatch').map((o) => o.problem as { column: string; sourceColumn?: string });
      if (shape.select!.exclude) {
        expect(deleted.has('text') && deleted.has('extra')).toBe(true);
        expect(ref.newColumns.map((c) => c.name)).toContain('src_op');
        // Source `extra` lands nowhere: its lake name belongs to the renamed `n`.
        expect(conflicts).toContain('extra');
      } else {
        expect(mismatches).toContainEqual({ column: 'dbl', sourceColumn: 'd', expectedType: 'double', actualType: expect.any(String) });
      }
    });
  }

  it('writes files chdb reads with the same types and values as the reference', async () => {
    const records = generate(1500, 99);
    const refDir = join(tmp.path, 'chdb-ref');
    const newDir = join(tmp.path, 'chdb-new');
    const ref = await runReference(records, refDir, 'companion', true);
    const got = await runColumnar(records, newDir, 'companion', true);
    const sqls = [ref.files, got.files].flatMap((files, i) =>
      files.flatMap((f) => {
        const path = join(i === 0 ? refDir : newDir, f.path);
        return [
          `DESCRIBE file('${path}', Parquet)`,
          `SELECT id, k, s, n, d, b, hex(x) AS x, _op, toString(_ts) AS ts, _seq, _channel, _deleted_columns FROM file('${path}', Parquet) ORDER BY _seq, id, k`,
        ];
      }),
    );
    const outcomes = await runChdb(sqls);
    for (const o of outcomes) expect(o.ok, o.ok ? '' : o.error).toBe(true);
    const half = outcomes.length / 2;
    expect(outcomes.slice(half)).toEqual(outcomes.slice(0, half));
  });
});

describe('string columns from encoded bytes', () => {
  it('land invalid UTF-8 as a JS decode would (U+FFFD) and keep code-point ordered bounds', () => {
    const spec = { name: 's', type: 'string' as const, nullable: true };
    const fromBytes = createColumnBuilder(spec);
    const fromStrings = createColumnBuilder(spec);
    const values = [
      Buffer.from([0x61, 0xff, 0x62]),
      Buffer.from('é'),
      Buffer.from('🙂'),
      Buffer.from('\uffff'),
      Buffer.from('a'.repeat(40) + '\u00ff'),
      Buffer.from([0xc3]),
    ];
    for (const v of values) {
      fromBytes.appendEncoded(v, 0, v.length);
      fromStrings.append(v.toString('utf8'));
    }
    expect(fromBytes.currentStats()).toEqual(fromStrings.currentStats());
    const a = fromBytes.takeRowGroup();
    const b = fromStrings.takeRowGroup();
    expect(Buffer.from(a.values as Uint8Array).equals(Buffer.from(b.values as Uint8Array))).toBe(true);
    expect([...(a.valueOffsets as Int32Array)]).toEqual([...(b.valueOffsets as Int32Array)]);
  });
});
