/**
 * Checks and resolves the `tables` list. convict validates a list only as a whole, so each entry is
 * checked here and every problem is named by its index (`tables[1].mode: must be one of …`).
 */
import { parseBytes } from '../common/units.js';
import type { ConfigIssue } from './config-error.js';
import {
  COLUMN_TYPES,
  DEFAULT_MIRROR_BUCKETS,
  DEFAULT_MIRROR_TARGET_FILE_BYTES,
  DEFAULT_TYPE_CONFLICT_POLICY,
  MAX_MIRROR_BUCKETS,
  TABLE_MODES,
  TYPE_CONFLICT_POLICIES,
  TUNNEL_TYPES,
  type ColumnType,
  type TableMode,
  type TunnelType,
  type TypeConflictPolicyName,
} from './schema.js';

export interface ColumnConfig {
  readonly name: string;
  readonly type: ColumnType;
}

export interface TableConfig {
  readonly table: string;
  readonly tunnel: { readonly name: string; readonly type: TunnelType };
  readonly mode: TableMode;
  /** Folder under lake.uri, normalised: no leading/trailing slash. */
  readonly path: string;
  readonly columns: readonly ColumnConfig[];
  readonly partitionBy: readonly string[];
  /**
   * What a value whose type contradicts its column becomes (lake/mirror/type-conflict.ts). Present
   * only when the file sets it; use typeConflictPolicyOf() for the effective one.
   */
  readonly typeConflictPolicy?: TypeConflictPolicyName;
  /** Present exactly when mode is mirror: the layout fixed at table creation (docs/mirror.md). */
  readonly mirror?: MirrorTableConfig;
}

export interface MirrorTableConfig {
  readonly buckets: number;
  readonly targetFileSizeBytes: number;
  /** delta.enableChangeDataFeed on the table (`tables[].changeDataFeed`). */
  readonly changeDataFeed: boolean;
}

/** The policy in force for a table: the configured one, else the default. */
export function typeConflictPolicyOf(table: Pick<TableConfig, 'typeConflictPolicy'>): TypeConflictPolicyName {
  return table.typeConflictPolicy ?? DEFAULT_TYPE_CONFLICT_POLICY;
}

const ENTRY_KEYS = ['table', 'tunnel', 'mode', 'path', 'columns', 'partitionBy', 'typeConflictPolicy', 'changeDataFeed', 'mirror'];
const MIRROR_KEYS = ['buckets', 'targetFileSize'];
const TUNNEL_KEYS = ['name', 'type'];
const COLUMN_KEYS = ['name', 'type'];
/** Metadata columns of changelog tables (docs/changelog.md §Columns); a declared column must not shadow them. */
export const RESERVED_COLUMNS = ['_op', '_ts', '_seq', '_channel', '_deleted_columns'];
const TABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,254}$/;
const PATH_SEGMENT = /^[A-Za-z0-9][A-Za-z0-9_.=-]*$/;

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function reportUnknownKeys(obj: Record<string, unknown>, allowed: string[], at: string, issues: ConfigIssue[]): void {
  for (const k of Object.keys(obj)) {
    if (!allowed.includes(k)) issues.push({ key: `${at}.${k}`, problem: `unknown key (allowed: ${allowed.join(', ')})` });
  }
}

function pickEnum<T extends string>(value: unknown, values: readonly T[], fallback: T, key: string, issues: ConfigIssue[]): T {
  if (value === undefined) return fallback;
  if (typeof value === 'string' && (values as readonly string[]).includes(value)) return value as T;
  issues.push({ key, problem: `must be one of ${values.join(', ')}` });
  return fallback;
}

function checkPath(value: unknown, key: string, issues: ConfigIssue[]): string | null {
  if (typeof value !== 'string' || value.trim() === '') {
    issues.push({ key, problem: 'must be a non-empty relative folder name, e.g. "orders" or "sales/orders"' });
    return null;
  }
  const trimmed = value.replace(/^\/+|\/+$/g, '');
  if (value.startsWith('/')) {
    issues.push({ key, problem: 'must be relative to lake.uri (no leading "/")' });
    return null;
  }
  const bad = trimmed.split('/').find((s) => !PATH_SEGMENT.test(s));
  if (bad !== undefined) {
    issues.push({
      key,
      problem: `segment "${bad}" is not allowed: use letters, digits, "_", "-", ".", "=", not starting with "_" or "." (Delta and vacuum treat those as hidden)`,
    });
    return null;
  }
  return trimmed;
}

