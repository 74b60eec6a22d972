/**
 * Fault probe of the reused buffers of the channel task (docs/parquet.md: RecordPage, builders' buffer pool).
 *
 * The transport hands a ReadRecords page's body back for the next response once the task calls
 * `page.release()`, and a closing Parquet writer hands its builders' buffers to the next writer of the same
 * column on the thread. Whatever still reads a view of them afterwards (a dead letter's bytes, a staged
 * conflict value, a mirror key, string bounds kept as ranges, a name cache) would land silently wrong data.
 *
 * Here every released page body is overwritten with 0xEE at once and every pooled builder buffer is
 * overwritten with garbage as it is handed back — the worst a later response or writer could do — and the
 * task's whole output (rows read back from the files, file stats, dead letters, buckets, counts) must equal
 * the output of the same task with no reuse at all (pages never given back, builders never pooled).
 * Tasks also run two at once on one TunnelClient and one builder pool (tasksPerThread > 1), and on a
 * real worker thread with two tasks per thread.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { readParquetRows } from '../../lake/parquet-read.js';
import type { RecordPage } from '../../tunnel/read-records-wire.js';
import { TunnelType } from '../../tunnel/proto.js';
import type { TunnelClient } from '../../tunnel/tunnel-client.js';
import type { TunnelSession } from '../../tunnel/tunnel-session.js';
import { createWorkerPool } from '../../workers/pool.js';
import { type ChannelTaskInput, type ChannelTaskOk, type ChannelTaskResult, type WorkerSetup } from '../../workers/protocol.js';
import type { WorkerResources } from '../../workers/worker-setup.js';
import { channelTaskInput, startChannelTaskWorld, type ChannelTaskWorld } from '../helpers/channel-task-input.js';
import { createStreamTable, tablestoreSdk as TS, type TablestoreSdkClient, type TestEmulator } from '../helpers/emulator.js';
import type { TmpDir } from '../helpers/tmp-dir.js';

const IGNORE = () => new TS.Condition(TS.RowExistenceExpectation.IGNORE, null);

let world: ChannelTaskWorld | undefined;
let sdk: TablestoreSdkClient;
let emu: TestEmulator;
let lake: TmpDir;
let setup: WorkerSetup;
let resources: WorkerResources;

beforeAll(async () => {
  // 5 records per page: every task spans many pages, each released while the next is in flight. Row groups of
  // 7 rows: builders reset and refill many times, nulls come and go between row groups.
  world = await startChannelTaskWorld({ readMaxRecords: 5, rowGroupRows: 7, lakePrefix: 'otslake-reuse-probe-' });
  ({ emu, sdk, lake, setup, resources } = world);
});

afterAll(() => world?.close());

type Mode = 'no-reuse' | 'poisoned';
type ReadChannel = typeof import('../../workers/channel-task.js').readChannel;

/**
 * The channel task with fresh module state, as a new worker thread has it: its own decoder (an empty name
 * cache) and builder pool, so nothing cached by an earlier run hides what this one does. Builders are never
 * pooled (no-reuse), or their pooled buffers are overwritten with garbage as they are handed back (poisoned).
 */
async function freshTask(mode: Mode): Promise<ReadChannel> {
  vi.resetModules();
  const { readChannel } = await import('../../workers/channel-task.js');
  const { builderBuffers } = await import('../../lake/column-builder-base.js');
  if (mode === 'no-reuse') {
    builderBuffers.take = ((_key: string, ctor: new (n: number) => unknown, length: number) => new ctor(length)) as typeof builderBuffers.take;
    builderBuffers.give = () => undefined;
  } else {
    const give = builderBuffers.give.bind(builderBuffers);
    builderBuffers.give = (key, buf) => {
      const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
      // Every byte, offsets[0] too: a builder sets what it relies on when it takes a pooled buffer.
      bytes.fill(0xa5);
      give(key, buf);
    };
  }
  return readChannel;
}

