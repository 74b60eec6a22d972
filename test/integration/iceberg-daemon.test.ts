/**
 * The daemon keeps every table's Iceberg metadata in step (docs/iceberg.md): changelog and mirror
 * tables written by the in-process daemon (emulator, real worker threads, local lake) read back by
 * chdb's Iceberg reader equal to delta-kernel-rs at every Delta version; a daemon that stopped
 * between its Delta commits and their Iceberg commits (Iceberg off for a life, then a destroy right
 * after a commit) catches up on start; lake.iceberg=false leaves no metadata; inspect shows both.
 */
import { access } from 'node:fs/promises';
import { parquetMetadata } from 'hyparquet';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { command as inspect } from '../../cli/commands/inspect.js';
import { describeIceberg } from '../../lake/iceberg/table-metadata.js';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { CHANGELOG_ORDER, createHarness, TABLE, waitForEvent, type Harness } from '../helpers/daemon-harness.js';
import { expectSameAtEveryVersion, icebergMetadata } from '../helpers/iceberg.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const versionsUpTo = (n: number) => Array.from({ length: n + 1 }, (_, i) => i);

async function latestDeltaVersion(tablePath: string): Promise<number> {
  return (await loadSnapshot(openStore(pathToFileURL(tablePath).href))).version;
}

/** name → Parquet field_id of the newest data file of the table (what Iceberg readers resolve columns by). */
async function fieldIdsOfNewestFile(tablePath: string): Promise<Record<string, number | undefined>> {
  const store = openStore(pathToFileURL(tablePath).href);
  const files = [...(await loadSnapshot(store)).files.values()].sort((a, b) => b.modificationTime - a.modificationTime);
  const bytes = await store.get(decodeURIComponent(files[0]!.path));
  const footer = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
  return Object.fromEntries(footer.schema.slice(1).map((s) => [s.name, s.field_id]));
}

/** The ids the Iceberg metadata gave the table's columns (and list elements). */
async function icebergIds(tablePath: string): Promise<Record<string, number>> {
  const metadata = await icebergMetadata(tablePath);
  const schema = metadata.schemas.find((x) => x['schema-id'] === metadata['current-schema-id'])!;
  const out: Record<string, number> = {};
  for (const f of schema.fields) {
    out[f.name] = f.id;
    if (typeof f.type === 'object') out[`${f.name}.element`] = f.type['element-id'];
  }
  return out;
}

async function mirrored(tablePath: string): Promise<number> {
  return (await describeIceberg(openStore(pathToFileURL(tablePath).href)))?.deltaVersion ?? -1;
}

