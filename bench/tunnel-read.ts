/**
 * Tunnel ReadRecords throughput of tablestore-local, measured through TunnelService.handle()
 * (token decode, change-log page, PlainBuffer encoding, protobuf response) without HTTP.
 * Reference in the same run: encoding the same records with encodeStreamRecord alone, i.e. the
 * cost the service adds on top of the record bytes.
 *
 * Three reads of the same table: the first encodes every record and keeps nothing (`uncached`:
 * what one tunnel reading a log once costs), the second encodes them again and keeps the bytes per
 * change-log record (`keeping`), the third finds them kept (what several tunnels or a redo after a
 * crash get). A second table of the same rows warms the JIT first, so the uncached read is not
 * also the cold one. The same for the base data (a BaseData tunnel: every current row as a PUT_ROW
 * image), a tunnel per read: first read, second (keeps each row's bytes until it is written), re-read.
 * Also the JS heap per stored row (table and change log), after a GC when --expose-gc is given.
 *
 * Also the ReadRecordsResponse codec alone on pages of 1000 of these records: the direct codec
 * (read-records-wire.ts, what encodeMessage/decodeMessage use) beside the generic protobufjs path.
 *
 *   npx tsx bench/tunnel-read.ts [rows=20000]
 *   node --expose-gc --import tsx bench/tunnel-read.ts 200000   # a full GC before each timed read: what a read
 *                                                               # costs, not where the previous steps' GC lands
 *
 * Prints one JSON line per figure.
 */
import {
  decodeMessage,
  decodeMessageGeneric,
  encodeMessage,
  encodeMessageGeneric,
  FINISHED_TOKEN,
  StartOffsetFlag,
  TunnelType,
  type ReadRecordsResponse,
} from '../tunnel/proto.js';
import { encodeStreamRecord } from '../emulator/tablestore/plainbuffer-write.js';
import { TableStore, type RowWrite } from '../emulator/tablestore/table-store.js';
import { TunnelService } from '../emulator/tablestore/tunnel-service.js';

const rows = Number(process.argv[2] ?? 20_000);
const ctx = () => ({ instance: 'bench', accessKeyId: 'ak', requestId: 'r', receivedAt: Date.now() });

const store = new TableStore({ partitionsPerTable: 1 });
for (const name of ['bench', 'warm-up']) store.createTable({ name, primaryKey: [{ name: 'id', type: 'INTEGER' }], streamEnabled: true });
/** Puts of rows [from, to), fresh objects per call (each table holds its own, as requests' would be). */
function puts(from: number, to: number): RowWrite[] {
  const writes: RowWrite[] = [];
  for (let i = from; i < to; i++) {
    writes.push({
      kind: 'put',
      condition: 'IGNORE',
      primaryKey: [{ name: 'id', value: { type: 'INTEGER', value: BigInt(i) } }],
      cells: [
        { name: 'name', value: { type: 'STRING', value: `user-${i}-${'x'.repeat(24)}` } },
        { name: 'amount', value: { type: 'DOUBLE', value: i * 1.25 } },
        { name: 'paid', value: { type: 'BOOLEAN', value: i % 3 === 0 } },
      ],
    });
  }
  return writes;
}
for (let i = 0; i < rows; i += 1000) {
  store.writeRows('bench', puts(i, Math.min(rows, i + 1000)));
  store.writeRows('warm-up', puts(i, Math.min(rows, i + 1000)));
}

// Two tables of `rows` rows with their change logs: heap per stored row (one row and its log record).
(globalThis as { gc?: () => void }).gc?.();
console.log(
  JSON.stringify({ bench: 'tunnel-read', figure: 'heap_bytes_per_stored_row', value: Math.round(process.memoryUsage().heapUsed / (2 * rows)), rows }),
);

// No ownership check: the bench reads channels without a ConnectTunnel/Heartbeat round.
const svc = new TunnelService(store, { instance: 'bench', initDelayMs: 0, sweepIntervalMs: 0, ownership: 'off' });

async function openChannel(table: string, type = TunnelType.Stream, name = 't'): Promise<{ tunnelId: string; channelId: string }> {
  const created = await svc.handle(
    '/tunnel/create',
    encodeMessage('CreateTunnelRequest', {
      tunnel: { table_name: table, tunnel_name: name, tunnel_type: type, stream_tunnel_config: { flag: StartOffsetFlag.EARLIEST } },
    }),
    ctx(),
  );
  const partitionId = store.partitions(table)[0]!.id;
  return {
    tunnelId: decodeMessage('CreateTunnelResponse', created).tunnel_id,
    channelId: type === TunnelType.BaseData ? `BaseData_${partitionId}` : partitionId,
  };
}
const warm = await openChannel('warm-up');
const { tunnelId, channelId } = await openChannel('bench');

