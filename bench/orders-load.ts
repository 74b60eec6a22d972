/**
 * The load the end-to-end benches write through the official `tablestore` SDK: an `orders` table
 * (INTEGER key `id`, stream on) and rows of four attribute columns, put in BatchWriteRow calls of
 * up to 200 rows (the service's limit).
 */
import { createRequire } from 'node:module';

// The SDK ships no types; the benches use a handful of its calls.
const SDK: any = createRequire(import.meta.url)('tablestore');

export interface BenchCredentials {
  instance: string;
  accessKeyId: string;
  accessKeySecret: string;
}

export interface BenchSdk {
  createTable(params: unknown): Promise<unknown>;
  batchWriteRow(params: unknown): Promise<unknown>;
}

export function benchSdkClient(endpoint: string, creds: BenchCredentials): BenchSdk {
  return new SDK.Client({ accessKeyId: creds.accessKeyId, secretAccessKey: creds.accessKeySecret, endpoint, instancename: creds.instance, maxRetries: 0 });
}

export async function createOrdersTable(sdk: BenchSdk, name: string): Promise<void> {
  await sdk.createTable({
    tableMeta: { tableName: name, primaryKey: [{ name: 'id', type: 'INTEGER' }] },
    reservedThroughput: { capacityUnit: { read: 0, write: 0 } },
    tableOptions: { timeToLive: -1, maxVersions: 1 },
    streamSpecification: { enableStream: true, expirationTime: 24 },
  });
}

/** The attribute columns of order `id`. */
export function orderAttributes(id: number): unknown[] {
  return [
    { status: ['created', 'paid', 'shipped'][id % 3] },
    { amount: (id % 1000) / 10 + 0.5 },
    { qty: SDK.Long.fromNumber(id % 17) },
    { note: `note ${id}` },
  ];
}

/** Puts the orders with these ids (at most 200) in one BatchWriteRow. */
export async function putOrders(sdk: BenchSdk, table: string, ids: readonly number[]): Promise<void> {
  const condition = new SDK.Condition(SDK.RowExistenceExpectation.IGNORE, null);
  await sdk.batchWriteRow({
    tables: [
      {
        tableName: table,
        rows: ids.map((id) => ({ type: 'PUT', condition, primaryKey: [{ id: SDK.Long.fromNumber(id) }], attributeColumns: orderAttributes(id) })),
      },
    ],
  });
}

/** Orders 0..rows-1, 200 per call. */
export async function preloadOrders(sdk: BenchSdk, table: string, rows: number): Promise<void> {
  for (let start = 0; start < rows; start += 200) {
    await putOrders(
      sdk,
      table,
      Array.from({ length: Math.min(200, rows - start) }, (_, k) => start + k),
    );
  }
}
