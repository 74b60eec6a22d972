/** The daemon's two connections, built from a resolved config: the lake root store and the Tunnel client. */
import type { Logger } from '../common/log.js';
import type { RetryPolicy } from '../common/retry.js';
import type { ResolvedConfig } from '../config/load.js';
import type { ObjectStore } from '../lake/object-store.js';
import { openLakeStore } from '../lake/store.js';
import { TunnelClient } from '../tunnel/tunnel-client.js';
import { ossConnectionOf } from '../workers/worker-setup.js';

export function openLakeRoot(config: ResolvedConfig): ObjectStore {
  return openLakeStore(config.lake.uri, ossConnectionOf(config));
}

export function openTunnelClient(config: ResolvedConfig, options: { logger?: Logger; retry?: Partial<RetryPolicy> } = {}): TunnelClient {
  return new TunnelClient({
    endpoint: config.source.endpoint,
    instanceName: config.source.instance,
    accessKeyId: config.source.accessKeyId,
    accessKeySecret: config.source.accessKeySecret,
    securityToken: config.source.securityToken ?? undefined,
    requestTimeoutMs: config.source.requestTimeoutMs,
    ...options,
  });
}
