/**
 * Connection settings as plain, structured-cloneable data: resolved once from the configuration
 * (config/), then used as they are by the main thread's clients and sent to every worker thread,
 * so that credentials are mapped to clients in one place per client kind.
 */

/** Tablestore and its Tunnel service. */
export interface TablestoreConnection {
  /** e.g. https://myinst.cn-hangzhou.ots.aliyuncs.com */
  readonly endpoint: string;
  readonly instanceName: string;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  /** STS token of a temporary key; null for a long-term AccessKey. */
  readonly securityToken: string | null;
  readonly requestTimeoutMs: number;
}

/** OSS, when the lake lives there. */
export interface OssConnection {
  readonly endpoint: string;
  readonly region: string | null;
  readonly accessKeyId: string;
  readonly accessKeySecret: string;
  readonly securityToken: string | null;
  /** Path-style `/bucket/key` addressing (config key lake.oss.sldEnable). */
  readonly pathStyle: boolean;
}

/** The lake root: file:///abs/path, or oss://bucket/prefix with its OSS connection. */
export interface LakeConnection {
  readonly uri: string;
  /** Present exactly when `uri` is oss://. */
  readonly oss: OssConnection | null;
}