function checkColumns(value: unknown, at: string, issues: ConfigIssue[]): ColumnConfig[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) {
    issues.push({ key: at, problem: 'must be a list of { name, type }' });
    return [];
  }
  const out: ColumnConfig[] = [];
  const seen = new Set<string>();
  value.forEach((col, j) => {
    const key = `${at}[${j}]`;
    if (!isPlainObject(col)) {
      issues.push({ key, problem: 'must be an object { name, type }' });
      return;
    }
    reportUnknownKeys(col, COLUMN_KEYS, key, issues);
    const name = col.name;
    if (typeof name !== 'string' || name === '') {
      issues.push({ key: `${key}.name`, problem: 'must be a non-empty string' });
      return;
    }
    if (RESERVED_COLUMNS.includes(name)) {
      issues.push({ key: `${key}.name`, problem: `"${name}" is reserved for otslake's metadata columns (${RESERVED_COLUMNS.join(', ')})` });
      return;
    }
    if (seen.has(name)) {
      issues.push({ key: `${key}.name`, problem: `column "${name}" is declared twice` });
      return;
    }
    seen.add(name);
    const type = pickEnum(col.type, COLUMN_TYPES, 'STRING', `${key}.type`, issues);
    if (col.type === undefined) issues.push({ key: `${key}.type`, problem: `is required: one of ${COLUMN_TYPES.join(', ')}` });
    out.push({ name, type });
  });
  return out;
}

function checkPartitionBy(value: unknown, at: string, issues: ConfigIssue[]): string[] {
  if (value === undefined) return [];
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string' || v === '')) {
    issues.push({ key: at, problem: 'must be a list of column names' });
    return [];
  }
  const names = value as string[];
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) issues.push({ key: at, problem: `column "${dup}" is listed twice` });
  return names;
}

function checkMirror(
  entry: Record<string, unknown>,
  mode: TableMode,
  partitionBy: readonly string[],
  at: string,
  issues: ConfigIssue[],
): MirrorTableConfig | undefined {
  if (mode !== 'mirror') {
    if (entry.mirror !== undefined) issues.push({ key: `${at}.mirror`, problem: 'is only allowed with mode mirror' });
    if (entry.changeDataFeed !== undefined)
      issues.push({ key: `${at}.changeDataFeed`, problem: 'is only allowed with mode mirror (a changelog table is its own change feed)' });
    return undefined;
  }
  if (partitionBy.length > 0)
    issues.push({ key: `${at}.partitionBy`, problem: 'must be empty with mode mirror (mirror tables are laid out by primary-key hash buckets)' });
  const cdf = entry.changeDataFeed;
  if (cdf !== undefined && typeof cdf !== 'boolean') issues.push({ key: `${at}.changeDataFeed`, problem: 'must be true or false' });
  const mirror = entry.mirror ?? {};
  let buckets = DEFAULT_MIRROR_BUCKETS;
  let targetFileSizeBytes = DEFAULT_MIRROR_TARGET_FILE_BYTES;
  if (!isPlainObject(mirror)) {
    issues.push({ key: `${at}.mirror`, problem: 'must be an object { buckets, targetFileSize }' });
  } else {
    reportUnknownKeys(mirror, MIRROR_KEYS, `${at}.mirror`, issues);
    if (mirror.buckets !== undefined) {
      if (typeof mirror.buckets === 'number' && Number.isInteger(mirror.buckets) && mirror.buckets >= 1 && mirror.buckets <= MAX_MIRROR_BUCKETS)
        buckets = mirror.buckets;
      else issues.push({ key: `${at}.mirror.buckets`, problem: `must be an integer in 1..${MAX_MIRROR_BUCKETS}` });
    }
    if (mirror.targetFileSize !== undefined) {
      try {
        targetFileSizeBytes = parseBytes(mirror.targetFileSize as string | number);
        if (targetFileSizeBytes < 1024) throw new Error('below 1KiB');
      } catch {
        issues.push({ key: `${at}.mirror.targetFileSize`, problem: 'must be a size of at least 1KiB, e.g. "8MiB"' });
      }
    }
  }
  return { buckets, targetFileSizeBytes, changeDataFeed: cdf === true };
}

