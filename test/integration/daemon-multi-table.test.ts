/**
 * One daemon serves several tables on one worker pool: `orders` as a changelog and `customers` as a
 * mirror, each with its own tunnel, both landing exactly what the SDK wrote (read back by chdb).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import {
  asChanges,
  createHarness,
  lakeRowCount,
  readChangelog,
  sortChanges,
  waitForEvent,
  waitForEventWhere,
  type Change,
  type Harness,
} from '../helpers/daemon-harness.js';
import { readDeltaTable } from '../helpers/chdb.js';
import { createStreamTable, tablestoreSdk as TS } from '../helpers/emulator.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** The harness's orders table plus `customers` as a mirror table, as config entries. */
function withCustomers(harness: Harness): unknown[] {
  return [
    ...harness.config().tables.map((t) => ({ table: t.table, tunnel: t.tunnel, mode: t.mode, path: t.path, columns: t.columns })),
    { table: 'customers', tunnel: { name: 'otslake-customers', type: 'BaseAndStream' }, mode: 'mirror', path: 'customers' },
  ];
}

const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);

describe('daemon: several tables', () => {
  it('lands a changelog table and a mirror table from one process and one pool', async () => {
    h = await createHarness();
    await createStreamTable(h.sdk, 'customers', [{ name: 'cid', type: 'STRING' }]);
    const putCustomer = (cid: string, city: string) =>
      h!.sdk.putRow({ tableName: 'customers', condition: IGNORE(), primaryKey: [{ cid }], attributeColumns: [{ city }, { tier: TS.Long.fromNumber(1) }] });

    const orders: Change[] = [];
    for (let id = 1; id <= 6; id++) orders.push(await h.putRow(id, `order-${id}`, id));
    for (const cid of ['c1', 'c2', 'c3']) await putCustomer(cid, 'Hangzhou');

    const config = h.config({
      tables: withCustomers(h),
      workers: { threads: 2 },
    });
    const { daemon, stop } = h.start({ config });
    await waitForEvent(daemon, 'idle', 30_000);

    orders.push(await h.updateRow(2, { qty: 22 }));
    orders.push(await h.deleteRow(3));
    await putCustomer('c2', 'Shanghai');
    await h.sdk.deleteRow({ tableName: 'customers', condition: IGNORE(), primaryKey: [{ cid: 'c3' }] });
    await putCustomer('c4', 'Beijing');
    // Batches run every batch.intervalMs even when quiet: subscribe to the next one before reading, so
    // no progress can slip between the read and the wait.
    const expected = [
      { cid: 'c1', city: 'Hangzhou' },
      { cid: 'c2', city: 'Shanghai' },
      { cid: 'c4', city: 'Beijing' },
    ];
    const readCustomers = () => readDeltaTable(join(h!.lake.path, 'customers'), { select: 'cid, city', orderBy: 'cid' });
    let customers: Record<string, unknown>[] = [];
    for (let i = 0; i < 200; i++) {
      const nextBatch = waitForEvent(daemon, 'batch', 30_000);
      nextBatch.catch(() => undefined); // left pending when the loop ends
      customers = await readCustomers();
      if (JSON.stringify(customers) === JSON.stringify(expected)) break;
      await nextBatch;
    }
    await stop();

    expect(asChanges(await readChangelog(h.tablePath))).toEqual(sortChanges(orders));
    expect(customers).toEqual(expected);
  }, 60_000);

  it('--until-idle does not exit on a table that got writes after it went idle while another was still busy', async () => {
    h = await createHarness({ pageRecords: 2 });
    await createStreamTable(h.sdk, 'customers', [{ name: 'cid', type: 'STRING' }]);
    const putCustomer = (cid: string) =>
      h!.sdk.putRow({ tableName: 'customers', condition: IGNORE(), primaryKey: [{ cid }], attributeColumns: [{ city: 'Hangzhou' }] });
    await putCustomer('c1');
    // orders: many two-record pages, so it stays busy long after customers caught up.
    for (let id = 1; id <= 120; id++) await h.putRow(id, `order-${id}`, id);

    const config = h.config({
      tables: withCustomers(h),
      // A quiet table waits a whole minute before its next batch: only the confirmation round reads it again.
      batch: { intervalMs: '60s', maxDurationMs: 2_000, maxRecordsPerChannel: 2 },
    });
    const { daemon, done } = h.start({ config, untilIdle: true });
    await waitForEventWhere<[string]>(daemon, 'table-idle', (table) => table === 'customers', 30_000);
    const ordersStatus = () => (daemon.status().tables as { table: string; idle: boolean }[]).find((t) => t.table === 'orders');
    expect(ordersStatus()?.idle).toBe(false);
    await putCustomer('c2');
    await done;

    expect(daemon.state).toBe('stopped');
    const customers = await readDeltaTable(join(h.lake.path, 'customers'), { select: 'cid', orderBy: 'cid' });
    expect(customers).toEqual([{ cid: 'c1' }, { cid: 'c2' }]);
    expect(await lakeRowCount(h.tablePath)).toBe(120);
  }, 90_000);
});
