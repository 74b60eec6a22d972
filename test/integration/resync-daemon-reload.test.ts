/**
 * A resync through the daemon and a reload at the same time: a reload that removes the table while its resync
 * runs waits for the resync, and the table stays out (the resync's end must not start a runner for a table the
 * config no longer has); a second resync of the table while the first runs is refused, whatever its runner's
 * in-flight batch did meanwhile.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createHarness, waitForEvent, type Harness } from '../helpers/daemon-harness.js';
import { createStreamTable } from '../helpers/emulator.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('resync through the daemon during a reload', () => {
  it('a table removed while it resyncs stays removed; a second resync is refused', async () => {
    h = await createHarness();
    await createStreamTable(h.sdk, 'items', [{ name: 'id', type: 'INTEGER' }]);
    const items = { table: 'items', tunnel: { name: 'otslake-items', type: 'Stream' }, mode: 'changelog', path: 'items' };
    const orders = {
      table: 'orders',
      tunnel: { name: 'otslake-orders', type: 'BaseAndStream' },
      mode: 'changelog',
      path: 'orders',
      columns: [{ name: 'name', type: 'STRING' }],
    };
    const both = h.config({ tables: [orders, items] });
    await h.putRow(1, 'one', 1);
    const running = h.start({ config: both });
    const { daemon } = running;
    await waitForEvent(daemon, 'idle', 60_000);

    const resync = daemon.startResync('orders');
    expect(() => daemon.startResync('orders')).toThrow(/resyncing already/);
    const plan = await daemon.reload(h.config({ tables: [items] }));
    expect(plan?.removed.map((t) => t.table)).toEqual(['orders']);
    const result = await resync;
    expect(result.version).not.toBeNull();
    // Whatever order the resync and the reload ended in, orders is not run again.
    await new Promise((resolve) => setImmediate(resolve));
    expect((daemon.status().tables as { table: string }[]).map((t) => t.table)).toEqual(['items']);
    await running.stop();
  }, 120_000);
});