async function readAll(
  { tunnelId, channelId } = { tunnelId: warm.tunnelId, channelId: warm.channelId },
): Promise<{ records: number; bytes: number; ms: number; cpuUs: number }> {
  const cp = await svc.handle(
    '/tunnel/getcheckpoint',
    encodeMessage('GetCheckpointRequest', { tunnel_id: tunnelId, client_id: 'b', channel_id: channelId }),
    ctx(),
  );
  let token = decodeMessage('GetCheckpointResponse', cp).checkpoint;
  // With --expose-gc: no garbage of earlier steps is collected (and billed) during this read.
  (globalThis as { gc?: () => void }).gc?.();
  let records = 0;
  let bytes = 0;
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  for (;;) {
    const body = encodeMessage('ReadRecordsRequest', { tunnel_id: tunnelId, client_id: 'b', channel_id: channelId, token });
    const out = await svc.handle('/tunnel/readrecords', body, ctx());
    const res = decodeMessage('ReadRecordsResponse', out);
    records += res.records.length;
    bytes += out.length;
    if (res.records.length === 0 || res.next_token === FINISHED_TOKEN) break;
    token = res.next_token;
  }
  const cpu = process.cpuUsage(cpu0);
  return { records, bytes, ms: performance.now() - t0, cpuUs: cpu.user + cpu.system };
}

function encodeAll(): { ms: number; bytes: number } {
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < rows; i += 1000) {
    for (const r of store.changes('bench', channelId, i, 1000).records) bytes += encodeStreamRecord(r, { withSequence: true }).length;
  }
  return { ms: performance.now() - t0, bytes };
}

/** One line per read: records/s, MB/s and CPU µs per record; every read must have returned all rows. */
function printReads(reads: Array<readonly [string, { records: number; ms: number; bytes: number; cpuUs: number }]>): void {
  for (const [figure, r] of reads) {
    if (r.records !== rows) throw new Error(`${figure}: read ${r.records} records, expected ${rows}`);
    const perS = (n: number) => n / (r.ms / 1000);
    console.log(
      JSON.stringify({
        bench: 'tunnel-read',
        figure,
        value: Math.round(perS(r.records)),
        mb_per_s: +(perS(r.bytes) / 1e6).toFixed(1),
        cpu_us_per_record: +(r.cpuUs / r.records).toFixed(3),
        rows,
      }),
    );
  }
}

await readAll(); // warm-up: JIT and the other table's cache
encodeAll();
const uncached = await readAll({ tunnelId, channelId });
const keeping = await readAll({ tunnelId, channelId });
const read = await readAll({ tunnelId, channelId });
const ref = encodeAll();
printReads([
  ['readrecords_uncached_records_per_s', uncached],
  ['readrecords_keeping_records_per_s', keeping],
  ['readrecords_records_per_s', read],
]);
console.log(JSON.stringify({ bench: 'tunnel-read', figure: 'readrecords_mb_per_s', value: +(read.bytes / 1e6 / (read.ms / 1000)).toFixed(1), rows }));
console.log(JSON.stringify({ bench: 'tunnel-read', figure: 'reference_encode_records_per_s', value: Math.round(rows / (ref.ms / 1000)), rows }));
console.log(JSON.stringify({ bench: 'tunnel-read', figure: 'service_overhead_ratio', value: +(read.ms / ref.ms).toFixed(2), rows }));

// Base data: a BaseData tunnel per read, so each starts from the first row (the warm-up table's first).
await readAll(await openChannel('warm-up', TunnelType.BaseData, 'base-warm'));
const baseFirst = await readAll(await openChannel('bench', TunnelType.BaseData, 'base-1'));
const baseSecond = await readAll(await openChannel('bench', TunnelType.BaseData, 'base-2'));
const baseAgain = await readAll(await openChannel('bench', TunnelType.BaseData, 'base-3'));
printReads([
  ['base_first_read_records_per_s', baseFirst],
  ['base_second_read_records_per_s', baseSecond],
  ['base_re_read_records_per_s', baseAgain],
]);
/** ms per page for `fn` over the pages, best of 3 passes. */
function timePages<T>(pages: T[], fn: (page: T) => unknown): number {
  let best = Infinity;
  for (let pass = 0; pass < 3; pass++) {
    const t0 = performance.now();
    for (const page of pages) fn(page);
    best = Math.min(best, (performance.now() - t0) / pages.length);
  }
  return best;
}
const pages: ReadRecordsResponse[] = [];
for (let i = 0; i < rows; i += 1000) {
  const { records } = store.changes('bench', channelId, i, 1000);
  pages.push({
    records: records.map((r) => ({ action_type: 1, record: encodeStreamRecord(r, { withSequence: true }) })),
    next_token: 'x'.repeat(120),
    may_more_record: true,
  });
}
const wires = pages.map((p) => encodeMessage('ReadRecordsResponse', p));
const codec = {
  encodeFastMs: timePages(pages, (p) => encodeMessage('ReadRecordsResponse', p)),
  encodeGenericMs: timePages(pages, (p) => encodeMessageGeneric('ReadRecordsResponse', p)),
  decodeFastMs: timePages(wires, (w) => decodeMessage('ReadRecordsResponse', w)),
  decodeGenericMs: timePages(wires, (w) => decodeMessageGeneric('ReadRecordsResponse', w)),
};
for (const dir of ['encode', 'decode'] as const) {
  const fast = codec[`${dir}FastMs`];
  const generic = codec[`${dir}GenericMs`];
  console.log(
    JSON.stringify({
      bench: 'tunnel-read',
      figure: `proto_${dir}_page_ms`,
      value: +fast.toFixed(3),
      reference_generic_ms: +generic.toFixed(3),
      speedup: +(generic / fast).toFixed(1),
      recordsPerPage: 1000,
    }),
  );
}
await svc.close();
store.close();
