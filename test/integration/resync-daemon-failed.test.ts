/**
 * A resync through the running daemon that FAILS, and what the daemon says about it. The cause is one an operator
 * meets: the RAM policy of the daemon's key lets it read tunnels but not create them, so the emulator answers
 * CreateTunnel with 403 OTSPermissionDenied. pipeline/resync.ts retries nothing itself: any error its clients
 * give up on ends it, and the tunnel client gives up on that one at once (OTSL_TUNNEL_AUTH: no wait cures it),
 * where it would retry a busy server. Checked: the `table-resync-failed` event and the daemon's log carry
 * OTSL_TUNNEL_AUTH; /status shows the resync failed with that code, a message and an end time, and the table no
 * longer resyncing but running on as before (the same tunnel, landing new rows), which /readyz and /metrics agree
 * with; no new tunnel and no RESYNC commit exist; `otslake resync` (run in this process) exits 1 with the code on
 * stderr. Once the policy is fixed (the fault lifted), the same command resyncs the table and the mirror equals
 * the source.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { pathToFileURL } from 'node:url';
import { command as resyncCommand } from '../../cli/commands/resync.js';
import type { DaemonStatus } from '../../daemon/daemon-status.js';
import { captureOutput } from '../helpers/capture-output.js';
import { createHarness, waitForEvent, waitForEventWhere, type Harness } from '../helpers/daemon-harness.js';
import { lakeRows, mirrorTable, resyncCommits, sourceRows, tunnelsOf } from '../helpers/mirror-resync.js';
import { recordingLogger, type LoggedLine } from '../helpers/recording-logger.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A table as /status shows it (the daemon's own type). */
type TableStatus = DaemonStatus['tables'][number];

const DENIED = {
  path: '/tunnel/create',
  errorRate: 1,
  errorStatus: 403,
  errorCode: 'OTSPermissionDenied',
  errorMessage: 'no permission for action ots:CreateTunnel',
};

