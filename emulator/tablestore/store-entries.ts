/**
 * The entries tablestore-local persists (journal.ts): journal entries, one per state change, and
 * snapshot entries, which together restore a whole store. Each has an in-memory form (bigint,
 * Uint8Array) and a JSON form built by journal-codec.ts.
 */
import {
  decodeKey,
  decodePartition,
  decodeRecord,
  decodeValue,
  encodeKey,
  encodePartition,
  encodeRecord,
  encodeValue,
  type EncodedKey,
  type EncodedPartition,
  type EncodedRecord,
  type EncodedValue,
} from './journal-codec.js';
import type { ChangeRecord, PartitionInfo, PkCell, TableInfo } from './model.js';
import type { KeyHash } from './pk-order.js';
import type { Version } from './row-index.js';

export interface TableDetails extends TableInfo {
  maxVersions: number;
  timeToLiveSec: number;
  /** Absent in data dirs from before the spread hash: those tables keep FNV-1a. */
  keyHash?: KeyHash;
}

export interface PartitionSnapshot {
  info: PartitionInfo;
  lastTs: bigint;
  lastRowIndex: number;
  /** Change-log index of the first record kept (the ones before were trimmed). */
  logBase: number;
}

export type StoreEntry =
  | { op: 'create-table'; details: TableDetails; partitions: PartitionInfo[] }
  | { op: 'delete-table'; table: string }
  | { op: 'change'; table: string; record: ChangeRecord }
  | { op: 'partitions'; table: string; closed: string[]; created: PartitionInfo[] }
  | { op: 'stream'; table: string; enabled: boolean; expirationHours: number; lastEnableUs: bigint }
  // snapshot only:
  | { op: 'table'; details: TableDetails; partitions: PartitionSnapshot[] }
  | { op: 'rows'; table: string; rows: Array<{ primaryKey: PkCell[]; columns: Array<[string, Version[]]> }> }
  | { op: 'log'; table: string; partitionId: string; records: ChangeRecord[] };

type EncodedDetails = Omit<TableDetails, 'createdAtUs' | 'streamLastEnableUs'> & { createdAtUs: string; streamLastEnableUs: string };

function encodeDetails(d: TableDetails): EncodedDetails {
  return { ...d, primaryKey: d.primaryKey.map((c) => ({ ...c })), createdAtUs: d.createdAtUs.toString(), streamLastEnableUs: d.streamLastEnableUs.toString() };
}

/** Also reads the legacy form (bigint already revived, no streamLastEnableUs / keyHash). */
function decodeDetails(e: EncodedDetails | TableDetails): TableDetails {
  const createdAtUs = BigInt(e.createdAtUs);
  const last = (e as Partial<EncodedDetails>).streamLastEnableUs;
  return { ...e, createdAtUs, streamLastEnableUs: last === undefined ? createdAtUs : BigInt(last) };
}

export function encodeEntry(entry: StoreEntry): unknown {
  switch (entry.op) {
    case 'create-table':
      return { op: entry.op, details: encodeDetails(entry.details), partitions: entry.partitions.map(encodePartition) };
    case 'delete-table':
      return entry;
    case 'change':
      return { op: entry.op, table: entry.table, record: encodeRecord(entry.record) };
    case 'partitions':
      return { ...entry, created: entry.created.map(encodePartition) };
    case 'stream':
      return { ...entry, lastEnableUs: entry.lastEnableUs.toString() };
    case 'table':
      return {
        op: entry.op,
        details: encodeDetails(entry.details),
        partitions: entry.partitions.map((p) => ({ ...p, info: encodePartition(p.info), lastTs: p.lastTs.toString() })),
      };
    case 'rows':
      return {
        op: entry.op,
        table: entry.table,
        rows: entry.rows.map((r) => [
          encodeKey(r.primaryKey),
          r.columns.map(([name, versions]) => [name, versions.map((v) => [encodeValue(v.value), v.timestamp])]),
        ]),
      };
    case 'log':
      return { ...entry, records: entry.records.map(encodeRecord) };
  }
}

type Json = Record<string, unknown>;

export function decodeEntry(json: unknown): StoreEntry {
  const e = json as Json;
  switch (e.op) {
    case 'create-table':
      return { op: 'create-table', details: decodeDetails(e.details as EncodedDetails), partitions: (e.partitions as EncodedPartition[]).map(decodePartition) };
    case 'delete-table':
      return { op: 'delete-table', table: e.table as string };
    case 'change':
      return { op: 'change', table: e.table as string, record: decodeRecord(e.record as EncodedRecord) };
    case 'partitions':
      return { op: 'partitions', table: e.table as string, closed: e.closed as string[], created: (e.created as EncodedPartition[]).map(decodePartition) };
    case 'stream':
      return {
        op: 'stream',
        table: e.table as string,
        enabled: e.enabled as boolean,
        expirationHours: e.expirationHours as number,
        lastEnableUs: BigInt(e.lastEnableUs as string),
      };
    case 'table':
      return {
        op: 'table',
        details: decodeDetails(e.details as EncodedDetails),
        partitions: (e.partitions as Array<{ info: EncodedPartition; lastTs: string; lastRowIndex: number; logBase: number }>).map((p) => ({
          info: decodePartition(p.info),
          lastTs: BigInt(p.lastTs),
          lastRowIndex: p.lastRowIndex,
          logBase: p.logBase,
        })),
      };
    case 'rows':
      return {
        op: 'rows',
        table: e.table as string,
        rows: (e.rows as Array<[EncodedKey, Array<[string, Array<[EncodedValue, number]>]>]>).map(([key, columns]) => ({
          primaryKey: decodeKey(key),
          columns: columns.map(([name, versions]) => [name, versions.map(([v, ts]) => ({ value: decodeValue(v), timestamp: ts }))]),
        })),
      };
    case 'log':
      return { op: 'log', table: e.table as string, partitionId: e.partitionId as string, records: (e.records as EncodedRecord[]).map(decodeRecord) };
    default:
      throw new Error(`unknown journal entry ${JSON.stringify(e.op)}`);
  }
}

/** A legacy journal line: the in-memory form already, except details without the newer fields. */
export function legacyEntry(json: unknown): StoreEntry {
  const e = json as StoreEntry;
  if (e.op === 'create-table') return { ...e, details: { ...decodeDetails(e.details), keyHash: 'fnv1a' } };
  return e;
}
