/**
 * loadConfig(): file (JSON or YAML) + environment → a frozen ResolvedConfig, or one ConfigError that
 * lists every problem by key. config/ is the only place that reads process.env; everything else gets
 * the resolved object (durations in …Ms, sizes in …Bytes, secrets included — print it only through
 * redactedConfig()).
 *
 * ResolvedConfig is derived from the schema (config/key-spec.ts ValuesOf), plus what is computed from
 * it: the parsed lake location, the OSS settings of an oss:// lake, the resolved table entries and the
 * connection settings every client is built from.
 */
import type { Connections } from '../common/connections.js';
import { readConfigFile } from './config-file.js';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { connectionsOf, resolveOss, type OssSettings, type SchemaValues } from './connections.js';
import { parseLakeUri, type LakeLocation } from './formats.js';
import { CONFIG_SCHEMA, envNameFor, listConfigKeys } from './schema.js';
import { resolveTables, type TableConfig } from './table-list.js';
import { checkObject, isPlainObject, type Env } from './validate.js';

export type { TableConfig, ColumnConfig, MirrorTableConfig } from './table-list.js';
export { typeConflictPolicyOf } from './table-list.js';
export type { LakeLocation } from './formats.js';
export type { OssSettings } from './connections.js';
export type { Env } from './validate.js';
export { readConfigFile } from './config-file.js';
export { loadLakeConnection, resolveLakeConnection } from './connections.js';

export interface ResolvedLake extends Omit<SchemaValues['lake'], 'oss'> {
  readonly location: LakeLocation;
  /** Present exactly when lake.uri is oss://. */
  readonly oss: OssSettings | null;
}

/** Every key of CONFIG_SCHEMA with its resolved type, and what is derived from them. */
export interface ResolvedConfig extends Omit<SchemaValues, 'lake' | 'tables'> {
  readonly lake: ResolvedLake;
  readonly tables: readonly TableConfig[];
  /** How to reach Tablestore and the lake: what the main thread's clients and the workers are built from. */
  readonly connections: Connections;
}

const KEYS = listConfigKeys();
const ENV_TO_KEY = new Map(KEYS.filter((k) => k.env !== null).map((k) => [k.env!, k.key]));
/** OTSLAKE_SOURCE, OTSLAKE_LAKE, …, OTSLAKE_TABLES: the namespaces of the top-level groups. */
const CONFIG_ENV_GROUPS = Object.keys(CONFIG_SCHEMA).map(envNameFor);

/**
 * A variable inside a group's namespace (OTSLAKE_HTTP_…) that is not a key is a typo that would
 * silently fall back to a default, so it is an error. Other OTSLAKE_ variables (a test's
 * OTSLAKE_CRASH_SEED, a tool's OTSLAKE_CHDB_MODULE) are not configuration and are not ours to refuse.
 */
function checkEnvNames(env: Env, issues: ConfigIssue[]): void {
  for (const name of Object.keys(env)) {
    if (ENV_TO_KEY.has(name) || !CONFIG_ENV_GROUPS.some((g) => name === g || name.startsWith(`${g}_`))) continue;
    const problem = name.startsWith(envNameFor('tables'))
      ? 'tables cannot be set through the environment: list them in the file'
      : 'environment variable is not a configuration key (see docs/configuration.md)';
    issues.push({ key: name, problem });
  }
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Validates an already-parsed config object; `source` names it in messages (a path, or null). */
export function resolveConfig(raw: unknown, env: Env = {}, source: string | null = null): ResolvedConfig {
  if (raw !== null && raw !== undefined && !isPlainObject(raw)) {
    throw new ConfigError([{ key: '', problem: 'must be an object at the top level' }], source);
  }
  const issues: ConfigIssue[] = [];
  const { values, invalid } = checkObject(CONFIG_SCHEMA, raw ?? {}, '', issues, env);
  checkEnvNames(env, issues);
  const tables = invalid.has('tables') ? [] : resolveTables(values.tables, issues, invalid.has('lake.uri') ? null : values.lake.uri);
  const location = invalid.has('lake.uri') ? null : parseLakeUri(values.lake.uri);
  const oss = location?.kind === 'oss' ? resolveOss(values.lake.oss, invalid, 'when lake.uri is oss://', issues) : null;
  const { heartbeatIntervalMs, heartbeatTimeoutMs } = values.source;
  if (!invalid.has('source.heartbeatIntervalMs') && !invalid.has('source.heartbeatTimeoutMs') && heartbeatTimeoutMs <= heartbeatIntervalMs) {
    issues.push({ key: 'source.heartbeatTimeoutMs', problem: `must be longer than source.heartbeatIntervalMs (${heartbeatIntervalMs} ms)` });
  }
  if (issues.length > 0 || location === null) throw new ConfigError(issues, source);

  const { oss: _ossKeys, ...lake } = values.lake;
  const resolved: ResolvedConfig = {
    ...values,
    lake: { ...lake, location, oss },
    tables,
    connections: connectionsOf(values, oss),
  };
  return deepFreeze(resolved);
}

/** The daemon's entry: `loadConfig('/etc/otslake/otslake.json')`. */
export function loadConfig(path: string, env: Env = process.env): ResolvedConfig {
  return resolveConfig(readConfigFile(path), env, path);
}

const REDACTED = '[Redacted]';
/** accessKeySecret, securityToken: the names of the secrets wherever they are copied (lake.oss, connections). */
const SECRET_NAMES = new Set(KEYS.filter((k) => k.sensitive).map((k) => k.key.slice(k.key.lastIndexOf('.') + 1)));

function redactObject(obj: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj)) out[k] = SECRET_NAMES.has(k) && typeof v === 'string' && v !== '' ? REDACTED : redact(v);
  return out;
}

function redact(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(redact);
  return isPlainObject(value) ? redactObject(value) : value;
}

/** A plain copy safe for logs and /status: every secret that is set reads '[Redacted]'. */
export function redactedConfig(cfg: ResolvedConfig): Record<string, unknown> {
  return redactObject({ ...cfg });
}
