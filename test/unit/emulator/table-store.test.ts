import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ChangeRecord, PkCell, TableStoreEvent } from '../../../emulator/tablestore/model.js';
import { encodeStreamRecord } from '../../../emulator/tablestore/plainbuffer-write.js';
import { TableStore } from '../../../emulator/tablestore/table-store.js';

const int = (name: string, v: number | bigint): PkCell => ({ name, value: { type: 'INTEGER', value: BigInt(v) } });
const str = (name: string, v: string): PkCell => ({ name, value: { type: 'STRING', value: v } });

function allRecords(store: TableStore, table: string): ChangeRecord[] {
  return store.partitions(table).flatMap((p) => store.changes(table, p.id, 0, 1_000_000).records);
}

function seqLess(a: ChangeRecord, b: ChangeRecord): boolean {
  return a.seq.timestamp < b.seq.timestamp || (a.seq.timestamp === b.seq.timestamp && a.seq.rowIndex < b.seq.rowIndex);
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('TableStore', () => {
  it('spreads rows over hash partitions that tile the hash space, with strictly rising sequences', () => {
    // A frozen clock forces every record onto the same µs: rowIndex must carry the order.
    const store = new TableStore({ partitionsPerTable: 4, clockUs: () => 1_700_000_000_000_000n });
    store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }] });
    const parts = store.partitions('t');
    expect(parts.map((p) => [p.hashStart, p.hashEnd])).toEqual([
      [0, 2 ** 30],
      [2 ** 30, 2 ** 31],
      [2 ** 31, 3 * 2 ** 30],
      [3 * 2 ** 30, 2 ** 32],
    ]);
    const writes = Array.from({ length: 200 }, (_, i) => ({
      kind: 'put' as const,
      primaryKey: [int('id', i)],
      cells: [{ name: 'v', value: { type: 'INTEGER' as const, value: BigInt(i) } }],
      condition: 'IGNORE' as const,
    }));
    expect(store.writeRows('t', writes, 5).every((r) => r.ok)).toBe(true);
    for (const p of parts) {
      const log = store.changes('t', p.id, 0, 1000).records;
      expect(log.length).toBeGreaterThan(20); // every partition got a share
      for (let i = 1; i < log.length; i++) expect(seqLess(log[i - 1]!, log[i]!)).toBe(true);
      expect(log.every((r) => r.partitionId === p.id)).toBe(true);
    }
    expect(allRecords(store, 't')).toHaveLength(200);
    expect(allRecords(store, 't')[0]!.changes[0]).toMatchObject({ op: 'put', timestamp: 5 });
  });

  it('pages change logs by index and reports drained only for closed partitions', () => {
    const store = new TableStore({ partitionsPerTable: 1 });
    store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'STRING' }] });
    const p = store.partitions('t')[0]!;
    for (let i = 0; i < 5; i++) store.writeRows('t', [{ kind: 'delete', primaryKey: [str('id', `k${i}`)], condition: 'IGNORE' }]);
    const page = store.changes('t', p.id, 3, 10);
    expect(page.records.map((r) => r.primaryKey[0]!.value)).toEqual([
      { type: 'STRING', value: 'k3' },
      { type: 'STRING', value: 'k4' },
    ]);
    expect(page).toMatchObject({ nextIndex: 5, drained: false });
    const children = store.splitPartition('t', p.id);
    expect(store.changes('t', p.id, 5, 10)).toMatchObject({ records: [], nextIndex: 5, drained: true });
    expect(store.changes('t', p.id, 0, 2).drained).toBe(false);
    expect(children.map((c) => c.parents)).toEqual([[p.id], [p.id]]);
    expect(children[0]!.hashEnd).toBe(children[1]!.hashStart);
    // writes after the split land in a child, after the parent's last sequence
    store.writeRows('t', [{ kind: 'delete', primaryKey: [str('id', 'late')], condition: 'IGNORE' }]);
    const late = children.flatMap((c) => store.changes('t', c.id, 0, 10).records);
    expect(late).toHaveLength(1);
    expect(seqLess(store.changes('t', p.id, 4, 1).records[0]!, late[0]!)).toBe(true);
    expect(() => store.splitPartition('t', p.id)).toThrow(expect.objectContaining({ code: 'OTSL_EMULATOR' }));
  });

  it('keeps child sequences above the parents even when the clock stands still', () => {
    const store = new TableStore({ partitionsPerTable: 1, clockUs: () => 42n });
    store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }] });
    const parent = store.partitions('t')[0]!;
    store.writeRows(
      't',
      [0, 1, 2].map((i) => ({ kind: 'delete' as const, primaryKey: [int('id', i)], condition: 'IGNORE' as const })),
    );
    const children = store.splitPartition('t', parent.id);
    store.writeRows(
      't',
      [0, 1, 2, 3].map((i) => ({ kind: 'delete' as const, primaryKey: [int('id', i)], condition: 'IGNORE' as const })),
    );
    const lastOfParent = store.changes('t', parent.id, 0, 10).records.at(-1)!;
    expect(lastOfParent.seq).toEqual({ epoch: 0, timestamp: 42n, rowIndex: 2 });
    for (const child of children) {
      for (const r of store.changes('t', child.id, 0, 10).records) expect(seqLess(lastOfParent, r)).toBe(true);
    }
  });

  it('merges only two adjacent open partitions', () => {
    const store = new TableStore({ partitionsPerTable: 3 });
    store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'STRING' }] });
    const [a, b, c] = store.partitions('t');
    expect(() => store.mergePartitions('t', a!.id, c!.id)).toThrow(/adjacent/);
    const merged = store.mergePartitions('t', b!.id, a!.id);
    expect(merged).toMatchObject({ hashStart: 0, hashEnd: b!.hashEnd, parents: [b!.id, a!.id], closed: false });
    expect(
      store
        .partitions('t')
        .filter((p) => !p.closed)
        .map((p) => p.id),
    ).toEqual([c!.id, merged.id]);
  });

  it('scans a hash range in primary-key order after a given key', () => {
    const store = new TableStore({ partitionsPerTable: 2 });
    store.createTable({
      name: 't',
      primaryKey: [
        { name: 'g', type: 'STRING' },
        { name: 'i', type: 'INTEGER' },
      ],
    });
    const keys = [
      ['b', 2],
      ['a', 10],
      ['a', -3],
      ['b', 1],
      ['é', 0],
      ['z', 0],
    ] as const;
    store.writeRows(
      't',
      keys.map(([g, i]) => ({ kind: 'put' as const, primaryKey: [str('g', g), int('i', i)], cells: [], condition: 'IGNORE' as const })),
    );
    const full = store.scan('t', { hashStart: 0, hashEnd: 2 ** 32 }, null, 100);
    expect(full.done).toBe(true);
    expect(full.rows.map((r) => `${r.primaryKey[0]!.value.value as string}${r.primaryKey[1]!.value.value}`)).toEqual(['a-3', 'a10', 'b1', 'b2', 'z0', 'é0']);
    const page = store.scan('t', { hashStart: 0, hashEnd: 2 ** 32 }, [str('g', 'a'), int('i', 10)], 2);
    expect(page.rows.map((r) => r.primaryKey[1]!.value.value)).toEqual([1n, 2n]);
    expect(page.done).toBe(false);
    const [p0, p1] = store.partitions('t');
    const n0 = store.scan('t', p0!, null, 100).rows.length;
    const n1 = store.scan('t', p1!, null, 100).rows.length;
    expect(n0 + n1).toBe(6);
  });

  it('checks conditions and schema per row, as data', () => {
    const store = new TableStore();
    store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }] });
    const results = store.writeRows('t', [
      { kind: 'put', primaryKey: [int('id', 1)], cells: [], condition: 'EXPECT_NOT_EXIST' },
      { kind: 'update', primaryKey: [int('id', 1)], changes: [{ op: 'put', name: 'x', value: { type: 'BOOLEAN', value: true } }], condition: 'EXPECT_EXIST' },
      { kind: 'put', primaryKey: [int('id', 1)], cells: [], condition: 'EXPECT_NOT_EXIST' },
      { kind: 'put', primaryKey: [str('id', 'x')], cells: [], condition: 'IGNORE' },
    ]);
    expect(results.map((r) => (r.ok ? 'ok' : r.code))).toEqual(['ok', 'ok', 'OTSConditionCheckFail', 'OTSParameterInvalid']);
    expect(store.getRow('t', [int('id', 1)])?.columns.map((c) => c.name)).toEqual(['x']);
    expect(() => store.writeRows('missing', [])).toThrow(expect.objectContaining({ errorCode: 'OTSObjectNotExist' }));
    expect(() => store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }] })).toThrow(
      expect.objectContaining({ errorCode: 'OTSObjectAlreadyExist' }),
    );
  });

  it('keeps column versions newest first within max_versions, whatever order the timestamps come in', () => {
    // Against a plain model of the rule: equal timestamp overwrites, newest first, oldest beyond the limit go.
    for (const maxVersions of [1, 3]) {
      const store = new TableStore();
      store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }], maxVersions });
      const model: Array<{ value: number; timestamp: number }> = [];
      const steps: Array<['put', number, number] | ['delete-one', number]> = [
        ['put', 1, 100],
        ['put', 2, 300],
        ['put', 3, 200],
        ['put', 4, 300],
        ['put', 5, 50],
        ['delete-one', 300],
        ['put', 6, 400],
        ['put', 7, 250],
      ];
      for (const step of steps) {
        const change =
          step[0] === 'put'
            ? { op: 'put' as const, name: 'c', value: { type: 'DOUBLE' as const, value: step[1] }, timestamp: step[2] }
            : { op: 'delete-one' as const, name: 'c', timestamp: step[1] };
        store.writeRows('t', [{ kind: 'update', primaryKey: [int('id', 1)], changes: [change], condition: 'IGNORE' }]);
        if (step[0] === 'put') {
          const same = model.findIndex((v) => v.timestamp === step[2]);
          if (same >= 0) model.splice(same, 1);
          model.push({ value: step[1], timestamp: step[2] });
          model.sort((a, b) => b.timestamp - a.timestamp);
          model.length = Math.min(model.length, maxVersions);
        } else {
          const gone = model.findIndex((v) => v.timestamp === step[1]);
          if (gone >= 0) model.splice(gone, 1);
        }
        const row = store.getRow('t', [int('id', 1)]);
        // Exactly {value, timestamp}: a stored version is the change's own put cell, not handed out as is.
        expect(row?.columns[0]?.versions ?? []).toStrictEqual(model.map((v) => ({ value: { type: 'DOUBLE', value: v.value }, timestamp: v.timestamp })));
      }
      const [record] = allRecords(store, 't').slice(-1);
      expect(record?.changes).toEqual([{ op: 'put', name: 'c', value: { type: 'DOUBLE', value: 7 }, timestamp: 250 }]);
    }
  });

  it('notifies subscribers of changes, partition changes and deletions', () => {
    const store = new TableStore({ partitionsPerTable: 1 });
    const events: TableStoreEvent['kind'][] = [];
    const stop = store.subscribe((e) => events.push(e.kind));
    store.subscribe(() => {
      throw new Error('a broken subscriber');
    });
    store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }] });
    store.writeRows('t', [{ kind: 'delete', primaryKey: [int('id', 1)], condition: 'IGNORE' }]);
    store.splitPartition('t', store.partitions('t')[0]!.id);
    store.deleteTable('t');
    stop();
    store.createTable({ name: 'u', primaryKey: [{ name: 'id', type: 'INTEGER' }] });
    expect(events).toEqual(['partitions', 'change', 'partitions', 'table-deleted']);
    expect(store.getTable('t')).toBeUndefined();
  });

  it('replays its journal after a restart and drops a torn last line', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'otslake-store-'));
    dirs.push(dataDir);
    const first = new TableStore({ dataDir, partitionsPerTable: 2 });
    first.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'BINARY' }], maxVersions: 2 });
    const pk = [{ name: 'id', value: { type: 'BINARY' as const, value: Uint8Array.of(1, 2) } }];
    first.writeRows('t', [{ kind: 'put', primaryKey: pk, cells: [{ name: 'v', value: { type: 'DOUBLE', value: 1.5 }, timestamp: 10 }], condition: 'IGNORE' }]);
    first.writeRows('t', [
      { kind: 'update', primaryKey: pk, changes: [{ op: 'put', name: 'v', value: { type: 'DOUBLE', value: 2.5 }, timestamp: 20 }], condition: 'IGNORE' },
    ]);
    const records = allRecords(first, 't');
    first.close();
    const file = path.join(dataDir, 'tablestore.journal');
    fs.appendFileSync(file, '{"op":"change","table":"t","rec'); // a crash in the middle of a write
    const second = new TableStore({ dataDir });
    expect(allRecords(second, 't')).toEqual(records);
    expect(second.getRow('t', pk)?.columns[0]?.versions.map((v) => v.value)).toEqual([
      { type: 'DOUBLE', value: 2.5 },
      { type: 'DOUBLE', value: 1.5 },
    ]);
    expect(second.describe('t').maxVersions).toBe(2);
    second.close();
    expect(fs.readFileSync(file, 'utf8').endsWith('\n')).toBe(true);
    fs.appendFileSync(file, 'not json\n{}\n');
    expect(() => new TableStore({ dataDir })).toThrow(expect.objectContaining({ code: 'OTSL_EMULATOR' }));
  });
});

