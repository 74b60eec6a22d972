/**
 * What to do with a value whose type contradicts its column (docs/changelog.md §Type conflicts: never a failed pipeline,
 * never a silent drop). A pure decision the row writers call per offending value; the outcome names
 * the policy applied so metrics and status can count it per column.
 *
 * - `companion`: the value lands, with its own type, in the nullable column `<name>__<type>`
 *   (e.g. `price__string`), created like any discovered column; `price` itself is null in that row.
 * - `string`: the value is rendered as text into `<name>__string` (one companion per column, whatever
 *   the offending types; binary as base64, numbers as their decimal text).
 * - `dead-letter`: the row is not landed; the caller writes it to the dead letters (issue 4's default).
 * In mirror tables a column and its companions form one attribute: setting one clears the others
 * (lake/mirror/apply.ts ColumnFamilies), so a row shows the current value exactly once.
 */
import { OtslakeError } from '../../common/errors.js';
import type { ColumnType } from '../parquet-columns.js';

export type TypeConflictPolicy = 'companion' | 'string' | 'dead-letter';

export const TYPE_CONFLICT_POLICIES: readonly TypeConflictPolicy[] = ['companion', 'string', 'dead-letter'];

/** Tablestore value types as their Delta column types. */
export type ValueColumnType = Extract<ColumnType, 'long' | 'double' | 'boolean' | 'string' | 'binary'>;

export type TypeConflictOutcome =
  | { readonly action: 'fits'; readonly column: string; readonly value: unknown }
  | {
      readonly action: 'land';
      readonly policy: Exclude<TypeConflictPolicy, 'dead-letter'>;
      readonly column: string;
      readonly type: ValueColumnType;
      readonly value: unknown;
    }
  | { readonly action: 'dead-letter'; readonly policy: 'dead-letter'; readonly column: string; readonly reason: 'type-mismatch' };

/** The column type a decoded Tablestore value has. */
function valueColumnTypeOf(value: unknown): ValueColumnType {
  if (typeof value === 'bigint') return 'long';
  if (typeof value === 'number') return 'double';
  if (typeof value === 'boolean') return 'boolean';
  if (typeof value === 'string') return 'string';
  if (value instanceof Uint8Array) return 'binary';
  throw new OtslakeError('OTSL_LAKE_SCHEMA', `a ${typeof value} is not a Tablestore value`, {});
}

/** The companion column of `column` for values of `type`. */
function companionColumnName(column: string, type: ValueColumnType): string {
  return `${column}__${type}`;
}

/** Text of a value for the `string` policy: exact for int64, shortest round-trip for doubles. */
export function renderValue(value: unknown): string {
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  return String(value);
}

export function parseTypeConflictPolicy(text: string): TypeConflictPolicy {
  if ((TYPE_CONFLICT_POLICIES as readonly string[]).includes(text)) return text as TypeConflictPolicy;
  throw new OtslakeError('OTSL_CONFIG_INVALID', `type conflict policy must be one of ${TYPE_CONFLICT_POLICIES.join(', ')}, got "${text}"`, {
    context: { key: 'typeConflictPolicy' },
  });
}

/**
 * Resolves one value arriving in `column` (of `columnType`). A value that fits comes back as `fits`
 * (so callers may route every value through here); a conflicting one as `land` in a companion
 * column or as `dead-letter`, with the policy that decided.
 */
export function resolveTypeConflict(column: string, columnType: ColumnType, value: unknown, policy: TypeConflictPolicy): TypeConflictOutcome {
  const type = valueColumnTypeOf(value);
  if (type === columnType) return { action: 'fits', column, value };
  switch (policy) {
    case 'companion':
      return { action: 'land', policy, column: companionColumnName(column, type), type, value };
    case 'string':
      return { action: 'land', policy, column: companionColumnName(column, 'string'), type: 'string', value: renderValue(value) };
    case 'dead-letter':
      return { action: 'dead-letter', policy, column, reason: 'type-mismatch' };
  }
}
