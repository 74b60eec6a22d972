/**
 * tables[].select through the daemon against tablestore-local, read back by chdb: a changelog table that excludes
 * and renames (its key too), a mirror table that includes and renames under metadataPrefix `otslake_` (so a source
 * column `_ts` lands under its own name), beside a table without either. Two runs (`run --until-idle` twice): the
 * second brings updates that delete columns (`_deleted_columns` in lake names, left-out ones dropped), deletes, and
 * new source columns (an excluded one never appears, another lands).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadSnapshot } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { readDeltaTable } from '../helpers/chdb.js';
import type { OtslakeError } from '../../common/errors.js';
import { createHarness, waitForEventWhere, waitForLakeRows, type Harness } from '../helpers/daemon-harness.js';
import { createStreamTable, tablestoreSdk as TS } from '../helpers/emulator.js';

let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);
const long = (n: number) => TS.Long.fromNumber(n);

async function columnsOf(path: string): Promise<string[]> {
  const snapshot = await loadSnapshot(openStore(pathToFileURL(path).href));
  return snapshot.schema.fields.map((f) => f.name);
}

async function hasDeadLetters(path: string): Promise<boolean> {
  return readdir(join(path, '_otslake', 'dead-letters')).then(
    (entries) => entries.length > 0,
    () => false,
  );
}

describe('daemon: column selection and renaming', () => {
  it('lands include/exclude/rename in a changelog and a mirror table (under a metadataPrefix) while another table lands as is', async () => {
    h = await createHarness();
    const sdk = h.sdk;
    await createStreamTable(sdk, 'events', [{ name: 'eid', type: 'INTEGER' }]);
    await createStreamTable(sdk, 'accounts', [{ name: 'aid', type: 'INTEGER' }]);
    const base = h.config().tables[0]!;
    const config = h.config({
      tables: [
        { table: base.table, tunnel: base.tunnel, mode: base.mode, path: base.path, columns: base.columns },
        {
          table: 'events',
          select: { exclude: ['secret', '_op', 'pin'], rename: { eid: 'event_id', email: 'contact' } },
          columns: [{ name: 'contact', type: 'STRING' }],
          partitionBy: ['contact'],
        },
        {
          table: 'accounts',
          mode: 'mirror',
          metadataPrefix: 'otslake_',
          mirror: { buckets: 2 },
          select: { include: ['aid', 'name', 'balance', 'code', '_ts'], rename: { aid: 'account_id', code: 'account_code' } },
        },
      ],
    });

    // First run: the tables' existing rows (the full snapshot).
    for (let eid = 1; eid <= 3; eid++) {
      await sdk.putRow({
        tableName: 'events',
        condition: IGNORE(),
        primaryKey: [{ eid: long(eid) }],
        attributeColumns: [{ email: `e${eid}@x` }, { secret: 's' }, { _op: 'mine' }, { v: long(eid) }],
      });
      await sdk.putRow({
        tableName: 'accounts',
        condition: IGNORE(),
        primaryKey: [{ aid: long(eid) }],
        attributeColumns: [{ name: `n${eid}` }, { balance: long(eid * 100) }, { code: `c${eid}` }, { internal: 'hidden' }, { _ts: `own ${eid}` }],
      });
      await h.putRow(eid, `o${eid}`, eid);
    }
    await h.start({ config, untilIdle: true }).done;

    // Second run: the stream.
    const update = (tableName: string, key: Record<string, unknown>, put: Record<string, unknown>[], deleteAll: string[] = []) =>
      sdk.updateRow({
        tableName,
        condition: IGNORE(),
        primaryKey: [key],
        updateOfAttributeColumns: [...(put.length > 0 ? [{ PUT: put }] : []), ...(deleteAll.length > 0 ? [{ DELETE_ALL: deleteAll }] : [])],
      });
    await update('events', { eid: long(1) }, [{ v: long(10) }], ['email', 'secret']);
    await update('events', { eid: long(2) }, [{ note: 'n2' }, { pin: '1234' }]);
    await sdk.deleteRow({ tableName: 'events', condition: IGNORE(), primaryKey: [{ eid: long(3) }] });
    await update('accounts', { aid: long(1) }, [{ balance: long(50) }], ['code', 'internal']);
    await update('accounts', { aid: long(2) }, [{ extra: 'not included' }]);
    await sdk.deleteRow({ tableName: 'accounts', condition: IGNORE(), primaryKey: [{ aid: long(3) }] });
    await sdk.putRow({
      tableName: 'accounts',
      condition: IGNORE(),
      primaryKey: [{ aid: long(4) }],
      attributeColumns: [{ name: 'n4' }, { balance: long(4) }, { internal: 'hidden' }, { _ts: 'own 4' }],
    });
    await h.putRow(4, 'o4', 4);
    const second = h.start({ config, untilIdle: true });
    await second.done;
    expect(second.daemon.state).toBe('stopped');

    // The changelog: lake names only, nothing excluded (not even in _deleted_columns), the new `note` discovered, `pin` never.
    const eventsPath = join(h.lake.path, 'events');
    // partitionBy names the lake column: the renamed email is the partition column `contact`.
    expect((await loadSnapshot(openStore(pathToFileURL(eventsPath).href))).metadata.partitionColumns).toEqual(['contact']);
    expect((await readdir(eventsPath)).filter((d) => d.startsWith('contact=')).sort()).toEqual([
      'contact=__HIVE_DEFAULT_PARTITION__',
      'contact=e1@x',
      'contact=e2@x',
      'contact=e3@x',
    ]);
    expect(await columnsOf(eventsPath)).toEqual(['event_id', 'contact', '_op', '_ts', '_seq', '_channel', '_deleted_columns', 'v', 'note']);
    const events = await readDeltaTable(eventsPath, {
      select: 'event_id, contact, v, note, _op, _deleted_columns, _seq IS NOT NULL AS streamed',
      orderBy: 'streamed, event_id',
    });
    expect(events).toEqual([
      ...[1, 2, 3].map((e) => ({ event_id: String(e), contact: `e${e}@x`, v: String(e), note: null, _op: 'PUT', _deleted_columns: [], streamed: 0 })),
      { event_id: '1', contact: null, v: '10', note: null, _op: 'UPDATE', _deleted_columns: ['contact'], streamed: 1 },
      { event_id: '2', contact: null, v: null, note: 'n2', _op: 'UPDATE', _deleted_columns: [], streamed: 1 },
      { event_id: '3', contact: null, v: null, note: null, _op: 'DELETE', _deleted_columns: [], streamed: 1 },
    ]);

    // The mirror: the key renamed, only included columns, the source `_ts` beside otslake's `otslake_ts`.
    const accountsPath = join(h.lake.path, 'accounts');
    const accountColumns = await columnsOf(accountsPath);
    expect([...accountColumns].sort()).toEqual(['_ts', 'account_code', 'account_id', 'balance', 'name', 'otslake_seq', 'otslake_ts']);
    const accounts = await readDeltaTable(accountsPath, {
      select: 'account_id, name, balance, account_code, _ts, otslake_ts IS NOT NULL AS has_ts, otslake_seq IS NOT NULL AS streamed',
      orderBy: 'account_id',
    });
    expect(accounts).toEqual([
      { account_id: '1', name: 'n1', balance: '50', account_code: null, _ts: 'own 1', has_ts: 1, streamed: 1 },
      { account_id: '2', name: 'n2', balance: '200', account_code: 'c2', _ts: 'own 2', has_ts: 1, streamed: 1 },
      { account_id: '4', name: 'n4', balance: '4', account_code: null, _ts: 'own 4', has_ts: 1, streamed: 1 },
    ]);

    // The table without a selection landed every change, and nothing anywhere went to the dead letters.
    const orders = await readDeltaTable(h.tablePath, { select: 'id, name', orderBy: 'id' });
    expect(orders.map((r) => r.name)).toEqual(['o1', 'o2', 'o3', 'o4']);
    for (const path of [eventsPath, accountsPath, h.tablePath]) expect(await hasDeadLetters(path)).toBe(false);
  }, 120_000);

  it('stops only a table whose selection excludes its key or renames a column onto it (OTSL_TABLE_COLUMN_CONFLICT)', async () => {
    h = await createHarness();
    await createStreamTable(h.sdk, 'nokey', [{ name: 'k', type: 'STRING' }]);
    await createStreamTable(h.sdk, 'onto', [{ name: 'k', type: 'STRING' }]);
    const base = h.config().tables[0]!;
    const config = h.config({
      tables: [
        { table: base.table, tunnel: base.tunnel, mode: base.mode, path: base.path, columns: base.columns },
        { table: 'nokey', mode: 'mirror', select: { exclude: ['k'] } },
        { table: 'onto', select: { rename: { other: 'k' } } },
      ],
    });
    const { daemon, stop } = h.start({ config });
    const stopped = new Map<string, OtslakeError>();
    await waitForEventWhere<[string, OtslakeError]>(
      daemon,
      'table-stopped',
      (table, err) => {
        stopped.set(table, err);
        return stopped.size === 2;
      },
      30_000,
    );
    const summary = (table: string) => ({ code: stopped.get(table)?.code, message: stopped.get(table)?.message });
    expect(summary('nokey')).toEqual({ code: 'OTSL_TABLE_COLUMN_CONFLICT', message: expect.stringContaining('"k" is excluded by tables[].select.exclude') });
    expect(summary('onto')).toEqual({
      code: 'OTSL_TABLE_COLUMN_CONFLICT',
      message: expect.stringContaining('the lake name tables[].select.rename gives "other"'),
    });
    for (let id = 1; id <= 3; id++) await h.putRow(id, `o${id}`, id);
    await waitForLakeRows([daemon], h.tablePath, 3, 30_000);
    expect(daemon.state).toBe('running');
    const tables = (daemon.status() as { tables: { table: string; state: string; lastError: { code: string } | null }[] }).tables;
    for (const name of ['nokey', 'onto'])
      expect(tables.find((t) => t.table === name)).toMatchObject({ state: 'stopped', lastError: { code: 'OTSL_TABLE_COLUMN_CONFLICT' } });
    await stop();
  }, 90_000);

  it('stops only a table whose key rename or metadataPrefix (mirror or changelog) contradicts the existing Delta table', async () => {
    h = await createHarness();
    await createStreamTable(h.sdk, 'later', [{ name: 'k', type: 'STRING' }]);
    await createStreamTable(h.sdk, 'mlater', [{ name: 'k', type: 'STRING' }]);
    await createStreamTable(h.sdk, 'clater', [{ name: 'k', type: 'STRING' }]);
    const base = h.config().tables[0]!;
    const orders = { table: base.table, tunnel: base.tunnel, mode: base.mode, path: base.path, columns: base.columns };
    await h.start({ config: h.config({ tables: [orders, { table: 'later' }, { table: 'mlater', mode: 'mirror' }, { table: 'clater' }] }), untilIdle: true })
      .done;

    const changed = h.config({
      tables: [
        orders,
        { table: 'later', select: { rename: { k: 'key' } } },
        { table: 'mlater', mode: 'mirror', metadataPrefix: 'otslake_' },
        { table: 'clater', metadataPrefix: 'otslake_' },
      ],
    });
    const { daemon, stop } = h.start({ config: changed });
    const stopped = new Map<string, OtslakeError>();
    await waitForEventWhere<[string, OtslakeError]>(
      daemon,
      'table-stopped',
      (table, err) => {
        stopped.set(table, err);
        return stopped.size === 3;
      },
      30_000,
    );
    expect(stopped.get('later')?.code).toBe('OTSL_TABLE_COLUMN_CONFLICT');
    expect(stopped.get('later')?.message).toContain('primary-key column "key" is not a column of the Delta table');
    expect(stopped.get('mlater')?.code).toBe('OTSL_TABLE_COLUMN_CONFLICT');
    expect(stopped.get('mlater')?.message).toContain('has no otslake_ts, otslake_seq columns');
    expect(stopped.get('clater')?.code).toBe('OTSL_TABLE_COLUMN_CONFLICT');
    expect(stopped.get('clater')?.message).toContain('the changelog table at clater has no otslake_ts, otslake_seq columns');
    await h.putRow(1, 'o1', 1);
    await waitForLakeRows([daemon], h.tablePath, 1, 30_000);
    expect(daemon.state).toBe('running');
    await stop();
  }, 90_000);
});
