/**
 * The one table-API call the daemon makes, DescribeTable (a table's primary key and its stream's retention),
 * over the same signed transport as the Tunnel RPCs, with the table API's version header. The official SDK
 * did it before; loading it cost every start ~45 ms of CPU and ~18 MiB for this single call
 * (docs/tunnel-protocol.md §DescribeTable).
 */
import type { TablestoreConnection } from '../common/connections.js';
import type { Logger } from '../common/log.js';
import type { RetryPolicy } from '../common/retry.js';
import { TunnelTransport } from './http.js';
import { decodeMessage, encodeMessage, type DescribeTableResponse } from './proto.js';

/** The `x-ots-apiversion` of the table API (the Tunnel RPCs send their own, tunnel/signing.ts). */
const TABLE_API_VERSION = '2015-12-31';

/** Like the SDK's default of 3 retries: the caller (a table's start) has its own backoff around it. */
const DESCRIBE_RETRY: Partial<RetryPolicy> = { maxAttempts: 4, maxElapsedMs: 10_000 };

export class TableApiClient {
  private readonly transport: TunnelTransport;

  constructor(connection: TablestoreConnection, options: { logger?: Logger; retry?: Partial<RetryPolicy> } = {}) {
    this.transport = new TunnelTransport({
      endpoint: connection.endpoint,
      instanceName: connection.instanceName,
      credentials: { accessKeyId: connection.accessKeyId, accessKeySecret: connection.accessKeySecret, securityToken: connection.securityToken ?? undefined },
      requestTimeoutMs: connection.requestTimeoutMs,
      apiVersion: TABLE_API_VERSION,
      retry: { ...DESCRIBE_RETRY, ...options.retry },
      maxSockets: 4,
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  async describeTable(tableName: string, signal?: AbortSignal): Promise<DescribeTableResponse> {
    const body = encodeMessage('DescribeTableRequest', { table_name: tableName });
    const raw = await this.transport.call('/DescribeTable', body, { idempotent: true, signal, context: { table: tableName } });
    return decodeMessage('DescribeTableResponse', raw.body);
  }

  /** Releases idle keep-alive sockets. */
  close(): void {
    this.transport.close();
  }
}
