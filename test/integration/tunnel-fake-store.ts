/**
 * A small in-memory TableStoreView for driving the Tunnel service through handle() without the
 * HTTP server: one INTEGER primary key `id`, partitions by hash range, an append-only change log
 * per partition, and a split that closes a partition and opens two children.
 */
import { encodeStreamRecord, recordBytesOf } from '../../emulator/tablestore/plainbuffer-write.js';
import type {
  BasePage,
  ChangePage,
  ChangeRecord,
  CellChange,
  ColumnValue,
  PartitionInfo,
  ScanPage,
  StoredRow,
  StreamPage,
  TableInfo,
  TableStoreEvent,
  TableStoreView,
  PkCell,
} from '../../emulator/tablestore/model.js';

const HASH_SPACE = 2 ** 32;

interface FakeTable {
  info: TableInfo;
  partitions: PartitionInfo[];
  logs: Map<string, ChangeRecord[]>;
  rows: Map<bigint, StoredRow>;
}

export function hashOf(id: bigint): number {
  return Number((id * 2654435761n) % BigInt(HASH_SPACE));
}

export class FakeTableStore implements TableStoreView {
  private readonly tables = new Map<string, FakeTable>();
  private readonly listeners = new Set<(event: TableStoreEvent) => void>();
  private lastUs = 0n;

  constructor(private readonly clockMs: () => number) {}

  createTable(name: string, partitionCount = 2): void {
    const createdAtUs = this.nextUs();
    const step = HASH_SPACE / partitionCount;
    const partitions = Array.from({ length: partitionCount }, (_, i) => ({
      id: `p${i}`,
      hashStart: i * step,
      hashEnd: (i + 1) * step,
      parents: [],
      closed: false,
      createdAtUs,
    }));
    this.tables.set(name, {
      info: {
        name,
        primaryKey: [{ name: 'id', type: 'INTEGER' }],
        streamEnabled: true,
        streamExpirationHours: 24,
        streamId: `stream-${name}`,
        streamLastEnableUs: createdAtUs,
        createdAtUs,
      },
      partitions,
      logs: new Map(partitions.map((p) => [p.id, []])),
      rows: new Map(),
    });
  }

  deleteTable(name: string): void {
    this.tables.delete(name);
    for (const l of this.listeners) l({ kind: 'table-deleted', table: name });
  }

  partitionOf(table: string, id: bigint): PartitionInfo {
    const h = hashOf(id);
    const p = this.table(table).partitions.find((x) => !x.closed && h >= x.hashStart && h < x.hashEnd);
    if (!p) throw new Error(`no open partition for ${id}`);
    return p;
  }

  put(table: string, id: bigint, columns: Record<string, ColumnValue>): ChangeRecord {
    const tsMs = this.clockMs();
    const cells = Object.entries(columns).map(([name, value]) => ({ name, value, timestamp: tsMs }));
    this.table(table).rows.set(id, { primaryKey: pk(id), cells });
    return this.append(
      table,
      id,
      'PUT_ROW',
      cells.map((c) => ({ op: 'put' as const, ...c })),
    );
  }

  update(table: string, id: bigint, changes: CellChange[]): ChangeRecord {
    const t = this.table(table);
    const row = t.rows.get(id) ?? { primaryKey: pk(id), cells: [] };
    for (const c of changes) {
      row.cells = row.cells.filter((x) => x.name !== c.name);
      if (c.op === 'put') row.cells.push({ name: c.name, value: c.value, timestamp: c.timestamp });
    }
    t.rows.set(id, row);
    return this.append(table, id, 'UPDATE_ROW', changes);
  }

  delete(table: string, id: bigint): ChangeRecord {
    this.table(table).rows.delete(id);
    return this.append(table, id, 'DELETE_ROW', []);
  }

