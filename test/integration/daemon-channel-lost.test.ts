/**
 * The daemon losing its channels in the middle of a read: tablestore-local enforces ownership, so
 * once the daemon's Tunnel client is past its heartbeat timeout, the ReadRecords of a task that has
 * already read pages is refused (OTSResourceGone). The daemon drops that work (no crash, no failed
 * task, nothing committed from it), reconnects, and lands every change exactly once.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { BatchReport } from '../../pipeline/batch-cycle.js';
import { asChanges, createHarness, readChangelog, sortChanges, waitForLakeRows, type Change, type Harness } from '../helpers/daemon-harness.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('daemon: a channel lost during a read', () => {
  it('drops the lost channel work for the batch, then lands every change once', async () => {
    h = await createHarness({ partitions: 2, pageRecords: 5 });
    const changes: Change[] = [];
    for (let id = 1; id <= 60; id++) changes.push(await h.putRow(id, `order-${id}`, id));

    // The third ReadRecords (a task several pages into its channel) finds the client expired:
    // the emulator's clock jumps past the daemon's 10 s heartbeat timeout just before answering it.
    const service = h.emu.emulator.tunnel;
    const handle = service.handle.bind(service);
    let reads = 0;
    let refusedRead = false;
    service.handle = async (path, body, ctx) => {
      if (path === '/tunnel/readrecords' && ++reads === 3) {
        h!.emu.emulator.clock.advance(11_000);
        try {
          return await handle(path, body, ctx);
        } catch (err) {
          refusedRead = (err as { errorCode?: string }).errorCode === 'OTSResourceGone';
          throw err;
        }
      }
      return handle(path, body, ctx);
    };

    const config = h.config({ batch: { intervalMs: 100, maxDurationMs: 2_000, maxRecordsPerChannel: 1_000 } });
    const a = h.start({ config, session: { heartbeatIntervalMs: 200, heartbeatTimeoutMs: 10_000 } });
    const reports: BatchReport[] = [];
    a.daemon.on('batch', (_table: string, report: BatchReport) => reports.push(report));
    await waitForLakeRows([a.daemon], h.tablePath, 60, 30_000);
    for (let id = 1; id <= 60; id += 3) changes.push(await h.updateRow(id, { qty: 1000 + id }));
    await waitForLakeRows([a.daemon], h.tablePath, changes.length, 30_000);
    await a.stop();

    expect(refusedRead).toBe(true);
    expect(asChanges(await readChangelog(h.tablePath))).toEqual(sortChanges(changes));
    expect(reports.every((r) => r.failedTasks === 0)).toBe(true);
    expect(a.states).not.toContain('failed');
  }, 60_000);
});
