/**
 * Lifecycle bounds: a batch that cannot finish is abandoned when shutdown.graceMs expires (nothing
 * committed, the daemon still ends stopped, its channels handed back), and destroy() during the drain ends it at once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { BroadcastChannel } from 'node:worker_threads';
import { STUCK_TASK_STARTED } from '../fixtures/daemon-stuck-task.js';
import { lakeRowCount, createHarness, TABLE, type Harness } from '../helpers/daemon-harness.js';

const STUCK = new URL('../fixtures/daemon-stuck-task.ts', import.meta.url).href;
let h: Harness | undefined;

/** Resolves when a stuck channel task has started on a worker thread (the fixture says so). */
function firstStuckTask(): Promise<void> {
  const channel = new BroadcastChannel(STUCK_TASK_STARTED);
  return new Promise((resolve) => {
    channel.onmessage = () => {
      channel.close();
      resolve();
    };
  });
}

/** Channels of the table's tunnel that a client holds, as DescribeTunnel tells. */
async function heldChannels(harness: Harness): Promise<number> {
  const client = harness.emu.tunnelClient();
  const tunnel = (await client.listTunnel({ table_name: TABLE })).tunnels.find((t) => t.tunnel_name === 'otslake-orders')!;
  const described = await client.describeTunnel({ table_name: TABLE, tunnel_name: 'otslake-orders', tunnel_id: tunnel.tunnel_id });
  return described.channels.filter((c) => c.channel_status !== 'TERMINATED' && c.client_id).length;
}

afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('daemon: shutdown bounds', () => {
  it('abandons an in-flight batch once the grace expires', async () => {
    h = await createHarness();
    await h.putRow(1, 'one', 1);
    const taskStarted = firstStuckTask();
    const { daemon, done, states } = h.start({ config: h.config({ shutdown: { graceMs: '300ms' } }), workerFile: STUCK });
    await taskStarted;
    const started = Date.now();
    daemon.shutdown('test');
    daemon.shutdown('again'); // idempotent
    await done;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    expect(states).toEqual(['running', 'draining', 'stopped']);
    expect(await lakeRowCount(h.tablePath)).toBe(0);
    // The goodbye (ShutdownTunnel) was said all the same: no channel waits out the client timeout for another daemon.
    expect(await heldChannels(h)).toBe(0);
  }, 20_000);

  it('destroy() during the drain stops at once, and run() cannot be called twice', async () => {
    h = await createHarness();
    const taskStarted = firstStuckTask();
    const { daemon, done, states } = h.start({ config: h.config({ shutdown: { graceMs: '30s' } }), workerFile: STUCK });
    await taskStarted; // a batch in flight: without destroy() the drain would wait the 30 s grace
    daemon.shutdown('test');
    const started = Date.now();
    daemon.destroy();
    await done;
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(states).toEqual(['running', 'draining', 'stopped']);
    await expect(daemon.run()).rejects.toMatchObject({ code: 'OTSL_DAEMON_STATE' });
  }, 20_000);
});
