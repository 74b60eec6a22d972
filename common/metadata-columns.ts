/**
 * The names of a changelog table's metadata columns (docs/changelog.md §Columns): a prefix (tables[].metadataPrefix,
 * `_` by default) before fixed stems, so that a source column named like one of them (`_op`, `_ts`, …) can land
 * beside them under its own name. Shared by config/ (validation), pipeline/ (the table's schema) and workers/ (files).
 */

export const DEFAULT_METADATA_PREFIX = '_';

export interface MetadataColumnNames {
  readonly op: string;
  readonly ts: string;
  readonly seq: string;
  readonly channel: string;
  readonly deletedColumns: string;
  /** The derived day of `ts`: a column only of tables partitioned by it. */
  readonly date: string;
}

export function metadataColumnNames(prefix: string = DEFAULT_METADATA_PREFIX): MetadataColumnNames {
  return {
    op: `${prefix}op`,
    ts: `${prefix}ts`,
    seq: `${prefix}seq`,
    channel: `${prefix}channel`,
    deletedColumns: `${prefix}deleted_columns`,
    date: `${prefix}date`,
  };
}

/** Every metadata name of the prefix, in file order (`date` last: it is never in a file). */
export function reservedColumnNames(prefix: string = DEFAULT_METADATA_PREFIX): string[] {
  const n = metadataColumnNames(prefix);
  return [n.op, n.ts, n.seq, n.channel, n.deletedColumns, n.date];
}
