/**
 * The CLI as an operator runs it: `otslake run --config FILE` in its own process. SIGTERM mid-way
 * drains and exits 0 within a bound; `run --until-idle` then continues from the lake and exits 0 once
 * caught up, with every change landed exactly once.
 *
 * The process runs the TypeScript sources through tsx (the same entry as bin/otslake, which loads
 * dist/), so that the test does not depend on a fresh build.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { spawnCli, killSpawned } from '../helpers/cli-process.js';
import { asChanges, createHarness, lakeRowCount, readChangelog, sortChanges, TABLE, type Change, type Harness } from '../helpers/daemon-harness.js';

let h: Harness | undefined;

afterEach(async () => {
  killSpawned();
  await h?.close();
  h = undefined;
});

describe('daemon: SIGTERM on the CLI process', () => {
  it('stops cleanly within the bound, and a restart continues exactly once', async () => {
    h = await createHarness({ pageRecords: 3 });
    const changes: Change[] = [];
    for (let id = 1; id <= 30; id++) changes.push(await h.putRow(id, `order-${id}`, id));
    const configPath = await h.writeConfigFile({
      lake: { uri: pathToFileURL(join(h.lake.path, 'lake')).href },
      tables: [{ table: TABLE, tunnel: { name: 'otslake-orders', type: 'BaseAndStream' }, path: 'orders' }],
      batch: { intervalMs: '100ms', maxRecordsPerChannel: 3, maxDurationMs: '2s' },
      workers: { threads: 1 },
      http: { port: 0 },
      log: { level: 'info' },
      shutdown: { graceMs: '5s' },
    });
    const tablePath = join(h.lake.path, 'lake', 'orders');

    const first = spawnCli(['run', '--config', configPath]);
    await first.logged('batch committed');
    const signalledAt = Date.now();
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);
    expect(Date.now() - signalledAt).toBeLessThan(8_000);
    const transitions = first.logs.filter((l) => l.msg === 'daemon state changed').map((l) => l.to);
    expect(transitions).toEqual(['running', 'draining', 'stopped']);
    expect(await lakeRowCount(tablePath)).toBeLessThan(30);

    const second = spawnCli(['run', '--config', configPath, '--until-idle']);
    expect(await second.exited).toBe(0);
    expect(asChanges(await readChangelog(tablePath))).toEqual(sortChanges(changes));

    for (let id = 1; id <= 10; id++) changes.push(await h.updateRow(id, { name: `renamed-${id}` }));
    changes.push(await h.deleteRow(30));
    const third = spawnCli(['run', '--config', configPath, '--until-idle']);
    expect(await third.exited).toBe(0);
    expect(asChanges(await readChangelog(tablePath))).toEqual(sortChanges(changes));
  }, 60_000);
});
