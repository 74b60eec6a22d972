/**
 * `otslake resync` of a mirror table (the done-when): a tunnel deleted behind the daemon while rows are
 * deleted, changed and added at the source → the table stops with OTSL_TUNNEL_LOST; resync lands the new
 * tunnel's snapshot beside the live table and switches in ONE commit: chdb's read equals the source (GetRange
 * through the official SDK), the live table had no other commit meanwhile (readers never saw a half), and the
 * switch's Change Data Feed is exactly the differences. Afterwards the daemon goes on from the new tunnel's stream.
 */
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { killSpawned, spawnCli } from '../helpers/cli-process.js';
import { createHarness, waitForEvent, type Harness } from '../helpers/daemon-harness.js';
import { changesAt, deleteTunnel, lakeRows, mirrorConfig, mirrorConfigFile, resyncCommits, sourceRows, tunnelsOf } from '../helpers/mirror-resync.js';

let h: Harness | undefined;
afterEach(async () => {
  killSpawned();
  await h?.close();
  h = undefined;
});

describe('otslake resync: mirror table', () => {
  it('after a lost tunnel, replaces the contents in one commit whose CDF shows the differences, then follows the new stream', async () => {
    h = await createHarness();
    const config = mirrorConfig(h);
    for (let id = 1; id <= 8; id++) await h.putRow(id, `o${id}`, id * 10);
    await h.updateRow(1, { name: 'renamed' });
    const first = h.start({ config });
    await waitForEvent(first.daemon, 'idle', 30_000);
    await first.stop();
    expect(await lakeRows(h.tablePath)).toEqual(await sourceRows(h));

    // The tunnel is deleted behind the daemon; meanwhile rows are deleted, changed and added at the source.
    const [old] = await tunnelsOf(h);
    await deleteTunnel(h, old!.id, old!.name);
    await h.deleteRow(2);
    await h.deleteRow(5);
    await h.updateRow(3, { qty: 333 });
    await h.putRow(9, 'new', 90);
    const lost = h.start({ config, untilIdle: true });
    await expect(lost.done).rejects.toMatchObject({ code: 'OTSL_TUNNEL_LOST' });
    const before = await loadSnapshot(openStore(pathToFileURL(h.tablePath).href));
    const rowsBefore = await lakeRows(h.tablePath);

    const resync = spawnCli(['resync', '--config', await mirrorConfigFile(h), '--table', 'orders']);
    expect(await resync.exited).toBe(0);
    expect(resync.logs.some((l) => l.msg === 'resync staged a batch')).toBe(true);

    // The staging committed batches, the live table only the switch: readers saw the old table, then the new one.
    const [commit] = await resyncCommits(h.tablePath);
    expect(commit!.version).toBe(before.version + 1);
    expect(await lakeRows(h.tablePath, before.version)).toEqual(rowsBefore);
    expect(commit!.previousTunnelId).toBe(old!.id);
    expect(await lakeRows(h.tablePath)).toEqual(await sourceRows(h));
    expect((await sourceRows(h)).map((r) => r.id)).toEqual([1, 3, 4, 6, 7, 8, 9]);
    expect(await changesAt(h.tablePath, commit!.version)).toEqual(
      ['delete:2:o2:20', 'delete:5:o5:50', 'update_preimage:3:o3:30', 'update_postimage:3:o3:333', 'insert:9:new:90'].sort(),
    );
    // The new tunnel is the lake's; the staged table's own log is gone, its files are the live table's.
    const tunnels = await tunnelsOf(h);
    expect(tunnels.map((t) => t.id)).toEqual([commit!.tunnelId]);
    const after = await loadSnapshot(openStore(pathToFileURL(h.tablePath).href));
    expect(after.metadata.configuration['otslake.tunnel.id']).toBe(commit!.tunnelId);
    expect([...after.files.values()].every((a) => a.path.startsWith('_otslake/staging/resync-'))).toBe(true);
    expect(await openStore(pathToFileURL(h.tablePath).href).list(`_otslake/staging/resync-${commit!.tunnelId}/_delta_log/`)).toEqual([]);

    // The daemon goes on from the new tunnel's stream: changes after the resync land, nothing is applied twice.
    await h.deleteRow(4);
    await h.updateRow(6, { name: 'later' });
    await h.putRow(10, 'ten', 100);
    const next = h.start({ config, untilIdle: true });
    await next.done;
    expect(await lakeRows(h.tablePath)).toEqual(await sourceRows(h));
    const lastVersion = (await loadSnapshot(openStore(pathToFileURL(h.tablePath).href))).version;
    const streamed = [];
    for (let v = commit!.version + 1; v <= lastVersion; v++) streamed.push(...(await changesAt(h.tablePath, v)));
    expect(streamed.sort()).toEqual(['delete:4:o4:40', 'insert:10:ten:100', 'update_postimage:6:later:60', 'update_preimage:6:o6:60'].sort());
  }, 180_000);
});
