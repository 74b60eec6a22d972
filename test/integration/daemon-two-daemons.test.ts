/**
 * Two daemons on one tunnel and one lake: the Tunnel's heartbeat rebalancing moves channels from the
 * first daemon to the second (CLOSING → released after commit → OPEN for the other). Each channel's
 * position travels through the lake (offset entry in force), so together they land every change once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Daemon } from '../../daemon/daemon.js';
import { asChanges, createHarness, readChangelog, sortChanges, waitForEvent, waitForLakeRows, type Change, type Harness } from '../helpers/daemon-harness.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

function committedBy(daemon: Daemon): { batches: number } {
  const counter = { batches: 0 };
  daemon.on('batch-committed', () => counter.batches++);
  return counter;
}

/** Resolves once the daemon holds at least one channel (its status lists the positions it tracks). */
async function untilHoldsChannels(daemon: Daemon): Promise<void> {
  const holds = () => (daemon.status().tables[0]?.channels.length ?? 0) > 0;
  while (!holds()) await waitForEvent(daemon, 'batch', 10_000);
}

describe('daemon: two daemons, one tunnel', () => {
  it('share the channels and land every change exactly once', async () => {
    h = await createHarness({ partitions: 4, pageRecords: 5 });
    const changes: Change[] = [];
    for (let id = 1; id <= 40; id++) changes.push(await h.putRow(id, `order-${id}`, id));

    // Rebalancing happens at heartbeats: make them frequent so that the test does not wait for them.
    const session = { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 10_000 };
    const a = h.start({ session });
    await waitForEvent(a.daemon, 'table-ready');
    const b = h.start({ session });
    const byA = committedBy(a.daemon);
    const byB = committedBy(b.daemon);
    await Promise.all([untilHoldsChannels(a.daemon), untilHoldsChannels(b.daemon)]);
    await waitForLakeRows([a.daemon, b.daemon], h.tablePath, 40);

    for (let id = 1; id <= 40; id += 2) changes.push(await h.updateRow(id, { qty: 1000 + id }));
    for (let id = 2; id <= 40; id += 4) changes.push(await h.deleteRow(id));
    await waitForLakeRows([a.daemon, b.daemon], h.tablePath, changes.length);
    await Promise.all([a.stop(), b.stop()]);

    expect(asChanges(await readChangelog(h.tablePath))).toEqual(sortChanges(changes));
    expect(byA.batches).toBeGreaterThan(0);
    expect(byB.batches).toBeGreaterThan(0);
  }, 40_000);
});
