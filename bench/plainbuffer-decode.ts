/**
 * PlainBuffer decode throughput through the sink API (tunnel/plainbuffer.ts), beside a reference measured
 * in the same run: JSON.parse of the same records rendered as JSON (one string per record). The goal is to
 * be at least as fast as JSON.parse.
 *
 * Record mix: 70% PUT rows (2 PK + 8 attribute columns: strings, integer, double, boolean), 20% UPDATE rows
 * (2 PUT cells + 1 DELETE_ALL_VERSION cell), 10% DELETE rows; all with sequence info, in pages of 1000
 * records whose bytes share one buffer, as ReadRecords responses do.
 *
 *   npx tsx bench/plainbuffer-decode.ts [--records 200000] [--runs 3]
 *
 * Prints one JSON line per figure (best of the runs).
 */
import { parseArgs } from 'node:util';
import { PlainBufferDecoder, type CellOp, type CellValue, type RecordSink, type ValueType } from '../tunnel/plainbuffer.js';
import { ActionType, type RecordMsg } from '../tunnel/proto.js';
import { bool, dbl, encodeRow, int, str, type EncRow } from '../test/helpers/plainbuffer-encoder.js';

const { values } = parseArgs({ options: { records: { type: 'string', default: '200000' }, runs: { type: 'string', default: '3' } } });
const N = Number(values.records);
const RUNS = Number(values.runs);
const PAGE = 1000;

const STATUSES = ['created', 'paid', 'shipped', 'delivered', 'cancelled'];
const CITIES = ['Hangzhou', 'Shanghai', 'Beijing', 'Shenzhen', 'Chengdu', 'Wuhan'];

function makeRow(i: number): { action: ActionType; row: EncRow; json: unknown } {
  const ts = 1_700_000_000_000 + i;
  const seq = { epoch: 0, timestampUs: BigInt(ts) * 1000n + 7n, rowIndex: i % 16 };
  const user = `user-${(i * 7919) % 100_000}`;
  const pk = [
    { name: 'user_id', value: str(user) },
    { name: 'order_id', value: int(i) },
  ];
  const jsonPk = { user_id: user, order_id: i };
  const jsonSeq = [0, ts * 1000 + 7, i % 16];
  const kind = i % 10;
  if (kind < 7) {
    const cols = {
      status: STATUSES[i % 5]!,
      amount: (i % 10_000) / 100,
      qty: i % 17,
      paid: i % 2 === 0,
      note: `order note ${i} with some free text`,
      created_at: ts,
      city: CITIES[i % 6]!,
      sku: `SKU-${(i * 31) % 5000}`,
    };
    return {
      action: ActionType.PUT_ROW,
      row: {
        pk,
        cells: [
          { name: 'status', value: str(cols.status), timestampMs: ts },
          { name: 'amount', value: dbl(cols.amount), timestampMs: ts },
          { name: 'qty', value: int(cols.qty), timestampMs: ts },
          { name: 'paid', value: bool(cols.paid), timestampMs: ts },
          { name: 'note', value: str(cols.note), timestampMs: ts },
          { name: 'created_at', value: int(cols.created_at), timestampMs: ts },
          { name: 'city', value: str(cols.city), timestampMs: ts },
          { name: 'sku', value: str(cols.sku), timestampMs: ts },
        ],
        seq,
      },
      json: { op: 'PUT', pk: jsonPk, cols: Object.fromEntries(Object.entries(cols).map(([k, v]) => [k, { v, ts }])), seq: jsonSeq },
    };
  }
  if (kind < 9) {
    return {
      action: ActionType.UPDATE_ROW,
      row: {
        pk,
        cells: [
          { name: 'status', value: str('shipped'), timestampMs: ts },
          { name: 'qty', value: int(3), timestampMs: ts },
          { name: 'note', op: 'delete-all' },
        ],
        seq,
      },
      json: { op: 'UPDATE', pk: jsonPk, cols: { status: { v: 'shipped', ts }, qty: { v: 3, ts }, note: { del: 'all' } }, seq: jsonSeq },
    };
  }
  return { action: ActionType.DELETE_ROW, row: { pk, deleteMarker: true, seq }, json: { op: 'DELETE', pk: jsonPk, seq: jsonSeq } };
}

