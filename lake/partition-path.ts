/**
 * Hive-style partition directories and `add.path` encoding (docs/delta-rules.md §Partition values and paths). Two escapings
 * stack: the directory name escapes characters Hive reserves (`:` → `%3A`), then the log's path is a
 * URI, so `%` itself becomes `%25`. Readers take values from `partitionValues`, never from the path.
 */

const HIVE_DEFAULT_PARTITION = '__HIVE_DEFAULT_PARTITION__';

// Spark's ExternalCatalogUtils.charToEscape: control characters plus "#%'*/:=?\^{[]} and DEL.
const ESCAPED = /[\u0001-\u001f"#%'*/:=?\\\u007f{[\]^]/g;

function escapePartitionValue(value: string): string {
  return value.replace(ESCAPED, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** `a=1/b=x%3Ay/` for {a:'1', b:'x:y'}; '' without partitions. Empty string and null are the null partition. */
export function partitionDirectory(partitionValues: Readonly<Record<string, string | null>>): string {
  let out = '';
  for (const [name, value] of Object.entries(partitionValues)) {
    const v = value === null || value === '' ? HIVE_DEFAULT_PARTITION : escapePartitionValue(value);
    out += `${escapePartitionValue(name)}=${v}/`;
  }
  return out;
}

/** A table-relative key as an RFC 2396 relative URI for `add.path` / `remove.path`. */
export function encodeLogPath(key: string): string {
  return key
    .split('/')
    .map((segment) => encodeURIComponent(segment).replace(/%3D/g, '='))
    .join('/');
}

/** The inverse of encodeLogPath: where the file lives, relative to the table root. */
export function decodeLogPath(path: string): string {
  return decodeURIComponent(path);
}
