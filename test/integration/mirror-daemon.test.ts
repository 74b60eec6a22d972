/**
 * Mode mirror end to end: a seeded random workload through the official SDK (inserts, partial
 * updates, column deletes, row deletes, a value of the wrong type) over two partitions and a split,
 * landed by the in-process daemon (real worker threads, local lake, CDF on) that is destroyed at
 * random instants — often while a batch is in flight — and restarted. At the end:
 *   - chdb's read of the mirror table equals the source read with GetRange through the SDK;
 *   - replaying the Change Data Feed files version by version gives, at every version, what chdb
 *     reads at that version (and the preimages/deletes are exactly the rows before);
 *   - the layout holds (tags on every file), staging is gone for every committed batch, and the
 *     type conflict landed in its companion column and was counted.
 */
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeActions, type Add, type Cdc } from '../../lake/actions.js';
import { commitKey } from '../../lake/log-path.js';
import { filesByBucket } from '../../lake/mirror/layout.js';
import { loadSnapshot, readCommitInfos } from '../../lake/snapshot.js';
import { openStore } from '../../lake/store.js';
import { collectTableStatus, renderTableStatus } from '../../pipeline/table-status.js';
import { deltaSql, runChdb } from '../helpers/chdb.js';
import { createHarness, TABLE, waitForEvent, type Harness } from '../helpers/daemon-harness.js';
import { tablestoreSdk as TS } from '../helpers/emulator.js';
import { seededRandom as seeded } from '../helpers/seeded-random.js';

interface SdkRange {
  getRange(params: Record<string, unknown>): Promise<{
    rows: { primaryKey: { name: string; value: unknown }[]; attributes: { columnName: string; columnValue: unknown }[] }[];
    nextStartPrimaryKey: unknown;
  }>;
}
const SDK = createRequire(import.meta.url)('tablestore') as { Direction: { FORWARD: unknown }; INF_MIN: unknown; INF_MAX: unknown };

/** A mirror row in comparable form: the attribute and its type-conflict companion kept apart. */
interface Row {
  id: number;
  name: string | null;
  qty: number | null;
  qty__string: string | null;
}

let h: Harness | undefined;

afterEach(async () => {
  await h?.close();
  h = undefined;
});

function numberOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint' || typeof v === 'string') return Number(v);
  return (v as { toNumber(): number }).toNumber();
}

const byId = (a: Row, b: Row) => a.id - b.id;

/** The source table's state, read through the official SDK. */
async function readSource(harness: Harness): Promise<Row[]> {
  const sdk = harness.sdk as unknown as SdkRange;
  const out: Row[] = [];
  let start: unknown = [{ id: SDK.INF_MIN }];
  while (start) {
    const page = await sdk.getRange({
      tableName: TABLE,
      direction: SDK.Direction.FORWARD,
      inclusiveStartPrimaryKey: start,
      exclusiveEndPrimaryKey: [{ id: SDK.INF_MAX }],
      limit: 1000,
    });
    for (const r of page.rows) {
      const row: Row = { id: numberOf(r.primaryKey[0]!.value), name: null, qty: null, qty__string: null };
      for (const a of r.attributes) {
        if (a.columnName === 'name') row.name = a.columnValue as string;
        else if (a.columnName === 'qty') {
          if (typeof a.columnValue === 'string') row.qty__string = a.columnValue;
          else row.qty = numberOf(a.columnValue);
        }
      }
      out.push(row);
    }
    start = page.nextStartPrimaryKey;
  }
  return out.sort(byId);
}

function rowOf(r: Record<string, unknown>): Row {
  return {
    id: numberOf(r.id),
    name: (r.name as string | null | undefined) ?? null,
    qty: r.qty === null || r.qty === undefined ? null : numberOf(r.qty),
    qty__string: (r.qty__string as string | null | undefined) ?? null,
  };
}

/** Random writes over ids 1..60: puts, partial updates, column deletes, row deletes. */
async function randomWrites(harness: Harness, random: () => number, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    const id = 1 + Math.floor(random() * 60);
    const roll = random();
    if (roll < 0.35) await harness.putRow(id, `n${Math.floor(random() * 1000)}`, Math.floor(random() * 1e6));
    else if (roll < 0.6) await harness.updateRow(id, random() < 0.5 ? { name: `u${i}` } : { qty: i * 7 });
    else if (roll < 0.7) await harness.updateRow(id, { qty: i }, ['name']);
    else if (roll < 0.82) await harness.updateRow(id, {}, [random() < 0.5 ? 'name' : 'qty']);
    else await harness.deleteRow(id);
  }
}

