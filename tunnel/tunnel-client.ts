/**
 * One method per Tunnel RPC (docs/tunnel-protocol.md §RPCs). Requests and responses are the proto2 shapes of
 * tunnel/proto.ts (snake_case as on the wire, bigint for int64). No state lives here: connection,
 * heartbeats and channel ownership are TunnelSession's job.
 */
import type { TablestoreConnection } from '../common/connections.js';
import type { ErrorContext } from '../common/errors.js';
import type { Logger } from '../common/log.js';
import type { RetryPolicy } from '../common/retry.js';
import { TunnelTransport, type RpcResponse } from './http.js';
import { RecordPage, asBuffer, decodeRecordPage } from './read-records-wire.js';
import {
  decodeMessage,
  encodeMessage,
  type CheckpointRequest,
  type ConnectRequest,
  type ConnectResponse,
  type CreateTunnelRequest,
  type CreateTunnelResponse,
  type DeleteTunnelRequest,
  type DescribeTunnelRequest,
  type DescribeTunnelResponse,
  type GetCheckpointRequest,
  type GetCheckpointResponse,
  type GetRpoRequest,
  type GetRpoResponse,
  type HeartbeatRequest,
  type HeartbeatResponse,
  type ListTunnelRequest,
  type ListTunnelResponse,
  type MessageName,
  type Messages,
  type ReadRecordsRequest,
  type ReadRecordsResponse,
  type ScheduleRequest,
  type ShutdownRequest,
} from './proto.js';

export interface TunnelClientOptions {
  endpoint: string;
  instanceName: string;
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string | undefined;
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  /** Defaults to the Tunnel API version 2018-04-01. */
  apiVersion?: string;
  maxResponseBytes?: number;
}

export interface RpcOptions {
  signal?: AbortSignal | undefined;
}

/** A ReadRecords answer plus what the batch heuristics of docs/tunnel-protocol.md §ReadRecords need (body size, request id). */
export interface ReadRecordsResult extends ReadRecordsResponse {
  responseBytes: number;
  requestId?: string | undefined;
}

interface RpcSpec {
  path: string;
  request: MessageName;
  response: MessageName;
  idempotent: boolean;
}

// Idempotency per the Java SDK's IDEMPOTENT_ACTIONS: it decides which failures may be retried (docs/tunnel-protocol.md §Errors and retries).
const RPCS = {
  createTunnel: { path: '/tunnel/create', request: 'CreateTunnelRequest', response: 'CreateTunnelResponse', idempotent: false },
  deleteTunnel: { path: '/tunnel/delete', request: 'DeleteTunnelRequest', response: 'DeleteTunnelResponse', idempotent: false },
  listTunnel: { path: '/tunnel/list', request: 'ListTunnelRequest', response: 'ListTunnelResponse', idempotent: true },
  describeTunnel: { path: '/tunnel/describe', request: 'DescribeTunnelRequest', response: 'DescribeTunnelResponse', idempotent: true },
  connect: { path: '/tunnel/connect', request: 'ConnectRequest', response: 'ConnectResponse', idempotent: false },
  heartbeat: { path: '/tunnel/heartbeat', request: 'HeartbeatRequest', response: 'HeartbeatResponse', idempotent: false },
  shutdown: { path: '/tunnel/shutdown', request: 'ShutdownRequest', response: 'ShutdownResponse', idempotent: false },
  getCheckpoint: { path: '/tunnel/getcheckpoint', request: 'GetCheckpointRequest', response: 'GetCheckpointResponse', idempotent: true },
  readRecords: { path: '/tunnel/readrecords', request: 'ReadRecordsRequest', response: 'ReadRecordsResponse', idempotent: true },
  checkpoint: { path: '/tunnel/checkpoint', request: 'CheckpointRequest', response: 'CheckpointResponse', idempotent: false },
  schedule: { path: '/tunnel/schedule', request: 'ScheduleRequest', response: 'ScheduleResponse', idempotent: false },
  getRpo: { path: '/tunnel/getrpo', request: 'GetRpoRequest', response: 'GetRpoResponse', idempotent: true },
} as const satisfies Record<string, RpcSpec>;

export type RpcName = keyof typeof RPCS;

export class TunnelClient {
  private readonly transport: TunnelTransport;

  /** A client for a resolved connection (common/connections.ts): the one mapping of credentials to this client. */
  static fromConnection(connection: TablestoreConnection, options: Pick<TunnelClientOptions, 'logger' | 'retry'> = {}): TunnelClient {
    return new TunnelClient({
      endpoint: connection.endpoint,
      instanceName: connection.instanceName,
      accessKeyId: connection.accessKeyId,
      accessKeySecret: connection.accessKeySecret,
      securityToken: connection.securityToken ?? undefined,
      requestTimeoutMs: connection.requestTimeoutMs,
      ...options,
    });
  }

  constructor(options: TunnelClientOptions) {
    this.transport = new TunnelTransport({
      endpoint: options.endpoint,
      instanceName: options.instanceName,
      credentials: { accessKeyId: options.accessKeyId, accessKeySecret: options.accessKeySecret, securityToken: options.securityToken },
      ...(options.requestTimeoutMs !== undefined ? { requestTimeoutMs: options.requestTimeoutMs } : {}),
      ...(options.retry ? { retry: options.retry } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.apiVersion ? { apiVersion: options.apiVersion } : {}),
      ...(options.maxResponseBytes !== undefined ? { maxResponseBytes: options.maxResponseBytes } : {}),
    });
  }

