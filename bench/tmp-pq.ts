import { parquetWasm } from '../lake/parquet-wasm.js';
import { createColumnBuilder } from '../lake/column-builders.js';
import { dictionaryChoice } from '../lake/parquet-file.js';
import * as arrow from '../lake/arrow.js';
import { arrowSchemaOf, type ColumnSpec } from '../lake/parquet-columns.js';
const N = 50000;
const cols: ColumnSpec[] = [
  { name: 'user_id', type: 'string', nullable: true }, { name: 'order_id', type: 'long', nullable: true }, { name: 'status', type: 'string', nullable: true },
  { name: 'amount', type: 'double', nullable: true }, { name: 'qty', type: 'long', nullable: true }, { name: 'paid', type: 'boolean', nullable: true },
  { name: 'city', type: 'string', nullable: true }, { name: 'note', type: 'string', nullable: true },
  { name: '_op', type: 'string', nullable: false }, { name: '_ts', type: 'timestamp', nullable: true }, { name: '_seq', type: 'string', nullable: true },
  { name: '_channel', type: 'string', nullable: false }, { name: '_deleted_columns', type: 'array<string>', nullable: true },
];
const STATUSES = ['created', 'paid', 'shipped', 'delivered', 'cancelled'];
const builders = cols.map(createColumnBuilder);
for (let i = 0; i < N; i++) {
  const k = i % 10; const ts = (1_700_000_000_000 + i) * 1000 + 7;
  const vals: unknown[] = [`user-${(i * 7919) % 100000}`, BigInt(i), k < 9 ? (k < 7 ? STATUSES[i % 5] : 'paid') : null, k < 7 ? (i % 10000) / 100 : null, k < 7 ? BigInt(i % 17) : null,
    k < 9 ? (k < 7 ? i % 2 === 0 : true) : null, k < 7 ? `city-${i % 50}` : null, k < 7 ? `note ${i}` : null, k < 7 ? 'PUT' : k < 9 ? 'UPDATE' : 'DELETE', ts,
    `00000000:${ts.toString(16).padStart(16, '0')}:${(i % 16).toString(16).padStart(8, '0')}`, 'p0', k >= 7 && k < 9 ? ['note'] : null];
  builders.forEach((b, j) => b.append(vals[j]));
}
const dict = dictionaryChoice(builders);
const schema = arrowSchemaOf(cols);
const children = builders.map((b) => b.takeRowGroup());
const struct = arrow.makeData({ type: new arrow.Struct(schema.fields), length: N, nullCount: 0, children });
let t = performance.now();
const ipc = arrow.tableToIPC(new arrow.Table([new arrow.RecordBatch(schema, struct)]), 'stream');
console.log('tableToIPC ms', (performance.now() - t).toFixed(1), 'bytes', ipc.length);
const pw = parquetWasm();
function props(v: { comp?: string; stats?: string; dict?: 'auto' | 'on' | 'off'; page?: number; batch?: number }) {
  let b = new pw.WriterPropertiesBuilder().setWriterVersion(pw.WriterVersion.V1)
    .setCompression(v.comp === 'none' ? pw.Compression.UNCOMPRESSED : v.comp === 'snappy' ? pw.Compression.SNAPPY : v.comp === 'lz4' ? pw.Compression.LZ4_RAW : pw.Compression.ZSTD)
    .setStatisticsEnabled(v.stats === 'none' ? pw.EnabledStatistics.None : v.stats === 'page' ? pw.EnabledStatistics.Page : pw.EnabledStatistics.Chunk).setMaxRowGroupSize(100000);
  if (v.page) b = b.setDataPageSizeLimit(v.page);
  if (v.batch) b = b.setWriteBatchSize(v.batch);
  cols.forEach((c, i) => { if (c.type !== 'array<string>') b = b.setColumnDictionaryEnabled(c.name, v.dict === 'on' ? true : v.dict === 'off' ? false : dict[i]!); });
  return b.build();
}
const variants: Record<string, Parameters<typeof props>[0]> = { base: {}, none: { comp: 'none' }, snappy: { comp: 'snappy' }, lz4: { comp: 'lz4' }, nostats: { stats: 'none' }, dictoff: { dict: 'off' }, dicton: { dict: 'on' }, batch8k: { batch: 8192 }, page64k: { page: 65536 } };
const best: Record<string, number> = {};
let sizes: Record<string, number> = {};
for (let r = 0; r < 7; r++) for (const [name, v] of Object.entries(variants)) {
  const t0 = performance.now();
  const table = pw.Table.fromIPCStream(ipc);
  const t1 = performance.now();
  const out = pw.writeParquet(table, props(v));
  const t2 = performance.now();
  best[name] = Math.min(best[name] ?? 1e9, t2 - t1);
  best['fromIPC'] = Math.min(best['fromIPC'] ?? 1e9, t1 - t0);
  sizes[name] = out.length;
}
for (const k of Object.keys(best)) console.log(k.padEnd(10), best[k]!.toFixed(1), 'ms', sizes[k] ?? '');
