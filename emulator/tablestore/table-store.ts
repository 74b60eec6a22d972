/**
 * tablestore-local's table store: tables, rows with column versions, hash-range partitions and the
 * per-partition change log the Tunnel service reads (TableStoreView, model.ts).
 *
 * Rows live in a RowIndex (row-index.ts), sorted by primary key. Change logs are plain arrays
 * indexed from 0, so a Tunnel reader's position is an array index.
 * Every write is journalled as the change record it produced, so replay re-applies the same records
 * with the same timestamps and sequence info.
 */
import { randomUUID } from 'node:crypto';
import { OtslakeError } from '../../common/errors.js';
import { Journal } from './journal.js';
import { decodeEntry, encodeEntry, legacyEntry, type StoreEntry, type TableDetails } from './store-entries.js';
import type {
  CellChange,
  ChangeAction,
  BasePage,
  ChangePage,
  ChangeRecord,
  ColumnValue,
  PartitionInfo,
  PkCell,
  ScanPage,
  SequenceInfo,
  StoredRow,
  StreamPage,
  TableInfo,
  TableStoreEvent,
  TableStoreView,
} from './model.js';
import { encodeStreamRecord, keepStreamRecord } from './plainbuffer-write.js';
import { HASH_SPACE, comparePks, partitionHash } from './pk-order.js';
import { RowIndex, latestImage, versionsOf, type RowVersions } from './row-index.js';
import type { DecodedKeyCell } from './plainbuffer-read.js';
import { RpcError } from './rpc.js';
import { partitionFor, validatePrimaryKey } from './table-rules.js';
import { READ_ONCE } from './base-images.js';

export interface TableDefinition {
  name: string;
  primaryKey: TableInfo['primaryKey'];
  streamEnabled?: boolean;
  streamExpirationHours?: number;
  /** Versions kept per column (table option max_versions); default 1. */
  maxVersions?: number;
  timeToLiveSec?: number;
  /** Initial partition count; default the store's partitionsPerTable. */
  partitions?: number;
}

export type RowCondition = 'IGNORE' | 'EXPECT_EXIST' | 'EXPECT_NOT_EXIST';

export type RowWrite =
  | { kind: 'put'; primaryKey: PkCell[]; cells: Array<{ name: string; value: ColumnValue; timestamp?: number }>; condition: RowCondition }
  | {
      kind: 'update';
      primaryKey: PkCell[];
      changes: Array<
        | { op: 'put'; name: string; value: ColumnValue; timestamp?: number }
        | { op: 'delete-one'; name: string; timestamp: number }
        | { op: 'delete-all'; name: string }
      >;
      condition: RowCondition;
    }
  | { kind: 'delete'; primaryKey: PkCell[]; condition: RowCondition };

export type WriteResult = { ok: true; record: ChangeRecord } | { ok: false; code: 'OTSConditionCheckFail' | 'OTSParameterInvalid'; message: string };

export type { RowVersions, Version } from './row-index.js';

export type { TableDetails } from './store-entries.js';

interface PartitionState {
  info: PartitionInfo;
  /** Change-log records from index logBase on (older ones were trimmed by the stream retention). */
  log: ChangeRecord[];
  /** Each log record's Tunnel bytes, index by index, kept from its second stream read on (never persisted). */
  bytes: Array<Uint8Array | undefined>;
  logBase: number;
  lastTs: bigint;
  lastRowIndex: number;
}
interface TableState {
  details: TableDetails;
  rows: RowIndex;
  partitions: PartitionState[];
}

type JournalEntry = StoreEntry;

export interface TableStoreOptions {
  dataDir?: string;
  /** Initial partitions of a new table; default 4. */
  partitionsPerTable?: number;
  /** µs since epoch; the default has µs resolution and never goes backwards. */
  clockUs?: () => bigint;
  /** Journal tail size that triggers a compaction into the snapshot (default 64 MiB). */
  compactAfterBytes?: number;
  /**
   * Bytes of base-data records kept across all tables so that re-reads of a row copy them
   * (base-images.ts); default 256 MiB, 0 = encode on every read.
   */
  baseImageBytes?: number;
}

const US_PER_HOUR = 3_600_000_000n;
/** Trimmed records are dropped from memory in batches, so trimming stays O(1) per record. */
const TRIM_BATCH = 1024;
const SNAPSHOT_CHUNK = 500;
const DEFAULT_BASE_IMAGE_BYTES = 256 * 1024 * 1024;

