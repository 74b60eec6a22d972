/**
 * The channel task's hot path (workers/channel-task.ts readChannel: decode straight into column builders →
 * Parquet zstd → offset entry) on pre-encoded ReadRecords pages served from memory, so no HTTP is timed.
 * Beside it, in the same run:
 *   decode-only     PlainBufferDecoder.decodeRecordRaw into a sink that does nothing (the floor for reading records)
 *   decode-columns  decodeRecordRaw into the task's ColumnarRowSink, rows accepted and put into column
 *                   builders, not encoded (decode-columns − decode-only = what building the columns costs)
 *   decode-columns-select  the same under a tables[].select that leaves out 2 of the 8 attributes and
 *                   renames 2 (what a selection costs or saves when used; unused, decode-columns is the figure)
 *   decode-rows     the row path: PlainBufferDecoder into ChangelogRowSink, rows accepted but not written
 *   write-only      ParquetFileWriter.appendRow of prebuilt row objects with the same values → file
 *   task-rows       the previous task, in this run: decode → ChangelogRowSink → appendRow → file
 *   task-partitioned  the task on a table partitioned by `_date` (one day here): what choosing the file per row costs
 * The task should cost about decode-columns + the Parquet encode.
 *
 * Record mix: 70% PUT (2 PK + 6 attributes: strings, integer, double, boolean), 20% UPDATE
 * (2 PUT cells + 1 delete), 10% DELETE; stream records with sequence info; pages of 1000.
 *
 *   npx tsx bench/channel-task.ts [--records 50000] [--runs 2] [--case task]   (--case: one case alone, e.g. to profile it)
 *   npx tsx bench/channel-task.ts --tasks 20      then the task 20 times more: RSS and wasm memory after each (flat?)
 *   … --row-group-rows 50000                      the task's row-group size (default 100,000, the daemon's)
 *
 * Prints one JSON line per figure (best of the runs) and a summary line.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { wasmMemory } from 'parquet-wasm';
import type { ChangeRecord, CellChange, PkCell } from '../emulator/tablestore/model.js';
import { encodeStreamRecord } from '../emulator/tablestore/plainbuffer-write.js';
import { LocalStore } from '../lake/local-store.js';
import { createColumnBuilder } from '../lake/column-builders.js';
import { ParquetFileWriter } from '../lake/parquet-file.js';
import { PlainBufferDecoder, type RawRecordSink } from '../tunnel/plainbuffer.js';
import { ActionType, type ReadRecordsResponse, type RecordMsg } from '../tunnel/proto.js';
import { decodeRecordPage, encodeReadRecordsResponse } from '../tunnel/read-records-wire.js';
import type { TunnelClient } from '../tunnel/tunnel-client.js';
import { readChannel } from '../workers/channel-task.js';
import { PROTOCOL_VERSION, type ChannelTaskInput } from '../workers/protocol.js';
import { ChangelogRowSink } from '../workers/changelog-rows.js';
import { ColumnSelection } from '../workers/column-selection.js';
import { ColumnarRowSink } from '../workers/columnar-rows.js';
import { BatchSchema } from '../workers/schema-map.js';
import type { WorkerResources } from '../workers/worker-setup.js';

const { values } = parseArgs({
  options: {
    records: { type: 'string', default: '50000' },
    runs: { type: 'string', default: '2' },
    case: { type: 'string' },
    tasks: { type: 'string', default: '0' },
    'row-group-rows': { type: 'string', default: '100000' },
  },
});
const N = Number(values.records);
const RUNS = Number(values.runs);
const TASKS = Number(values.tasks);
const ROW_GROUP_ROWS = Number(values['row-group-rows']);
const PAGE = 1000;
const STATUSES = ['created', 'paid', 'shipped', 'delivered', 'cancelled'];

const ACTIONS = { PUT_ROW: ActionType.PUT_ROW, UPDATE_ROW: ActionType.UPDATE_ROW, DELETE_ROW: ActionType.DELETE_ROW } as const;

function change(i: number): { record: ChangeRecord; row: Record<string, unknown> } {
  const tsMs = 1_700_000_000_000 + i;
  const seq = { epoch: 0, timestamp: BigInt(tsMs) * 1000n + 7n, rowIndex: i % 16 };
  const user = `user-${(i * 7919) % 100_000}`;
  const primaryKey: PkCell[] = [
    { name: 'user_id', value: { type: 'STRING', value: user } },
    { name: 'order_id', value: { type: 'INTEGER', value: BigInt(i) } },
  ];
  const kind = i % 10;
  const row: Record<string, unknown> = {
    user_id: user,
    order_id: BigInt(i),
    _ts: tsMs * 1000 + 7,
    _seq: `00000000:${(tsMs * 1000 + 7).toString(16).padStart(16, '0')}:${(i % 16).toString(16).padStart(8, '0')}`,
    _channel: 'p0',
  };
  let changes: CellChange[] = [];
  let action: ChangeRecord['action'] = 'DELETE_ROW';
  if (kind < 7) {
    action = 'PUT_ROW';
    const cols = { status: STATUSES[i % 5]!, amount: (i % 10_000) / 100, qty: BigInt(i % 17), paid: i % 2 === 0, city: `city-${i % 50}`, note: `note ${i}` };
    changes = [
      { op: 'put', name: 'status', value: { type: 'STRING', value: cols.status }, timestamp: tsMs },
      { op: 'put', name: 'amount', value: { type: 'DOUBLE', value: cols.amount }, timestamp: tsMs },
      { op: 'put', name: 'qty', value: { type: 'INTEGER', value: cols.qty }, timestamp: tsMs },
      { op: 'put', name: 'paid', value: { type: 'BOOLEAN', value: cols.paid }, timestamp: tsMs },
      { op: 'put', name: 'city', value: { type: 'STRING', value: cols.city }, timestamp: tsMs },
      { op: 'put', name: 'note', value: { type: 'STRING', value: cols.note }, timestamp: tsMs },
    ];
    Object.assign(row, cols, { _op: 'PUT', _deleted_columns: null });
  } else if (kind < 9) {
    action = 'UPDATE_ROW';
    changes = [
      { op: 'put', name: 'status', value: { type: 'STRING', value: 'paid' }, timestamp: tsMs },
      { op: 'put', name: 'paid', value: { type: 'BOOLEAN', value: true }, timestamp: tsMs },
      { op: 'delete-all', name: 'note' },
    ];
    Object.assign(row, { status: 'paid', paid: true, _op: 'UPDATE', _deleted_columns: ['note'] });
  } else {
    Object.assign(row, { _op: 'DELETE', _deleted_columns: null });
  }
  return { record: { partitionId: 'p0', seq, action, primaryKey, changes }, row };
}

const pages: ReadRecordsResponse[] = [];
const rows: Record<string, unknown>[] = [];
let rawBytes = 0;
for (let start = 0; start < N; start += PAGE) {
  const records: RecordMsg[] = [];
  for (let i = start; i < Math.min(N, start + PAGE); i++) {
    const { record, row } = change(i);
    const bytes = encodeStreamRecord(record, { withSequence: true });
    rawBytes += bytes.length;
    // As Buffers, like the wire decoder's views of a response (tunnel/read-records-wire.ts).
    records.push({ action_type: ACTIONS[record.action], record: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
    rows.push(row);
  }
  pages.push({ records, next_token: start + PAGE >= N ? 'finished' : `t${start + PAGE}`, may_more_record: true });
}

const COLUMNS = [
  { name: 'user_id', type: 'string' as const },
  { name: 'order_id', type: 'long' as const },
  { name: 'status', type: 'string' as const },
  { name: 'amount', type: 'double' as const },
  { name: 'qty', type: 'long' as const },
  { name: 'paid', type: 'boolean' as const },
  { name: 'city', type: 'string' as const },
  { name: 'note', type: 'string' as const },
];
const PRIMARY_KEY = [
  { name: 'user_id', type: 'STRING' as const },
  { name: 'order_id', type: 'INTEGER' as const },
];

const noop: RawRecordSink = { beginRow() {}, primaryKey() {}, cell() {}, endRow() {} };

async function decodeOnly(): Promise<number> {
  const decoder = new PlainBufferDecoder();
  const t0 = performance.now();
  for (const p of pages) for (let i = 0; i < p.records.length; i++) decoder.decodeRecordRaw(p.records[i]!, noop);
  return performance.now() - t0;
}

/** decode-columns-select: tables[].select leaving out two attributes and renaming two (lake columns below). */
const SELECT = { exclude: ['city', 'note'], rename: { status: 'state', amount: 'total' } };
const SELECTED_COLUMNS = COLUMNS.filter((c) => !SELECT.exclude.includes(c.name)).map((c) => ({
  ...c,
  name: (SELECT.rename as Record<string, string>)[c.name] ?? c.name,
}));

