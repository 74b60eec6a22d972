/**
 * Change Data Feed files of a mirror batch (docs/delta-rules.md §Change Data Feed): `_change_data/` Parquet files
 * with the table's columns plus `_change_type`. A version with any `cdc` action is read from its cdc
 * files only, so every net change of the batch is written here — whole-row inserts and deletes too.
 * Changes are net per key and batch: intermediate states inside one commit are not visible to any
 * reader, as with a MERGE.
 */
import type { Cdc } from '../actions.js';
import type { ObjectStore } from '../object-store.js';
import type { ColumnSpec } from '../parquet-columns.js';
import { ParquetFileWriter, type ParquetCompression, type WrittenFile } from '../parquet-file.js';
import { encodeLogPath } from '../partition-path.js';
import { sameRow, type MirrorRow } from './apply.js';
import { CHANGE_DATA_DIR } from './layout.js';

export type ChangeType = 'insert' | 'update_preimage' | 'update_postimage' | 'delete';

const CHANGE_TYPE_COLUMN = '_change_type';

export interface ChangeCounts {
  inserted: number;
  updated: number;
  deleted: number;
}

/** The cdc action of a written change-data file. */
export function cdcActionFor(file: WrittenFile): { cdc: Cdc } {
  return { cdc: { path: encodeLogPath(file.path), partitionValues: {}, size: file.size, dataChange: false } };
}

/**
 * Classifies each key's before/after and, when enabled, writes the rows. Counting happens either
 * way: the metrics show inserted/updated/deleted rows with or without CDF.
 */
export class ChangeDataWriter {
  readonly counts: ChangeCounts = { inserted: 0, updated: 0, deleted: 0 };
  private readonly writer: ParquetFileWriter | null;
  private appended = 0;

  constructor(
    private readonly columns: readonly ColumnSpec[],
    options: { store: ObjectStore; enabled: boolean; compression?: ParquetCompression; signal?: AbortSignal },
  ) {
    this.writer = options.enabled
      ? new ParquetFileWriter({
          store: options.store,
          columns: [...columns, { name: CHANGE_TYPE_COLUMN, type: 'string', nullable: false }],
          directory: CHANGE_DATA_DIR,
          ...(options.compression ? { compression: options.compression } : {}),
          ...(options.signal ? { signal: options.signal } : {}),
        })
      : null;
  }

  /** Records one key's net change; nothing when the row is unchanged in every column. */
  async record(before: MirrorRow | undefined, after: MirrorRow | undefined): Promise<void> {
    if (before === undefined && after === undefined) return;
    if (before === undefined) {
      this.counts.inserted++;
      this.append(after!, 'insert');
    } else if (after === undefined) {
      this.counts.deleted++;
      this.append(before, 'delete');
    } else if (!sameRow(before, after, this.columns)) {
      this.counts.updated++;
      this.append(before, 'update_preimage');
      this.append(after, 'update_postimage');
    }
    if (this.writer && this.appended >= 8192) {
      this.appended = 0;
      await this.writer.drain();
    }
  }

  private append(row: MirrorRow, type: ChangeType): void {
    if (!this.writer) return;
    this.writer.appendRow({ ...row, [CHANGE_TYPE_COLUMN]: type });
    this.appended++;
  }

  async close(): Promise<WrittenFile[]> {
    return this.writer ? this.writer.close() : [];
  }

  async abort(reason: unknown): Promise<void> {
    await this.writer?.abort(reason);
  }
}
