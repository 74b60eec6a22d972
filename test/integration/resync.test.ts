/**
 * `otslake resync --config FILE --table NAME` on a changelog table: after a tunnel was lost behind the daemon
 * while rows were deleted at the source, the table stops by name; resync moves the lake to a fresh tunnel in
 * one RESYNC commit, and the next run lands the new baseline — exactly the source's rows (GetRange through the
 * official SDK), marked by `_seq` null and the new tunnel's channels. On a healthy table the old tunnel is
 * deleted after the switch, and a table a daemon still reads is refused.
 */
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { openTunnelClient } from '../../daemon/connections.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { collectTableStatus } from '../../pipeline/table-status.js';
import { readDeltaTable } from '../helpers/chdb.js';
import { killSpawned, spawnCli } from '../helpers/cli-process.js';
import { createHarness, waitForEvent, waitForLakeRows, TABLE, type Harness } from '../helpers/daemon-harness.js';
import { tablestoreSdk as TS } from '../helpers/emulator.js';

let h: Harness | undefined;
afterEach(async () => {
  killSpawned();
  await h?.close();
  h = undefined;
});

/** The source's rows through the official SDK (GetRange over the whole key range). */
async function sourceRows(harness: Harness): Promise<{ id: number; name: string | null }[]> {
  const out: { id: number; name: string | null }[] = [];
  const sdk = harness.sdk as unknown as { getRange(p: Record<string, unknown>): Promise<unknown> };
  const SDK = TS as unknown as { Direction: { FORWARD: unknown }; INF_MIN: unknown; INF_MAX: unknown };
  const res = (await sdk.getRange({
    tableName: TABLE,
    direction: SDK.Direction.FORWARD,
    inclusiveStartPrimaryKey: [{ id: SDK.INF_MIN }],
    exclusiveEndPrimaryKey: [{ id: SDK.INF_MAX }],
    limit: 1000,
  })) as { rows: { primaryKey: { value: { toNumber(): number } }[]; attributes: { columnName: string; columnValue: unknown }[] }[] };
  for (const r of res.rows)
    out.push({ id: r.primaryKey[0]!.value.toNumber(), name: (r.attributes.find((a) => a.columnName === 'name')?.columnValue as string) ?? null });
  return out.sort((a, b) => a.id - b.id);
}

async function configFile(harness: Harness): Promise<string> {
  const cfg = harness.config();
  const path = join(harness.lake.path, 'otslake.json');
  const base = cfg.tables[0]!;
  await writeFile(
    path,
    JSON.stringify({
      source: {
        endpoint: harness.emu.endpoint,
        instance: harness.emu.instance,
        accessKeyId: harness.emu.accessKeyId,
        accessKeySecret: harness.emu.accessKeySecret,
      },
      lake: { uri: cfg.lake.uri },
      tables: [{ table: base.table, tunnel: { name: base.tunnel.name }, path: base.path, columns: base.columns }],
      log: { level: 'info' },
    }),
  );
  return path;
}

async function resyncCommit(tablePath: string): Promise<{ version: number; tunnelId: string }> {
  for (const f of (await readdir(join(tablePath, '_delta_log'))).filter((n) => n.endsWith('.json')).sort()) {
    const info = JSON.parse((await readFile(join(tablePath, '_delta_log', f), 'utf8')).split('\n')[0]!) as {
      commitInfo?: { operation: string; operationParameters: { tunnelId: string } };
    };
    if (info.commitInfo?.operation === 'RESYNC') return { version: Number(f.slice(0, 20)), tunnelId: info.commitInfo.operationParameters.tunnelId };
  }
  throw new Error('no RESYNC commit');
}

describe('otslake resync', () => {
  it('rebuilds a changelog table whose tunnel was lost: the new baseline equals the source', async () => {
    h = await createHarness();
    const first = h.start();
    await waitForEvent(first.daemon, 'idle', 30_000);
    for (let id = 1; id <= 6; id++) await h.putRow(id, `o${id}`, id);
    await h.updateRow(1, { name: 'renamed' });
    await waitForLakeRows([first.daemon], h.tablePath, 7, 30_000);
    await first.stop();

    // Lost behind the daemon, and rows deleted at the source in the gap.
    const config = h.config();
    const client = openTunnelClient(config);
    try {
      const old = (await client.listTunnel({ table_name: TABLE })).tunnels.find((t) => t.tunnel_name === 'otslake-orders')!;
      await client.deleteTunnel({ table_name: TABLE, tunnel_name: 'otslake-orders', tunnel_id: old.tunnel_id });
      await h.deleteRow(2);
      await h.deleteRow(5);
      const lost = h.start({ untilIdle: true });
      await expect(lost.done).rejects.toMatchObject({ code: 'OTSL_TUNNEL_LOST' });

      const resync = spawnCli(['resync', '--config', await configFile(h), '--table', TABLE]);
      expect(await resync.exited).toBe(0);
      const { version, tunnelId } = await resyncCommit(h.tablePath);
      expect((await loadSnapshot(openStore(pathToFileURL(h.tablePath).href))).metadata.configuration['otslake.tunnel.id']).toBe(tunnelId);
      expect(tunnelId).not.toBe(old.tunnel_id);

      const after = h.start({ untilIdle: true });
      await after.done;
      // `otslake status` follows the lake's tunnel, not the name in the config (the resync's tunnel has its own).
      const outside = await collectTableStatus(config.tables[0]!, openStore(pathToFileURL(h.lake.path).href), client);
      expect(outside.tunnel.id).toBe(tunnelId);
      expect(outside.tunnel.error).toBeNull();
      // The baseline: every row committed after the RESYNC commit, marked by `_seq` null and the new tunnel's channels.
      const before = await readDeltaTable(h.tablePath, { version, select: 'count() AS n' });
      const baseline = await readDeltaTable(h.tablePath, {
        select: 'id, name, _op, _seq, _channel',
        where: `_channel NOT IN (SELECT DISTINCT _channel FROM deltaLakeLocal('${h.tablePath}') SETTINGS delta_lake_snapshot_version=${version})`,
        orderBy: 'id',
      });
      expect(Number(before[0]!.n)).toBe(7);
      expect(baseline.every((r) => r._seq === null && r._op === 'PUT')).toBe(true);
      expect(baseline.map((r) => ({ id: Number(r.id), name: r.name }))).toEqual(await sourceRows(h));
      expect((await sourceRows(h)).map((r) => r.id)).toEqual([1, 3, 4, 6]);
    } finally {
      client.close();
    }
  }, 120_000);

  it('deletes the old tunnel after the switch, and refuses while a daemon reads the table', async () => {
    h = await createHarness();
    const running = h.start();
    await waitForEvent(running.daemon, 'idle', 30_000);
    const path = await configFile(h);
    const refused = spawnCli(['resync', '--config', path, '--table', TABLE]);
    expect(await refused.exited).toBe(1);
    await running.stop();

    const client = openTunnelClient(h.config());
    try {
      const old = (await client.listTunnel({ table_name: TABLE })).tunnels.find((t) => t.tunnel_name === 'otslake-orders')!;
      const resync = spawnCli(['resync', '--config', path, '--table', TABLE]);
      expect(await resync.exited).toBe(0);
      const tunnels = (await client.listTunnel({ table_name: TABLE })).tunnels;
      expect(tunnels.map((t) => t.tunnel_id)).not.toContain(old.tunnel_id);
      expect(tunnels.map((t) => t.tunnel_name)).toEqual([expect.stringMatching(/^otslake-orders-resync-[0-9a-f]{8}$/)]);
    } finally {
      client.close();
    }
  }, 120_000);
});
