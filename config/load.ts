/**
 * loadConfig(): file (JSON or YAML) + environment → a frozen ResolvedConfig, or one ConfigError that
 * lists every problem by key. This is the only module that reads process.env; everything else gets
 * the resolved object (durations in …Ms, sizes in …Bytes, secrets included — print it only through
 * redactedConfig()).
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import convict from 'convict';
import { parse as parseYaml } from 'yaml';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { parseLakeUri, type LakeLocation } from './formats.js';
import { CONFIG_SCHEMA, isKeySpec, listConfigKeys, type LogLevelName, type SchemaNode } from './schema.js';
import { resolveTables, type TableConfig } from './table-list.js';

export type { TableConfig, ColumnConfig, MirrorTableConfig } from './table-list.js';
export { typeConflictPolicyOf } from './table-list.js';
export type { LakeLocation } from './formats.js';

export interface OssSettings {
  readonly endpoint: string;
  readonly region: string | null;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken: string | null;
  readonly sldEnable: boolean;
}

export interface ResolvedConfig {
  readonly source: {
    readonly endpoint: string;
    readonly instance: string;
    readonly accessKeyId: string;
    readonly accessKeySecret: string;
    readonly securityToken: string | null;
    readonly requestTimeoutMs: number;
    readonly heartbeatIntervalMs: number;
    readonly heartbeatTimeoutMs: number;
  };
  readonly lake: {
    readonly uri: string;
    readonly location: LakeLocation;
    /** Present exactly when lake.uri is oss://. */
    readonly oss: OssSettings | null;
    readonly targetFileSizeBytes: number;
    readonly checkpointInterval: number;
  };
  readonly tables: readonly TableConfig[];
  readonly batch: {
    readonly intervalMs: number;
    readonly maxRecordsPerChannel: number;
    readonly maxBytesPerChannel: number;
    readonly maxDurationMs: number;
  };
  readonly workers: { readonly threads: number };
  readonly http: { readonly host: string; readonly port: number };
  readonly log: { readonly level: LogLevelName };
  readonly shutdown: { readonly graceMs: number };
  readonly maintenance: {
    readonly compact: { readonly enabled: boolean; readonly intervalMs: number; readonly minFiles: number };
    readonly vacuum: { readonly enabled: boolean; readonly intervalMs: number; readonly retentionMs: number };
    readonly logCleanupIntervalMs: number;
    readonly logRetentionMs: number;
  };
}

export type Env = Readonly<Record<string, string | undefined>>;

const KEYS = listConfigKeys();
const ENV_TO_KEY = new Map(KEYS.filter((k) => k.env !== null).map((k) => [k.env!, k.key]));

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Reads JSON (.json) or YAML (.yaml/.yml). A parse error names the file and the position. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message;
    throw new ConfigError([{ key: '', problem: `cannot be read: ${reason}` }], path);
  }
  const ext = extname(path).toLowerCase();
  try {
    if (ext === '.json') return JSON.parse(text) as unknown;
    if (ext === '.yaml' || ext === '.yml') return parseYaml(text, { prettyErrors: true }) as unknown;
  } catch (err) {
    const detail = (err as Error).message.split('\n')[0];
    throw new ConfigError([{ key: '', problem: `is not valid ${ext === '.json' ? 'JSON' : 'YAML'}: ${detail}` }], path);
  }
  throw new ConfigError([{ key: '', problem: `has extension "${ext}"; use .json, .yaml or .yml` }], path);
}

/**
 * Unknown keys, and objects where the schema has a group, are found before convict sees the data:
 * convict would report them without a useful message (or crash on a scalar where a group belongs).
 */
function checkStructure(raw: Record<string, unknown>, node: SchemaNode, prefix: string, issues: ConfigIssue[]): Record<string, unknown> {
  const clean: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(raw)) {
    const key = prefix ? `${prefix}.${name}` : name;
    const spec = Object.prototype.hasOwnProperty.call(node, name) ? node[name] : undefined;
    if (spec === undefined) {
      issues.push({ key, problem: `unknown key (allowed here: ${Object.keys(node).join(', ')})` });
    } else if (isKeySpec(spec)) {
      clean[name] = value;
    } else if (!isPlainObject(value)) {
      issues.push({ key, problem: `must be an object with keys ${Object.keys(spec).join(', ')}` });
    } else {
      clean[name] = checkStructure(value, spec, key, issues);
    }
  }
  return clean;
}

const UNDECLARED = /^configuration param '(.+)' (not declared in the schema|missing from config.*)$/;
const INVALID = /^([\w.]+): (.*?)(?:: value was (.*))?$/;

