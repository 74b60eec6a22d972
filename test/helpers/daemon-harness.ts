/**
 * What the daemon integration tests share: tablestore-local on port 0 with an `orders` table
 * (written through the official SDK), a temp lake directory, configs built by testConfig(), daemons
 * built by buildDaemon() with real worker threads, event waits with timeouts, and the lake read back
 * by chdb (an independent Delta reader).
 */
import { once, type EventEmitter } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ResolvedConfig } from '../../config/load.js';
import { loadSnapshot, parseStats } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { testConfig } from './test-config.js';
import type { Daemon } from '../../daemon/daemon.js';
import { buildDaemon, type BuildDaemonOptions } from '../../daemon/main.js';
import { readDeltaTable } from './chdb.js';
import { createStreamTable, startTestEmulator, tablestoreSdk as TS, type TablestoreSdkClient, type TestEmulator } from './emulator.js';
import { createTmpDir, type TmpDir } from './tmp-dir.js';

export const TABLE = 'orders';
const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);
const pk = (id: number) => [{ id: TS.Long.fromNumber(id) }];

/** One change as the SDK made it, in the shape of a changelog row. */
export interface Change {
  id: number;
  op: 'PUT' | 'UPDATE' | 'DELETE';
  name: string | null;
  qty: number | null;
  deleted: string[];
}

export interface RunningDaemon {
  daemon: Daemon;
  /** Every state the daemon went through, recorded from before run(). */
  states: string[];
  done: Promise<void>;
  stop(): Promise<void>;
}

export interface Harness {
  emu: TestEmulator;
  sdk: TablestoreSdkClient;
  lake: TmpDir;
  tablePath: string;
  config(overrides?: Record<string, unknown>): ResolvedConfig;
  /**
   * Writes `config` as the file `otslake.json` for an `otslake` process (its source is this emulator with
   * its credentials, under the keys `config.source` gives) and returns its path.
   */
  writeConfigFile(config: { source?: Record<string, unknown>; [key: string]: unknown }): Promise<string>;
  start(options?: BuildDaemonOptions & { config?: ResolvedConfig }): RunningDaemon;
  putRow(id: number, name: string, qty: number): Promise<Change>;
  updateRow(id: number, put: { name?: string; qty?: number }, deleteAll?: string[]): Promise<Change>;
  deleteRow(id: number): Promise<Change>;
  close(): Promise<void>;
}

export interface HarnessOptions {
  partitions?: number;
  tunnelType?: string;
  /** Records per ReadRecords page (small pages make a table take several batches). */
  pageRecords?: number;
}

export async function createHarness(options: HarnessOptions = {}): Promise<Harness> {
  const emu = await startTestEmulator({
    partitionsPerTable: options.partitions ?? 2,
    ...(options.pageRecords !== undefined ? { tunnel: { readMaxRecords: options.pageRecords } } : {}),
  });
  const sdk = emu.sdkClient();
  await createStreamTable(sdk, TABLE, [{ name: 'id', type: 'INTEGER' }]);
  const lake = await createTmpDir('otslake-daemon-lake-');
  const running: RunningDaemon[] = [];
  const base = {
    source: { endpoint: emu.endpoint, instance: emu.instance, accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret, requestTimeoutMs: '10s' },
    lake: { uri: pathToFileURL(lake.path).href },
    tables: [
      {
        table: TABLE,
        tunnel: { name: 'otslake-orders', type: options.tunnelType ?? 'BaseAndStream' },
        mode: 'changelog',
        path: 'orders',
        columns: [{ name: 'name', type: 'STRING' }],
      },
    ],
    batch: { intervalMs: 100, maxDurationMs: 2_000, ...(options.pageRecords !== undefined ? { maxRecordsPerChannel: options.pageRecords } : {}) },
    workers: { threads: 2 },
    shutdown: { graceMs: '10s' },
  };
  const h: Harness = {
    emu,
    sdk,
    lake,
    tablePath: join(lake.path, 'orders'),
    config: (overrides = {}) => testConfig({ ...base, ...overrides }),
    async writeConfigFile({ source, ...rest }) {
      const path = join(lake.path, 'otslake.json');
      const credentials = { endpoint: emu.endpoint, instance: emu.instance, accessKeyId: emu.accessKeyId, accessKeySecret: emu.accessKeySecret };
      await writeFile(path, JSON.stringify({ source: { ...credentials, ...source }, ...rest }));
      return path;
    },
    start(opts = {}) {
      const { daemon } = buildDaemon(opts.config ?? h.config(), { http: false, ...opts });
      const states: string[] = [];
      daemon.on('state', (state) => states.push(state));
      const done = daemon.run();
      done.catch(() => undefined);
      const r: RunningDaemon = {
        daemon,
        states,
        done,
        stop: async () => {
          daemon.shutdown('test');
          await done;
        },
      };
      running.push(r);
      return r;
    },
    async putRow(id, name, qty) {
      await sdk.putRow({ tableName: TABLE, condition: IGNORE(), primaryKey: pk(id), attributeColumns: [{ name }, { qty: TS.Long.fromNumber(qty) }] });
      return { id, op: 'PUT', name, qty, deleted: [] };
    },
    async updateRow(id, put, deleteAll = []) {
      const cols: Record<string, unknown>[] = [];
      if (put.name !== undefined) cols.push({ name: put.name });
      if (put.qty !== undefined) cols.push({ qty: TS.Long.fromNumber(put.qty) });
      const ops: Record<string, unknown>[] = [];
      if (cols.length > 0) ops.push({ PUT: cols });
      if (deleteAll.length > 0) ops.push({ DELETE_ALL: deleteAll });
      await sdk.updateRow({ tableName: TABLE, condition: IGNORE(), primaryKey: pk(id), updateOfAttributeColumns: ops });
      return { id, op: 'UPDATE', name: put.name ?? null, qty: put.qty ?? null, deleted: [...deleteAll].sort() };
    },
    async deleteRow(id) {
      await sdk.deleteRow({ tableName: TABLE, condition: IGNORE(), primaryKey: pk(id) });
      return { id, op: 'DELETE', name: null, qty: null, deleted: [] };
    },
    async close() {
      for (const r of running) {
        r.daemon.destroy();
        await r.done.catch(() => undefined);
      }
      await emu.close();
      await lake.cleanup();
    },
  };
  return h;
}

