/** The daemon's two connections, built from a resolved config: the lake root store and the Tunnel client. */
import type { Logger } from '../common/log.js';
import type { RetryPolicy } from '../common/retry.js';
import type { ResolvedConfig } from '../config/load.js';
import type { ObjectStore } from '../lake/object-store.js';
import { openLakeStore } from '../lake/store.js';
import { TunnelClient } from '../tunnel/tunnel-client.js';

export function openLakeRoot(config: ResolvedConfig): ObjectStore {
  return openLakeStore(config.connections.lake);
}

export function openTunnelClient(config: ResolvedConfig, options: { logger?: Logger; retry?: Partial<RetryPolicy> } = {}): TunnelClient {
  return TunnelClient.fromConnection(config.connections.tablestore, options);
}
