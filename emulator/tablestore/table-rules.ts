/** Validation rules of tablestore-local's table API, and which partition owns a key hash. */
import type { PartitionInfo, PkCell, TableInfo } from './model.js';

const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const MAX_PK_COLUMNS = 4;
const MAX_STRING_PK_BYTES = 1024;

/** A problem with a table name, or null. */
export function checkTableName(name: string): string | null {
  return TABLE_NAME.test(name) ? null : `Invalid table name: '${name}'.`;
}

/** A problem with a primary-key schema, or null. */
export function checkSchema(primaryKey: TableInfo['primaryKey']): string | null {
  if (primaryKey.length === 0 || primaryKey.length > MAX_PK_COLUMNS) {
    return `The number of primary key columns must be in range: [1, ${MAX_PK_COLUMNS}].`;
  }
  const names = new Set<string>();
  for (const column of primaryKey) {
    if (!TABLE_NAME.test(column.name)) return `Invalid primary key name: '${column.name}'.`;
    if (names.has(column.name)) return `Duplicated primary key name: '${column.name}'.`;
    names.add(column.name);
  }
  return null;
}

/** A problem with a row's primary key against the table schema, or null. */
export function validatePrimaryKey(table: Pick<TableInfo, 'primaryKey'>, pk: PkCell[]): string | null {
  if (pk.length !== table.primaryKey.length) {
    return `The number of primary key columns must be ${table.primaryKey.length}, got ${pk.length}.`;
  }
  for (let i = 0; i < pk.length; i++) {
    const want = table.primaryKey[i]!;
    const got = pk[i]!;
    if (got.name !== want.name) return `Validate PK name fail. Input: ${got.name}, Meta: ${want.name}.`;
    if (got.value.type !== want.type) return `Validate PK type fail. Input: ${got.value.type}, Meta: ${want.type}.`;
    if (got.value.type === 'STRING' && Buffer.byteLength(got.value.value) > MAX_STRING_PK_BYTES) {
      return `The length of primary key column '${got.name}' exceeds ${MAX_STRING_PK_BYTES} bytes.`;
    }
  }
  return null;
}

/** The open partition whose hash range holds `hash` (open partitions tile the hash space). */
export function partitionFor<P extends { info: PartitionInfo }>(partitions: P[], hash: number): P {
  for (const p of partitions) {
    if (!p.info.closed && hash >= p.info.hashStart && hash < p.info.hashEnd) return p;
  }
  throw new Error(`no open partition covers hash ${hash}: partition ranges are inconsistent`);
}