/** The thread's client, whose pages are never given back (no-reuse) or are overwritten with 0xEE as they are released (poisoned). */
function probeResources(mode: Mode): WorkerResources {
  const real = resources.tunnelClient();
  const client = {
    readRecordPage: async (...args: Parameters<TunnelClient['readRecordPage']>): Promise<RecordPage> => {
      const page = await real.readRecordPage(...args);
      const release = page.release.bind(page);
      page.release = () => {
        if (mode === 'no-reuse') return;
        page.body.fill(0xee);
        release();
      };
      return page;
    },
  } as unknown as TunnelClient;
  return { ...resources, tunnelClient: () => client, tableStore: (p) => resources.tableStore(p) } as WorkerResources;
}

function ok(result: ChannelTaskResult): ChannelTaskOk {
  if (result.kind !== 'ok') throw new Error(`task failed: ${result.error.code} ${result.error.message}`);
  return result;
}

/** Per-file stats merged over a task's files: what does not depend on where the files were cut (that follows the encoder's timing). */
function mergedStats(files: ChannelTaskOk['files']): Record<string, unknown> {
  const less = (a: unknown, b: unknown) => (a as number | bigint | string) < (b as number | bigint | string);
  const min: Record<string, unknown> = {};
  const max: Record<string, unknown> = {};
  const nullCount: Record<string, number> = {};
  let numRecords = 0;
  for (const f of files) {
    const s = f.stats as unknown as {
      numRecords: number;
      minValues?: Record<string, unknown>;
      maxValues?: Record<string, unknown>;
      nullCount?: Record<string, number>;
    };
    numRecords += s.numRecords;
    for (const [k, v] of Object.entries(s.minValues ?? {})) if (!(k in min) || less(v, min[k])) min[k] = v;
    for (const [k, v] of Object.entries(s.maxValues ?? {})) if (!(k in max) || less(max[k], v)) max[k] = v;
    for (const [k, v] of Object.entries(s.nullCount ?? {})) nullCount[k] = (nullCount[k] ?? 0) + v;
  }
  return { numRecords, min, max, nullCount };
}

/** Everything a task produced that does not depend on when or where it ran. */
async function outputOf(tablePath: string, result: ChannelTaskOk): Promise<Record<string, unknown>> {
  const rows: Array<Record<string, unknown>> = [];
  for (const f of result.files) {
    const fileRows = await readParquetRows(new Uint8Array(await readFile(join(lake.path, tablePath, f.path))), { file: f.path });
    expect(fileRows).toHaveLength(f.numRecords);
    for (const r of fileRows) rows.push({ ...r, _deleted_columns: r._deleted_columns ?? null, $partition: f.partitionValues });
  }
  // Each change has its own _seq: the rows in change order, whichever file they went to.
  rows.sort((a, b) => String(a._seq).localeCompare(String(b._seq)));
  const deadLetters = [];
  for (const d of result.deadLetters) {
    deadLetters.push({ rows: d.rows, reasons: d.reasons, lines: (await readFile(join(lake.path, tablePath, d.path), 'utf8')).trimEnd().split('\n') });
  }
  const { durationMs: _d, bytesWritten: _b, ...stats } = result.stats;
  return {
    rows,
    fileStats: mergedStats(result.files),
    deadLetters,
    stats,
    endToken: result.endToken,
    newColumns: result.newColumns,
    lastSequence: result.lastSequence,
    touchedBuckets: result.touchedBuckets,
    typeConflicts: result.typeConflicts,
  };
}