  /** Closes `partitionId` and opens two children over its halves; returns the children. */
  split(table: string, partitionId: string): PartitionInfo[] {
    const t = this.table(table);
    const parent = t.partitions.find((p) => p.id === partitionId);
    if (!parent) throw new Error(`no partition ${partitionId}`);
    parent.closed = true;
    const mid = parent.hashStart + Math.floor((parent.hashEnd - parent.hashStart) / 2);
    const createdAtUs = this.nextUs();
    const children = [
      { id: `${partitionId}a`, hashStart: parent.hashStart, hashEnd: mid, parents: [partitionId], closed: false, createdAtUs },
      { id: `${partitionId}b`, hashStart: mid, hashEnd: parent.hashEnd, parents: [partitionId], closed: false, createdAtUs },
    ];
    t.partitions.push(...children);
    for (const c of children) t.logs.set(c.id, []);
    for (const l of this.listeners) l({ kind: 'partitions', table, partitions: t.partitions });
    return children;
  }

  getTable(name: string): TableInfo | undefined {
    return this.tables.get(name)?.info;
  }
  listTables(): string[] {
    return [...this.tables.keys()];
  }
  partitions(table: string): PartitionInfo[] {
    return this.table(table).partitions.map((p) => ({ ...p, parents: [...p.parents] }));
  }
  changes(table: string, partitionId: string, fromIndex: number, limit: number): ChangePage {
    const t = this.table(table);
    const log = t.logs.get(partitionId) ?? [];
    const records = log.slice(fromIndex, fromIndex + limit);
    const nextIndex = fromIndex + records.length;
    const closed = t.partitions.find((p) => p.id === partitionId)?.closed ?? false;
    return { records, nextIndex, drained: closed && nextIndex >= log.length };
  }
  streamPage(table: string, partitionId: string, fromIndex: number, limit: number): StreamPage {
    const page = this.changes(table, partitionId, fromIndex, limit);
    return { ...page, bytes: page.records.map(recordBytesOf) };
  }
  changeCount(table: string, partitionId: string): number {
    return this.table(table).logs.get(partitionId)?.length ?? 0;
  }
  /** The fake keeps every record: nothing is ever past the retention. */
  logStart(): number {
    return 0;
  }
  enableStream(table: string, expirationHours: number): void {
    const info = this.table(table).info;
    if (!info.streamEnabled) Object.assign(info, { streamEnabled: true, streamExpirationHours: expirationHours });
  }
  scan(table: string, range: { hashStart: number; hashEnd: number }, afterPk: PkCell[] | null, limit: number): ScanPage {
    const after = afterPk?.[0]?.value.value as bigint | undefined;
    const all = [...this.table(table).rows.entries()]
      .filter(([id]) => hashOf(id) >= range.hashStart && hashOf(id) < range.hashEnd && (after === undefined || id > after))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([, row]) => row);
    return { rows: all.slice(0, limit), done: all.length <= limit };
  }
  /** Encoded on every read: the fake keeps no bytes. */
  basePage(table: string, range: { hashStart: number; hashEnd: number }, afterPk: PkCell[] | null, limit: number): BasePage {
    const { rows, done } = this.scan(table, range, afterPk, limit);
    return { records: rows.map((row) => encodeStreamRecord(row, { withSequence: false })), primaryKeys: rows.map((row) => row.primaryKey), done };
  }
  subscribe(listener: (event: TableStoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private append(table: string, id: bigint, action: ChangeRecord['action'], changes: CellChange[]): ChangeRecord {
    const p = this.partitionOf(table, id);
    const record: ChangeRecord = { partitionId: p.id, seq: { epoch: 0, timestamp: this.nextUs(), rowIndex: 0 }, action, primaryKey: pk(id), changes };
    this.table(table).logs.get(p.id)!.push(record);
    for (const l of this.listeners) l({ kind: 'change', table, record });
    return record;
  }

  private nextUs(): bigint {
    const us = BigInt(this.clockMs()) * 1000n;
    this.lastUs = us > this.lastUs ? us : this.lastUs + 1n;
    return this.lastUs;
  }

  private table(name: string): FakeTable {
    const t = this.tables.get(name);
    if (!t) throw new Error(`no table ${name}`);
    return t;
  }
}

function pk(id: bigint): PkCell[] {
  return [{ name: 'id', value: { type: 'INTEGER', value: id } }];
}
