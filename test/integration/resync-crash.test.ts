/**
 * Exactly-once through a crash at any point of a resync: `otslake resync` is SIGKILLed while it stages the new
 * snapshot (on its log line), and at the named crash points (OTSLAKE_CRASH_AT: just before the switch commit, just
 * after it, before the old tunnel's deletion), rerun each time, and ends as an uninterrupted resync does:
 *   - mirror: one RESYNC commit, whose Change Data Feed is exactly the differences; chdb's read equals GetRange
 *     through the official SDK; only the new tunnel is left; the daemon then goes on from its stream;
 *   - changelog: one RESYNC commit; the daemon lands the marked baseline (`_seq` null, new tunnel's channels) once.
 */
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { readDeltaTable } from '../helpers/chdb.js';
import { killSpawned, spawnCli } from '../helpers/cli-process.js';
import { createHarness, waitForEvent, TABLE, type Harness } from '../helpers/daemon-harness.js';
import { changesAt, lakeRows, mirrorConfig, mirrorConfigFile, resyncCommits, sourceRows, tunnelsOf } from '../helpers/mirror-resync.js';

let h: Harness | undefined;
afterEach(async () => {
  killSpawned();
  await h?.close();
  h = undefined;
});

/** A killed process cannot hand its channels back: expire its client as the heartbeat timeout would. */
async function expireClients(harness: Harness): Promise<void> {
  await harness.emu.emulator.tunnel.sweepExpiredClients(Date.now() + 3_600_000);
}

async function killedAt(harness: Harness, args: string[], point: string): Promise<void> {
  const run = spawnCli(args, { OTSLAKE_CRASH_AT: point });
  expect(await run.exited, `resync with OTSLAKE_CRASH_AT=${point}`).toBe(null);
  expect(run.child.signalCode).toBe('SIGKILL');
  await expireClients(harness);
}

describe('resync: a crash at any point', () => {
  it('mirror: staged batches, before and after the switch, before the tunnel deletion → the same state as one run', async () => {
    h = await createHarness({ pageRecords: 4 });
    const config = mirrorConfig(h);
    for (let id = 1; id <= 30; id++) await h.putRow(id, `o${id}`, id);
    const first = h.start({ config });
    await waitForEvent(first.daemon, 'idle', 60_000);
    await first.stop();
    const [old] = await tunnelsOf(h);
    for (const id of [2, 11, 17]) await h.deleteRow(id);
    await h.updateRow(5, { name: 'five' });
    const before = await loadSnapshot(openStore(pathToFileURL(h.tablePath).href));
    const rowsBefore = await lakeRows(h.tablePath);
    const args = [
      'resync',
      '--config',
      await mirrorConfigFile(h, { batch: { intervalMs: 50, maxDurationMs: 2_000, maxRecordsPerChannel: 4 } }),
      '--table',
      TABLE,
    ];

    // 1. Killed while staging: some batches of the new snapshot are committed to the staged table only.
    const staging = spawnCli(args);
    await staging.logged('resync staged a batch', 60_000);
    staging.child.kill('SIGKILL');
    await staging.exited;
    await expireClients(h);
    expect((await loadSnapshot(openStore(pathToFileURL(h.tablePath).href))).version).toBe(before.version);
    // A write while the resync is down: the new tunnel's stream carries it.
    await h.putRow(31, 'late', 31);

    // 2. Just before the switch: the snapshot is complete, the live table still untouched.
    await killedAt(h, args, 'resync-before-switch');
    expect((await loadSnapshot(openStore(pathToFileURL(h.tablePath).href))).version).toBe(before.version);
    expect(await lakeRows(h.tablePath)).toEqual(rowsBefore);

    // 3. Just after the switch, 4. before the old tunnel is deleted: the table is switched, the old tunnel still there.
    await killedAt(h, args, 'resync-after-switch');
    expect(await resyncCommits(h.tablePath)).toHaveLength(1);
    expect((await tunnelsOf(h)).map((t) => t.id)).toContain(old!.id);
    await killedAt(h, args, 'resync-before-tunnel-delete');

    const last = spawnCli(args);
    expect(await last.exited).toBe(0);
    const commits = await resyncCommits(h.tablePath);
    expect(commits).toHaveLength(1);
    expect(commits[0]!.version).toBe(before.version + 1);
    expect(await lakeRows(h.tablePath)).toEqual(await sourceRows(h));
    expect(await changesAt(h.tablePath, commits[0]!.version)).toEqual(
      ['delete:11:o11:11', 'delete:17:o17:17', 'delete:2:o2:2', 'insert:31:late:31', 'update_postimage:5:five:5', 'update_preimage:5:o5:5'].sort(),
    );
    expect((await tunnelsOf(h)).map((t) => t.id)).toEqual([commits[0]!.tunnelId]);

    // The daemon goes on from the new tunnel's stream, nothing applied twice.
    await h.deleteRow(3);
    await h.putRow(32, 'after', 32);
    const next = h.start({ config, untilIdle: true });
    await next.done;
    expect(await lakeRows(h.tablePath)).toEqual(await sourceRows(h));
  }, 300_000);

  it('changelog: before and after the switch, before the tunnel deletion → one RESYNC commit, the baseline landed once', async () => {
    h = await createHarness();
    for (let id = 1; id <= 6; id++) await h.putRow(id, `o${id}`, id);
    const first = h.start();
    await waitForEvent(first.daemon, 'idle', 30_000);
    await first.stop();
    await h.deleteRow(4);
    const path = await h.writeConfigFile({
      lake: { uri: pathToFileURL(h.lake.path).href },
      tables: [{ table: TABLE, tunnel: { name: 'otslake-orders' }, path: 'orders', columns: [{ name: 'name', type: 'STRING' }] }],
      log: { level: 'info' },
    });
    const args = ['resync', '--config', path, '--table', TABLE];
    await killedAt(h, args, 'resync-before-switch');
    expect(await resyncCommits(h.tablePath)).toHaveLength(0);
    await killedAt(h, args, 'resync-after-switch');
    await killedAt(h, args, 'resync-before-tunnel-delete');
    const last = spawnCli(args);
    expect(await last.exited).toBe(0);
    const commits = await resyncCommits(h.tablePath);
    expect(commits).toHaveLength(1);
    expect((await tunnelsOf(h)).map((t) => t.id)).toEqual([commits[0]!.tunnelId]);

    const after = h.start({ untilIdle: true });
    await after.done;
    // The baseline: what the table gained after the RESYNC commit (channel ids repeat across tunnels here).
    const key = (r: Record<string, unknown>) => JSON.stringify([Number(r.id), r.name, r._op, r._seq, r._channel]);
    const select = 'id, name, _op, _seq, _channel';
    const old = (await readDeltaTable(h.tablePath, { select, version: commits[0]!.version })).map(key);
    const baseline = (await readDeltaTable(h.tablePath, { select, orderBy: 'id' })).filter((r) => {
      const i = old.indexOf(key(r));
      if (i >= 0) old.splice(i, 1);
      return i < 0;
    });
    expect(old).toEqual([]);
    expect(baseline.every((r) => r._seq === null && r._op === 'PUT')).toBe(true);
    expect(baseline.map((r) => ({ id: Number(r.id), name: r.name }))).toEqual((await sourceRows(h)).map((r) => ({ id: r.id, name: r.name })));
    expect(baseline.map((r) => Number(r.id))).toEqual([1, 2, 3, 5, 6]);
  }, 180_000);
});
