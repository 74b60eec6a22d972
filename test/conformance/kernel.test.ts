/**
 * delta-kernel-rs tables: golden tables compared with their expected/ Parquet, checkpoints of every
 * kind checked against a JSON-only replay of the same log, txns, and the negative tables.
 */
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseStats, loadSnapshot, type Snapshot } from '../../lake/snapshot.js';
import { assertContentReadable } from '../../lake/table-features.js';
import { parseLogFile } from '../../lake/log-path.js';
import { LocalStore } from '../../lake/local-store.js';
import { ACTION_COLUMNS } from '../../lake/checkpoint-reader.js';
import { readParquetMetadata, readParquetRows, readRowsViaArrow, sparse, topLevelColumns } from '../../lake/parquet-read.js';
import { canonicalRows, readExpectedRows, readTableRows } from './table-content.js';
import { KERNEL_DATA, KERNEL_GOLDEN, makeTempDir, removeDir, unpackZst, zstdSkipReason } from './unpack.js';

/** The 1M-row parquet-decimal-* tables test a Parquet decoder, not the log; skipped to keep the suite fast. */
const GOLDEN_SKIPPED = new Set(['parquet-decimal-dictionaries', 'parquet-decimal-dictionaries-v2', 'parquet-decimal-type']);
/** Content reads we refuse, with the feature the error must name. */
const GOLDEN_REFUSED: Record<string, string> = {
  'data-reader-timestamp_ntz-id-mode': 'columnMapping',
  'data-reader-timestamp_ntz-name-mode': 'columnMapping',
  'data-skipping-basic-stats-all-types-columnmapping-id': 'columnMapping',
  'data-skipping-basic-stats-all-types-columnmapping-name': 'columnMapping',
  'dv-partitioned-with-checkpoint': 'deletionVectors',
  'dv-with-columnmapping': 'columnMapping',
  'log-replay-dv-key-cases': 'deletionVectors',
  'table-with-columnmapping-mode-id': 'columnMapping',
  'table-with-columnmapping-mode-name': 'columnMapping',
};
/** Timestamp partition values are written in the writer's zone; this table was written in US Pacific (PDT). */
const PARTITION_ZONE: Record<string, string> = { 'data-reader-partition-values': '-07:00' };

const NEGATIVE: Record<string, string> = {
  'deltalog-state-reconstruction-without-metadata': 'OTSL_LAKE_LOG_CORRUPT',
  'deltalog-state-reconstruction-without-protocol': 'OTSL_LAKE_LOG_CORRUPT',
  'deltalog-state-reconstruction-from-checkpoint-missing-metadata': 'OTSL_LAKE_LOG_CORRUPT',
  'deltalog-state-reconstruction-from-checkpoint-missing-protocol': 'OTSL_LAKE_LOG_CORRUPT',
  'versions-not-contiguous': 'OTSL_LAKE_LOG_CORRUPT',
  'deltalog-invalid-protocol-version': 'OTSL_LAKE_UNSUPPORTED_FEATURE',
  'no-delta-log-folder': 'OTSL_LAKE_NOT_A_TABLE',
};

const ARCHIVED_DATA = [
  'compacted-log-files-table',
  'v2-checkpoints-json-with-sidecars',
  'v2-checkpoints-parquet-with-sidecars',
  'v2-checkpoints-json-without-sidecars',
  'v2-checkpoints-parquet-without-sidecars',
  'v2-checkpoints-json-with-last-checkpoint',
  'v2-checkpoints-parquet-with-last-checkpoint',
  'v2-classic-checkpoint-json',
  'v2-classic-checkpoint-parquet',
  '300k-add-files-100-col-partitioned',
  'unshredded-variant',
];