  createTunnel(req: CreateTunnelRequest, opts?: RpcOptions): Promise<CreateTunnelResponse> {
    return this.invoke('createTunnel', req, opts);
  }

  async deleteTunnel(req: DeleteTunnelRequest, opts?: RpcOptions): Promise<void> {
    await this.invoke('deleteTunnel', req, opts);
  }

  listTunnel(req: ListTunnelRequest = {}, opts?: RpcOptions): Promise<ListTunnelResponse> {
    return this.invoke('listTunnel', req, opts);
  }

  describeTunnel(req: DescribeTunnelRequest, opts?: RpcOptions): Promise<DescribeTunnelResponse> {
    return this.invoke('describeTunnel', req, opts);
  }

  connect(req: ConnectRequest, opts?: RpcOptions): Promise<ConnectResponse> {
    return this.invoke('connect', req, opts);
  }

  heartbeat(req: HeartbeatRequest, opts?: RpcOptions): Promise<HeartbeatResponse> {
    return this.invoke('heartbeat', req, opts);
  }

  async shutdown(req: ShutdownRequest, opts?: RpcOptions): Promise<void> {
    await this.invoke('shutdown', req, opts);
  }

  getCheckpoint(req: GetCheckpointRequest, opts?: RpcOptions): Promise<GetCheckpointResponse> {
    return this.invoke('getCheckpoint', req, opts);
  }

  async readRecords(req: ReadRecordsRequest, opts?: RpcOptions): Promise<ReadRecordsResult> {
    const raw = await this.send('readRecords', req, opts);
    const decoded = decodeMessage('ReadRecordsResponse', raw.body);
    return { ...decoded, responseBytes: raw.body.byteLength, requestId: raw.requestId };
  }

  /**
   * readRecords as a RecordPage: the records stay in the response body (no object per record), which lands in
   * a buffer the transport reuses once the caller calls `page.release()` (read-records-wire.ts).
   */
  async readRecordPage(req: ReadRecordsRequest, opts?: RpcOptions): Promise<RecordPage> {
    const raw = await this.send('readRecords', req, opts, true);
    const page = decodeRecordPage(asBuffer(raw.body), raw.requestId, raw.release ?? null);
    if (page !== null) return page;
    // Not the canonical form: the generic decoder decides (or throws), and its records are copied out of the body.
    const decoded = decodeMessage('ReadRecordsResponse', raw.body);
    const copied = RecordPage.fromRecords(decoded, raw.body.byteLength, raw.requestId);
    raw.release?.();
    return copied;
  }

  /** Throws OTSL_TUNNEL_SEQUENCE_MISMATCH on a stale sequence number; see Checkpointer for the recovery. */
  async checkpoint(req: CheckpointRequest, opts?: RpcOptions): Promise<void> {
    await this.invoke('checkpoint', req, opts);
  }

  async schedule(req: ScheduleRequest, opts?: RpcOptions): Promise<void> {
    await this.invoke('schedule', req, opts);
  }

  /** Go-only RPC; rpo_infos / tunnel_rpo_infos are JSON bytes whose keys are undocumented (docs/tunnel-protocol.md §RPCs). */
  getRpo(req: GetRpoRequest, opts?: RpcOptions): Promise<GetRpoResponse> {
    return this.invoke('getRpo', req, opts);
  }

  /** Releases idle keep-alive sockets. */
  close(): void {
    this.transport.close();
  }

  private async invoke<K extends RpcName>(
    rpc: K,
    req: Messages[(typeof RPCS)[K]['request']],
    opts?: RpcOptions,
  ): Promise<Messages[(typeof RPCS)[K]['response']]> {
    const raw = await this.send(rpc, req, opts);
    return decodeMessage(RPCS[rpc].response, raw.body) as Messages[(typeof RPCS)[K]['response']];
  }

  /** `reuseBody`: the body may land in a buffer the transport reuses (tunnel/http.ts CallOptions). */
  private send<K extends RpcName>(rpc: K, req: Messages[(typeof RPCS)[K]['request']], opts?: RpcOptions, reuseBody = false): Promise<RpcResponse> {
    const spec: RpcSpec = RPCS[rpc];
    const body = encodeMessage(spec.request, req as never);
    return this.transport.call(spec.path, body, { idempotent: spec.idempotent, signal: opts?.signal, context: contextOf(req), reuseBody });
  }
}

/** Operator context taken from whichever identifying fields the request has. */
function contextOf(req: object): ErrorContext {
  const r = req as { tunnel_id?: unknown; channel_id?: unknown; table_name?: unknown; tunnel?: { table_name?: unknown } };
  const ctx: ErrorContext = {};
  if (typeof r.tunnel_id === 'string') ctx.tunnelId = r.tunnel_id;
  if (typeof r.channel_id === 'string') ctx.channelId = r.channel_id;
  const table = typeof r.table_name === 'string' ? r.table_name : r.tunnel?.table_name;
  if (typeof table === 'string' && table !== '') ctx.table = table;
  return ctx;
}
