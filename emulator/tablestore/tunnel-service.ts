/** Placeholder until the Tunnel service lands: answers every /tunnel/* call with OTSTunnelServerUnavailable. */
import type { TableStoreView } from './model.js';
import { RpcError, type RpcContext, type RpcService } from './rpc.js';

export interface TunnelServiceOptions {
  instance: string;
  dataDir?: string;
}

export class TunnelService implements RpcService {
  constructor(readonly store: TableStoreView, readonly options: TunnelServiceOptions) {}
  handles(path: string): boolean {
    return path.startsWith('/tunnel/');
  }
  async handle(path: string, _body: Uint8Array, _ctx: RpcContext): Promise<Uint8Array> {
    throw new RpcError(503, 'OTSTunnelServerUnavailable', `${path} is not implemented`);
  }
  async close(): Promise<void> {}
}
