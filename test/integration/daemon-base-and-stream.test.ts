/**
 * A BaseAndStream table end to end: tablestore-local (official SDK writes), the daemon with real
 * worker threads, a local lake, read back by chdb. Rows that exist before the tunnel land once as
 * snapshot PUT rows; changes made afterwards land once each with their `_op` and `_deleted_columns`.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { asChanges, createHarness, readChangelog, sortChanges, waitForEvent, type Change, type Harness } from '../helpers/daemon-harness.js';
import { pathToFileURL } from 'node:url';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

describe('daemon: BaseAndStream', () => {
  it('lands the snapshot once, then every change once, and goes idle', async () => {
    h = await createHarness();
    const before: Change[] = [];
    for (let id = 1; id <= 12; id++) before.push(await h.putRow(id, `order-${id}`, id * 10));

    const { daemon, stop, states } = h.start();
    await waitForEvent(daemon, 'idle');

    const afterBase = await readChangelog(h.tablePath);
    expect(asChanges(afterBase)).toEqual(sortChanges(before));
    expect(afterBase.every((r) => r.op === 'PUT' && r.seq === null && r.channel.startsWith('BaseData_'))).toBe(true);

    const stream: Change[] = [];
    stream.push(await h.updateRow(3, { name: 'renamed-3' }));
    stream.push(await h.updateRow(4, { qty: 41 }, ['name']));
    stream.push(await h.deleteRow(5));
    stream.push(await h.putRow(20, 'order-20', 200));
    await waitForEvent(daemon, 'idle');

    const all = await readChangelog(h.tablePath);
    expect(asChanges(all)).toEqual(sortChanges([...before, ...stream]));
    const streamRows = all.filter((r) => r.seq !== null);
    expect(streamRows.map((r) => r.op).sort()).toEqual(['DELETE', 'PUT', 'UPDATE', 'UPDATE']);
    expect(streamRows.find((r) => r.id === 4)?.deleted).toEqual(['name']);

    await stop();
    expect(states).toEqual(['running', 'draining', 'stopped']);

    // The table itself: changelog tables are append-only, and the discovered column joined the schema.
    const snapshot = await loadSnapshot(openStore(pathToFileURL(h.tablePath).href));
    expect(snapshot.metadata.configuration['delta.appendOnly']).toBe('true');
    expect(snapshot.schema.fields.map((f) => f.name)).toEqual(['id', 'name', '_op', '_ts', '_seq', '_channel', '_deleted_columns', 'qty']);
    expect([...snapshot.txns.keys()].every((k) => k.startsWith('otslake/'))).toBe(true);
  }, 40_000);
});