/** convict reports all problems as one message, one line each: `key: problem[: value was X]`. */
function issuesFromConvict(message: string, env: Env): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const line of message.split('\n')) {
    const undeclared = UNDECLARED.exec(line);
    const invalid = undeclared ? null : INVALID.exec(line);
    if (undeclared) {
      out.push({ key: undeclared[1]!, problem: undeclared[2]!.startsWith('not') ? 'unknown key' : 'must be an object' });
    } else if (invalid) {
      const key = invalid[1]!;
      const envName = KEYS.find((k) => k.key === key)?.env;
      const fromEnv = envName && env[envName] !== undefined && !invalid[2]!.includes(envName) ? ` (from ${envName})` : '';
      const got = invalid[3] === undefined ? '' : `, got ${invalid[3]}`;
      out.push({ key, problem: `${invalid[2]}${got}${fromEnv}` });
    } else if (line.trim() !== '') {
      out.push({ key: '', problem: line });
    }
  }
  return out;
}

function checkEnvNames(env: Env, issues: ConfigIssue[]): void {
  for (const name of Object.keys(env)) {
    if (name.startsWith('OTSLAKE_') && !ENV_TO_KEY.has(name)) {
      issues.push({ key: name, problem: 'environment variable is not a configuration key (see docs/configuration.md)' });
    }
  }
}

function orNull(s: string): string | null {
  return s === '' ? null : s;
}

function resolveOss(props: Record<string, any>, location: LakeLocation, issues: ConfigIssue[]): OssSettings | null {
  if (location.kind !== 'oss') return null;
  const oss = props.lake.oss as Record<string, any>;
  const need = (name: string, value: string) => {
    if (value === '')
      issues.push({ key: `lake.oss.${name}`, problem: `is required when lake.uri is oss:// (or set ${KEYS.find((k) => k.key === `lake.oss.${name}`)!.env})` });
  };
  need('endpoint', oss.endpoint);
  need('accessKeyId', oss.accessKeyId);
  need('accessKeySecret', oss.accessKeySecret);
  return {
    endpoint: oss.endpoint,
    region: orNull(oss.region),
    accessKeyId: oss.accessKeyId,
    accessKeySecret: oss.accessKeySecret,
    securityToken: orNull(oss.securityToken),
    sldEnable: oss.sldEnable,
  };
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
  const issues: ConfigIssue[] = [];
  if (raw !== null && raw !== undefined && !isPlainObject(raw)) {
    throw new ConfigError([{ key: '', problem: 'must be an object at the top level' }], source);
  }
  const clean = checkStructure((raw ?? {}) as Record<string, unknown>, CONFIG_SCHEMA, '', issues);
  checkEnvNames(env, issues);

  const config = convict<Record<string, unknown>>(CONFIG_SCHEMA as never, { env: { ...env }, args: [] });
  config.load(clean);
  try {
    config.validate({ allowed: 'strict', output: () => undefined });
  } catch (err) {
    issues.push(...issuesFromConvict((err as Error).message, env));
  }
  const props = config.getProperties() as Record<string, any>;
  const tables = resolveTables(props.tables, issues);
  const location = typeof props.lake.uri === 'string' ? parseLakeUri(props.lake.uri) : null;
  const oss = location ? resolveOss(props, location, issues) : null;
  if (typeof props.source.heartbeatTimeoutMs === 'number' && props.source.heartbeatTimeoutMs <= props.source.heartbeatIntervalMs) {
    issues.push({ key: 'source.heartbeatTimeoutMs', problem: `must be longer than source.heartbeatIntervalMs (${props.source.heartbeatIntervalMs} ms)` });
  }
  if (issues.length > 0 || location === null) throw new ConfigError(issues, source);

  const resolved: ResolvedConfig = {
    source: { ...props.source, securityToken: orNull(props.source.securityToken) },
    lake: {
      uri: props.lake.uri,
      location,
      oss,
      targetFileSizeBytes: props.lake.targetFileSizeBytes,
      checkpointInterval: props.lake.checkpointInterval,
    },
    tables,
    batch: { ...props.batch },
    workers: { ...props.workers },
    http: { ...props.http },
    log: { ...props.log },
    shutdown: { ...props.shutdown },
    maintenance: {
      compact: { ...props.maintenance.compact },
      vacuum: { ...props.maintenance.vacuum },
      logCleanupIntervalMs: props.maintenance.logCleanupIntervalMs,
      logRetentionMs: props.maintenance.logRetentionMs,
    },
  };
  return deepFreeze(resolved);
}

/** The daemon's entry: `loadConfig('/etc/otslake/otslake.json')`. */
export function loadConfig(path: string, env: Env = process.env): ResolvedConfig {
  return resolveConfig(readConfigFile(path), env, path);
}

const REDACTED = '[Redacted]';

/** A plain copy safe for logs and /status: every sensitive key that is set reads '[Redacted]'. */
export function redactedConfig(cfg: ResolvedConfig): Record<string, unknown> {
  const copy = JSON.parse(JSON.stringify(cfg)) as Record<string, unknown>;
  for (const k of KEYS) {
    if (!k.sensitive) continue;
    const parts = k.key.split('.');
    let obj: unknown = copy;
    for (const p of parts.slice(0, -1)) obj = isPlainObject(obj) ? obj[p] : undefined;
    const leaf = parts[parts.length - 1]!;
    if (isPlainObject(obj) && typeof obj[leaf] === 'string' && obj[leaf] !== '') obj[leaf] = REDACTED;
  }
  return copy;
}