const defaultClockUs = (): bigint => BigInt(Math.floor((performance.timeOrigin + performance.now()) * 1000));

function appendLog(p: PartitionState, record: ChangeRecord): void {
  p.log.push(record);
  p.bytes.push(undefined);
}

/** Whether a row from index `from` on lies in the hash range. */
function anyInRange(sorted: ReadonlyArray<{ hash: number }>, from: number, range: { hashStart: number; hashEnd: number }): boolean {
  for (let i = from; i < sorted.length; i++) {
    const h = sorted[i]!.hash;
    if (h >= range.hashStart && h < range.hashEnd) return true;
  }
  return false;
}

function notFound(table: string): RpcError {
  return new RpcError(404, 'OTSObjectNotExist', `Requested table does not exist: ${table}`);
}

export class TableStore implements TableStoreView {
  private readonly tables = new Map<string, TableState>();
  private readonly listeners = new Set<(event: TableStoreEvent) => void>();
  private readonly partitionsPerTable: number;
  private readonly clockUs: () => bigint;
  private readonly imageBudget: { limitBytes: number; usedBytes: number };
  private journal: Journal | null = null;

  constructor(options: TableStoreOptions = {}) {
    this.partitionsPerTable = options.partitionsPerTable ?? 4;
    this.imageBudget = { limitBytes: options.baseImageBytes ?? DEFAULT_BASE_IMAGE_BYTES, usedBytes: 0 };
    this.clockUs = options.clockUs ?? defaultClockUs;
    if (!Number.isInteger(this.partitionsPerTable) || this.partitionsPerTable < 1 || this.partitionsPerTable > 256) {
      throw new OtslakeError('OTSL_EMULATOR', `partitionsPerTable must be an integer in 1..256, got ${options.partitionsPerTable}`);
    }
    if (options.dataDir !== undefined) {
      const journal = Journal.open(
        options.dataDir,
        { onEntry: (json, format) => this.replay(format === 'legacy' ? legacyEntry(json) : decodeEntry(json), true) },
        options.compactAfterBytes,
      );
      for (const t of this.tables.values()) t.rows.endBulk();
      this.journal = journal;
      if (journal.needsCompaction || journal.shouldCompact()) this.compact();
    }
  }

  /** Writes a snapshot of the whole store and empties the journal (journal.ts). */
  compact(): void {
    this.journal?.compact((write) => {
      for (const t of this.tables.values()) this.snapshotTable(t, (entry) => write(encodeEntry(entry)));
    });
  }

  /** Snapshot and journal sizes in bytes (tests and the bench watch compaction with this). */
  persistedBytes(): { snapshotBytes: number; tailBytes: number } | undefined {
    return this.journal?.sizes();
  }

  close(): void {
    this.journal?.close();
    this.journal = null;
    this.listeners.clear();
  }

  // ---- TableStoreView -------------------------------------------------------------------------

  getTable(name: string): TableInfo | undefined {
    const d = this.tables.get(name)?.details;
    if (!d) return undefined;
    return {
      name: d.name,
      primaryKey: d.primaryKey,
      streamEnabled: d.streamEnabled,
      streamExpirationHours: d.streamExpirationHours,
      streamId: d.streamId,
      streamLastEnableUs: d.streamLastEnableUs,
      createdAtUs: d.createdAtUs,
    };
  }

  describe(name: string): TableDetails {
    const t = this.tables.get(name);
    if (!t) throw notFound(name);
    return { ...t.details };
  }

  listTables(): string[] {
    return [...this.tables.keys()];
  }

  partitions(table: string): PartitionInfo[] {
    return this.table(table).partitions.map((p) => ({ ...p.info }));
  }

  /** Records from max(fromIndex, logStart): a reader behind the retention is the caller's to detect. */
  changes(table: string, partitionId: string, fromIndex: number, limit: number): ChangePage {
    const t = this.table(table);
    const p = this.partition(table, partitionId);
    const start = Math.max(fromIndex, this.trim(t, p));
    const records = p.log.slice(start - p.logBase, start - p.logBase + Math.max(0, limit));
    const nextIndex = start + records.length;
    return { records, nextIndex, drained: p.info.closed && nextIndex >= p.logBase + p.log.length };
  }