async function decodeColumns(selected = false): Promise<number> {
  const decoder = new PlainBufferDecoder();
  const schema = selected
    ? new BatchSchema(SELECTED_COLUMNS, PRIMARY_KEY, false, [], undefined, ColumnSelection.of(SELECT))
    : new BatchSchema(COLUMNS, PRIMARY_KEY, false);
  const sink = new ColumnarRowSink(schema, 'p0');
  const builders = schema.fileColumns().map(createColumnBuilder);
  let accepted = 0;
  const t0 = performance.now();
  for (const p of pages) {
    for (let i = 0; i < p.records.length; i++) {
      decoder.decodeRecordRaw(p.records[i]!, sink, { channelId: 'p0', firstRecordIndex: i });
      if (sink.verdict === 'ok') {
        sink.acceptRow();
        sink.fillRow(builders);
        accepted++;
      }
    }
  }
  for (const b of builders) b.takeRowGroup();
  const ms = performance.now() - t0;
  if (accepted !== N) throw new Error(`decode-columns accepted ${accepted} of ${N} rows`);
  return ms;
}

/** The row path of the previous task (decode → row objects → appendRow), for the same-run ratio. */
async function taskRows(dir: string): Promise<number> {
  const store = new LocalStore(dir, { fsync: false });
  const decoder = new PlainBufferDecoder();
  const schema = new BatchSchema(COLUMNS, PRIMARY_KEY, false);
  const sink = new ChangelogRowSink(schema, 'p0');
  const t0 = performance.now();
  const writer = new ParquetFileWriter({ store, columns: schema.fileColumns(), directory: '', targetFileBytes: 128 << 20 });
  for (const p of pages) {
    for (let i = 0; i < p.records.length; i++) {
      decoder.decodeRecord(p.records[i]!, sink, { channelId: 'p0', firstRecordIndex: i });
      if (sink.verdict === 'ok') {
        sink.acceptRow();
        writer.appendRow(sink.row);
      }
    }
    await writer.drain();
  }
  await writer.close();
  return performance.now() - t0;
}

