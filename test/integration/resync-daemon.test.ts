/**
 * Resync through the running daemon: the mirror table's tunnel is deleted behind it (the table stops with
 * OTSL_TUNNEL_LOST, the other goes on), then POST /tables/orders/resync on its HTTP server. The table's runner
 * is retired (after its in-flight batch, had it one), the table shows `resyncing` in /status (and /readyz says why), the new
 * snapshot is landed on the daemon's own pool and switched in one commit, and the table runs again on the new
 * tunnel — while the daemon's other table (`items`, a changelog) keeps landing: its newest commit moves during
 * the resync. At the end the mirror equals the source (GetRange through the SDK vs chdb). The resync is asked for
 * as an operator would, with `otslake resync --config FILE --table orders` on the same host: the command finds the
 * daemon of that config listening, has it resync, follows it in /status and reports the RESYNC commit. The switch's
 * diff runs on the daemon's worker threads: every bucket goes to a 'resync-diff' task handed to the pool.
 */
import { Piscina } from 'piscina';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { once } from 'node:events';
import { pathToFileURL } from 'node:url';
import { command as resyncCommand } from '../../cli/commands/resync.js';
import type { DaemonStatus } from '../../daemon/daemon-status.js';
import { readDeltaTable } from '../helpers/chdb.js';
import { createHarness, waitForEvent, waitForEventWhere, type Harness } from '../helpers/daemon-harness.js';
import { createStreamTable, tablestoreSdk as TS } from '../helpers/emulator.js';
import type { ResyncDiffTaskInput, TaskInput } from '../../workers/protocol.js';
import { changesAt, deleteTunnel, lakeRows, mirrorTable, resyncCommits, sourceRows, tunnelsOf } from '../helpers/mirror-resync.js';

let h: Harness | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
  h = undefined;
});

/** A table as /status shows it (the daemon's own type). */
type TableStatus = DaemonStatus['tables'][number];

