/**
 * What it takes to reach the two services, as plain data: built once from the configuration
 * (config/load.ts → `ResolvedConfig.connections`), handed unchanged to the main thread's clients and,
 * through the worker setup, to every worker thread (structured-cloneable: strings, numbers, booleans,
 * null — no class instances, no functions).
 *
 * Secrets travel in these objects: never log one (redactedConfig() masks them).
 */

/** Tablestore and its Tunnel service (one endpoint, one AccessKey, signed the same way). */
export interface TablestoreConnection {
  /** http(s) URL of the instance, e.g. https://myinst.cn-hangzhou.ots.aliyuncs.com. */
  readonly endpoint: string;
  /** Instance name, sent as x-ots-instancename. */
  readonly instanceName: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  /** STS token of a temporary AccessKey; null for a long-term key. */
  readonly securityToken: string | null;
  /** Per-request timeout of Tablestore and Tunnel calls. */
  readonly requestTimeoutMs: number;
}

/** OSS, for a lake on oss://. */
export interface OssConnection {
  readonly endpoint: string;
  /** e.g. oss-cn-hangzhou; null lets the client derive it from the endpoint. */
  readonly region: string | null;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  /** STS token of a temporary AccessKey; null for a long-term key. */
  readonly securityToken: string | null;
  /** Path-style `/bucket/key` addressing (config key lake.oss.sldEnable). */
  readonly pathStyle: boolean;
}

/** The lake root (or, for the table commands, one table) and how to reach it. */
export interface LakeConnection {
  /** file:///absolute/path or oss://bucket/prefix. */
  readonly uri: string;
  /** Present exactly when `uri` is oss://. */
  readonly oss: OssConnection | null;
}

export interface Connections {
  readonly tablestore: TablestoreConnection;
  readonly lake: LakeConnection;
}