/** Consumes every value so that nothing is optimised away; counts like a column writer would. */
class CountingSink implements RecordSink {
  rows = 0;
  cells = 0;
  checksum = 0;
  beginRow(): void {}
  primaryKey(_name: string, _type: ValueType, value: CellValue): void {
    this.cells++;
    if (typeof value === 'string') this.checksum += value.length;
  }
  cell(name: string, _op: CellOp, _type: ValueType, value: CellValue | undefined, timestampMs: number): void {
    this.cells++;
    this.checksum += name.length + (typeof value === 'string' ? value.length : 0) + (timestampMs > 0 ? 1 : 0);
  }
  endRow(deleteMarker: boolean, _hasSeq: boolean, _epoch: number, timestampUs: number): void {
    this.rows++;
    if (deleteMarker) this.checksum++;
    this.checksum += timestampUs & 1;
  }
}

function emit(record: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(record) + '\n');
}

function best(fn: () => void): number {
  let ms = Infinity;
  for (let r = 0; r < RUNS; r++) {
    const t0 = performance.now();
    fn();
    ms = Math.min(ms, performance.now() - t0);
  }
  return ms;
}

// ---- build the input: PlainBuffer pages sharing one buffer each, and the same records as JSON strings ----
const pages: RecordMsg[][] = [];
const jsonStrings: string[] = [];
let pbBytes = 0;
let jsonBytes = 0;
for (let start = 0; start < N; start += PAGE) {
  const encoded: Array<{ action: ActionType; bytes: Uint8Array }> = [];
  for (let i = start; i < Math.min(N, start + PAGE); i++) {
    const { action, row, json } = makeRow(i);
    const bytes = encodeRow(row);
    encoded.push({ action, bytes });
    const s = JSON.stringify(json);
    jsonStrings.push(s);
    jsonBytes += Buffer.byteLength(s);
    pbBytes += bytes.length;
  }
  const page = Buffer.concat(encoded.map((e) => e.bytes));
  let off = 0;
  pages.push(
    encoded.map((e) => {
      const rec = { action_type: e.action, record: page.subarray(off, off + e.bytes.length) };
      off += e.bytes.length;
      return rec;
    }),
  );
}

const decoder = new PlainBufferDecoder();
let sink = new CountingSink();
// Warm-up so that both sides run optimised code.
for (const p of pages.slice(0, 20)) decoder.decodeRecords(p, sink);
for (const s of jsonStrings.slice(0, 20_000)) JSON.parse(s);

const decodeMs = best(() => {
  sink = new CountingSink();
  for (const p of pages) decoder.decodeRecords(p, sink);
});
let parsedKeys = 0;
const jsonMs = best(() => {
  parsedKeys = 0;
  for (const s of jsonStrings) parsedKeys += (JSON.parse(s) as { op: string }).op.length;
});

const perSec = (n: number, ms: number) => Math.round((n / ms) * 1000);
const mbPerSec = (bytes: number, ms: number) => Math.round((bytes / 2 ** 20 / ms) * 1000 * 10) / 10;
emit({
  bench: 'plainbuffer-decode',
  case: 'sink',
  records: sink.rows,
  cells: sink.cells,
  ms: Math.round(decodeMs),
  recordsPerSec: perSec(sink.rows, decodeMs),
  cellsPerSec: perSec(sink.cells, decodeMs),
  mbPerSec: mbPerSec(pbBytes, decodeMs),
  inputMiB: Math.round((pbBytes / 2 ** 20) * 10) / 10,
});
emit({
  bench: 'plainbuffer-decode',
  case: 'reference-json-parse',
  records: jsonStrings.length,
  ms: Math.round(jsonMs),
  recordsPerSec: perSec(jsonStrings.length, jsonMs),
  mbPerSec: mbPerSec(jsonBytes, jsonMs),
  inputMiB: Math.round((jsonBytes / 2 ** 20) * 10) / 10,
  checksum: parsedKeys > 0,
});
emit({ bench: 'plainbuffer-decode', case: 'ratio', decodeVsJsonParse: Math.round((jsonMs / decodeMs) * 100) / 100, runs: RUNS, node: process.version });
