/**
 * `run --until-idle` after a daemon was SIGKILLed with changes still unread: its channels stay with
 * the dead client until the Tunnel times it out, and until then the table is *waiting*, not caught
 * up. A bounded run (--idle-timeout shorter than the wait) exits 1 saying whom it waits for; an
 * unbounded one waits, takes the channels once the client expired, and exits 0 with every change in
 * the lake.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { killSpawned, spawnCli } from '../helpers/cli-process.js';
import { asChanges, createHarness, readChangelog, sortChanges, TABLE, type Change, type Harness } from '../helpers/daemon-harness.js';

let h: Harness | undefined;

afterEach(async () => {
  killSpawned();
  await h?.close();
  h = undefined;
});

/** The dead daemon's client timeout: how long its channels stay blocked. */
const CLIENT_TIMEOUT_MS = 16_000;

describe('run --until-idle after a SIGKILL', () => {
  it('waits for the dead client to expire (or says so and exits 1 when bounded), then lands every change', async () => {
    h = await createHarness({ tunnelType: 'Stream' });
    const tablePath = join(h.lake.path, 'lake', 'orders');
    const configPath = await h.writeConfigFile({
      source: { heartbeatIntervalMs: '500ms', heartbeatTimeoutMs: CLIENT_TIMEOUT_MS },
      lake: { uri: pathToFileURL(join(h.lake.path, 'lake')).href },
      tables: [{ table: TABLE, tunnel: { name: 'otslake-orders', type: 'Stream' }, path: 'orders' }],
      // A long pause after a quiet batch: the first daemon holds its channels without reading them.
      batch: { intervalMs: '60s', maxDurationMs: '2s' },
      workers: { threads: 1 },
      http: { port: 0 },
      log: { level: 'info' },
    });

    const first = spawnCli(['run', '--config', configPath]);
    await first.logged('table caught up', 30_000);
    const changes: Change[] = [];
    for (let id = 1; id <= 40; id++) changes.push(await h.putRow(id, `order-${id}`, id));
    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now();

    const bounded = spawnCli(['run', '--config', configPath, '--until-idle', '--idle-timeout', '2s']);
    expect(await bounded.exited).toBe(1);
    expect(Date.now() - killedAt).toBeLessThan(CLIENT_TIMEOUT_MS); // it gave up while the dead client still held the channels
    const failed = bounded.logs.find((l) => l.msg === 'daemon state changed' && l.to === 'failed') as { error?: { code?: string; message?: string } };
    expect(failed?.error?.code).toBe('OTSL_NOT_CAUGHT_UP');
    expect(failed?.error?.message).toMatch(/orders: waiting for client \S+ to expire, ~\d+ s/);
    expect(bounded.logs.some((l) => l.msg === 'every table caught up')).toBe(false);

    const second = spawnCli(['run', '--config', configPath, '--until-idle']);
    expect(await second.exited).toBe(0);
    expect(Date.now() - killedAt).toBeGreaterThan(CLIENT_TIMEOUT_MS - 1_000); // it did wait for the expiry
    const waiting = second.logs.find((l) => l.msg === 'table state changed' && l.to === 'waiting');
    expect(waiting, 'the wait is logged').toBeDefined();
    expect(asChanges(await readChangelog(tablePath))).toEqual(sortChanges(changes));
  }, 90_000);
});
