/**
 * The builders' buffer pool (lake/column-builder-base.ts `builderBuffers`) under a worst-case previous owner:
 * every buffer handed back is overwritten with garbage at once, as a later writer would. Writers of the same
 * column names with other types, other nullability, longer and shorter row groups, streamed and one-call
 * files, each after the other on this thread, must write exactly what writers with no pool write: the
 * same rows read back and the same Delta stats (string min/max are kept as ranges of a builder's bytes
 * until folded).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builderBuffers } from '../../../lake/column-builder-base.js';
import type { ColumnSpec } from '../../../lake/parquet-columns.js';
import type { ColumnBuilder } from '../../../lake/column-builders.js';
import { ParquetFileWriter, writeParquetFiles, type WrittenFile } from '../../../lake/parquet-file.js';
import { readParquetRows } from '../../../lake/parquet-read.js';
import { FsStore } from '../../helpers/fs-store.js';

const realTake = builderBuffers.take.bind(builderBuffers);
const realGive = builderBuffers.give.bind(builderBuffers);

let dir: string;
let store: FsStore;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'otslake-builder-pool-'));
  store = new FsStore(dir);
});
afterEach(async () => {
  builderBuffers.take = realTake;
  builderBuffers.give = realGive;
  await rm(dir, { recursive: true, force: true });
});

function noPool(): void {
  builderBuffers.take = ((_k: string, ctor: new (n: number) => unknown, n: number) => new ctor(n)) as typeof builderBuffers.take;
  builderBuffers.give = () => undefined;
}

function poisonedPool(): void {
  builderBuffers.take = realTake;
  builderBuffers.give = (key, buf) => {
    // Offsets start at 0 by construction (every offsets buffer pooled had offset[0] = 0): keep that word.
    new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength).fill(0xc3, key.endsWith('\0offsets') ? 4 : 0);
    realGive(key, buf);
  };
}

type Kind = ColumnSpec['type'];
const NAMES = ['a', 'b', 'c', 'd', 'e', 'f'];

/** A value of `type` for row i of writer w (nulls where `nulls(i)`). */
function valueOf(type: Kind, i: number, w: number, nulls: (i: number) => boolean): unknown {
  if (nulls(i)) return null;
  switch (type) {
    case 'long':
    case 'timestamp':
      return BigInt((i * 7919 + w * 104729) % 100_003) - 50_000n;
    case 'double':
      return ((i * 31 + w) % 997) / 7;
    case 'boolean':
      return (i + w) % 3 === 0;
    case 'string':
      return i % 5 === 0 ? `${'z'.repeat(150 + (i % 40))}-${w}-${i}` : `s${w}-${(i * 37) % 211}-é`;
    case 'binary':
      return Uint8Array.from({ length: 1 + ((i + w) % 30) }, (_, k) => (i * 13 + k + w) & 0xff);
    case 'array<string>':
      return i % 4 === 0 ? [] : [`x${i}`, `y${w}`];
  }
}

interface WriterPlan {
  types: Kind[];
  rows: number;
  rowGroupRows: number;
  nulls: (i: number) => boolean;
  /** Streamed in several files (small target) or one call for the whole file. */
  targetFileBytes: number;
}

const PLANS: WriterPlan[] = [
  // Fills every buffer: long strings, many nulls, big row groups.
  {
    types: ['string', 'long', 'boolean', 'double', 'binary', 'array<string>'],
    rows: 3000,
    rowGroupRows: 1000,
    nulls: (i) => i % 3 === 0,
    targetFileBytes: 1 << 30,
  },
  // The same names, every type moved to another column; short row groups, nulls only in some of them.
  {
    types: ['long', 'string', 'double', 'array<string>', 'boolean', 'binary'],
    rows: 23,
    rowGroupRows: 5,
    nulls: (i) => i >= 10 && i < 15,
    targetFileBytes: 1 << 30,
  },
  // Back to the first types, no nulls at all, streamed files rolling at a small size.
  { types: ['string', 'long', 'boolean', 'double', 'binary', 'array<string>'], rows: 2500, rowGroupRows: 300, nulls: () => false, targetFileBytes: 8 * 1024 },
  // Nulls only in the last row of a row group longer than any before; one-call file.
  {
    types: ['string', 'timestamp', 'boolean', 'string', 'binary', 'array<string>'],
    rows: 4100,
    rowGroupRows: 5000,
    nulls: (i) => i === 4099,
    targetFileBytes: 1 << 30,
  },
  // Short strings after long ones, nulls everywhere but the first row.
  { types: ['string', 'long', 'boolean', 'double', 'string', 'array<string>'], rows: 40, rowGroupRows: 16, nulls: (i) => i > 0, targetFileBytes: 1 << 30 },
];