/** A stream table with a bit of everything: long strings, non-ASCII, binary, doubles, booleans, nulls, updates, deletes, type conflicts, a late column. */
async function seedVariedTable(
  table: string,
  rows: number,
  salt: number,
): Promise<{ tunnelId: string; session: TunnelSession; channelId: string; token: string }> {
  await createStreamTable(sdk, table, [{ name: 'id', type: 'INTEGER' }]);
  const { tunnelId, session } = await world!.ownTunnel(table, TunnelType.Stream, 'probe');
  const pk = (i: number) => [{ id: TS.Long.fromNumber(i) }];
  for (let i = 0; i < rows; i++) {
    const cols: Array<Record<string, unknown>> = [];
    const s = i % 7 === 0 ? `long-${'é'.repeat(80 + ((i * salt) % 50))}-${i}` : `s${(i * 37 + salt) % 101}`;
    if (i % 5 !== 1) cols.push({ s });
    if (i % 4 !== 2) cols.push({ n: TS.Long.fromNumber(((i * 7919 + salt) % 1000) - 500) });
    if (i % 3 !== 0) cols.push({ d: (i * 1.25 + salt) / 3 });
    if (i % 6 !== 4) cols.push({ f: i % 2 === 0 });
    cols.push({ b: Buffer.from(Array.from({ length: 1 + ((i * salt) % 40) }, (_, k) => (i * 31 + k * salt) & 0xff)) });
    cols.push({ p: `part${i % 3}` });
    // Type conflicts: a binary value in a string column, a string in a long column.
    if (i % 11 === 5) cols.push({ s: Buffer.from(`bin-in-string-${i}`) });
    if (i % 13 === 6) cols.push({ n: `not-a-long-${i}` });
    if (i === Math.floor(rows * 0.75)) cols.push({ late: `late-${salt}` });
    if (i % 17 === 9) cols.push({ big: 'x'.repeat(700) });
    await sdk.putRow({ tableName: table, condition: IGNORE(), primaryKey: pk(i), attributeColumns: cols });
    if (i % 9 === 8) {
      await sdk.updateRow({
        tableName: table,
        condition: IGNORE(),
        primaryKey: pk(i - 1),
        updateOfAttributeColumns: [{ PUT: [{ s: `upd-${i}` }] }, { DELETE_ALL: ['d', 'f'] }],
      });
    }
    if (i % 10 === 9) await sdk.deleteRow({ tableName: table, condition: IGNORE(), primaryKey: pk(i - 3) });
  }
  await session.start();
  const [channel] = session.ownedChannels();
  const { token } = await session.getStartToken(channel!.channelId);
  return { tunnelId, session, channelId: channel!.channelId, token };
}

interface Seeded {
  tunnelId: string;
  session: TunnelSession;
  channelId: string;
  token: string;
}

function inputOf(table: string, seeded: Seeded, tablePath: string, over: Partial<ChannelTaskInput>): ChannelTaskInput {
  return channelTaskInput({
    table,
    tablePath,
    tunnelId: seeded.tunnelId,
    channelId: seeded.channelId,
    startToken: seeded.token,
    clientId: seeded.session.clientId!,
    batchId: 'probe',
    columns: [
      { name: 'id', type: 'long' },
      { name: 's', type: 'string' },
      { name: 'n', type: 'long' },
      { name: 'p', type: 'string' },
    ],
    maxRowBytes: 600,
    // Small files: writers close (and pool their buffers) many times within a task.
    targetFileBytes: 2048,
    ...over,
  });
}

/** Runs the task with tamper of the first record (a corrupt-record dead letter) and returns its output. */
async function run(readChannel: ReadChannel, seeded: Seeded, input: ChannelTaskInput, mode: Mode): Promise<Record<string, unknown>> {
  emu.emulator.tunnel.tamper.corruptNext(seeded.channelId, 1);
  const result = ok(await readChannel(input, probeResources(mode)));
  return outputOf(input.tablePath, result);
}

const CASES: Array<[string, Partial<ChannelTaskInput>]> = [
  ['changelog, companion columns for conflicts, discovery on', { typeConflictPolicy: 'companion' }],
  ['changelog, conflicts as strings, partitioned by a string column', { typeConflictPolicy: 'string', partitionColumns: ['p'] }],
  ['changelog, conflicts dead-lettered, no discovery', { typeConflictPolicy: 'dead-letter', discoverColumns: false }],
  ['mirror staging with buckets', { mode: 'mirror', destination: 'staging', mirrorBuckets: 7, typeConflictPolicy: 'companion' }],
];