function checkEntry(entry: unknown, i: number, issues: ConfigIssue[]): TableConfig | null {
  const at = `tables[${i}]`;
  if (!isPlainObject(entry)) {
    issues.push({ key: at, problem: 'must be an object { table, tunnel, mode, path }' });
    return null;
  }
  reportUnknownKeys(entry, ENTRY_KEYS, at, issues);
  const before = issues.length;
  const table = entry.table;
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    issues.push({
      key: `${at}.table`,
      problem: table === undefined ? 'is required' : 'must be a Tablestore table name: letters, digits and "_", not starting with a digit',
    });
  }
  const name = typeof table === 'string' ? table : '';
  let tunnelName = `otslake-${name}`;
  let tunnelType: TunnelType = 'BaseAndStream';
  if (entry.tunnel !== undefined) {
    if (!isPlainObject(entry.tunnel)) {
      issues.push({ key: `${at}.tunnel`, problem: 'must be an object { name, type }' });
    } else {
      reportUnknownKeys(entry.tunnel, TUNNEL_KEYS, `${at}.tunnel`, issues);
      const tn = entry.tunnel.name;
      if (tn !== undefined && (typeof tn !== 'string' || tn.trim() === '')) {
        issues.push({ key: `${at}.tunnel.name`, problem: 'must be a non-empty string' });
      } else if (typeof tn === 'string') {
        tunnelName = tn;
      }
      tunnelType = pickEnum(entry.tunnel.type, TUNNEL_TYPES, tunnelType, `${at}.tunnel.type`, issues);
    }
  }
  const mode = pickEnum(entry.mode, TABLE_MODES, 'changelog', `${at}.mode`, issues);
  const path = checkPath(entry.path ?? name, `${at}.path`, issues);
  const columns = checkColumns(entry.columns, `${at}.columns`, issues);
  const partitionBy = checkPartitionBy(entry.partitionBy, `${at}.partitionBy`, issues);
  const mirror = checkMirror(entry, mode, partitionBy, at, issues);
  const policy =
    entry.typeConflictPolicy === undefined
      ? undefined
      : pickEnum(entry.typeConflictPolicy, TYPE_CONFLICT_POLICIES, DEFAULT_TYPE_CONFLICT_POLICY, `${at}.typeConflictPolicy`, issues);
  if (issues.length > before || path === null) return null;
  return {
    table: name,
    tunnel: { name: tunnelName, type: tunnelType },
    mode,
    path,
    columns,
    partitionBy,
    ...(policy === undefined ? {} : { typeConflictPolicy: policy }),
    ...(mirror === undefined ? {} : { mirror }),
  };
}

/** Two entries must not write the same folder, nor one inside the other (a table's files would mix). */
function checkOverlaps(tables: { index: number; cfg: TableConfig }[], issues: ConfigIssue[]): void {
  for (let a = 0; a < tables.length; a++) {
    for (let b = 0; b < a; b++) {
      const x = tables[a]!;
      const y = tables[b]!;
      if (x.cfg.path === y.cfg.path) {
        issues.push({ key: `tables[${x.index}].path`, problem: `"${x.cfg.path}" is already used by tables[${y.index}]` });
      } else if (x.cfg.path.startsWith(y.cfg.path + '/') || y.cfg.path.startsWith(x.cfg.path + '/')) {
        issues.push({ key: `tables[${x.index}].path`, problem: `"${x.cfg.path}" and tables[${y.index}].path "${y.cfg.path}" are nested` });
      }
      if (x.cfg.table === y.cfg.table && x.cfg.tunnel.name === y.cfg.tunnel.name) {
        issues.push({
          key: `tables[${x.index}].tunnel.name`,
          problem: `tunnel "${x.cfg.tunnel.name}" of table "${x.cfg.table}" is already read by tables[${y.index}]`,
        });
      }
    }
  }
}

export function resolveTables(value: unknown, issues: ConfigIssue[]): TableConfig[] {
  if (!Array.isArray(value)) return [];
  const ok: { index: number; cfg: TableConfig }[] = [];
  value.forEach((entry, i) => {
    const cfg = checkEntry(entry, i, issues);
    if (cfg) ok.push({ index: i, cfg });
  });
  checkOverlaps(ok, issues);
  return ok.map((t) => t.cfg);
}