/**
 * Writes the plan's rows; returns them as read back (in order, whichever file they went to). Each file's
 * stats must be what a writer with no pool computes for exactly that file's rows (where files are cut
 * follows the encoder's timing, so the reference is per file).
 */
/** One scratch buffer for every encoded value, as the channel task's page body: builders must copy what they keep. */
const scratch = new Uint8Array(4096);
const scratchView = new DataView(scratch.buffer);

/** The row's values as their encoded bytes (appendEncoded, the channel task's path), lists as values. */
function fillEncoded(builders: readonly ColumnBuilder[], columns: readonly ColumnSpec[], row: Record<string, unknown>): void {
  columns.forEach((c, k) => {
    const b = builders[k]!;
    const v = row[c.name];
    if (v === null) return b.appendNullValue();
    scratch.fill(0xee);
    switch (c.type) {
      case 'long':
      case 'timestamp':
        scratchView.setBigInt64(100, v as bigint, true);
        return b.appendEncoded(scratch, 100, 8);
      case 'double':
        scratchView.setFloat64(200, v as number, true);
        return b.appendEncoded(scratch, 200, 8);
      case 'boolean':
        scratch[300] = v ? 1 : 0;
        return b.appendEncoded(scratch, 300, 1);
      case 'string': {
        const n = Buffer.from(scratch.buffer).write(v as string, 400, 'utf8');
        return b.appendEncoded(scratch, 400, n);
      }
      case 'binary':
        scratch.set(v as Uint8Array, 500);
        return b.appendEncoded(scratch, 500, (v as Uint8Array).length);
      case 'array<string>':
        return b.append(v);
    }
  });
}

/**
 * Writes the plan's rows as values (appendRow) or as encoded bytes (appendWith, the channel task's path);
 * returns them as read back (in order, whichever file they went to). Each file's stats must be what a
 * writer with no pool computes from values for exactly that file's rows (where files are cut follows the
 * encoder's timing, so the reference is per file).
 */
async function writePlan(plan: WriterPlan, w: number, encoded = false): Promise<unknown[]> {
  const columns: ColumnSpec[] = plan.types.map((type, k) => ({ name: NAMES[k]!, type, nullable: true }));
  const input = Array.from({ length: plan.rows }, (_, i) => Object.fromEntries(columns.map((c) => [c.name, valueOf(c.type, i, w, plan.nulls)])));
  const directory = `w${w}-${Math.random().toString(36).slice(2)}/`;
  const options = { store, columns, rowGroupRows: plan.rowGroupRows, targetFileBytes: plan.targetFileBytes, directory };
  let files: WrittenFile[];
  if (!encoded) files = await writeParquetFiles(input, options);
  else {
    const writer = new ParquetFileWriter(options);
    for (let i = 0; i < input.length; i++) {
      writer.appendWith({ fillRow: (builders) => fillEncoded(builders, columns, input[i]!) });
      if (i % 500 === 499) await writer.drain();
    }
    files = await writer.close();
  }
  const rows: unknown[] = [];
  for (const f of files) {
    const fileRows = await readParquetRows(new Uint8Array(await readFile(path.join(dir, f.path))), {
      file: f.path,
      utf8: false,
      parsers: { timestampFromMicroseconds: (us) => us },
    });
    const { take, give } = builderBuffers;
    noPool();
    const [reference] = await writeParquetFiles(fileRows, { store, columns, rowGroupRows: 1 << 20, directory: `${directory}ref/` });
    builderBuffers.take = take;
    builderBuffers.give = give;
    expect(f.stats).toEqual(reference!.stats);
    rows.push(...fileRows);
  }
  return rows;
}

describe('builders starting from pooled buffers overwritten by their previous owner', () => {
  it('write what builders with no pool write, writer after writer, whatever types and row groups came before', async () => {
    noPool();
    const expected = [];
    for (let w = 0; w < PLANS.length; w++) expected.push(await writePlan(PLANS[w]!, w));
    poisonedPool();
    for (let round = 0; round < 2; round++) {
      for (let w = 0; w < PLANS.length; w++) expect(await writePlan(PLANS[w]!, w)).toEqual(expected[w]);
      for (let w = 0; w < PLANS.length; w++) expect(await writePlan(PLANS[w]!, w, true)).toEqual(expected[w]);
    }
    // The rows read back are the rows written (the reference itself is right).
    expect((expected[1] as Array<Record<string, unknown>>).map((r) => r.a)).toEqual(
      Array.from({ length: 23 }, (_, i) => valueOf('long', i, 1, PLANS[1]!.nulls)),
    );
  });
});
