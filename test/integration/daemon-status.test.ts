/**
 * What an operator sees: the HTTP endpoints of a running daemon (/readyz, /status, /metrics) and
 * `otslake status`, which reads the lake and DescribeTunnel directly and so works with no daemon.
 */
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { command as statusCommand } from '../../cli/commands/status.js';
import { captureOutput, type CapturedRun } from '../helpers/capture-output.js';
import type { TableStatus } from '../../pipeline/table-status.js';
import { createHarness, TABLE, waitForEvent, type Harness } from '../helpers/daemon-harness.js';

let h: Harness | undefined;

afterEach(async () => {
  vi.restoreAllMocks();
  await h?.close();
  h = undefined;
});

function runStatus(args: string[]): Promise<CapturedRun> {
  return captureOutput(() => statusCommand.run(args));
}

describe('daemon: status', () => {
  it('serves /readyz, /status and /metrics while running, and `otslake status` after it stopped', async () => {
    h = await createHarness();
    for (let id = 1; id <= 6; id++) await h.putRow(id, `order-${id}`, id);
    const config = h.config({ http: { host: '127.0.0.1', port: 0 } });
    const { daemon, stop } = h.start({ config, http: true });
    await waitForEvent(daemon, 'idle');

    const url = daemon.httpAddress!.url;
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const live = (await (await fetch(`${url}/status`)).json()) as {
      state: string;
      tables: {
        table: string;
        ready: boolean;
        idle: boolean;
        clientId: string;
        fleet: { writer: string; clients: { clientId: string; channels: string[] }[]; writers: number; commitBudgetPerSecond: number };
      }[];
      config: { source: { accessKeySecret: string } };
    };
    expect(live.state).toBe('running');
    expect(live.tables).toMatchObject([{ table: TABLE, ready: true, idle: true }]);
    // The fleet: this daemon is the tunnel's one client and holds its stream channels; it is the table's one writer.
    const fleet = live.tables[0]!.fleet;
    expect(fleet.writer).toBe(daemon.writer);
    expect(fleet.commitBudgetPerSecond).toBe(10);
    expect(fleet.writers).toBe(1);
    expect(fleet.clients.map((c) => c.clientId)).toEqual([live.tables[0]!.clientId]);
    expect(fleet.clients[0]!.channels.length).toBeGreaterThan(0);
    expect(live.config.source.accessKeySecret).toBe('[Redacted]');
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/otslake_batches_total\{table="orders"\} [1-9]/);
    await stop();

    const configPath = await h.writeConfigFile({
      lake: { uri: pathToFileURL(h.lake.path).href },
      tables: [{ table: TABLE, tunnel: { name: 'otslake-orders' }, path: 'orders' }],
      log: { level: 'silent' },
    });
    const json = await runStatus(['--config', configPath, '--json']);
    expect(json.err).toBe('');
    expect(json.code).toBe(0);
    const [status] = (JSON.parse(json.out) as { tables: TableStatus[] }).tables;
    expect(status!.lake).toMatchObject({ exists: true, rows: 6 });
    expect(status!.lake.version).toBeGreaterThan(0);
    expect(status!.tunnel).toMatchObject({ stage: 'ProcessStream', baseChannels: { finished: 2, total: 2 } });
    const base = status!.channels.filter((c) => c.type === 'BaseData');
    expect(base.map((c) => [c.state, c.finished, c.committedSeq! > 0])).toEqual([
      ['TERMINATED', true, true],
      ['TERMINATED', true, true],
    ]);

    const text = await runStatus(['--config', configPath]);
    expect(text.out).toContain('full snapshot 2/2 base channels finished');

    const missing = await runStatus(['--json']);
    expect(missing.code).toBe(2);
    expect(missing.err).toContain('--config FILE is required');
  }, 40_000);
});