describe('page bodies and builder buffers overwritten as soon as they are handed back', () => {
  let seeded: Seeded;
  beforeAll(async () => {
    seeded = await seedVariedTable('probe', 90, 3);
  });

  it.each(CASES)('%s: the same output as with no reuse at all, on a fresh thread and on a warm one', async (name, over) => {
    const tag = name.replace(/[^a-z]+/g, '-');
    const expected = await run(await freshTask('no-reuse'), seeded, inputOf('probe', seeded, `ref-${tag}`, over), 'no-reuse');
    // The probe sees what it should: dead letters, rows.
    expect((expected.deadLetters as unknown[]).length).toBe(1);
    expect((expected.rows as unknown[]).length).toBeGreaterThan(10);
    const task = await freshTask('poisoned');
    // Twice on the same thread: the second run starts with the first one's name cache and pooled buffers.
    expect(await run(task, seeded, inputOf('probe', seeded, `poisoned-${tag}`, over), 'poisoned')).toEqual(expected);
    expect(await run(task, seeded, inputOf('probe', seeded, `poisoned2-${tag}`, over), 'poisoned')).toEqual(expected);
  });

  it('two tasks of different tables at once on one client and one builder pool: each the same output as alone', async () => {
    const other = await seedVariedTable('probe2', 70, 11);
    const over: Partial<ChannelTaskInput> = { typeConflictPolicy: 'companion' };
    const expectedA = await run(await freshTask('no-reuse'), seeded, inputOf('probe', seeded, 'ref-a', over), 'no-reuse');
    const expectedB = await run(await freshTask('no-reuse'), other, inputOf('probe2', other, 'ref-b', over), 'no-reuse');
    const task = await freshTask('poisoned');
    for (let round = 0; round < 2; round++) {
      emu.emulator.tunnel.tamper.corruptNext(seeded.channelId, 1);
      emu.emulator.tunnel.tamper.corruptNext(other.channelId, 1);
      const [a, b] = await Promise.all([
        task(inputOf('probe', seeded, `both-${round}-a`, over), probeResources('poisoned')),
        task(inputOf('probe2', other, `both-${round}-b`, over), probeResources('poisoned')),
      ]);
      expect(await outputOf(`both-${round}-a`, ok(a))).toEqual(expectedA);
      expect(await outputOf(`both-${round}-b`, ok(b))).toEqual(expectedB);
    }
  });

  it('one channel read by two tasks at once (an abandoned task still running beside its retry): both the output of one alone', async () => {
    const over: Partial<ChannelTaskInput> = { typeConflictPolicy: 'string', partitionColumns: ['p'] };
    const reference = await freshTask('no-reuse');
    const expected = await outputOf('twice-ref', ok(await reference(inputOf('probe', seeded, 'twice-ref', over), probeResources('no-reuse'))));
    const task = await freshTask('poisoned');
    const [a, b] = await Promise.all([
      task(inputOf('probe', seeded, 'twice-a', over), probeResources('poisoned')),
      task(inputOf('probe', seeded, 'twice-b', over), probeResources('poisoned')),
    ]);
    expect(await outputOf('twice-a', ok(a))).toEqual(expected);
    expect(await outputOf('twice-b', ok(b))).toEqual(expected);
  });

  it('on a real worker thread running two tasks at once, tasks after tasks: each the same output as alone', async () => {
    const other = await seedVariedTable('probe3', 60, 5);
    const over: Partial<ChannelTaskInput> = { typeConflictPolicy: 'companion', partitionColumns: ['p'] };
    const expectedA = await run(await freshTask('no-reuse'), seeded, inputOf('probe', seeded, 'thr-ref-a', over), 'no-reuse');
    const expectedB = await run(await freshTask('no-reuse'), other, inputOf('probe3', other, 'thr-ref-b', over), 'no-reuse');
    const pool = createWorkerPool({ filename: new URL('../../workers/entry.ts', import.meta.url), threads: 1, tasksPerThread: 2, workerData: setup });
    try {
      for (let round = 0; round < 3; round++) {
        emu.emulator.tunnel.tamper.corruptNext(seeded.channelId, 1);
        emu.emulator.tunnel.tamper.corruptNext(other.channelId, 1);
        const [a, b] = await Promise.all([
          pool.run(inputOf('probe', seeded, `thr-${round}-a`, over)),
          pool.run(inputOf('probe3', other, `thr-${round}-b`, over)),
        ]);
        expect(await outputOf(`thr-${round}-a`, ok(a as ChannelTaskResult))).toEqual(expectedA);
        expect(await outputOf(`thr-${round}-b`, ok(b as ChannelTaskResult))).toEqual(expectedB);
      }
    } finally {
      await pool.close();
    }
  });
});
