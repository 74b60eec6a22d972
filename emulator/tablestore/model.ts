/**
 * The data model shared by tablestore-local's table API (table-store.ts) and its Tunnel service
 * (tunnel-service.ts). The table store owns tables, rows and the per-partition change log; the
 * Tunnel service only reads them. Nothing here is the client's code: the emulator has its own
 * PlainBuffer codec so that one bug cannot hide on both sides of the wire.
 *
 * Partitions are ranges over a 32-bit hash of the first primary-key column ([hashStart, hashEnd)),
 * so a split halves a range and a merge joins two adjacent ones. A closed partition takes no new
 * writes; its change log stays readable until a tunnel has drained it.
 */

export type PkValue = { type: 'INTEGER'; value: bigint } | { type: 'STRING'; value: string } | { type: 'BINARY'; value: Uint8Array };

export type ColumnValue = PkValue | { type: 'DOUBLE'; value: number } | { type: 'BOOLEAN'; value: boolean };

export interface PkCell {
  name: string;
  value: PkValue;
}
export interface Cell {
  name: string;
  value: ColumnValue;
  /** ms */ timestamp: number;
}

export type CellChange =
  | { op: 'put'; name: string; value: ColumnValue; timestamp: number }
  | { op: 'delete-one'; name: string; timestamp: number }
  | { op: 'delete-all'; name: string };

export interface SequenceInfo {
  epoch: number;
  /** µs since epoch; strictly increasing per (table, partition) together with rowIndex. */
  timestamp: bigint;
  rowIndex: number;
}

export type ChangeAction = 'PUT_ROW' | 'UPDATE_ROW' | 'DELETE_ROW';

export interface ChangeRecord {
  partitionId: string;
  seq: SequenceInfo;
  action: ChangeAction;
  primaryKey: PkCell[];
  /** PUT_ROW: the put cells of the new row; UPDATE_ROW: the changes; DELETE_ROW: empty. */
  changes: CellChange[];
}

export interface PartitionInfo {
  id: string;
  hashStart: number;
  hashEnd: number;
  parents: string[];
  /** true once split or merged away: no new writes land here. */
  closed: boolean;
  createdAtUs: bigint;
}

export interface TableInfo {
  name: string;
  primaryKey: Array<{ name: string; type: 'INTEGER' | 'STRING' | 'BINARY' }>;
  streamEnabled: boolean;
  streamExpirationHours: number;
  /** The table's stream id: DescribeTable's stream_details.stream_id and every tunnel's stream_id. */
  streamId: string;
  /** µs since epoch when the stream was last switched on (the table's creation if it was born with one). */
  streamLastEnableUs: bigint;
  createdAtUs: bigint;
}

export interface StoredRow {
  primaryKey: PkCell[];
  cells: Cell[];
}

export interface ChangePage {
  records: ChangeRecord[];
  /** Index to pass as `fromIndex` next time. */
  nextIndex: number;
  /** The partition is closed and every record up to its end was returned. */
  drained: boolean;
}

export interface ScanPage {
  rows: StoredRow[];
  /** No row after the last one returned. */
  done: boolean;
}

/** A ChangePage with each record's Tunnel bytes (sequence extension included), shared: never alter them. */
export interface StreamPage extends ChangePage {
  bytes: Uint8Array[];
}

/** Base-data records (PUT_ROW images, no sequence extension) and their primary keys, index by index; bytes shared. */
export interface BasePage {
  records: Uint8Array[];
  primaryKeys: PkCell[][];
  /** No row in the range after the last one returned. */
  done: boolean;
}

export type TableStoreEvent =
  | { kind: 'change'; table: string; record: ChangeRecord }
  | { kind: 'partitions'; table: string; partitions: PartitionInfo[] }
  | { kind: 'table-deleted'; table: string };

/** What the Tunnel service needs from the table store. */
export interface TableStoreView {
  getTable(name: string): TableInfo | undefined;
  listTables(): string[];
  /** Every partition of the table, closed ones included, in creation order. */
  partitions(table: string): PartitionInfo[];
  /** Change-log records of one partition from index `fromIndex`, at most `limit` of them. */
  changes(table: string, partitionId: string, fromIndex: number, limit: number): ChangePage;
  /** changes() with each record's Tunnel bytes (what ReadRecords answers). */
  streamPage(table: string, partitionId: string, fromIndex: number, limit: number): StreamPage;
  /** Index after the last change-log record of the partition (records before logStart are trimmed). */
  changeCount(table: string, partitionId: string): number;
  /** Index of the oldest record still kept: older ones are past the table's stream retention. */
  logStart(table: string, partitionId: string): number;
  /** Switches the table's stream on (CreateTunnel does this for Stream / BaseAndStream tunnels). */
  enableStream(table: string, expirationHours: number): void;
  /**
   * Base-data records of the current rows whose hash falls in [hashStart, hashEnd), sorted by
   * primary key, strictly after `afterPk`, at most `limit`: each row's newest version of every
   * column, as encodeStreamRecord(image, { withSequence: false }) writes it.
   */
  basePage(table: string, range: { hashStart: number; hashEnd: number }, afterPk: PkCell[] | null, limit: number): BasePage;
  /** Subscribe to changes; returns an unsubscribe function. */
  subscribe(listener: (event: TableStoreEvent) => void): () => void;
}