async function codeOf(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

const skip = zstdSkipReason('delta-kernel-rs conformance (test/conformance/kernel.test.ts)');

describe.skipIf(skip)('delta-kernel-rs conformance', () => {
  let tmp: string;
  let golden: string;
  let data: string;
  const goldenNames = existsSync(KERNEL_GOLDEN)
    ? readdirSync(KERNEL_GOLDEN)
        .filter((n) => n.endsWith('.tar.zst'))
        .map((n) => n.slice(0, -8))
    : [];

  beforeAll(() => {
    tmp = makeTempDir('otsl-kernel-');
    golden = path.join(tmp, 'golden');
    data = path.join(tmp, 'data');
    mkdirSync(golden);
    mkdirSync(data);
    for (const name of goldenNames) if (!GOLDEN_SKIPPED.has(name)) unpackZst(KERNEL_GOLDEN, name, golden);
    for (const name of ARCHIVED_DATA) unpackZst(KERNEL_DATA, name, data);
  }, 60_000);
  afterAll(() => removeDir(tmp));

  const goldenTable = (name: string): LocalStore => new LocalStore(path.join(golden, name, 'delta'));
  const dataTable = (name: string): LocalStore => new LocalStore(path.join(data, name));

  it('golden tables: content equals expected/ for every table with expected output, or is refused naming the feature', async () => {
    let compared = 0;
    for (const name of goldenNames) {
      if (GOLDEN_SKIPPED.has(name) || !existsSync(path.join(golden, name, 'expected'))) continue;
      const table = goldenTable(name);
      const snapshot = await loadSnapshot(table);
      const refused = GOLDEN_REFUSED[name];
      if (refused) {
        expect(() => assertContentReadable(snapshot), name).toThrow(
          expect.objectContaining({ code: 'OTSL_LAKE_UNSUPPORTED_FEATURE', context: expect.objectContaining({ feature: refused }) }),
        );
        continue;
      }
      const actual = canonicalRows(await readTableRows(table, snapshot, PARTITION_ZONE[name]));
      const expected = canonicalRows(await readExpectedRows(new LocalStore(path.join(golden, name, 'expected')), ''));
      expect(actual, name).toEqual(expected);
      compared += 1;
    }
    expect(compared).toBeGreaterThanOrEqual(55);
  }, 60_000);

  it('negative golden tables fail with the right error code', async () => {
    for (const [name, code] of Object.entries(NEGATIVE)) {
      expect(await codeOf(loadSnapshot(goldenTable(name))), name).toBe(code);
    }
    const gap = (await loadSnapshot(goldenTable('versions-not-contiguous')).catch((e: unknown) => e)) as { context: { version: number } };
    expect(gap.context.version).toBe(1);
  });

  it('checkpoint kinds: classic, multi-part, V2 UUID json/parquet with sidecars, classic-named V2', async () => {
    const cases: [LocalStore, number, number][] = [
      [goldenTable('checkpoint'), 14, 10],
      [goldenTable('multi-part-checkpoint'), 1, 1],
      [goldenTable('v2-checkpoint-json'), 2, 2],
      [goldenTable('v2-checkpoint-parquet'), 2, 2],
      [goldenTable('only-checkpoint-files'), 2, 2],
      [goldenTable('corrupted-last-checkpoint-kernel'), 11, 10],
      [new LocalStore(path.join(KERNEL_DATA, 'with_checkpoint_no_last_checkpoint')), 3, 2],
      [new LocalStore(path.join(KERNEL_DATA, 'v1-multi-part-struct-stats-only')), 5, 5],
      [dataTable('v2-checkpoints-json-with-sidecars'), 6, 6],
      [dataTable('v2-checkpoints-parquet-with-sidecars'), 6, 6],
      [dataTable('v2-classic-checkpoint-json'), 1, 1],
      [dataTable('v2-classic-checkpoint-parquet'), 1, 1],
    ];
    for (const [store, version, checkpointVersion] of cases) {
      const s = await loadSnapshot(store);
      expect([s.version, s.checkpointVersion], store.rootDir).toEqual([version, checkpointVersion]);
    }
    expect((await loadSnapshot(dataTable('v2-checkpoints-json-with-sidecars'))).files.size).toBe(101);
  });

  it('a checkpoint yields the same files, stats and txns as replaying the JSON commits', async () => {
    const names = [
      'v1-single-part-struct-stats-only',
      'v1-multi-part-struct-stats-only',
      'v1-multi-part-partitioned-struct-stats-only',
      'v2-classic-parquet-struct-stats-only',
      'v2-json-sidecars-struct-stats-only',
      'v2-parquet-sidecars-struct-stats-only',
      'app-txn-checkpoint',
      'v2-checkpoints-parquet-with-sidecars',
      'v2-checkpoints-json-without-sidecars',
      'parsed-stats',
    ];
    for (const name of names) {
      const original = existsSync(path.join(data, name)) ? path.join(data, name) : path.join(KERNEL_DATA, name);
      const viaCheckpoint = await loadSnapshot(new LocalStore(original));
      expect(viaCheckpoint.checkpointVersion, name).not.toBeNull();
      const copy = path.join(tmp, `json-only-${name}`);
      cpSync(original, copy, {
        recursive: true,
        filter: (src) => {
          const f = parseLogFile(src);
          return !f || f.kind === 'commit';
        },
      });
      rmSync(path.join(copy, '_delta_log', '_last_checkpoint'), { force: true });
      const viaJson = await loadSnapshot(new LocalStore(copy));
      expect(viaJson.checkpointVersion, name).toBeNull();
      expect(summary(viaCheckpoint), name).toEqual(summary(viaJson));
    }
  });

  it('txns from commits and checkpoints, with and without lastUpdated', async () => {
    for (const name of ['app-txn-checkpoint', 'app-txn-no-checkpoint']) {
      const s = await loadSnapshot(new LocalStore(path.join(KERNEL_DATA, name)));
      expect(Object.fromEntries([...s.txns].map(([k, t]) => [k, t.version])), name).toEqual({ 'my-app': 3, 'my-app2': 2 });
    }
    const s = await loadSnapshot(new LocalStore(path.join(KERNEL_DATA, 'app-txn-with-last-updated')));
    expect([...s.txns.keys()]).toEqual(['new_app_0']);
    expect((await loadSnapshot(dataTable('v2-checkpoints-json-without-sidecars'))).txns.get('app-1')?.version).toBe(2);
  });

  it('schema, partition columns and URI-encoded paths', async () => {
    const s = await loadSnapshot(new LocalStore(path.join(KERNEL_DATA, 'app-txn-checkpoint')));
    expect(s.schema.fields.map((f) => [f.name, f.type])).toEqual([
      ['id', 'string'],
      ['value', 'integer'],
      ['modified', 'string'],
    ]);
    expect(s.metadata.partitionColumns).toEqual(['modified']);
    const v1 = await loadSnapshot(new LocalStore(path.join(KERNEL_DATA, 'v1-single-part-struct-stats-only')));
    expect([...v1.files.keys()].every((k) => k.startsWith('test%25file%25prefix-'))).toBe(true);
  });

  it('compacted log files are ignored and every version replays from the commits', async () => {
    const store = dataTable('compacted-log-files-table');
    const latest = await loadSnapshot(store);
    expect(latest.version).toBe(25);
    for (const version of [5, 10, 15]) expect((await loadSnapshot(store, { version })).version).toBe(version);
  });

  it('time travel across checkpoints and the variant/geo features', async () => {
    const cp = goldenTable('checkpoint');
    expect((await loadSnapshot(cp, { version: 5 })).checkpointVersion).toBeNull();
    expect((await loadSnapshot(cp, { version: 12 })).checkpointVersion).toBe(10);
    const variant = await loadSnapshot(dataTable('unshredded-variant'));
    expect(() => assertContentReadable(variant)).toThrow(expect.objectContaining({ context: expect.objectContaining({ feature: 'variantType-preview' }) }));
    await expect(loadSnapshot(new LocalStore(path.join(KERNEL_DATA, 'table-with-geo')))).rejects.toMatchObject({ code: 'OTSL_LAKE_UNSUPPORTED_FEATURE' });
  });

  it('checkpoints and sidecars of every writer decode through Arrow exactly as through hyparquet', async () => {
    const files = [golden, data].flatMap((root) =>
      (readdirSync(root, { recursive: true }) as string[])
        .filter((f) => f.endsWith('.parquet') && f.includes('_delta_log') && (f.includes('.checkpoint.') || f.includes('_sidecars')))
        .map((f) => path.join(root, f)),
    );
    const viaHyparquetOnly: string[] = [];
    for (const file of files) {
      const bytes = new Uint8Array(readFileSync(file));
      const present = new Set(topLevelColumns(readParquetMetadata(bytes)));
      const columns = ACTION_COLUMNS.filter((c) => present.has(c));
      const arrowRows = readRowsViaArrow(bytes, columns);
      if (arrowRows === null) viaHyparquetOnly.push(path.relative(tmp, file));
      // hyparquet leaves some null nested fields undefined: both mean null to the checkpoint reader.
      else expect(nullsUnified(arrowRows), file).toEqual(nullsUnified(sparse(await readParquetRows(bytes, { columns }))));
    }
    expect(files.length).toBeGreaterThan(30);
    expect(viaHyparquetOnly).toEqual([]);
  }, 60_000);

  it('loads the 300k-file partitioned log', async () => {
    const s = await loadSnapshot(dataTable('300k-add-files-100-col-partitioned'));
    expect(s.version).toBe(4);
    expect(s.files.size).toBe(300_000);
    expect(s.schema.fields).toHaveLength(100);
    expect(s.metadata.partitionColumns).toEqual(['partition_col']);
  }, 30_000);
});

function nullsUnified(value: unknown): unknown {
  if (value === undefined || value === null) return null;
  if (Array.isArray(value)) return value.map(nullsUnified);
  if (typeof value === 'object' && !(value instanceof Date)) return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, nullsUnified(v)]));
  return value;
}

function summary(s: Snapshot): unknown {
  return {
    version: s.version,
    protocol: s.protocol,
    metadataId: s.metadata.id,
    partitionColumns: s.metadata.partitionColumns,
    files: [...s.files].map(([k, a]) => [k, a.size, a.partitionValues, parseStats(a)?.numRecords ?? null, a.deletionVector?.cardinality ?? null]).sort(),
    txns: [...s.txns].map(([k, t]) => [k, t.version]).sort(),
  };
}