describe('daemon: Iceberg metadata', () => {
  it('of a changelog table follows every commit, and catches up after lives that did not mirror theirs', async () => {
    h = await createHarness({ partitions: 2, pageRecords: 10 });
    const config = h.config();
    for (let i = 1; i <= 30; i++) await h.putRow(i, `n${i}`, i);
    await h.start({ config, untilIdle: true }).done;
    expect(await mirrored(h.tablePath)).toBe(await latestDeltaVersion(h.tablePath));

    // A life with Iceberg off: its Delta commits are not mirrored (what a crash between the two commits leaves).
    for (let i = 1; i <= 10; i++) await h.updateRow(i, { name: `u${i}` }, i % 3 === 0 ? ['qty'] : []);
    await h.start({ config: h.config({ lake: { uri: pathToFileURL(h.lake.path).href, iceberg: false } }), untilIdle: true }).done;
    const deltaAfterOff = await latestDeltaVersion(h.tablePath);
    expect(await mirrored(h.tablePath)).toBeLessThan(deltaAfterOff);

    // A life destroyed right after a commit: its background Iceberg sync may or may not have run.
    const crashed = h.start({ config });
    await waitForEvent(crashed.daemon, 'table-ready');
    // Start-up caught up with every version the life before did not mirror.
    expect(await mirrored(h.tablePath)).toBeGreaterThanOrEqual(deltaAfterOff);
    for (let i = 11; i <= 20; i++) await h.deleteRow(i);
    await waitForEvent(crashed.daemon, 'batch-committed', 20_000);
    crashed.daemon.destroy();
    await crashed.done.catch(() => undefined);
    await h.emu.emulator.tunnel.sweepExpiredClients(Date.now() + 3_600_000);

    for (let i = 31; i <= 40; i++) await h.putRow(i, `n${i}`, i);
    const last = h.start({ config, untilIdle: true });
    await last.done;
    const status = last.daemon.status() as { tables: { iceberg: { deltaVersion: number | null; syncing: boolean; lastError: unknown } }[] };

    const latest = await latestDeltaVersion(h.tablePath);
    expect(await mirrored(h.tablePath)).toBe(latest);
    // /status tells the Delta version the Iceberg metadata now mirrors: the lake's newest.
    expect(status.tables[0]!.iceberg).toMatchObject({ deltaVersion: latest, syncing: false, lastError: null });
    // The daemon's files carry the ids the Iceberg metadata assigned (metadata columns and the list element too).
    const ids = await icebergIds(h.tablePath);
    const inFile = await fieldIdsOfNewestFile(h.tablePath);
    for (const name of ['id', 'name', 'qty', '_op', '_seq', '_channel', '_deleted_columns']) expect(inFile[name], name).toBe(ids[name]);
    expect(inFile.element).toBe(ids['_deleted_columns.element']);
    // Ids repeat in a changelog: order by the change's identity too.
    await expectSameAtEveryVersion(h.tablePath, versionsUpTo(latest), { orderBy: `id, ${CHANGELOG_ORDER}` });

    // inspect shows both versions.
    const out: string[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => out.push(String(chunk)) > 0);
    try {
      expect(await inspect.run([pathToFileURL(h.tablePath).href, '--json'])).toBe(0);
      expect(await inspect.run([pathToFileURL(h.tablePath).href])).toBe(0);
    } finally {
      write.mockRestore();
    }
    expect(JSON.parse(out[0]!)).toMatchObject({ version: latest, iceberg: { deltaVersion: latest } });
    expect(out[1]).toContain(`iceberg:    metadata v`);
    expect(out[1]).toContain(`mirrors Delta version ${latest}`);
  });

  it('of a mirror table follows its copy-on-write batches', async () => {
    h = await createHarness({ partitions: 2, pageRecords: 8 });
    const config = h.config({
      tables: [
        {
          table: TABLE,
          tunnel: { name: 'otslake-orders', type: 'BaseAndStream' },
          mode: 'mirror',
          path: 'orders',
          columns: [{ name: 'name', type: 'STRING' }],
          mirror: { buckets: 2, targetFileSize: '1KiB' },
        },
      ],
    });
    for (let i = 1; i <= 24; i++) await h.putRow(i, `n${i}`, i);
    await h.start({ config, untilIdle: true }).done;
    for (let i = 1; i <= 8; i++) await h.updateRow(i, { name: `u${i}` });
    for (let i = 9; i <= 12; i++) await h.deleteRow(i);
    await h.start({ config, untilIdle: true }).done;
    const latest = await latestDeltaVersion(h.tablePath);
    expect(await mirrored(h.tablePath)).toBe(latest);
    const ids = await icebergIds(h.tablePath);
    const inFile = await fieldIdsOfNewestFile(h.tablePath);
    for (const name of ['id', 'name', 'qty', '_ts', '_seq']) expect(inFile[name], name).toBe(ids[name]);
    await expectSameAtEveryVersion(h.tablePath, versionsUpTo(latest));
  });

  it('is not written when lake.iceberg is off', async () => {
    h = await createHarness({ partitions: 1 });
    for (let i = 1; i <= 5; i++) await h.putRow(i, `n${i}`, i);
    await h.start({ config: h.config({ lake: { uri: pathToFileURL(h.lake.path).href, iceberg: false } }), untilIdle: true }).done;
    await expect(access(path.join(h.tablePath, 'metadata'))).rejects.toMatchObject({ code: 'ENOENT' });
  });
});
