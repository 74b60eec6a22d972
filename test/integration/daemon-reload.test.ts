/**
 * Config reload on SIGHUP (`systemctl reload`, ExecReload in config/otslake.service), on the CLI process as an
 * operator runs it: an added table starts, a removed one stops after its in-flight batch and hands its channels
 * back to the Tunnel, while the other table keeps landing; an invalid file is refused with validate-config's
 * problems and the running config stays.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openTunnelClient } from '../../daemon/connections.js';
import { testConfig } from '../helpers/test-config.js';
import { spawnCli, killSpawned, type CliProcess } from '../helpers/cli-process.js';
import { createHarness, lakeRowCount, TABLE, type Harness } from '../helpers/daemon-harness.js';
import { createStreamTable, tablestoreSdk as TS } from '../helpers/emulator.js';

let h: Harness | undefined;
afterEach(async () => {
  killSpawned();
  await h?.close();
  h = undefined;
});

const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);
const ORDERS = { table: TABLE, tunnel: { name: 'otslake-orders' }, path: 'orders', columns: [{ name: 'name', type: 'STRING' }] };
const CUSTOMERS = { table: 'customers', tunnel: { name: 'otslake-customers' }, path: 'customers' };

/** Waits, on the process's log lines (never a timer), until the table folder holds `rows` rows. */
async function untilRows(proc: CliProcess, tablePath: string, rows: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await lakeRowCount(tablePath)) < rows) {
    if (Date.now() > deadline) throw new Error(`${tablePath} did not reach ${rows} rows (has ${await lakeRowCount(tablePath)})`);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, deadline - Date.now());
      proc.child.once('log', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}

describe('daemon: config reload on SIGHUP', () => {
  it('adds and removes a table while the other keeps landing, and refuses an invalid config', async () => {
    h = await createHarness();
    await createStreamTable(h.sdk, 'customers', [{ name: 'cid', type: 'STRING' }]);
    const putCustomer = (cid: string) =>
      h!.sdk.putRow({ tableName: 'customers', condition: IGNORE(), primaryKey: [{ cid }], attributeColumns: [{ city: 'Hangzhou' }] });
    const lake = join(h.lake.path, 'lake');
    const ordersPath = join(lake, 'orders');
    const customersPath = join(lake, 'customers');
    const configPath = join(h.lake.path, 'otslake.json');
    const base = {
      source: { endpoint: h.emu.endpoint, instance: h.emu.instance, accessKeyId: h.emu.accessKeyId, accessKeySecret: h.emu.accessKeySecret },
      lake: { uri: pathToFileURL(lake).href },
      batch: { intervalMs: '100ms', maxDurationMs: '2s' },
      workers: { threads: 1 },
      http: { port: 0 },
      log: { level: 'info' },
      shutdown: { graceMs: '5s' },
    };
    const writeConfig = (tables: unknown[]) => writeFile(configPath, JSON.stringify({ ...base, tables }));

    await writeConfig([ORDERS]);
    const proc = spawnCli(['run', '--config', configPath]);
    await proc.logged('table caught up');
    for (let id = 1; id <= 3; id++) await h.putRow(id, `o${id}`, id);
    await untilRows(proc, ordersPath, 3);

    // Added: customers starts (its existing rows are its snapshot), orders goes on.
    await putCustomer('c1');
    await writeConfig([ORDERS, CUSTOMERS]);
    proc.child.kill('SIGHUP');
    expect(await proc.logged('config reloaded')).toMatchObject({ added: ['customers'], removed: [], changed: [] });
    await h.putRow(4, 'o4', 4);
    await untilRows(proc, customersPath, 1);
    await untilRows(proc, ordersPath, 4);

    // Removed: orders stops after its batch and hands its channels back; customers goes on.
    await writeConfig([CUSTOMERS]);
    proc.child.kill('SIGHUP');
    expect(await proc.logged('table removed')).toMatchObject({ table: TABLE });
    const landed = await lakeRowCount(ordersPath);
    await h.putRow(5, 'o5', 5);
    await putCustomer('c2');
    await untilRows(proc, customersPath, 2);
    const client = openTunnelClient(testConfig({ source: base.source }));
    try {
      const tunnel = (await client.listTunnel({ table_name: TABLE })).tunnels.find((t) => t.tunnel_name === 'otslake-orders')!;
      const described = await client.describeTunnel({ table_name: TABLE, tunnel_name: 'otslake-orders', tunnel_id: tunnel.tunnel_id });
      expect(described.channels.length).toBeGreaterThan(0);
      expect(described.channels.every((c) => (c.client_id ?? '') === '')).toBe(true);
    } finally {
      client.close();
    }

    // Invalid: refused with the problems named, the running config stays.
    await writeConfig([{ ...CUSTOMERS, mode: 'append' }]);
    proc.child.kill('SIGHUP');
    const rejected = await proc.logged('config reload rejected; the running config stays');
    expect(JSON.stringify(rejected)).toMatch(/tables\[0\]\.mode: must be one of changelog, mirror/);
    await putCustomer('c3');
    await untilRows(proc, customersPath, 3);
    expect(await lakeRowCount(ordersPath)).toBe(landed);

    proc.child.kill('SIGTERM');
    expect(await proc.exited).toBe(0);
  }, 90_000);
});
