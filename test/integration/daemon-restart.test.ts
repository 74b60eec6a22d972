/**
 * Stopping the daemon mid-way and starting a new one on the same lake and tunnel: the new daemon
 * resumes every channel from the offset entry in force, so nothing is duplicated and nothing lost,
 * both in the full-snapshot stage and in the stream stage. Small ReadRecords pages and a one-page
 * budget make the work span several batches, so the stop really lands mid-way.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { asChanges, createHarness, lakeRowCount, readChangelog, sortChanges, waitForEvent, type Change, type Harness } from '../helpers/daemon-harness.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('daemon: restart', () => {
  it('resumes from the lake after a graceful stop, in the base and in the stream stage', async () => {
    h = await createHarness({ pageRecords: 4 });
    const changes: Change[] = [];
    for (let id = 1; id <= 24; id++) changes.push(await h.putRow(id, `order-${id}`, id));

    // Base stage: stop after the first commit, with most of the snapshot still unread.
    const first = h.start();
    await waitForEvent(first.daemon, 'batch-committed');
    await first.stop();
    const partial = await lakeRowCount(h.tablePath);
    expect(partial).toBeGreaterThan(0);
    expect(partial).toBeLessThan(24);

    const second = h.start();
    await waitForEvent(second.daemon, 'idle');
    expect(asChanges(await readChangelog(h.tablePath))).toEqual(sortChanges(changes));

    // Stream stage: stop at the first stream commit (a one-page budget leaves the rest unread), write more while nobody reads.
    second.daemon.once('batch-committed', () => second.daemon.shutdown('test'));
    changes.push(...(await Promise.all(Array.from({ length: 12 }, (_, i) => h!.updateRow(i + 1, { qty: 101 + i })))));
    await second.done;
    expect(await lakeRowCount(h.tablePath)).toBeLessThan(changes.length);
    for (let id = 13; id <= 18; id++) changes.push(await h.deleteRow(id));

    const third = h.start();
    await waitForEvent(third.daemon, 'idle');
    await third.stop();
    const rows = await readChangelog(h.tablePath);
    expect(asChanges(rows)).toEqual(sortChanges(changes));
    expect(second.states).toEqual(['running', 'draining', 'stopped']);
  }, 40_000);
});