describe('journal codec', () => {
  it('round-trips every value type, including doubles JSON cannot express and Buffer subclasses', async () => {
    const { decodeValue, encodeValue } = await import('../../../emulator/tablestore/journal-codec.js');
    const values = [
      { type: 'INTEGER', value: -(2n ** 63n) },
      { type: 'STRING', value: 'héllo \u{1F600}' },
      { type: 'BINARY', value: Buffer.from([0, 1, 255]).subarray(1) },
      { type: 'DOUBLE', value: Number.NaN },
      { type: 'DOUBLE', value: -0 },
      { type: 'DOUBLE', value: Number.NEGATIVE_INFINITY },
      { type: 'DOUBLE', value: 1.5e-300 },
      { type: 'BOOLEAN', value: false },
    ] as const;
    for (const v of values) {
      const back = decodeValue(JSON.parse(JSON.stringify(encodeValue(v))));
      expect(back.type).toBe(v.type);
      if (v.type === 'BINARY') expect(Buffer.from(back.value as Uint8Array).toString('hex')).toBe('01ff');
      else expect(Object.is(back.value, v.value)).toBe(true);
    }
  });
});

describe('TableStore persistence and retention', () => {
  const put = (id: number) => ({
    kind: 'put' as const,
    primaryKey: [int('id', id)],
    cells: [{ name: 'v', value: { type: 'INTEGER' as const, value: BigInt(id) } }],
    condition: 'IGNORE' as const,
  });

  it('skips a journal the snapshot already holds (a crash between the two renames of a compaction)', () => {
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'otslake-store-'));
    dirs.push(dataDir);
    const first = new TableStore({ dataDir, partitionsPerTable: 1 });
    first.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }], streamEnabled: true });
    first.writeRows('t', [put(1), put(2)]);
    const journal = path.join(dataDir, 'tablestore.journal');
    const before = fs.readFileSync(journal);
    first.compact();
    first.close();
    fs.writeFileSync(journal, before); // the old journal came back: its entries are in the snapshot
    const second = new TableStore({ dataDir });
    expect(second.rowCount('t')).toBe(2);
    expect(second.changeCount('t', second.partitions('t')[0]!.id)).toBe(2);
    second.close();
  });

  it('trims change records past the stream retention; indexes keep counting from the start', () => {
    let nowUs = 1_700_000_000_000_000n;
    const store = new TableStore({ partitionsPerTable: 1, clockUs: () => nowUs });
    store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }], streamEnabled: true, streamExpirationHours: 1 });
    const p = store.partitions('t')[0]!.id;
    store.writeRows('t', [put(1), put(2)]);
    nowUs += 1_800_000_000n; // +30 min
    store.writeRows('t', [put(3)]);
    expect(store.logStart('t', p)).toBe(0);
    nowUs += 1_800_000_001n; // the first two are now older than 1 h
    expect(store.logStart('t', p)).toBe(2);
    expect(store.changeCount('t', p)).toBe(3);
    const page = store.changes('t', p, 0, 10);
    expect(page.records.map((r) => r.primaryKey[0]!.value)).toEqual([{ type: 'INTEGER', value: 3n }]);
    expect(page.nextIndex).toBe(3);
    expect(store.rowCount('t')).toBe(3); // rows are not trimmed
  });

  it('answers stream pages with the bytes of each record, kept per log index from its second read and still aligned after a trim', () => {
    let nowUs = 1_700_000_000_000_000n;
    const store = new TableStore({ partitionsPerTable: 1, clockUs: () => nowUs });
    store.createTable({ name: 't', primaryKey: [{ name: 'id', type: 'INTEGER' }], streamEnabled: true, streamExpirationHours: 1 });
    const p = store.partitions('t')[0]!.id;
    for (let i = 0; i < 3000; i++) {
      if (i === 2000) nowUs += 1_800_000_000n;
      store.writeRows('t', [put(i)]);
    }
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    // The first read keeps nothing (a log read once holds no bytes outside the heap); the second keeps them.
    const once = store.streamPage('t', p, 0, 3000);
    const before = store.streamPage('t', p, 0, 3000);
    expect(once.bytes.map(hex)).toEqual(once.records.map((r) => hex(encodeStreamRecord(r, { withSequence: true }))));
    expect(before.bytes.map(hex)).toEqual(once.bytes.map(hex));
    expect(before.bytes.some((b, i) => b === once.bytes[i])).toBe(false);
    expect(store.streamPage('t', p, 0, 3000).bytes.every((b, i) => b === before.bytes[i])).toBe(true);
    nowUs += 1_800_000_001n; // the first 2000 are past the retention: more than a trim batch is dropped
    expect(store.logStart('t', p)).toBe(2000);
    const after = store.streamPage('t', p, 2000, 1000);
    expect(after.records[0]!.primaryKey[0]!.value).toEqual({ type: 'INTEGER', value: 2000n });
    // Same bytes objects as before the trim: the kept array was trimmed with the log.
    expect(after.bytes.every((b, i) => b === before.bytes[2000 + i])).toBe(true);
    store.writeRows('t', [put(3000)]);
    const tail = store.streamPage('t', p, 3000, 10);
    expect(tail.bytes.map(hex)).toEqual(tail.records.map((r) => hex(encodeStreamRecord(r, { withSequence: true }))));
  });
});