async function decodeRows(): Promise<number> {
  const decoder = new PlainBufferDecoder();
  const sink = new ChangelogRowSink(new BatchSchema(COLUMNS, PRIMARY_KEY, false), 'p0');
  let accepted = 0;
  const t0 = performance.now();
  for (const p of pages) {
    for (let i = 0; i < p.records.length; i++) {
      decoder.decodeRecord(p.records[i]!, sink, { channelId: 'p0', firstRecordIndex: i });
      if (sink.verdict === 'ok') {
        sink.acceptRow();
        accepted++;
      }
    }
  }
  const ms = performance.now() - t0;
  if (accepted !== N) throw new Error(`decode-rows accepted ${accepted} of ${N} rows`);
  return ms;
}

async function writeOnly(dir: string): Promise<number> {
  const store = new LocalStore(dir, { fsync: false });
  const columns = new BatchSchema(COLUMNS, PRIMARY_KEY, false).fileColumns();
  const t0 = performance.now();
  const writer = new ParquetFileWriter({ store, columns, directory: '', targetFileBytes: 128 << 20 });
  for (let i = 0; i < rows.length; i++) {
    writer.appendRow(rows[i]!);
    if (i % PAGE === PAGE - 1) await writer.drain();
  }
  await writer.close();
  return performance.now() - t0;
}

/** The pages as response bytes, served to the task the way the client reads them (a RecordPage over the body). */
const pageBytes = new Map(pages.map((p, i) => [i === 0 ? 'start' : pages[i - 1]!.next_token, encodeReadRecordsResponse(p)!]));

