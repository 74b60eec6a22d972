/**
 * Metadata columns never collide: a source column named `_op` lands under its own name beside otslake's
 * `otslake_op` (tables[].metadataPrefix), a primary key named like a metadata column stops only its own table
 * (OTSL_TABLE_COLUMN_CONFLICT, shown in /readyz and /status) while the other tables keep landing, and a
 * dead letter shows the row's own `_op`, not otslake's.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { OtslakeError } from '../../common/errors.js';
import { readDeltaTable } from '../helpers/chdb.js';
import { createHarness, waitForEvent, waitForEventWhere, waitForLakeRows, TABLE, type Harness } from '../helpers/daemon-harness.js';
import { createStreamTable, tablestoreSdk as TS } from '../helpers/emulator.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);

describe('daemon: metadata columns never collide', () => {
  it('lands a source _op under its own name with a prefix, stops only the table whose key collides', async () => {
    h = await createHarness();
    await createStreamTable(h.sdk, 'events', [{ name: 'eid', type: 'INTEGER' }]);
    await createStreamTable(h.sdk, 'clash', [{ name: '_ts', type: 'INTEGER' }]);
    const base = h.config().tables[0]!;
    const config = h.config({
      tables: [
        { table: base.table, tunnel: base.tunnel, mode: base.mode, path: base.path, columns: base.columns },
        { table: 'events', metadataPrefix: 'otslake_', partitionBy: ['otslake_date'] },
        { table: 'clash' },
      ],
    });
    const { daemon, stop } = h.start({ config });
    const [, stoppedError] = await waitForEventWhere<[string, OtslakeError]>(daemon, 'table-stopped', (table) => table === 'clash', 30_000);
    expect(stoppedError.code).toBe('OTSL_TABLE_COLUMN_CONFLICT');
    await waitForEvent(daemon, 'idle', 30_000);

    for (let eid = 1; eid <= 3; eid++) {
      await h.sdk.putRow({
        tableName: 'events',
        condition: IGNORE(),
        primaryKey: [{ eid: TS.Long.fromNumber(eid) }],
        attributeColumns: [{ _op: `mine-${eid}` }, { _ts: 'not a time' }, { v: TS.Long.fromNumber(eid) }],
      });
    }
    // In the default-prefix table, a source `_op` is a dead letter that shows the row's own value.
    await h.sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: [{ id: TS.Long.fromNumber(7) }], attributeColumns: [{ _op: 'theirs' }] });
    for (let id = 1; id <= 3; id++) await h.putRow(id, `o${id}`, id);
    await waitForLakeRows([daemon], join(h.lake.path, 'events'), 3, 30_000);
    await waitForLakeRows([daemon], h.tablePath, 3, 30_000);

    // The daemon runs on; the stopped table is named with its error where an operator looks.
    expect(daemon.state).toBe('running');
    expect(daemon.readiness()).toMatchObject({ ready: false, reason: expect.stringMatching(/table clash .*stopped since .*OTSL_TABLE_COLUMN_CONFLICT/) });
    const tables = (daemon.status() as { tables: { table: string; state: string; lastError: { code: string } | null }[] }).tables;
    expect(tables.find((t) => t.table === 'clash')).toMatchObject({ state: 'stopped', lastError: { code: 'OTSL_TABLE_COLUMN_CONFLICT' } });
    await stop();

    const events = await readDeltaTable(join(h.lake.path, 'events'), {
      select: 'eid, _op, _ts, v, otslake_op, otslake_seq IS NOT NULL AS has_seq, toDate(otslake_ts) = otslake_date AS day_ok',
      orderBy: 'eid',
    });
    expect(events).toEqual(
      [1, 2, 3].map((eid) => ({ eid: String(eid), _op: `mine-${eid}`, _ts: 'not a time', v: String(eid), otslake_op: 'PUT', has_seq: 1, day_ok: 1 })),
    );
    const orders = await readDeltaTable(h.tablePath, { select: 'id, name', orderBy: 'id' });
    expect(orders.map((r) => Number(r.id))).toEqual([1, 2, 3]);

    const deadDir = join(h.tablePath, '_otslake', 'dead-letters');
    const lines: { reason: string; row: Record<string, unknown>; meta: Record<string, unknown> }[] = [];
    for (const channel of await readdir(deadDir)) {
      for (const f of await readdir(join(deadDir, channel))) {
        for (const l of (await readFile(join(deadDir, channel, f), 'utf8')).trim().split('\n')) lines.push(JSON.parse(l));
      }
    }
    expect(lines).toEqual([
      expect.objectContaining({ reason: 'column-name-conflict', row: { id: '7', _op: 'theirs' }, meta: expect.objectContaining({ op: 'PUT' }) }),
    ]);
  }, 90_000);
});
