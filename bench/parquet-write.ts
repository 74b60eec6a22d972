/**
 * Parquet encoders on changelog-like rows, same rows and same run:
 *   otslake      lake/parquet-file.ts (hand-built Arrow buffers → parquet-rs via parquet-wasm, zstd, V1 pages)
 *   hyparquet    hyparquet-writer 0.17 + zstd (@bokuweb/zstd-wasm), rows transposed to columns
 *   duckdb       @duckdb/node-api row appender + COPY … (COMPRESSION zstd): the reference
 * Each writer runs in its own child process so that peak RSS is its own. Prints one JSON line per
 * writer (rows/s, output MB/s, file MB, peak RSS MB) plus a summary line relative to DuckDB.
 *
 *   npx tsx bench/parquet-write.ts [--rows 200000] [--only otslake,hyparquet,duckdb]
 */
import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const WRITERS = ['otslake', 'hyparquet', 'duckdb'] as const;
type WriterName = (typeof WRITERS)[number];

interface Row {
  id: bigint;
  user_id: string;
  amount: number;
  paid: boolean;
  status: string;
  _ts: bigint;
  note: string | null;
  _op: string;
  _seq: string | null;
}

/** Deterministic rows: int64 ids beyond 2^53, strings, doubles, booleans, µs UTC timestamps, 30 % null notes. */
function* generateRows(n: number): Generator<Row> {
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
  const words = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliet'];
  const statuses = ['NEW', 'PAID', 'SHIPPED', 'DONE', 'CANCELLED'];
  const ops = ['PUT', 'UPDATE', 'DELETE'];
  for (let i = 0; i < n; i++) {
    const note = rand() < 0.3 ? null : Array.from({ length: 6 }, () => words[Math.floor(rand() * 10)]).join(' ') + ` #${i}`;
    yield {
      id: 2n ** 60n + BigInt(i),
      user_id: `u${Math.floor(rand() * 100_000)}`,
      amount: Math.round(rand() * 100_000) / 100,
      paid: rand() < 0.7,
      status: statuses[Math.floor(rand() * 5)]!,
      _ts: 1_700_000_000_000_000n + BigInt(i) * 1_000n + BigInt(Math.floor(rand() * 1000)),
      note,
      _op: ops[i % 3]!,
      _seq: i % 10 === 0 ? null : `00000001:${(1_700_000_000_000_000 + i).toString(16).padStart(16, '0')}:${i.toString(16).padStart(8, '0')}`,
    };
  }
}

async function runOtslake(rows: number, dir: string): Promise<string> {
  const { ParquetFileWriter } = await import('../lake/parquet-file.js');
  const { LocalStore } = await import('../lake/local-store.js');
  const store = new LocalStore(dir, { fsync: false });
  const writer = new ParquetFileWriter({
    store,
    columns: [
      { name: 'id', type: 'long', nullable: false },
      { name: 'user_id', type: 'string', nullable: true },
      { name: 'amount', type: 'double', nullable: true },
      { name: 'paid', type: 'boolean', nullable: true },
      { name: 'status', type: 'string', nullable: true },
      { name: '_ts', type: 'timestamp', nullable: true },
      { name: 'note', type: 'string', nullable: true },
      { name: '_op', type: 'string', nullable: true },
      { name: '_seq', type: 'string', nullable: true },
    ],
    targetFileBytes: 1 << 30,
  });
  let n = 0;
  for (const row of generateRows(rows)) {
    writer.appendRow(row as unknown as Record<string, unknown>);
    if (++n % 8192 === 0) await writer.drain();
  }
  const [file] = await writer.close();
  return path.join(dir, file!.path);
}

async function runHyparquet(rows: number, dir: string): Promise<string> {
  const { parquetWriteBuffer } = await import('hyparquet-writer');
  const zstd = await import('@bokuweb/zstd-wasm');
  await zstd.init();
  const cols: Record<keyof Row, unknown[]> = { id: [], user_id: [], amount: [], paid: [], status: [], _ts: [], note: [], _op: [], _seq: [] };
  for (const row of generateRows(rows)) for (const k of Object.keys(cols) as (keyof Row)[]) cols[k].push(row[k]);
  const str = (name: string, required = false) => ({
    name,
    type: 'BYTE_ARRAY' as const,
    repetition_type: required ? ('REQUIRED' as const) : ('OPTIONAL' as const),
    converted_type: 'UTF8' as const,
    logical_type: { type: 'STRING' as const },
  });
  const schema = [
    { name: 'root', num_children: 9 },
    { name: 'id', type: 'INT64' as const, repetition_type: 'REQUIRED' as const },
    str('user_id'),
    { name: 'amount', type: 'DOUBLE' as const, repetition_type: 'OPTIONAL' as const },
    { name: 'paid', type: 'BOOLEAN' as const, repetition_type: 'OPTIONAL' as const },
    str('status'),
    {
      name: '_ts',
      type: 'INT64' as const,
      repetition_type: 'OPTIONAL' as const,
      converted_type: 'TIMESTAMP_MICROS' as const,
      logical_type: { type: 'TIMESTAMP' as const, isAdjustedToUTC: true, unit: 'MICROS' as const },
    },
    str('note'),
    str('_op'),
    str('_seq'),
  ];
  const buf = parquetWriteBuffer({
    columnData: Object.entries(cols).map(([name, data]) => ({ name, data: data as never })),
    schema: schema as never,
    codec: 'ZSTD',
    compressors: { ZSTD: (b: Uint8Array) => zstd.compress(b, 3) },
    rowGroupSize: 100_000,
  });
  const file = path.join(dir, 'hyparquet.parquet');
  const { writeFile } = await import('node:fs/promises');
  await writeFile(file, new Uint8Array(buf));
  return file;
}