describe('a failed resync through the running daemon', () => {
  it('CreateTunnel refused: the failure is reported as it is, the table runs on, a later resync succeeds', async () => {
    h = await createHarness({ pageRecords: 4 });
    const tables = [mirrorTable()];
    const config = h.config({
      tables,
      http: { host: '127.0.0.1', port: 0 },
      batch: { intervalMs: 50, maxDurationMs: 2_000, maxRecordsPerChannel: 4 },
      maintenance: { vacuum: { enabled: false } },
    });
    for (let id = 1; id <= 20; id++) await h.putRow(id, `o${id}`, id);
    const logged: LoggedLine[] = [];
    const running = h.start({ config, http: true, log: recordingLogger(logged) });
    const { daemon } = running;
    await waitForEvent(daemon, 'idle', 60_000);
    const url = daemon.httpAddress!.url;
    const status = async () => ((await (await fetch(`${url}/status`)).json()) as { tables: TableStatus[] }).tables.find((t) => t.table === 'orders')!;
    const old = (await tunnelsOf(h)).find((t) => t.name === 'otslake-orders')!;
    const configFile = await h.writeConfigFile({
      lake: { uri: pathToFileURL(h.lake.path).href },
      tables,
      http: { host: '127.0.0.1', port: daemon.httpAddress!.port },
    });

    // The key may not create tunnels any more.
    await h.emu.admin('/_admin/faults', { method: 'POST', body: DENIED });
    const failed = waitForEvent<[string, { code: string; message: string }]>(daemon, 'table-resync-failed', 60_000);
    // The runner that replaces the resync's placeholder: the table comes back after the failure.
    const failedAt = failed.then(() => Date.now());
    const backIdle = failed.then(() => waitForEventWhere(daemon, 'table-idle', (table: string) => table === 'orders', 60_000));
    const first = await captureOutput(() => resyncCommand.run(['--config', configFile, '--table', 'orders']));
    const [table, error] = await failed;
    expect(table).toBe('orders');
    expect(error.code).toBe('OTSL_TUNNEL_AUTH');
    expect(error.message).toMatch(/OTSPermissionDenied|permission/i);
    expect(logged.find((l) => l.msg.startsWith('table resync failed'))?.fields.error).toMatchObject({ code: 'OTSL_TUNNEL_AUTH' });

    // The command: non-zero, the code and the outcome on stderr (its one line of its own, not a daemon log line).
    expect(first.code).toBe(1);
    expect(first.out).toContain('the running daemon (http 127.0.0.1:');
    expect(first.out).not.toMatch(/resynced orders/);
    expect(first.err).toMatch(/^otslake resync: OTSL_TUNNEL_AUTH: .*\(the table runs on as before\)$/m);

    // /status: the resync failed with that code; the table is no longer resyncing and runs on its old tunnel.
    await backIdle;
    const after = await status();
    expect(after.resync).toMatchObject({ state: 'failed', tunnelId: null, version: null, error: { code: 'OTSL_TUNNEL_AUTH', message: error.message } });
    expect(Date.parse(after.resync!.endedAt!)).toBeGreaterThanOrEqual(Date.parse(after.resync!.startedAt));
    expect(Date.parse(after.resync!.endedAt!)).toBeLessThanOrEqual(await failedAt);
    expect(after.state).toBe('caught-up');
    expect(after.tunnelId).toBe(old.id);
    const readyz = await fetch(`${url}/readyz`);
    expect(readyz.status).toBe(200);
    expect(await readyz.text()).toBe('ready\n');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain('otslake_table_state{table="orders",state="resyncing"} 0');
    expect(metrics).toContain('otslake_table_state{table="orders",state="caught-up"} 1');
    // Nothing of the resync happened: the same single tunnel, no RESYNC commit.
    expect(await tunnelsOf(h)).toEqual([old]);
    expect(await resyncCommits(h.tablePath)).toEqual([]);

    // "Runs on as before" is true: changes at the source land on the old tunnel.
    await h.deleteRow(3);
    await h.updateRow(8, { name: 'eight' });
    await h.putRow(30, 'thirty', 30);
    const source = await sourceRows(h);
    // A runner is idle once (its first catch-up): the batches that land the changes are what is awaited.
    for (;;) {
      // Registered before the read, so a commit between the two is not missed.
      const next = waitForEventWhere(daemon, 'batch-committed', (t: string) => t === 'orders', 30_000);
      if (JSON.stringify(await lakeRows(h.tablePath)) === JSON.stringify(source)) {
        next.catch(() => undefined);
        break;
      }
      await next;
    }
    expect((await status()).tunnelId).toBe(old.id);

    // The policy fixed: the same command resyncs the table.
    await h.emu.admin('/_admin/faults?path=/tunnel/create', { method: 'DELETE' });
    const resynced = waitForEvent<[string, { tunnelId: string; version: number }]>(daemon, 'table-resynced', 60_000);
    // The new runner may catch up before the command's next look at /status: its idle is awaited from the resync's end.
    const resyncedIdle = resynced.then(() => waitForEventWhere(daemon, 'table-idle', (t: string) => t === 'orders', 60_000));
    const second = await captureOutput(() => resyncCommand.run(['--config', configFile, '--table', 'orders']));
    expect(second.code).toBe(0);
    expect(second.err).toBe('');
    const [, result] = await resynced;
    expect(second.out).toContain(`resynced orders in the running daemon: tunnel ${result.tunnelId}, RESYNC commit version ${result.version}`);
    await resyncedIdle;
    const done = await status();
    expect(done.resync).toMatchObject({ state: 'done', tunnelId: result.tunnelId, version: result.version, error: null });
    expect(done.state).not.toBe('resyncing');
    expect(done.tunnelId).toBe(result.tunnelId);
    await running.stop();

    const [commit] = await resyncCommits(h.tablePath);
    expect(commit).toEqual({ version: result.version, tunnelId: result.tunnelId, previousTunnelId: old.id });
    expect((await tunnelsOf(h)).map((t) => t.id)).toEqual([result.tunnelId]);
    expect(await lakeRows(h.tablePath)).toEqual(await sourceRows(h));
  }, 240_000);
});
