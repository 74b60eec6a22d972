/**
 * The rows of one table: a Map for lookups by key plus one array kept sorted by primary key for
 * scans. A write touches the array only when a row appears or disappears (binary search + splice),
 * which stays cheap at emulator scale and keeps scans a plain walk.
 */
import { BaseImages, type ImageBudget } from './base-images.js';
import type { ChangeRecord, ColumnValue, PkCell, StoredRow } from './model.js';
import { comparePks, partitionHash, pkKey, type KeyHash } from './pk-order.js';
import type { KeyValue } from './plainbuffer-read.js';

export interface Version {
  value: ColumnValue;
  timestamp: number;
}
export interface RowVersions {
  primaryKey: PkCell[];
  columns: Array<{ name: string; versions: Version[] }>;
}

export interface RowState {
  key: string;
  primaryKey: PkCell[];
  /** partitionHash of the first primary-key column. */
  hash: number;
  /** Versions newest first. */
  columns: Map<string, Version[]>;
  /** The row's kept base-data record, or its read-once mark (base-images.ts); undefined until a base read, and after every write. */
  image: Uint8Array | undefined;
}

type Key = ReadonlyArray<{ value: KeyValue }>;

export class RowIndex {
  private readonly byKey = new Map<string, RowState>();
  /** Sorted by primary key (except during a bulk load); read-only for callers. */
  sorted: RowState[] = [];
  /** Loading a journal: rows are not kept sorted until endBulk(), so a load is n log n, not n². */
  private bulk = false;
  private readonly images: BaseImages;

  constructor(
    private readonly maxVersions: number,
    private readonly keyHash: KeyHash = 'spread',
    imageBudget: ImageBudget = { limitBytes: 0, usedBytes: 0 },
  ) {
    this.images = new BaseImages(imageBudget, () => this.byKey.values());
  }

  /** The row's base-data record bytes (PUT_ROW image), kept until the row is next written; shared, never alter them. */
  baseRecord(row: RowState): Uint8Array {
    return this.images.bytesOf(row);
  }

  /** The table is going away: its kept base records leave the shared budget. */
  dispose(): void {
    this.images.dispose();
  }

  beginBulk(): void {
    this.bulk = true;
  }

  endBulk(): void {
    if (!this.bulk) return;
    this.bulk = false;
    this.sorted = [...this.byKey.values()].sort((a, b) => comparePks(a.primaryKey, b.primaryKey));
  }

  /** A row exactly as a snapshot holds it (versions newest first). */
  restore(primaryKey: PkCell[], columns: Array<[string, Version[]]>): void {
    const key = pkKey(primaryKey);
    const row: RowState = { key, primaryKey, hash: partitionHash(primaryKey[0]!.value, this.keyHash), columns: new Map(columns), image: undefined };
    const old = this.byKey.get(key);
    if (old) this.images.forget(old);
    if (old && !this.bulk) this.remove(old);
    this.byKey.set(key, row);
    if (!this.bulk) this.sorted.splice(this.lowerBound(primaryKey), 0, row);
  }

  /** Every row in key order, for a snapshot. */
  rows(): RowState[] {
    return this.bulk ? [...this.byKey.values()] : this.sorted;
  }

  get size(): number {
    return this.byKey.size;
  }

  get(pk: PkCell[]): RowState | undefined {
    return this.byKey.get(pkKey(pk));
  }

  /** First index whose key is >= `pk`. */
  lowerBound(pk: Key): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePks(this.sorted[mid]!.primaryKey, pk) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** First index whose key is > `pk`. */
  upperBound(pk: Key): number {
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (comparePks(this.sorted[mid]!.primaryKey, pk) <= 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Applies a change record; the same records in the same order always give the same rows. */
  apply(record: ChangeRecord): void {
    const key = pkKey(record.primaryKey);
    let row = this.byKey.get(key);
    // Whatever the change, the kept image no longer shows the row.
    if (row) this.images.forget(row);
    if (record.action === 'DELETE_ROW') {
      if (row) this.remove(row);
      return;
    }
    if (record.action === 'PUT_ROW') {
      if (row) row.columns.clear();
    } else if (!row && !record.changes.some((c) => c.op === 'put')) {
      return; // deletes on a missing row leave nothing behind
    }
    if (!row) {
      row = {
        key,
        primaryKey: record.primaryKey,
        hash: partitionHash(record.primaryKey[0]!.value, this.keyHash),
        columns: new Map(),
        image: undefined,
      };
      this.byKey.set(key, row);
      if (!this.bulk) this.sorted.splice(this.lowerBound(row.primaryKey), 0, row);
    }
    for (const change of record.changes) {
      // The put itself is the version (it has value and timestamp): no second object per cell.
      if (change.op === 'put') this.putVersion(row, change.name, change);
      else if (change.op === 'delete-all') row.columns.delete(change.name);
      else {
        const versions = row.columns.get(change.name);
        if (!versions) continue;
        const kept = versions.filter((v) => v.timestamp !== change.timestamp);
        if (kept.length === 0) row.columns.delete(change.name);
        else row.columns.set(change.name, kept);
      }
    }
  }

  private remove(row: RowState): void {
    this.images.forget(row);
    this.byKey.delete(row.key);
    if (this.bulk) return;
    const i = this.lowerBound(row.primaryKey);
    if (this.sorted[i] === row) this.sorted.splice(i, 1);
  }

  /**
   * An equal timestamp overwrites; beyond maxVersions the oldest versions go. The list is built
   * anew at its exact length: a list grown by splice keeps room for 16 versions (~150 bytes), and
   * a million rows of four columns would carry half a gigabyte of empty slots for the GC to walk.
   */
  private putVersion(row: RowState, name: string, version: Version): void {
    const versions = row.columns.get(name);
    if (versions === undefined || (this.maxVersions === 1 && version.timestamp >= versions[0]!.timestamp)) {
      row.columns.set(name, [version]);
      return;
    }
    const next: Version[] = [];
    let placed = false;
    for (const v of versions) {
      if (!placed && v.timestamp <= version.timestamp) {
        next.push(version);
        placed = true;
      }
      if (v.timestamp !== version.timestamp) next.push(v);
    }
    if (!placed) next.push(version);
    if (next.length > this.maxVersions) next.length = this.maxVersions;
    row.columns.set(name, next.slice());
  }
}

function sortedNames(row: RowState): string[] {
  return [...row.columns.keys()].sort();
}

/** Every version of every column, columns by name. */
export function versionsOf(row: RowState): RowVersions {
  // Fresh {value, timestamp} objects: a stored version may be the change record's put cell itself.
  return {
    primaryKey: row.primaryKey,
    columns: sortedNames(row).map((name) => ({ name, versions: row.columns.get(name)!.map((v) => ({ value: v.value, timestamp: v.timestamp })) })),
  };
}

/** The base-data image of a row: the newest version of every column. */
export function latestImage(row: RowState): StoredRow {
  return {
    primaryKey: row.primaryKey,
    cells: sortedNames(row).map((name) => {
      const v = row.columns.get(name)![0]!;
      return { name, value: v.value, timestamp: v.timestamp };
    }),
  };
}