async function runDuckdb(rows: number, dir: string): Promise<string> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', { threads: '1' });
  const con = await db.connect();
  await con.run(
    'CREATE TABLE t (id BIGINT NOT NULL, user_id VARCHAR, amount DOUBLE, paid BOOLEAN, status VARCHAR, _ts BIGINT, note VARCHAR, _op VARCHAR, _seq VARCHAR)',
  );
  const app = await con.createAppender('t');
  for (const r of generateRows(rows)) {
    app.appendBigInt(r.id);
    app.appendVarchar(r.user_id);
    app.appendDouble(r.amount);
    app.appendBoolean(r.paid);
    app.appendVarchar(r.status);
    app.appendBigInt(r._ts);
    if (r.note === null) app.appendNull();
    else app.appendVarchar(r.note);
    app.appendVarchar(r._op);
    if (r._seq === null) app.appendNull();
    else app.appendVarchar(r._seq);
    app.endRow();
  }
  app.closeSync();
  const file = path.join(dir, 'duckdb.parquet');
  await con.run(
    `COPY (SELECT id, user_id, amount, paid, status, make_timestamptz(_ts) AS _ts, note, _op, _seq FROM t) TO '${file}' (FORMAT parquet, COMPRESSION zstd, ROW_GROUP_SIZE 100000)`,
  );
  con.closeSync();
  db.closeSync();
  return file;
}

/** Child: write once, print {ms, bytes, rssMb}. */
async function child(writer: WriterName, rows: number): Promise<void> {
  const dir = await mkdtemp(path.join(tmpdir(), `otslake-bench-${writer}-`));
  try {
    const started = performance.now();
    const file = writer === 'otslake' ? await runOtslake(rows, dir) : writer === 'hyparquet' ? await runHyparquet(rows, dir) : await runDuckdb(rows, dir);
    const ms = performance.now() - started;
    const bytes = (await stat(file)).size;
    // Sanity: the file must hold every row (checked with parquet-rs, independent of hyparquet/duckdb writers).
    const pw = await import('parquet-wasm');
    const arrow = await import('apache-arrow');
    const numRows = arrow.tableFromIPC(pw.readParquet(new Uint8Array(await readFile(file)), { columns: ['id'] }).intoIPCStream()).numRows;
    process.send!({ ms, bytes, numRows, rssMb: process.resourceUsage().maxRSS / 1024 });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runChild(writer: WriterName, rows: number): Promise<{ ms: number; bytes: number; numRows: number; rssMb: number }> {
  return new Promise((resolve, reject) => {
    const cp = fork(process.argv[1]!, ['--child', writer, '--rows', String(rows)], { execArgv: process.execArgv });
    let result: unknown;
    cp.on('message', (m) => {
      result = m;
    });
    cp.on('error', reject);
    cp.on('exit', (code) => (code === 0 && result ? resolve(result as never) : reject(new Error(`${writer} child exited with ${code}`))));
  });
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rows: { type: 'string', default: '200000' }, only: { type: 'string' }, child: { type: 'string' } } });
  const rows = Number(values.rows);
  if (values.child) return child(values.child as WriterName, rows);
  const writers = values.only ? (values.only.split(',') as WriterName[]) : [...WRITERS];
  const results: Record<string, { ms: number; bytes: number }> = {};
  for (const w of writers) {
    const r = await runChild(w, rows);
    if (r.numRows !== rows) throw new Error(`${w} wrote ${r.numRows} rows, expected ${rows}`);
    results[w] = r;
    console.log(
      JSON.stringify({
        bench: 'parquet-write',
        writer: w,
        rows,
        ms: Math.round(r.ms),
        rowsPerSec: Math.round(rows / (r.ms / 1000)),
        outMBps: +(r.bytes / 1e6 / (r.ms / 1000)).toFixed(2),
        fileMB: +(r.bytes / 1e6).toFixed(2),
        peakRssMB: Math.round(r.rssMb),
      }),
    );
  }
  const ref = results.duckdb;
  if (ref) {
    console.log(
      JSON.stringify({
        bench: 'parquet-write',
        summary: 'time and size relative to the DuckDB reference in this run',
        ...Object.fromEntries(
          Object.entries(results)
            .filter(([w]) => w !== 'duckdb')
            .map(([w, r]) => [w, { timeX: +(r.ms / ref.ms).toFixed(2), sizeX: +(r.bytes / ref.bytes).toFixed(2) }]),
        ),
      }),
    );
  }
}

await main();
