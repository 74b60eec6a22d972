/**
 * A lake knows its tunnel, and a lost tunnel is never silent (docs/errors.md §OTSL_TUNNEL_LOST,
 * §OTSL_TUNNEL_LAKE_MISMATCH): a tunnel deleted behind a running daemon stops that table with a named error —
 * in /readyz, /status, /metrics and the log — while the daemon's other table keeps landing; a restart does not
 * recreate the tunnel; and an empty lake pointed at a tunnel that another lake consumed is refused by name.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { OtslakeError } from '../../common/errors.js';
import { openTunnelClient } from '../../daemon/connections.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { createHarness, lakeRowCount, waitForEvent, waitForEventWhere, waitForLakeRows, TABLE, type Harness } from '../helpers/daemon-harness.js';
import { createStreamTable, tablestoreSdk as TS } from '../helpers/emulator.js';
import { createTmpDir } from '../helpers/tmp-dir.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);

/** The harness's orders table plus a second changelog table, `customers`. */
function twoTables(harness: Harness, lakeUri?: string) {
  const base = harness.config().tables[0]!;
  return harness.config({
    ...(lakeUri ? { lake: { uri: lakeUri } } : {}),
    tables: [
      { table: base.table, tunnel: base.tunnel, mode: base.mode, path: base.path, columns: base.columns },
      { table: 'customers', tunnel: { name: 'otslake-customers' } },
    ],
    http: { host: '127.0.0.1', port: 0 },
  });
}

describe('daemon: a lake knows its tunnel', () => {
  it('stops only the table whose tunnel was deleted, names it everywhere, and never recreates it', async () => {
    h = await createHarness();
    await createStreamTable(h.sdk, 'customers', [{ name: 'cid', type: 'STRING' }]);
    const putCustomer = (cid: string) =>
      h!.sdk.putRow({ tableName: 'customers', condition: IGNORE(), primaryKey: [{ cid }], attributeColumns: [{ city: 'Hangzhou' }] });
    const customersPath = join(h.lake.path, 'customers');
    const config = twoTables(h);
    const first = h.start({ config, http: true });
    await waitForEvent(first.daemon, 'idle', 30_000);
    for (let id = 1; id <= 3; id++) await h.putRow(id, `o${id}`, id);
    await waitForLakeRows([first.daemon], h.tablePath, 3, 30_000);

    // The lake records its tunnel.
    const store = openStore(pathToFileURL(h.tablePath).href);
    const tunnelId = (await loadSnapshot(store)).metadata.configuration['otslake.tunnel.id']!;
    expect(tunnelId).toMatch(/./);

    // Deleted behind the running daemon: orders stops by name, customers keeps landing.
    const client = openTunnelClient(config);
    try {
      const stopped = waitForEventWhere<[string, OtslakeError]>(first.daemon, 'table-stopped', (table) => table === TABLE, 60_000);
      await client.deleteTunnel({ table_name: TABLE, tunnel_name: config.tables[0]!.tunnel.name, tunnel_id: tunnelId });
      await h.putRow(4, 'o4', 4);
      const [, error] = await stopped;
      expect(error).toMatchObject({ code: 'OTSL_TUNNEL_LOST', context: { table: TABLE, tunnelId, cause: 'deleted' } });
      for (const cid of ['c1', 'c2']) await putCustomer(cid);
      await waitForLakeRows([first.daemon], customersPath, 2, 30_000);

      const url = first.daemon.httpAddress!.url;
      const readyz = await fetch(`${url}/readyz`);
      expect(readyz.status).toBe(503);
      expect(await readyz.text()).toMatch(/table orders .*stopped since .*OTSL_TUNNEL_LOST/);
      const status = (await (await fetch(`${url}/status`)).json()) as { tables: { table: string; state: string; lastError: { code: string } }[] };
      expect(status.tables.find((t) => t.table === TABLE)).toMatchObject({ state: 'stopped', lastError: { code: 'OTSL_TUNNEL_LOST' } });
      expect(status.tables.find((t) => t.table === 'customers')?.state).not.toBe('stopped');
      const metrics = await (await fetch(`${url}/metrics`)).text();
      expect(metrics).toMatch(/otslake_table_state\{table="orders",state="stopped"\} 1/);
      expect(metrics).toMatch(/otslake_errors_total\{kind="OTSL_TUNNEL_LOST"\} 1/);
      expect(first.daemon.state).toBe('running');
      await first.stop();

      // A restart does not silently create a new tunnel for the lake: the table stops at once, by name.
      const second = h.start({ config: { ...config, http: { ...config.http, port: 0 } }, untilIdle: true });
      await expect(second.done).rejects.toMatchObject({ code: 'OTSL_TUNNEL_LOST' });
      const listed = await client.listTunnel({ table_name: TABLE });
      expect(listed.tunnels.filter((t) => t.table_name === TABLE)).toEqual([]);
      expect(await lakeRowCount(h.tablePath)).toBe(3);
    } finally {
      client.close();
    }
  }, 120_000);

  it('refuses an empty lake on a tunnel another lake consumed, and defaults to a tunnel per lake', async () => {
    h = await createHarness();
    const first = h.start();
    await waitForEvent(first.daemon, 'idle', 30_000);
    await h.putRow(1, 'one', 1);
    await waitForLakeRows([first.daemon], h.tablePath, 1, 30_000);
    await first.stop();

    // Same tunnel name, another (empty) lake.
    const other = await createTmpDir('otslake-other-lake-');
    try {
      const config = h.config({ lake: { uri: pathToFileURL(other.path).href } });
      const second = h.start({ config, untilIdle: true });
      await expect(second.done).rejects.toMatchObject({ code: 'OTSL_TUNNEL_LAKE_MISMATCH', context: { tunnelName: 'otslake-orders' } });
      expect(await lakeRowCount(join(other.path, 'orders'))).toBe(0);

      // Without a tunnel name, each lake gets its own tunnel: the new lake lands the full history.
      const base = config.tables[0]!;
      const own = h.config({ lake: { uri: pathToFileURL(other.path).href }, tables: [{ table: base.table, path: base.path, columns: base.columns }] });
      expect(own.tables[0]!.tunnel.name).toMatch(/^otslake-orders-[0-9a-f]{8}$/);
      const third = h.start({ config: own, untilIdle: true });
      await third.done;
      expect(await lakeRowCount(join(other.path, 'orders'))).toBe(1);
    } finally {
      await other.cleanup();
    }
  }, 120_000);
});
