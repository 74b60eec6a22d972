/**
 * Checks and resolves the `tables` list. convict validates a list only as a whole, so each entry is
 * checked here and every problem is named by its index (`tables[1].mode: must be one of …`).
 */
import type { ConfigIssue } from './config-error.js';
import {
  COLUMN_TYPES,
  TABLE_MODES,
  TUNNEL_TYPES,
  type ColumnType,
  type TableMode,
  type TunnelType,
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
}

const ENTRY_KEYS = ['table', 'tunnel', 'mode', 'path', 'columns', 'partitionBy'];
const TUNNEL_KEYS = ['name', 'type'];
const COLUMN_KEYS = ['name', 'type'];
/** Metadata columns of changelog tables (design §3); a declared column must not shadow them. */
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
  if (issues.length > before || path === null) return null;
  return { table: name, tunnel: { name: tunnelName, type: tunnelType }, mode, path, columns, partitionBy };
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
        issues.push({ key: `tables[${x.index}].tunnel.name`, problem: `tunnel "${x.cfg.tunnel.name}" of table "${x.cfg.table}" is already read by tables[${y.index}]` });
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
