/**
 * Tunnel ReadRecords throughput of tablestore-local, measured through TunnelService.handle()
 * (token decode, change-log page, PlainBuffer encoding, protobuf response) without HTTP.
 * Reference in the same run: encoding the same records with encodeStreamRecord alone, i.e. the
 * cost the service adds on top of the record bytes.
 *
 *   npx tsx bench/tunnel-read.ts [rows=20000]
 *
 * Prints one JSON line per figure.
 */
import { decodeMessage, encodeMessage, StartOffsetFlag, TunnelType } from '../tunnel/proto.js';
import { encodeStreamRecord } from '../emulator/tablestore/plainbuffer-write.js';
import { TableStore, type RowWrite } from '../emulator/tablestore/table-store.js';
import { TunnelService } from '../emulator/tablestore/tunnel-service.js';

const rows = Number(process.argv[2] ?? 20_000);
const ctx = () => ({ instance: 'bench', accessKeyId: 'ak', requestId: 'r', receivedAt: Date.now() });

const store = new TableStore({ partitionsPerTable: 1 });
store.createTable({ name: 'bench', primaryKey: [{ name: 'id', type: 'INTEGER' }], streamEnabled: true });
const writes: RowWrite[] = [];
for (let i = 0; i < rows; i++) {
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
for (let i = 0; i < writes.length; i += 1000) store.writeRows('bench', writes.slice(i, i + 1000));

const svc = new TunnelService(store, { instance: 'bench', initDelayMs: 0, sweepIntervalMs: 0 });
const created = await svc.handle(
  '/tunnel/create',
  encodeMessage('CreateTunnelRequest', {
    tunnel: { table_name: 'bench', tunnel_name: 't', tunnel_type: TunnelType.Stream, stream_tunnel_config: { flag: StartOffsetFlag.EARLIEST } },
  }),
  ctx(),
);
const tunnelId = decodeMessage('CreateTunnelResponse', created).tunnel_id;
const channelId = store.partitions('bench')[0]!.id;

async function readAll(): Promise<{ records: number; bytes: number; ms: number }> {
  const cp = await svc.handle('/tunnel/getcheckpoint', encodeMessage('GetCheckpointRequest', { tunnel_id: tunnelId, client_id: 'b', channel_id: channelId }), ctx());
  let token = decodeMessage('GetCheckpointResponse', cp).checkpoint;
  let records = 0;
  let bytes = 0;
  const t0 = performance.now();
  for (;;) {
    const body = encodeMessage('ReadRecordsRequest', { tunnel_id: tunnelId, client_id: 'b', channel_id: channelId, token });
    const out = await svc.handle('/tunnel/readrecords', body, ctx());
    const res = decodeMessage('ReadRecordsResponse', out);
    records += res.records.length;
    bytes += out.length;
    if (res.records.length === 0) break;
    token = res.next_token;
  }
  return { records, bytes, ms: performance.now() - t0 };
}

function encodeAll(): { ms: number; bytes: number } {
  const t0 = performance.now();
  let bytes = 0;
  for (let i = 0; i < rows; i += 1000) {
    for (const r of store.changes('bench', channelId, i, 1000).records) bytes += encodeStreamRecord(r, { withSequence: true }).length;
  }
  return { ms: performance.now() - t0, bytes };
}

await readAll(); // warm-up
encodeAll();
const read = await readAll();
const ref = encodeAll();
if (read.records !== rows) throw new Error(`read ${read.records} records, expected ${rows}`);
console.log(JSON.stringify({ bench: 'tunnel-read', figure: 'readrecords_records_per_s', value: Math.round(read.records / (read.ms / 1000)), rows }));
console.log(JSON.stringify({ bench: 'tunnel-read', figure: 'readrecords_mb_per_s', value: +(read.bytes / 1e6 / (read.ms / 1000)).toFixed(1), rows }));
console.log(JSON.stringify({ bench: 'tunnel-read', figure: 'reference_encode_records_per_s', value: Math.round(rows / (ref.ms / 1000)), rows }));
console.log(JSON.stringify({ bench: 'tunnel-read', figure: 'service_overhead_ratio', value: +(read.ms / ref.ms).toFixed(2), rows }));
await svc.close();
store.close();
