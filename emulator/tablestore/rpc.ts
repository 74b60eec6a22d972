/** How the HTTP server hands a verified request to a service (table API or Tunnel). */

export interface RpcContext {
  instance: string;
  accessKeyId: string;
  requestId: string;
  /** ms since epoch at receipt; services use it instead of Date.now() so tests can reason about time. */
  receivedAt: number;
}

export interface RpcResult {
  status: number;
  body: Uint8Array;
}

/** Throw this from a handler to answer with the service's protobuf Error{code, message}. */
export class RpcError extends Error {
  constructor(
    readonly httpStatus: number,
    readonly errorCode: string,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export interface RpcService {
  /** Paths this service answers, e.g. '/tunnel/connect' or '/PutRow'. */
  handles(path: string): boolean;
  handle(path: string, body: Uint8Array, ctx: RpcContext): Promise<Uint8Array>;
}
