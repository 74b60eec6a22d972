/** The configuration's connection settings, mapped once to the plain connection objects every client is built from. */
import type { LakeConnection, TablestoreConnection } from '../common/connections.js';
import type { ResolvedConfig } from './load.js';

export interface Connections {
  readonly tablestore: TablestoreConnection;
  readonly lake: LakeConnection;
}

export function connectionsOf(config: Pick<ResolvedConfig, 'source' | 'lake'>): Connections {
  const { source, lake } = config;
  return {
    tablestore: {
      endpoint: source.endpoint,
      instanceName: source.instance,
      accessKeyId: source.accessKeyId,
      accessKeySecret: source.accessKeySecret,
      securityToken: source.securityToken,
      requestTimeoutMs: source.requestTimeoutMs,
    },
    lake: {
      uri: lake.uri,
      oss:
        lake.oss === null
          ? null
          : {
              endpoint: lake.oss.endpoint,
              region: lake.oss.region,
              accessKeyId: lake.oss.accessKeyId,
              accessKeySecret: lake.oss.accessKeySecret,
              securityToken: lake.oss.securityToken,
              pathStyle: lake.oss.sldEnable,
            },
    },
  };
}
