/**
 * Kept base-data records of one table's rows: the PlainBuffer PUT_ROW image a Tunnel base read
 * answers for a row (tunnel-reader.ts), kept on the row from its second base read on until a
 * write touches it (RowIndex drops it then), so a further tunnel, or a redo of the same pages,
 * copies bytes instead of encoding again; a single read keeps nothing (see bytesOf). Every read
 * still answers the row as it is now.
 *
 * Memory: the bytes live in 256 KiB slabs per table (one view per row, no ArrayBuffer per row, so
 * the GC has nothing per row to track), about the row's encoded size (a ~100-byte row of 4 columns
 * costs ~110 bytes beside the several hundred its objects take). All tables of a store share one
 * budget (TableStoreOptions.baseImageBytes). A row written after its image was kept leaves dead
 * bytes in a slab; once the budget is reached, a table whose slabs are mostly dead bytes drops all
 * its images and starts over, otherwise rows past the budget are encoded per read as without a cache.
 */
import { RecordSlabs, copyTransient, writeBaseImage, type LatestVersion } from './plainbuffer-write.js';
import type { PkCell } from './model.js';

const SLAB_BYTES = 256 * 1024;
/**
 * Kept bytes of something read once since it last changed (a row's `image`, a change-log record's bytes in
 * table-store.ts): nothing kept yet, the next read keeps them.
 */
export const READ_ONCE = new Uint8Array(0);

/** Shared by the tables of one store: bytes of slabs they hold, against the limit. */
export interface ImageBudget {
  readonly limitBytes: number;
  usedBytes: number;
}

/** What the cache needs of a stored row; `image` is the cache's field, nobody else reads or writes it. */
export interface ImageRow {
  primaryKey: PkCell[];
  columns: ReadonlyMap<string, readonly LatestVersion[]>;
  image: Uint8Array | undefined;
}

export class BaseImages {
  private readonly slabs = new RecordSlabs(SLAB_BYTES);
  /** Bytes of the images rows hold now (the rest of the slabs is dead or free). */
  private liveBytes = 0;

  constructor(
    private readonly budget: ImageBudget,
    /** Every row of the table, to drop their images on a reset. */
    private readonly rows: () => Iterable<ImageRow>,
  ) {}

  /**
   * The row's base record: its kept bytes, else encoded now; kept (while the budget allows) from
   * the row's second read since its last write on. A table read once, as one tunnel's base
   * read is, keeps nothing: every kept byte is new memory outside the JS heap, and V8 answers each
   * 64 MiB of it with a full mark of the heap (external memory pressure), which costs in proportion
   * to the table (1M rows read once: 6.5-13 µs CPU per row against 1.5 with nothing kept).
   */
  bytesOf(row: ImageRow): Uint8Array {
    const kept = row.image;
    if (kept !== undefined && kept !== READ_ONCE) return kept;
    writeBaseImage(row.primaryKey, row.columns);
    if (kept === undefined) {
      row.image = READ_ONCE;
      return copyTransient();
    }
    const cost = this.slabs.copyCost();
    if (cost > 0 && !this.grant(cost)) return copyTransient();
    const bytes = this.slabs.copyScratch();
    row.image = bytes;
    this.liveBytes += bytes.length;
    return bytes;
  }

  /** The row changed or went away: its kept bytes no longer show it. */
  forget(row: ImageRow): void {
    const kept = row.image;
    if (kept === undefined) return;
    if (kept !== READ_ONCE) this.liveBytes -= kept.length;
    row.image = undefined;
  }

  /** The table is gone: give its slabs back to the budget. */
  dispose(): void {
    this.budget.usedBytes -= this.slabs.allocatedBytes;
    this.slabs.reset();
    this.liveBytes = 0;
  }

  private grant(bytes: number): boolean {
    if (this.budget.usedBytes + bytes <= this.budget.limitBytes) {
      this.budget.usedBytes += bytes;
      return true;
    }
    // Over budget: start this table over if at least half of what it holds is dead bytes. A table
    // that holds nothing has nothing to give back (without this test, every row read past the
    // budget, or with a zero budget, walked every row of the table: quadratic in the table size).
    if (this.slabs.allocatedBytes === 0 || this.liveBytes * 2 > this.slabs.allocatedBytes) return false;
    // Kept images go; read-once marks stay (they hold no bytes).
    for (const row of this.rows()) if (row.image !== READ_ONCE) row.image = undefined;
    this.dispose();
    if (this.budget.usedBytes + bytes > this.budget.limitBytes) return false;
    this.budget.usedBytes += bytes;
    return true;
  }
}