async function task(dir: string, partitionColumns: readonly string[] = []): Promise<number> {
  const store = new LocalStore(dir, { fsync: false });
  const client = { readRecordPage: async (req: { token: string }) => decodeRecordPage(pageBytes.get(req.token)!, undefined, null)! } as unknown as TunnelClient;
  const resources = { tunnelClient: () => client, tableStore: () => store, compression: 'zstd', rowGroupRows: ROW_GROUP_ROWS } as unknown as WorkerResources;
  const input: ChannelTaskInput = {
    kind: 'read-channel',
    protocol: PROTOCOL_VERSION,
    batchId: 'bench',
    table: 'orders',
    tunnelId: 't',
    channelId: 'p0',
    clientId: 'c',
    tablePath: '',
    startToken: 'start',
    committedSeq: 0,
    mode: 'changelog',
    primaryKey: PRIMARY_KEY,
    columns: COLUMNS,
    discoverColumns: false,
    maxRowBytes: 1 << 20,
    targetFileBytes: 128 << 20,
    budget: { maxRecords: N * 2, maxBytes: 1 << 30, maxDurationMs: 600_000 },
    ...(partitionColumns.length > 0 ? { partitionColumns } : {}),
  };
  const t0 = performance.now();
  const result = await readChannel(input, resources);
  const ms = performance.now() - t0;
  if (result.kind !== 'ok' || result.stats.rowsWritten !== N || !result.finished)
    throw new Error(`bench task did not land every record: ${JSON.stringify(result).slice(0, 300)}`);
  return ms;
}

const best: Record<string, number> = {
  'decode-only': Infinity,
  'decode-columns': Infinity,
  'decode-columns-select': Infinity,
  'decode-rows': Infinity,
  'write-only': Infinity,
  'task-rows': Infinity,
  task: Infinity,
  'task-partitioned': Infinity,
};
if (values.case !== undefined) {
  if (!(values.case in best)) throw new Error(`--case must be one of ${Object.keys(best).join(', ')}, got ${values.case}`);
  for (const name of Object.keys(best)) if (name !== values.case) delete best[name];
}
for (let run = 0; run < RUNS; run++) {
  for (const name of Object.keys(best)) {
    const dir = await mkdtemp(join(tmpdir(), `otslake-bench-task-`));
    try {
      const cases: Record<string, () => Promise<number>> = {
        'decode-only': decodeOnly,
        'decode-columns': () => decodeColumns(),
        'decode-columns-select': () => decodeColumns(true),
        'decode-rows': decodeRows,
        'write-only': () => writeOnly(dir),
        'task-rows': () => taskRows(dir),
        task: () => task(dir),
        // By `_date` (every record of the bench falls on one day): the row path picks the partition's file per row.
        'task-partitioned': () => task(dir, ['_date']),
      };
      const ms = await cases[name]!();
      best[name] = Math.min(best[name]!, ms);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
for (const [name, ms] of Object.entries(best)) {
  console.log(
    JSON.stringify({
      bench: 'channel-task',
      case: name,
      records: N,
      ms: Math.round(ms),
      recordsPerSec: Math.round((N / ms) * 1000),
      rawMBPerSec: Number((rawBytes / 1e6 / (ms / 1000)).toFixed(1)),
    }),
  );
}
if (values.case === undefined) {
  console.log(
    JSON.stringify({
      bench: 'channel-task',
      summary: 'same run: task speed-up over the row path, task time over decode-columns (the rest is the Parquet encode)',
      taskSpeedupOverRows: Number((best['task-rows']! / best.task!).toFixed(2)),
      taskOverDecodeColumns: Number((best.task! / best['decode-columns']!).toFixed(2)),
      decodeColumnsOverDecodeRows: Number((best['decode-columns']! / best['decode-rows']!).toFixed(2)),
      selectOverDecodeColumns: Number((best['decode-columns-select']! / best['decode-columns']!).toFixed(2)),
      rawBytesPerRecord: Math.round(rawBytes / N),
    }),
  );
}

// Memory over consecutive tasks: a worker runs task after task, so what one task leaves behind adds up.
if (TASKS > 0) {
  const rss: number[] = [];
  const wasm: number[] = [];
  for (let t = 0; t < TASKS; t++) {
    const dir = await mkdtemp(join(tmpdir(), `otslake-bench-task-`));
    try {
      await task(dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    rss.push(Math.round(process.memoryUsage().rss / 2 ** 20));
    wasm.push(Math.round(wasmMemory().buffer.byteLength / 2 ** 20));
  }
  console.log(
    JSON.stringify({
      bench: 'channel-task',
      case: 'consecutive-tasks',
      tasks: TASKS,
      records: N,
      rowGroupRows: ROW_GROUP_ROWS,
      rssMiB: rss,
      wasmMemoryMiB: wasm,
    }),
  );
}