/** Sum of numRecords over the live files: cheap progress checks without a Parquet reader. */
export async function lakeRowCount(tablePath: string): Promise<number> {
  try {
    const snapshot = await loadSnapshot(openStore(pathToFileURL(tablePath).href));
    let n = 0;
    for (const add of snapshot.files.values()) n += parseStats(add)?.numRecords ?? 0;
    return n;
  } catch {
    return 0;
  }
}

/** Waits (on the daemons' batch events, never a timer) until the lake holds `rows` rows. */
export async function waitForLakeRows(daemons: readonly Daemon[], tablePath: string, rows: number, timeoutMs = 15_000): Promise<void> {
  const deadline = AbortSignal.timeout(timeoutMs);
  for (;;) {
    if ((await lakeRowCount(tablePath)) >= rows) return;
    if (deadline.aborted) throw new Error(`lake did not reach ${rows} rows within ${timeoutMs} ms (has ${await lakeRowCount(tablePath)})`);
    await Promise.race(daemons.map((d) => once(d, 'batch', { signal: deadline }).catch(() => undefined)));
  }
}

/** Resolves with the event's arguments; rejects after `timeoutMs` naming the event. */
export async function waitForEvent<T extends unknown[]>(emitter: EventEmitter, event: string, timeoutMs = 15_000): Promise<T> {
  try {
    return (await once(emitter, event, { signal: AbortSignal.timeout(timeoutMs) })) as T;
  } catch (err) {
    throw new Error(`no '${event}' event within ${timeoutMs} ms`, { cause: err });
  }
}

/** The first `event` whose arguments satisfy `accept`, registered before the caller's next await. */
export function waitForEventWhere<T extends unknown[]>(emitter: EventEmitter, event: string, accept: (...args: T) => boolean, timeoutMs = 15_000): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const listener = (...args: unknown[]): void => {
      if (!accept(...(args as T))) return;
      clearTimeout(timer);
      emitter.off(event, listener);
      resolve(args as T);
    };
    const timer = setTimeout(() => {
      emitter.off(event, listener);
      reject(new Error(`no matching '${event}' event within ${timeoutMs} ms`));
    }, timeoutMs);
    emitter.on(event, listener);
  });
}

export interface LakeRow {
  id: number;
  op: string;
  name: string | null;
  qty: number | null;
  deleted: string[];
  seq: string | null;
  channel: string;
}

/** The columns and order of a changelog read for lakeRowOf. */
export const CHANGELOG_SELECT = 'id, _op, name, qty, _deleted_columns, _seq, _channel';
export const CHANGELOG_ORDER = '_channel, _seq, id';

/** One row of a chdb read of the orders changelog (CHANGELOG_SELECT), in a comparable shape. */
export function lakeRowOf(r: Record<string, unknown>): LakeRow {
  return {
    id: Number(r.id),
    op: String(r._op),
    name: (r.name as string | null) ?? null,
    qty: r.qty === null || r.qty === undefined ? null : Number(r.qty),
    deleted: [...((r._deleted_columns as string[] | null) ?? [])].sort(),
    seq: (r._seq as string | null) ?? null,
    channel: String(r._channel),
  };
}

/** The changelog as chdb reads it, in a comparable shape. */
export async function readChangelog(tablePath: string): Promise<LakeRow[]> {
  return (await readDeltaTable(tablePath, { select: CHANGELOG_SELECT, orderBy: CHANGELOG_ORDER })).map(lakeRowOf);
}

/** Rows reduced to the changes they record, sorted, for an order-free comparison with what the SDK did. */
export function asChanges(rows: readonly LakeRow[]): Change[] {
  return sortChanges(rows.map((r) => ({ id: r.id, op: r.op as Change['op'], name: r.name, qty: r.qty, deleted: r.deleted })));
}

export function sortChanges(changes: readonly Change[]): Change[] {
  const key = (c: Change) => JSON.stringify([c.id, c.op, c.name, c.qty, c.deleted]);
  return [...changes].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}