describe('resync through the running daemon', () => {
  it('POST /tables/NAME/resync: the table resyncs and comes back, the other table lands meanwhile', async () => {
    h = await createHarness({ pageRecords: 4 });
    // Every task the daemon's pool hands to a thread passes here (the spy calls through).
    const handed = vi.spyOn(Piscina.prototype, 'run');
    await createStreamTable(h.sdk, 'items', [{ name: 'id', type: 'INTEGER' }]);
    const putItem = (id: number) =>
      h!.sdk.putRow({
        tableName: 'items',
        condition: new TS.Condition(TS.RowExistenceExpectation.IGNORE, null),
        primaryKey: [{ id: TS.Long.fromNumber(id) }],
        attributeColumns: [{ name: `i${id}` }],
      });
    const tables = [
      mirrorTable(),
      { table: 'items', tunnel: { name: 'otslake-items', type: 'Stream' }, mode: 'changelog', path: 'items', columns: [{ name: 'name', type: 'STRING' }] },
    ];
    const config = h.config({
      tables,
      http: { host: '127.0.0.1', port: 0 },
      batch: { intervalMs: 50, maxDurationMs: 2_000, maxRecordsPerChannel: 4 },
      maintenance: { vacuum: { enabled: false } },
    });
    for (let id = 1; id <= 40; id++) await h.putRow(id, `o${id}`, id);
    const running = h.start({ config, http: true });
    const { daemon } = running;
    await waitForEvent(daemon, 'idle', 60_000);
    const url = daemon.httpAddress!.url;
    const old = (await tunnelsOf(h)).find((t) => t.name === 'otslake-orders');
    const status = async () => ((await (await fetch(`${url}/status`)).json()) as { tables: TableStatus[] }).tables;

    // Refusals: a table the daemon does not run, and a GET.
    expect((await fetch(`${url}/tables/nope/resync`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${url}/tables/orders/resync`)).status).toBe(405);

    // The tunnel is deleted behind the daemon: orders stops by name, items goes on; rows change at the source meanwhile.
    const stopped = waitForEventWhere(daemon, 'table-stopped', (table: string) => table === 'orders', 30_000);
    await deleteTunnel(h, old!.id, old!.name);
    await h.deleteRow(3);
    const [, lost] = (await stopped) as unknown as [string, { code: string }];
    expect(lost.code).toBe('OTSL_TUNNEL_LOST');
    for (const id of [7, 20]) await h.deleteRow(id);
    await h.updateRow(8, { name: 'eight' });
    const itemsBefore = (await status()).find((t) => t.table === 'items')!.lakeVersion!;
    const resynced = once(daemon, 'table-resynced');
    const itemsCommitted = waitForEventWhere(daemon, 'batch-committed', (table: string) => table === 'items', 30_000);
    const configFile = await h.writeConfigFile({
      lake: { uri: pathToFileURL(h.lake.path).href },
      tables,
      http: { host: '127.0.0.1', port: daemon.httpAddress!.port },
    });
    const started = once(daemon, 'table-resync-started');
    const command = resyncCommand.run(['--config', configFile, '--table', 'orders']);
    // The command's exit code, had it ended before the daemon began (a config it refused, no daemon found).
    expect(await Promise.race([started, command])).toEqual(['orders']);
    const during = await status();
    expect(during.find((t) => t.table === 'orders')!.state).toBe('resyncing');
    expect(during.find((t) => t.table === 'orders')!.resync).toMatchObject({ state: 'resyncing', tunnelId: null, version: null, error: null });
    expect(during.find((t) => t.table === 'items')!.resync).toBeNull();
    expect(await (await fetch(`${url}/readyz`)).text()).toMatch(/table orders .*resyncing since/);
    const metricsDuring = await (await fetch(`${url}/metrics`)).text();
    expect(metricsDuring).toContain('otslake_table_state{table="orders",state="resyncing"} 1');
    expect(metricsDuring).toContain('otslake_table_state{table="orders",state="stopped"} 0');
    expect((await fetch(`${url}/tables/orders/resync`, { method: 'POST' })).status).toBe(409);

    // The other table lands while orders is resyncing.
    await putItem(1);
    await itemsCommitted;
    const itemsDuring = (await status()).find((t) => t.table === 'items')!;
    expect(itemsDuring.lakeVersion!).toBeGreaterThan(itemsBefore);
    expect((await status()).find((t) => t.table === 'orders')!.state).toBe('resyncing');

    await resynced;
    const ordersIdle = waitForEventWhere(daemon, 'table-idle', (table: string) => table === 'orders', 60_000);
    expect(await command).toBe(0);
    await ordersIdle;
    await h.putRow(50, 'after', 50);
    await waitForEventWhere(daemon, 'batch-committed', (table: string) => table === 'orders', 30_000);
    const after = (await status()).find((t) => t.table === 'orders')!;
    const afterMetrics = await (await fetch(`${url}/metrics`)).text();
    await running.stop();

    const [commit] = await resyncCommits(h.tablePath);
    expect(commit!.previousTunnelId).toBe(old!.id);
    expect((await tunnelsOf(h)).map((t) => t.id)).toEqual([commit!.tunnelId]);
    // /status tells the resync as it went: the new tunnel and the RESYNC commit, and the table runs on that tunnel.
    expect(after.resync).toMatchObject({ state: 'done', tunnelId: commit!.tunnelId, version: commit!.version, error: null });
    expect(after.tunnelId).toBe(commit!.tunnelId);
    expect(after.state).not.toBe('resyncing');
    expect(afterMetrics).toContain('otslake_table_state{table="orders",state="resyncing"} 0');
    expect(await lakeRows(h.tablePath)).toEqual(await sourceRows(h));
    expect(await changesAt(h.tablePath, commit!.version)).toEqual(
      ['delete:20:o20:20', 'delete:3:o3:3', 'delete:7:o7:7', 'update_postimage:8:eight:8', 'update_preimage:8:o8:8'].sort(),
    );
    // The diff ran on the worker threads, not the daemon's own: its 4 buckets went out as contiguous ranges, one
    // task each (2 threads × 2 tasks per thread), each bucket to exactly one task, all of this resync's staging.
    const diffs = handed.mock.calls.map(([task]) => task as TaskInput).filter((t): t is ResyncDiffTaskInput => t.kind === 'resync-diff');
    expect(diffs.map((t) => t.buckets).sort((a, b) => a[0]! - b[0]!)).toEqual([[0], [1], [2], [3]]);
    expect(new Set(diffs.map((t) => t.stagingPrefix))).toEqual(new Set([`_otslake/staging/resync-${encodeURIComponent(commit!.tunnelId)}/`]));
    expect(diffs.every((t) => t.table === 'orders' && t.changeDataFeed)).toBe(true);
    expect((await readDeltaTable(`${h.lake.path}/items`, { select: 'id' })).map((r) => Number(r.id))).toEqual([1]);
  }, 240_000);
});
