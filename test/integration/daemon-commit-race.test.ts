/**
 * A lost commit race as the operator sees it: another writer takes the version a daemon's batch was about to
 * commit (the OSS emulator holds the daemon's put-if-absent of that version while the test writes it), the
 * daemon's put answers "already exists", the batch reads the winner and commits on top of it, and
 * `otslake_commit_races_lost_total` counts exactly that one loss. Every row lands once; the winner's commit stays.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { OssEmulator } from '../../emulator/oss/server.js';
import { commitKey as logPath } from '../../lake/log-path.js';
import { loadSnapshot, parseStats } from '../../lake/snapshot.js';
import { createHarness, waitForEvent, waitForEventWhere, type Harness } from '../helpers/daemon-harness.js';
import { openTestOssStore, startTestOss, TEST_CREDENTIALS as OSS_CREDENTIALS } from '../helpers/oss.js';

let h: Harness | undefined;
let oss: OssEmulator | undefined;
afterEach(async () => {
  await h?.close();
  await oss?.close();
  h = oss = undefined;
});

/** One sample of a scrape (0 when the series is not there yet). */
function sample(metrics: string, name: string, table: string): number {
  const m = new RegExp(`^${name}\\{table="${table}"\\} (\\S+)$`, 'm').exec(metrics);
  return m === null ? 0 : Number(m[1]);
}

describe('daemon: a lost commit race', () => {
  it('commits on top of the winner and counts the loss in otslake_commit_races_lost_total', async () => {
    h = await createHarness();
    oss = await startTestOss('otslake-race');
    for (let id = 1; id <= 3; id++) await h.putRow(id, `order-${id}`, id);
    const config = h.config({
      lake: { uri: 'oss://otslake-race/lake', oss: { endpoint: oss.endpoint, ...OSS_CREDENTIALS } },
      http: { host: '127.0.0.1', port: 0 },
    });
    const { daemon } = h.start({ config, http: true });
    await waitForEvent(daemon, 'idle', 30_000);
    const scrape = async () => (await fetch(`${daemon.httpAddress!.url}/metrics`)).text();
    expect(sample(await scrape(), 'otslake_commit_races_lost_total', 'orders')).toBe(0);

    const store = openTestOssStore(oss, 'virtual-host', { prefix: 'lake/orders' });
    try {
      const before = await loadSnapshot(store);
      const contested = before.version + 1;
      const contestedKey = `lake/orders/${logPath(contested)}`;
      // The daemon's commit of `contested` waits at the server; meanwhile the test commits that version.
      oss.faults.inject({ kind: 'delay', delayMs: 1_500, op: 'PutObject', keyPrefix: contestedKey });
      const held = new Promise<void>((resolve) => {
        const off = oss!.faults.onFired((kind, facts) => {
          if (kind === 'delay' && facts.key === contestedKey) {
            off();
            resolve();
          }
        });
      });
      const committed = waitForEventWhere(daemon, 'batch-committed', () => true, 30_000);
      for (let id = 4; id <= 6; id++) await h.putRow(id, `order-${id}`, id);
      await held;
      const winner = { commitInfo: { timestamp: Date.now(), operation: 'WRITE', operationParameters: {}, engineInfo: 'another-writer' } };
      await store.put(logPath(contested), new TextEncoder().encode(`${JSON.stringify(winner)}\n`), { ifAbsent: true });
      await committed;
      expect(sample(await scrape(), 'otslake_commit_races_lost_total', 'orders')).toBe(1);
      expect(new TextDecoder().decode(await store.get(logPath(contested)))).toContain('another-writer');
      expect(new TextDecoder().decode(await store.get(logPath(contested + 1)))).toContain('"txn"');

      // The rows written meanwhile may take another batch; each lands once.
      const rowsOf = async () => {
        let rows = 0;
        for (const add of (await loadSnapshot(store)).files.values()) rows += parseStats(add)?.numRecords ?? 0;
        return rows;
      };
      while ((await rowsOf()) < 6) await waitForEvent(daemon, 'batch', 30_000); // every batch, also an empty one
      expect(await rowsOf()).toBe(6);
      expect(sample(await scrape(), 'otslake_commit_races_lost_total', 'orders')).toBe(1);
    } finally {
      await store.close();
    }
  }, 60_000);
});
