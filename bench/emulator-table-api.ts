/**
 * tablestore-local table-API throughput, with a reference measured in the same run beside each figure:
 *   - TableStore.writeRows in memory vs with the --data-dir journal (the cost of persistence);
 *   - PutRow and BatchWriteRow through the official SDK over HTTP vs ListTable (the cheapest
 *     authenticated RPC: HTTP + signature + protobuf, no table work);
 *   - GetRange pages through the SDK (rows/s read back).
 *
 *   npx tsx bench/emulator-table-api.ts [rows=2000] [concurrency=8]
 *
 * Prints one JSON line per figure.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { startTablestoreEmulator } from '../emulator/tablestore/index.js';
import { TableStore, type RowWrite } from '../emulator/tablestore/table-store.js';

const rows = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 8);
const SDK: any = createRequire(import.meta.url)('tablestore');

function emit(figure: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(figure) + '\n');
}

function storeWrites(n: number): RowWrite[] {
  const out: RowWrite[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      kind: 'put',
      condition: 'IGNORE',
      primaryKey: [{ name: 'id', value: { type: 'INTEGER', value: BigInt(i) } }],
      cells: [
        { name: 'name', value: { type: 'STRING', value: `user-${i}` } },
        { name: 'amount', value: { type: 'DOUBLE', value: i * 1.25 } },
      ],
    });
  }
  return out;
}

function timeStore(dataDir: string | undefined, writes: RowWrite[]): number {
  const store = new TableStore({ ...(dataDir ? { dataDir } : {}), partitionsPerTable: 4 });
  store.createTable({ name: 'b', primaryKey: [{ name: 'id', type: 'INTEGER' }] });
  const t0 = performance.now();
  for (let i = 0; i < writes.length; i += 200) store.writeRows('b', writes.slice(i, i + 200));
  const ms = performance.now() - t0;
  store.close();
  return ms;
}

async function runConcurrent(total: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) await fn(next++);
    }),
  );
  return performance.now() - t0;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'otslake-bench-tslocal-'));
try {
  const writes = storeWrites(rows * 10);
  const memMs = timeStore(undefined, writes);
  const journalMs = timeStore(path.join(dir, 'journal'), writes);
  emit({
    bench: 'store.writeRows',
    rows: writes.length,
    rowsPerSec: Math.round(writes.length / (memMs / 1000)),
    reference: 'same with journal',
    referenceRowsPerSec: Math.round(writes.length / (journalMs / 1000)),
  });

  const emu = await startTablestoreEmulator({ instance: 'bench', accessKeyId: 'ak', accessKeySecret: 'sk' });
  const client = new SDK.Client({ accessKeyId: 'ak', secretAccessKey: 'sk', endpoint: emu.endpoint, instancename: 'bench', maxRetries: 0 });
  await client.createTable({
    tableMeta: { tableName: 'b', primaryKey: [{ name: 'id', type: 'INTEGER' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
  });
  const cond = new SDK.Condition(SDK.RowExistenceExpectation.IGNORE, null);
  // Warm up both paths (JIT, keep-alive sockets) before timing either.
  await runConcurrent(200, () => client.listTable({}));
  await runConcurrent(200, (i) =>
    client.putRow({ tableName: 'b', condition: cond, primaryKey: [{ id: SDK.Long.fromNumber(-1 - i) }], attributeColumns: [{ w: 1.0 }] }),
  );
  const listMs = await runConcurrent(rows, () => client.listTable({}));
  const putMs = await runConcurrent(rows, (i) =>
    client.putRow({
      tableName: 'b',
      condition: cond,
      primaryKey: [{ id: SDK.Long.fromNumber(i) }],
      attributeColumns: [{ name: `user-${i}` }, { amount: i * 1.25 }],
    }),
  );
  emit({
    bench: 'sdk.putRow',
    concurrency,
    calls: rows,
    callsPerSec: Math.round(rows / (putMs / 1000)),
    reference: 'sdk.listTable',
    referenceCallsPerSec: Math.round(rows / (listMs / 1000)),
  });

  const batches = Math.ceil(rows / 20);
  const batchMs = await runConcurrent(batches, (b) =>
    client.batchWriteRow({
      tables: [
        {
          tableName: 'b',
          rows: Array.from({ length: 200 }, (_, k) => ({
            type: 'PUT',
            condition: cond,
            primaryKey: [{ id: SDK.Long.fromNumber(rows + b * 200 + k) }],
            attributeColumns: [{ name: 'x' }, { amount: 1.5 }],
          })),
        },
      ],
    }),
  );
  emit({
    bench: 'sdk.batchWriteRow',
    concurrency,
    rows: batches * 200,
    rowsPerSec: Math.round((batches * 200) / (batchMs / 1000)),
    reference: 'sdk.putRow rows/s',
    referenceRowsPerSec: Math.round(rows / (putMs / 1000)),
  });

  let read = 0;
  let start: unknown[] = [{ id: SDK.INF_MIN }];
  const t0 = performance.now();
  start = [{ id: SDK.Long.fromNumber(0) }];
  for (;;) {
    const page = await client.getRange({
      tableName: 'b',
      direction: SDK.Direction.FORWARD,
      inclusiveStartPrimaryKey: start,
      exclusiveEndPrimaryKey: [{ id: SDK.INF_MAX }],
    });
    read += page.rows.length;
    if (!page.nextStartPrimaryKey) break;
    start = page.nextStartPrimaryKey.map((c: { name: string; value: unknown }) => ({ [c.name]: c.value }));
  }
  const rangeMs = performance.now() - t0;
  emit({
    bench: 'sdk.getRange',
    rows: read,
    rowsPerSec: Math.round(read / (rangeMs / 1000)),
    reference: 'store.writeRows in memory',
    referenceRowsPerSec: Math.round(writes.length / (memMs / 1000)),
  });
  await emu.close();
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