  streamPage(table: string, partitionId: string, fromIndex: number, limit: number): StreamPage {
    const page = this.changes(table, partitionId, fromIndex, limit);
    const p = this.partition(table, partitionId);
    const at = page.nextIndex - page.records.length - p.logBase;
    const bytes: Uint8Array[] = [];
    for (let i = 0; i < page.records.length; i++) {
      // Change-log records never change once appended: kept from their second read on (as base
      // images are, base-images.ts: a log read once keeps no memory outside the heap), then shared.
      let kept = p.bytes[at + i];
      if (kept === undefined) {
        p.bytes[at + i] = READ_ONCE;
        kept = encodeStreamRecord(page.records[i]!, { withSequence: true });
      } else if (kept === READ_ONCE) p.bytes[at + i] = kept = keepStreamRecord(page.records[i]!);
      bytes.push(kept);
    }
    return { ...page, bytes };
  }

  changeCount(table: string, partitionId: string): number {
    const p = this.partition(table, partitionId);
    return p.logBase + p.log.length;
  }

  logStart(table: string, partitionId: string): number {
    return this.trim(this.table(table), this.partition(table, partitionId));
  }

  enableStream(table: string, expirationHours: number): void {
    const t = this.table(table);
    if (t.details.streamEnabled) return;
    this.apply({ op: 'stream', table, enabled: true, expirationHours, lastEnableUs: this.clockUs() });
  }

  basePage(table: string, range: { hashStart: number; hashEnd: number }, afterPk: PkCell[] | null, limit: number): BasePage {
    const t = this.table(table);
    const sorted = t.rows.sorted;
    let i = afterPk === null ? 0 : t.rows.upperBound(afterPk);
    const records: Uint8Array[] = [];
    const primaryKeys: PkCell[][] = [];
    for (; i < sorted.length && records.length < limit; i++) {
      const row = sorted[i]!;
      if (row.hash < range.hashStart || row.hash >= range.hashEnd) continue;
      records.push(t.rows.baseRecord(row));
      primaryKeys.push(row.primaryKey);
    }
    return { records, primaryKeys, done: !anyInRange(sorted, i, range) };
  }

  /** The rows basePage() encodes, as objects (tests compare the two). */
  scan(table: string, range: { hashStart: number; hashEnd: number }, afterPk: PkCell[] | null, limit: number): ScanPage {
    const t = this.table(table);
    const sorted = t.rows.sorted;
    let i = afterPk === null ? 0 : t.rows.upperBound(afterPk);
    const rows: StoredRow[] = [];
    for (; i < sorted.length && rows.length < limit; i++) {
      const row = sorted[i]!;
      if (row.hash >= range.hashStart && row.hash < range.hashEnd) rows.push(latestImage(row));
    }
    return { rows, done: !anyInRange(sorted, i, range) };
  }

