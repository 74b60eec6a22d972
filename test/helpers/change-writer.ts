/**
 * Writes that go on while daemons join and leave: a change about every `everyMs` until stopped — puts of new keys
 * (from `firstId` + 1), updates and deletes of earlier ones — through the harness's SDK, each recorded as the
 * change the lake must hold exactly once.
 */
import type { Change, Harness } from './daemon-harness.js';

export interface ChangeWriter {
  readonly changes: Change[];
  stop(): Promise<void>;
}

export function startChangeWriter(harness: Harness, { firstId = 0, everyMs = 20 } = {}): ChangeWriter {
  const changes: Change[] = [];
  let stopped = false;
  const done = (async () => {
    let id = firstId;
    while (!stopped) {
      id++;
      changes.push(await harness.putRow(id, `order-${id}`, id));
      if (id % 3 === 0) changes.push(await harness.updateRow(id - 1, { qty: id }));
      if (id % 7 === 0) changes.push(await harness.deleteRow(id - 2));
      await new Promise((r) => setTimeout(r, everyMs));
    }
  })();
  return {
    changes,
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}
