/**
 * A partition split mid-stream: the parent's stream channel is read to "finished", committed and
 * checkpointed "finished" before the children are handed out, so per primary key the changes in the
 * lake (ordered by `_seq`) are exactly the write order, and no child commits before its parent finished.
 */
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { parseTxnAppId } from '../../lake/offset-log.js';
import { readCommitInfos } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import {
  asChanges,
  createHarness,
  readChangelog,
  sortChanges,
  TABLE,
  waitForEvent,
  waitForLakeRows,
  type Change,
  type Harness,
} from '../helpers/daemon-harness.js';

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

const KEYS = [1, 2, 3, 4, 5, 6, 7, 8];

describe('daemon: partition split', () => {
  it('keeps per-key order across parent and children, and starts children after the parent', async () => {
    h = await createHarness({ partitions: 1, pageRecords: 4 });
    const changes: Change[] = [];
    for (const id of KEYS) changes.push(await h.putRow(id, `order-${id}`, 0));
    const { daemon, stop } = h.start();
    await waitForEvent(daemon, 'idle');

    const [parent] = h.emu.emulator.store.partitions(TABLE);
    for (let round = 1; round <= 4; round++) {
      if (round === 3) h.emu.emulator.split(TABLE, parent!.id);
      changes.push(...(await Promise.all(KEYS.map((id) => h!.updateRow(id, { qty: round * 100 + id })))));
    }
    const children = h.emu.emulator.store
      .partitions(TABLE)
      .filter((p) => p.parents.includes(parent!.id))
      .map((p) => p.id);
    expect(children).toHaveLength(2);
    await waitForLakeRows([daemon], h.tablePath, changes.length);
    await stop();

    const rows = await readChangelog(h.tablePath);
    expect(asChanges(rows)).toEqual(sortChanges(changes));
    for (const id of KEYS) {
      const landed = rows.filter((r) => r.id === id && r.seq !== null).sort((x, y) => (x.seq! < y.seq! ? -1 : 1));
      expect(landed.map((r) => r.qty)).toEqual([100 + id, 200 + id, 300 + id, 400 + id]);
    }

    // Commit order: the parent's "finished" position is committed before any child's first data.
    const commits = await readCommitInfos(openStore(pathToFileURL(h.tablePath).href), 0);
    const channelsOf = (c: (typeof commits)[number]) => c.txns.map((t) => parseTxnAppId(t.appId)!.channelId);
    const finishedAt = commits.find((c) => {
      const info = (c.commitInfo?.otslake as { channels?: Record<string, { finished: boolean }> } | undefined)?.channels;
      return info?.[parent!.id]?.finished === true;
    })?.version;
    expect(finishedAt).toBeDefined();
    const firstChildAt = Math.min(...commits.filter((c) => channelsOf(c).some((ch) => children.includes(ch))).map((c) => c.version));
    expect(firstChildAt).toBeGreaterThan(finishedAt!);
  }, 40_000);
});
