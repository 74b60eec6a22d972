/**
 * The connection settings (common/connections.ts), built once from checked config values: the daemon's
 * `ResolvedConfig.connections`, and the lake connection of the table commands (inspect, compact,
 * vacuum), which read the same `lake.oss.*` keys (file and OTSLAKE_LAKE_OSS_* variables) without
 * needing the rest of a daemon config.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Connections, LakeConnection, OssConnection } from '../common/connections.js';
import { readConfigFile } from './config-file.js';
import { ConfigError, type ConfigIssue } from './config-error.js';
import { parseLakeUri } from './formats.js';
import type { ValuesOf } from './key-spec.js';
import { CONFIG_SCHEMA } from './schema.js';
import { checkObject, isPlainObject, type Env } from './validate.js';

export type SchemaValues = ValuesOf<typeof CONFIG_SCHEMA>;
type OssValues = SchemaValues['lake']['oss'];

/** Optional in the schema (a file:// lake needs none of them), required once the lake is on OSS. */
const REQUIRED_FOR_OSS = ['endpoint', 'accessKeyId', 'accessKeySecret'] as const;

/** `lake.oss` of an oss:// lake: the schema's values with the keys REQUIRED_FOR_OSS present. */
export type OssSettings = { readonly [K in keyof OssValues]: K extends (typeof REQUIRED_FOR_OSS)[number] ? NonNullable<OssValues[K]> : OssValues[K] };

/** The OSS settings, or null with each missing key reported (`when` says why it is needed). */
export function resolveOss(oss: OssValues, invalid: ReadonlySet<string>, when: string, issues: ConfigIssue[]): OssSettings | null {
  const before = issues.length;
  for (const name of REQUIRED_FOR_OSS) {
    const key = `lake.oss.${name}`;
    if (oss[name] === null && !invalid.has(key)) issues.push({ key, problem: `is required ${when} (or set ${CONFIG_SCHEMA.lake.oss[name].env})` });
  }
  const { endpoint, accessKeyId, accessKeySecret } = oss;
  if (issues.length > before || endpoint === null || accessKeyId === null || accessKeySecret === null) return null;
  return { ...oss, endpoint, accessKeyId, accessKeySecret };
}

export function ossConnectionOf(oss: OssSettings): OssConnection {
  return {
    endpoint: oss.endpoint,
    region: oss.region,
    accessKeyId: oss.accessKeyId,
    accessKeySecret: oss.accessKeySecret,
    securityToken: oss.securityToken,
    pathStyle: oss.sldEnable,
  };
}

/** The daemon's connections; `oss` is the resolved lake.oss of an oss:// lake, else null. */
export function connectionsOf(values: SchemaValues, oss: OssSettings | null): Connections {
  const { source } = values;
  return {
    tablestore: {
      endpoint: source.endpoint,
      instanceName: source.instance,
      accessKeyId: source.accessKeyId,
      accessKeySecret: source.accessKeySecret,
      securityToken: source.securityToken,
      requestTimeoutMs: source.requestTimeoutMs,
    },
    lake: { uri: values.lake.uri, oss: oss === null ? null : ossConnectionOf(oss) },
  };
}

const LAKE_OSS_SCHEMA = { lake: { oss: CONFIG_SCHEMA.lake.oss } };

/**
 * The connection for a lake or table URI given on a command line: file:///abs, a plain local path, or
 * oss://bucket/prefix with `lake.oss.*` from `raw` (a parsed config file; only that group is read)
 * and the OTSLAKE_LAKE_OSS_* variables, checked by the same rules as the daemon's.
 */
export function resolveLakeConnection(uriOrPath: string, raw: unknown, env: Env, source: string | null): LakeConnection {
  const uri = /^[a-z][a-z0-9+.-]*:/i.test(uriOrPath) ? uriOrPath : pathToFileURL(resolve(uriOrPath)).href;
  const location = parseLakeUri(uri);
  if (location === null)
    throw new ConfigError([{ key: '', problem: `"${uriOrPath}" must be file:///absolute/path, a local path or oss://bucket/prefix` }], null);
  if (location.kind === 'file') return { uri, oss: null };
  const issues: ConfigIssue[] = [];
  const lake = isPlainObject(raw) ? raw.lake : undefined;
  const given = isPlainObject(lake) && lake.oss !== undefined ? { lake: { oss: lake.oss } } : {};
  const checked = checkObject(LAKE_OSS_SCHEMA, given, '', issues, env);
  const oss = resolveOss(checked.values.lake.oss, checked.invalid, `to open ${uri}`, issues);
  if (oss === null || issues.length > 0) throw new ConfigError(issues, source);
  return { uri, oss: ossConnectionOf(oss) };
}

/** `otslake inspect|compact|vacuum [--config FILE] URI`: the table's connection. */
export function loadLakeConnection(uriOrPath: string, options: { configPath?: string; env?: Env } = {}): LakeConnection {
  const raw = options.configPath === undefined ? {} : readConfigFile(options.configPath);
  return resolveLakeConnection(uriOrPath, raw, options.env ?? process.env, options.configPath ?? null);
}