/** Old versions may predate the companion column: they are read with `*` and mapped. */
const SQL_COLUMNS = 'id, name, qty, qty__string';

describe('daemon: mode mirror', () => {
  it('equals the source after random writes, a split and crashes; CDF replays every version', async () => {
    const seed = Number(process.env.OTSLAKE_MIRROR_SEED ?? 5);
    const random = seeded(seed);
    h = await createHarness({ partitions: 2, pageRecords: 8 });
    const config = h.config({
      tables: [
        {
          table: TABLE,
          tunnel: { name: 'otslake-orders', type: 'BaseAndStream' },
          mode: 'mirror',
          path: 'orders',
          columns: [{ name: 'name', type: 'STRING' }],
          changeDataFeed: true,
          typeConflictPolicy: 'companion',
          mirror: { buckets: 4, targetFileSize: '1KiB' },
        },
      ],
      lake: { uri: pathToFileURL(h.lake.path).href, checkpointInterval: 5 },
      maintenance: { vacuum: { enabled: false } },
    });
    const crashAfterCommit = async (daemon: ReturnType<Harness['start']>) => {
      await waitForEvent(daemon.daemon, 'batch-committed', 20_000);
      // destroy() a few ms after a commit: the next batch is usually in flight (reading, merging or committing).
      await new Promise((resolve) => setTimeout(resolve, Math.floor(random() * 40)));
      daemon.daemon.destroy();
      await daemon.done.catch(() => undefined);
      // The destroyed client cannot release its channels; expire it as its heartbeat timeout would.
      await h!.emu.emulator.tunnel.sweepExpiredClients(Date.now() + 3_600_000);
    };

    // Full snapshot of 40 random writes, crash mid-way through it.
    await randomWrites(h, random, 40);
    const first = h.start({ config });
    await crashAfterCommit(first);

    // Stream: more writes, a value of the wrong type, crash again.
    const second = h.start({ config });
    await waitForEvent(second.daemon, 'table-ready');
    await randomWrites(h, random, 40);
    await h.sdk.putRow({
      tableName: TABLE,
      condition: new TS.Condition(TS.RowExistenceExpectation.IGNORE, null),
      primaryKey: [{ id: TS.Long.fromNumber(31) }],
      attributeColumns: [{ name: 'typed' }, { qty: 'not-a-number' }],
    });
    await crashAfterCommit(second);

    // A split mid-stream, writes on both sides of it, and one more crash.
    const third = h.start({ config });
    await waitForEvent(third.daemon, 'table-ready');
    const [parent] = h.emu.emulator.store.partitions(TABLE);
    await randomWrites(h, random, 20);
    h.emu.emulator.split(TABLE, parent!.id);
    await randomWrites(h, random, 30);
    await crashAfterCommit(third);

    const last = h.start({ config });
    await waitForEvent(last.daemon, 'table-ready');
    await randomWrites(h, random, 20);
    await h.sdk.updateRow({
      tableName: TABLE,
      condition: new TS.Condition(TS.RowExistenceExpectation.IGNORE, null),
      primaryKey: [{ id: TS.Long.fromNumber(32) }],
      updateOfAttributeColumns: [{ PUT: [{ qty: 'seven' }] }],
    });
    await waitForEvent(last.daemon, 'idle', 30_000);
    const status = last.daemon.status() as { tables: { typeConflicts: { column: string; policy: string; count: number }[]; mode: string }[] };
    const metrics = last.daemon.metrics.render();
    await last.stop();

    const source = await readSource(h);
    expect(source.some((r) => r.qty__string !== null)).toBe(true);
    expect(source.length).toBeGreaterThan(5);

    const store = openStore(pathToFileURL(h.tablePath).href);
    const snapshot = await loadSnapshot(store);
    const versions = Array.from({ length: snapshot.version }, (_, i) => i + 1);
    const outcomes = await runChdb([
      deltaSql(h.tablePath, { select: SQL_COLUMNS, orderBy: 'id' }),
      ...versions.map((v) => deltaSql(h!.tablePath, { version: v, orderBy: 'id' })),
      ...versions.map((v) => deltaSql(h!.tablePath, { changes: { from: v, to: v } })),
    ]);
    const results = outcomes.map((o, i) => {
      if (!o.ok) throw new Error(`chdb query ${i}: ${o.error}`);
      return o.rows;
    });
    const [latest, ...atVersion] = results.slice(0, versions.length + 1).map((rows) => rows.map(rowOf));
    const changesAt = results.slice(versions.length + 1);
    expect(latest).toEqual(source);

    // CDF, as chdb's change feed (delta-kernel table_changes) reads it: replayed version by version onto the
    // previous state, it must give chdb's read of that version.
    let state = new Map<number, Row>();
    let cdfVersions = 0;
    for (const v of versions) {
      const actions = decodeActions(await store.get(commitKey(v)), v);
      const cdcs = actions.filter((a): a is { cdc: Cdc } => 'cdc' in a).map((a) => a.cdc);
      const dataChanged = actions.some((a) => ('add' in a && a.add.dataChange) || ('remove' in a && a.remove.dataChange));
      if (cdcs.length === 0) {
        expect(dataChanged, `version ${v} changed data without change data`).toBe(false);
        expect(changesAt[v - 1], `chdb's change feed of version ${v}`).toEqual([]);
      } else {
        cdfVersions++;
        expect(cdcs.every((c) => c.path.startsWith('_change_data/'))).toBe(true);
        const next = new Map(state);
        const changes = changesAt[v - 1]!;
        expect(changes.every((raw) => String(raw._commit_version) === String(v))).toBe(true);
        for (const raw of changes) {
          const row = rowOf(raw);
          switch (raw._change_type) {
            case 'insert':
              expect(state.has(row.id), `v${v} insert of existing ${row.id}`).toBe(false);
              next.set(row.id, row);
              break;
            case 'delete':
            case 'update_preimage':
              expect(state.get(row.id), `v${v} ${String(raw._change_type)} of ${row.id}`).toEqual(row);
              if (raw._change_type === 'delete') next.delete(row.id);
              break;
            case 'update_postimage':
              next.set(row.id, row);
              break;
            default:
              throw new Error(`unexpected _change_type ${String(raw._change_type)}`);
          }
        }
        state = next;
      }
      expect([...state.values()].sort(byId), `state at version ${v}`).toEqual(atVersion[v - 1]);
    }
    expect(cdfVersions).toBeGreaterThan(3);
    if (process.env.OTSLAKE_DEBUG)
      console.log(
        JSON.stringify({
          versions: versions.length,
          cdfVersions,
          rows: source.length,
          files: snapshot.files.size,
          lives: [first, second, third].map((d) => d.states),
        }),
      );

    // Layout: every live file carries its bucket and key range (filesByBucket throws otherwise), no overlaps.
    const byBucket = filesByBucket(snapshot.files.values() as Iterable<Add>, 4);
    expect([...byBucket.values()].flat().length).toBe(snapshot.files.size);
    expect(snapshot.protocol).toEqual({ minReaderVersion: 1, minWriterVersion: 4 });
    // Staging of every committed batch was deleted (crashed batches may leave theirs for vacuum).
    const committedBatches = new Set((await readCommitInfos(store, 1)).map((c) => (c.commitInfo?.otslake as { batchId?: string } | undefined)?.batchId));
    const staged = new Set((await store.list('_otslake/staging/')).map((o) => o.key.split('/')[2]));
    for (const b of staged) expect(committedBatches.has(b)).toBe(false);

    // The type conflict: counted under its policy, in the status and the metrics.
    expect(status.tables[0]!.mode).toBe('mirror');
    expect(status.tables[0]!.typeConflicts).toContainEqual({ column: 'qty', policy: 'companion', count: expect.any(Number) as number });
    expect(metrics).toMatch(/otslake_type_conflicts_total\{table="orders",column="qty",policy="companion"\} [1-9]/);
    expect(metrics).toMatch(/otslake_mirror_rows_total\{table="orders",change="insert"\} [1-9]/);
    // `otslake status` (read from the outside): the mode, CDF, the policy and the companion column it created.
    const outside = await collectTableStatus(config.tables[0]!, openStore(pathToFileURL(h.lake.path).href), h.emu.tunnelClient());
    expect(outside.lake).toMatchObject({ mode: 'mirror', changeDataFeed: true, version: snapshot.version });
    expect(outside.typeConflicts).toEqual({ policy: 'companion', companionColumns: ['qty__string'] });
    expect(renderTableStatus(outside)).toContain('type conflicts: policy companion; companion columns: qty__string');
    await store.close?.();
  }, 120_000);
});