  subscribe(listener: (event: TableStoreEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  // ---- tables ---------------------------------------------------------------------------------

  createTable(def: TableDefinition): TableDetails {
    if (this.tables.has(def.name)) throw new RpcError(409, 'OTSObjectAlreadyExist', `Requested table already exists: ${def.name}`);
    const count = def.partitions ?? this.partitionsPerTable;
    const createdAtUs = this.clockUs();
    const details: TableDetails = {
      name: def.name,
      primaryKey: def.primaryKey.map((c) => ({ ...c })),
      streamEnabled: def.streamEnabled ?? false,
      streamExpirationHours: def.streamExpirationHours ?? 24,
      streamId: randomUUID(),
      streamLastEnableUs: createdAtUs,
      createdAtUs,
      maxVersions: def.maxVersions ?? 1,
      timeToLiveSec: def.timeToLiveSec ?? -1,
      keyHash: 'spread',
    };
    const partitions: PartitionInfo[] = [];
    for (let i = 0; i < count; i++) {
      partitions.push({
        id: randomUUID(),
        hashStart: Math.floor((HASH_SPACE * i) / count),
        hashEnd: Math.floor((HASH_SPACE * (i + 1)) / count),
        parents: [],
        closed: false,
        createdAtUs,
      });
    }
    this.apply({ op: 'create-table', details, partitions });
    return { ...details };
  }

  deleteTable(name: string): void {
    if (!this.tables.has(name)) throw notFound(name);
    this.apply({ op: 'delete-table', table: name });
  }

  // ---- rows -----------------------------------------------------------------------------------

  /**
   * Applies writes in order; expected failures (conditions, bad keys) are per-row results. One call
   * is one request: its records share one sequence timestamp and are told apart by row index.
   */
  writeRows(table: string, writes: RowWrite[], nowMs: number = Date.now()): WriteResult[] {
    const t = this.table(table);
    const results: WriteResult[] = [];
    const records: ChangeRecord[] = [];
    const nowUs = this.clockUs();
    // Each write sees the ones before it (a batch may put a row and then update it).
    for (const write of writes) {
      const result = this.prepare(t, write, nowMs, nowUs);
      results.push(result);
      if (!result.ok) continue;
      records.push(result.record);
      this.applyChange(t, result.record, false);
    }
    this.journal?.append(records.map((record) => encodeEntry({ op: 'change', table, record })));
    for (const record of records) this.emit({ kind: 'change', table, record });
    this.maybeCompact();
    return results;
  }

  getRow(table: string, primaryKey: PkCell[]): RowVersions | undefined {
    const t = this.table(table);
    const row = t.rows.get(primaryKey);
    return row ? versionsOf(row) : undefined;
  }

  /**
   * Rows from `start` (inclusive) towards `end` (exclusive), FORWARD ascending or BACKWARD
   * descending, at most `limit`; `next` is the key of the first row not returned.
   */
  range(
    table: string,
    start: DecodedKeyCell[],
    end: DecodedKeyCell[],
    direction: 'FORWARD' | 'BACKWARD',
    limit: number,
    accept: (row: RowVersions) => boolean = () => true,
  ): { rows: RowVersions[]; next: PkCell[] | null } {
    const t = this.table(table);
    const rows: RowVersions[] = [];
    if (direction === 'FORWARD') {
      const sorted = t.rows.sorted;
      for (let i = t.rows.lowerBound(start); i < sorted.length; i++) {
        const row = sorted[i]!;
        if (comparePks(row.primaryKey, end) >= 0) break;
        if (rows.length >= limit) return { rows, next: row.primaryKey };
        const v = versionsOf(row);
        if (accept(v)) rows.push(v);
      }
    } else {
      const sorted = t.rows.sorted;
      for (let i = t.rows.upperBound(start) - 1; i >= 0; i--) {
        const row = sorted[i]!;
        if (comparePks(row.primaryKey, end) <= 0) break;
        if (rows.length >= limit) return { rows, next: row.primaryKey };
        const v = versionsOf(row);
        if (accept(v)) rows.push(v);
      }
    }
    return { rows, next: null };
  }

  rowCount(table: string): number {
    return this.table(table).rows.size;
  }

  // ---- partitions -----------------------------------------------------------------------------

  splitPartition(table: string, partitionId: string): PartitionInfo[] {
    const t = this.table(table);
    const p = this.partition(table, partitionId);
    if (p.info.closed) throw new OtslakeError('OTSL_EMULATOR', 'cannot split a closed partition', { context: { table, partitionId } });
    const { hashStart, hashEnd } = p.info;
    if (hashEnd - hashStart < 2) throw new OtslakeError('OTSL_EMULATOR', 'partition range too small to split', { context: { table, partitionId } });
    const mid = Math.floor((hashStart + hashEnd) / 2);
    const createdAtUs = this.clockUs();
    const created = [
      { id: randomUUID(), hashStart, hashEnd: mid, parents: [partitionId], closed: false, createdAtUs },
      { id: randomUUID(), hashStart: mid, hashEnd, parents: [partitionId], closed: false, createdAtUs },
    ];
    this.apply({ op: 'partitions', table: t.details.name, closed: [partitionId], created });
    return created.map((c) => ({ ...c }));
  }

  mergePartitions(table: string, a: string, b: string): PartitionInfo {
    const pa = this.partition(table, a).info;
    const pb = this.partition(table, b).info;
    if (a === b || pa.closed || pb.closed) {
      throw new OtslakeError('OTSL_EMULATOR', 'merge needs two distinct open partitions', { context: { table, a, b } });
    }
    if (pa.hashEnd !== pb.hashStart && pb.hashEnd !== pa.hashStart) {
      throw new OtslakeError('OTSL_EMULATOR', 'merge needs two adjacent partitions', { context: { table, a, b } });
    }
    const child = {
      id: randomUUID(),
      hashStart: Math.min(pa.hashStart, pb.hashStart),
      hashEnd: Math.max(pa.hashEnd, pb.hashEnd),
      parents: [a, b],
      closed: false,
      createdAtUs: this.clockUs(),
    };
    this.apply({ op: 'partitions', table, closed: [a, b], created: [child] });
    return { ...child };
  }

  // ---- internals ------------------------------------------------------------------------------

  private table(name: string): TableState {
    const t = this.tables.get(name);
    if (!t) throw notFound(name);
    return t;
  }

  private partition(table: string, partitionId: string): PartitionState {
    const p = this.table(table).partitions.find((x) => x.info.id === partitionId);
    if (!p) throw new RpcError(404, 'OTSObjectNotExist', `partition ${partitionId} of table ${table} does not exist`);
    return p;
  }

  /** Journals, then applies, then tells subscribers: a subscriber never sees what replay would not. */
  private apply(entry: JournalEntry): void {
    this.journal?.append([encodeEntry(entry)]);
    this.replay(entry);
    this.maybeCompact();
    if (entry.op === 'delete-table') this.emit({ kind: 'table-deleted', table: entry.table });
    else if (entry.op === 'create-table' || entry.op === 'partitions')
      this.emit({
        kind: 'partitions',
        table: entry.op === 'create-table' ? entry.details.name : entry.table,
        partitions: this.partitions(entry.op === 'create-table' ? entry.details.name : entry.table),
      });
  }

  private maybeCompact(): void {
    if (this.journal?.shouldCompact()) this.compact();
  }

  /** `loading`: rows stay unsorted until the load ends (RowIndex bulk mode). */
  private replay(entry: JournalEntry, loading = false): void {
    switch (entry.op) {
      case 'create-table':
      case 'table': {
        const rows = new RowIndex(entry.details.maxVersions, entry.details.keyHash ?? 'fnv1a', this.imageBudget);
        if (loading) rows.beginBulk();
        const partitions =
          entry.op === 'table'
            ? entry.partitions.map((p) => ({ ...p, log: [], bytes: [] }))
            : entry.partitions.map((info) => ({ info, log: [], bytes: [], logBase: 0, lastTs: 0n, lastRowIndex: -1 }));
        this.tables.set(entry.details.name, { details: entry.details, rows, partitions });
        return;
      }
      case 'rows': {
        const t = this.tables.get(entry.table);
        for (const row of entry.rows) t?.rows.restore(row.primaryKey, row.columns);
        return;
      }
      case 'log': {
        const p = this.tables.get(entry.table)?.partitions.find((x) => x.info.id === entry.partitionId);
        if (p) for (const record of entry.records) appendLog(p, record);
        return;
      }
      case 'stream': {
        const t = this.tables.get(entry.table);
        if (!t) return;
        t.details = { ...t.details, streamEnabled: entry.enabled, streamExpirationHours: entry.expirationHours, streamLastEnableUs: entry.lastEnableUs };
        return;
      }
      case 'delete-table':
        this.tables.get(entry.table)?.rows.dispose();
        this.tables.delete(entry.table);
        return;
      case 'change': {
        const t = this.tables.get(entry.table);
        if (t) this.applyChange(t, entry.record, false);
        return;
      }
      case 'partitions': {
        const t = this.tables.get(entry.table);
        if (!t) return;
        let lastTs = 0n;
        let lastRowIndex = 0;
        for (const p of t.partitions) {
          if (!entry.closed.includes(p.info.id)) continue;
          p.info.closed = true;
          if (p.lastTs > lastTs || (p.lastTs === lastTs && p.lastRowIndex > lastRowIndex)) {
            lastTs = p.lastTs;
            lastRowIndex = p.lastRowIndex;
          }
        }
        // Children continue the parents' sequence so that (timestamp, rowIndex) keeps rising.
        for (const info of entry.created) t.partitions.push({ info, log: [], bytes: [], logBase: 0, lastTs, lastRowIndex });
        return;
      }
    }
  }

  private prepare(t: TableState, write: RowWrite, nowMs: number, nowUs: bigint): WriteResult {
    const problem = validatePrimaryKey(t.details, write.primaryKey);
    if (problem) return { ok: false, code: 'OTSParameterInvalid', message: problem };
    const exists = t.rows.get(write.primaryKey) !== undefined;
    if (write.condition === 'EXPECT_EXIST' && !exists) return { ok: false, code: 'OTSConditionCheckFail', message: 'Condition check failed.' };
    if (write.condition === 'EXPECT_NOT_EXIST' && exists) return { ok: false, code: 'OTSConditionCheckFail', message: 'Condition check failed.' };
    const p = partitionFor(t.partitions, partitionHash(write.primaryKey[0]!.value, t.details.keyHash ?? 'fnv1a'));
    let action: ChangeAction;
    let changes: CellChange[];
    if (write.kind === 'put') {
      action = 'PUT_ROW';
      changes = write.cells.map((c) => ({ op: 'put', name: c.name, value: c.value, timestamp: c.timestamp ?? nowMs }));
    } else if (write.kind === 'update') {
      action = 'UPDATE_ROW';
      changes = write.changes.map((c) => (c.op === 'put' ? { ...c, timestamp: c.timestamp ?? nowMs } : { ...c }));
    } else {
      action = 'DELETE_ROW';
      changes = [];
    }
    const record: ChangeRecord = { partitionId: p.info.id, seq: this.nextSequence(p, nowUs), action, primaryKey: write.primaryKey, changes };
    return { ok: true, record };
  }

  /** Same µs as the partition's last record (same request, or a fast clock): next row index. */
  private nextSequence(p: PartitionState, now: bigint): SequenceInfo {
    if (now > p.lastTs) {
      p.lastTs = now;
      p.lastRowIndex = 0;
    } else {
      p.lastRowIndex += 1;
    }
    return { epoch: 0, timestamp: p.lastTs, rowIndex: p.lastRowIndex };
  }

  private applyChange(t: TableState, record: ChangeRecord, notify = true): void {
    const p = t.partitions.find((x) => x.info.id === record.partitionId);
    if (p) {
      appendLog(p, record);
      // Replay restores the sequence position; live writes already advanced it in prepare().
      if (record.seq.timestamp > p.lastTs || (record.seq.timestamp === p.lastTs && record.seq.rowIndex > p.lastRowIndex)) {
        p.lastTs = record.seq.timestamp;
        p.lastRowIndex = record.seq.rowIndex;
      }
    }
    t.rows.apply(record);
    if (notify) this.emit({ kind: 'change', table: t.details.name, record });
  }

  /**
   * The first index still within the table's stream retention; drops expired records from memory
   * once a batch of them has piled up. Timestamps rise along a log, so a binary search finds it.
   */
  private trim(t: TableState, p: PartitionState): number {
    const cutoff = this.clockUs() - BigInt(t.details.streamExpirationHours) * US_PER_HOUR;
    let lo = 0;
    let hi = p.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (p.log[mid]!.seq.timestamp < cutoff) lo = mid + 1;
      else hi = mid;
    }
    if (lo >= TRIM_BATCH || (lo > 0 && lo * 2 >= p.log.length)) {
      p.log.splice(0, lo);
      p.bytes.splice(0, lo);
      p.logBase += lo;
      return p.logBase;
    }
    return p.logBase + lo;
  }

  private snapshotTable(t: TableState, write: (entry: JournalEntry) => void): void {
    const name = t.details.name;
    for (const p of t.partitions) this.trim(t, p);
    write({
      op: 'table',
      details: t.details,
      partitions: t.partitions.map((p) => ({ info: p.info, lastTs: p.lastTs, lastRowIndex: p.lastRowIndex, logBase: p.logBase })),
    });
    const rows = t.rows.rows();
    for (let i = 0; i < rows.length; i += SNAPSHOT_CHUNK) {
      const chunk = rows.slice(i, i + SNAPSHOT_CHUNK).map((r) => ({ primaryKey: r.primaryKey, columns: [...r.columns.entries()] }));
      write({ op: 'rows', table: name, rows: chunk });
    }
    for (const p of t.partitions) {
      for (let i = 0; i < p.log.length; i += SNAPSHOT_CHUNK) {
        write({ op: 'log', table: name, partitionId: p.info.id, records: p.log.slice(i, i + SNAPSHOT_CHUNK) });
      }
    }
  }

  private emit(event: TableStoreEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A subscriber's bug must not fail a write that is already durable.
      }
    }
  }
}
