/**
 * The Tunnel wire transport: signed protobuf POSTs over node:http(s) with a keep-alive agent, a
 * per-request timeout, protobuf `Error` decoding and retries (docs/tunnel-protocol.md §Transport, §Errors and retries).
 *
 * Retry rule. A request the server may have applied is retried only when the RPC is idempotent
 * (ListTunnel, DescribeTunnel, ReadRecords, GetCheckpoint — the Java SDK's list). A failure before the
 * request left this machine (connect phase: refused, DNS, unreachable) is retried for every RPC, and so
 * are server codes that say "not applied" (busy, quota). Everything else is final.
 */
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import { OtslakeError, type ErrorCode, type ErrorContext } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { withRetry, type RetryPolicy } from '../common/retry.js';
import { decodeMessage } from './proto.js';
import { signRequest, type Credentials } from './signing.js';
import { classifyServerError, credentialCharacterError, isRetriableNetworkCode } from './server-errors.js';

export interface TransportOptions {
  /** e.g. 'https://myinst.cn-hangzhou.ots.aliyuncs.com' or 'http://127.0.0.1:8800'. */
  endpoint: string;
  instanceName: string;
  credentials: Credentials;
  /** Per attempt; Go's tunnel client uses 60 s. */
  requestTimeoutMs?: number;
  /** Overrides the per-RPC defaults (see retryPolicyFor). */
  retry?: Partial<RetryPolicy>;
  logger?: Logger;
  apiVersion?: string;
  /** A ReadRecords page is ~1 MiB; anything far beyond is a broken peer, not data. */
  maxResponseBytes?: number;
  maxSockets?: number;
}

export interface CallOptions {
  idempotent: boolean;
  signal?: AbortSignal | undefined;
  /** Operator context added to every error (tunnelId, channelId…). */
  context?: ErrorContext;
  /**
   * The body may land in a buffer the transport reuses: the response then has `release`, to be called once
   * nothing reads the body any more (ReadRecords pages, ~1 MiB each: no new buffer per page in steady state).
   */
  reuseBody?: boolean;
}

export interface RpcResponse {
  body: Uint8Array;
  httpStatus: number;
  requestId?: string | undefined;
  /** With `reuseBody`: hands the body's buffer back to the transport (absent when the body is not reusable). */
  release?: () => void;
}

const DEFAULT_TIMEOUT_MS = 60_000;
const DEFAULT_MAX_RESPONSE_BYTES = 64 * 1024 * 1024;
const USER_AGENT = 'otslake-tunnel/0.1';

/** Go's tunnel client: ReadRecords backs off from 16 ms up to 3 s for 75 s; the rest from 100 ms to 2 s for 35 s. */
export function retryPolicyFor(path: string): RetryPolicy {
  if (path === '/tunnel/readrecords') return { maxAttempts: 12, initialDelayMs: 16, maxDelayMs: 3_000, multiplier: 2, maxElapsedMs: 75_000 };
  return { maxAttempts: 10, initialDelayMs: 100, maxDelayMs: 2_000, multiplier: 2, maxElapsedMs: 35_000 };
}

/** One RPC attempt as its response handler sees it. */
interface ResponseCall {
  readonly path: string;
  readonly idempotent: boolean;
  readonly ctx: ErrorContext;
  readonly reuseBody: boolean;
  settled(): boolean;
  finish(err: OtslakeError | undefined, value?: RpcResponse): void;
}

export class TunnelTransport {
  private readonly url: URL;
  private readonly agent: http.Agent;
  private readonly requestFn: typeof http.request;
  private readonly timeoutMs: number;
  private readonly maxResponseBytes: number;
  private readonly logger: Logger;
  private readonly bodies = new BodyPool();

  constructor(private readonly options: TransportOptions) {
    try {
      this.url = new URL(options.endpoint);
    } catch (err) {
      throw new OtslakeError('OTSL_CONFIG_INVALID', `tunnel endpoint is not a URL: ${options.endpoint}`, { cause: err, context: { key: 'endpoint' } });
    }
    if (this.url.protocol !== 'http:' && this.url.protocol !== 'https:') {
      throw new OtslakeError('OTSL_CONFIG_INVALID', `tunnel endpoint must be http(s): ${options.endpoint}`, { context: { key: 'endpoint' } });
    }
    const secure = this.url.protocol === 'https:';
    const agentOptions = { keepAlive: true, maxSockets: options.maxSockets ?? 64 };
    this.agent = secure ? new https.Agent(agentOptions) : new http.Agent(agentOptions);
    this.requestFn = secure ? https.request : http.request;
    this.timeoutMs = options.requestTimeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.maxResponseBytes = options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    this.logger = options.logger ?? silentLogger;
  }

  /** host:port only — safe for logs and error contexts. */
  get endpointLabel(): string {
    return this.url.host;
  }

  async call(path: string, body: Uint8Array, options: CallOptions): Promise<RpcResponse> {
    const policy = { ...retryPolicyFor(path), ...this.options.retry };
    const context: ErrorContext = { ...options.context, rpc: path, endpoint: this.endpointLabel };
    const reuse = options.reuseBody === true;
    return withRetry((attempt) => this.sendOnce(path, body, options.idempotent, context, attempt, reuse, options.signal), {
      policy,
      ...(options.signal ? { signal: options.signal } : {}),
      onRetry: (err, attempt, delayMs) => {
        const e = err as OtslakeError;
        this.logger.warn('tunnel rpc retry', {
          rpc: path,
          attempt,
          delayMs,
          code: e.code,
          serverCode: e.context?.serverCode,
          requestId: e.context?.requestId,
          message: e.message,
        });
      },
    });
  }

  /** Closes idle keep-alive sockets; in-flight requests finish. */
  close(): void {
    this.agent.destroy();
  }

  private sendOnce(
    path: string,
    body: Uint8Array,
    idempotent: boolean,
    context: ErrorContext,
    attempt: number,
    reuseBody: boolean,
    signal?: AbortSignal,
  ): Promise<RpcResponse> {
    const fullPath = joinPath(this.url.pathname, path);
    const headers = this.headersFor(fullPath, body);
    const ctx = attempt > 1 ? { ...context, attempts: attempt } : context;
    const invalid = invalidHeader(headers);
    if (invalid !== null) return Promise.reject(credentialCharacterError(path, `header ${invalid}`, ctx));

    return new Promise<RpcResponse>((resolve, reject) => {
      let settled = false;
      // 'connect' until the socket is connected: a failure there means the server never saw the request.
      let phase: 'connect' | 'sent' = 'connect';
      const timeoutSignal = AbortSignal.timeout(this.timeoutMs);

      const finish = (err: OtslakeError | undefined, value?: RpcResponse) => {
        if (settled) return;
        settled = true;
        timeoutSignal.removeEventListener('abort', onTimeout);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          req.destroy();
          reject(err);
        } else {
          resolve(value!);
        }
      };
      const onTimeout = () =>
        finish(
          new OtslakeError('OTSL_TUNNEL_TIMEOUT', `${path} did not complete within ${this.timeoutMs} ms`, {
            retriable: phase === 'connect' || idempotent,
            context: { ...ctx, timeoutMs: this.timeoutMs, phase },
          }),
        );
      const onAbort = () => finish(new OtslakeError('OTSL_ABORTED', `${path} aborted`, { cause: signal?.reason, context: ctx }));

      const req = this.requestFn({
        protocol: this.url.protocol,
        hostname: this.url.hostname,
        port: this.url.port,
        method: 'POST',
        path: fullPath,
        agent: this.agent,
        headers,
      });
      if (signal?.aborted) {
        onAbort();
        return;
      }
      timeoutSignal.addEventListener('abort', onTimeout, { once: true });
      signal?.addEventListener('abort', onAbort, { once: true });

      req.on('socket', (socket) => {
        if (!socket.connecting) phase = 'sent';
        // Over TLS the request can only leave after the handshake: until then nothing reached the server.
        else socket.once(this.url.protocol === 'https:' ? 'secureConnect' : 'connect', () => (phase = 'sent'));
      });
      req.on('error', (err: NodeJS.ErrnoException) => finish(this.requestError(path, err, phase, idempotent, ctx)));
      req.on('response', (res) => this.readResponse(res, { path, idempotent, ctx, reuseBody, settled: () => settled, finish }));
      req.end(body);
    });
  }

  private headersFor(fullPath: string, body: Uint8Array): Record<string, string | number> {
    return {
      ...signRequest({
        path: fullPath,
        body,
        instanceName: this.options.instanceName,
        credentials: this.options.credentials,
        ...(this.options.apiVersion ? { apiVersion: this.options.apiVersion } : {}),
      }),
      'content-length': body.byteLength,
      'user-agent': USER_AGENT,
    };
  }

  /** A socket or request failure: retriable when the request never left, or when the RPC is idempotent. */
  private requestError(path: string, err: NodeJS.ErrnoException, phase: 'connect' | 'sent', idempotent: boolean, ctx: ErrorContext): OtslakeError {
    const code = err.code ?? 'UNKNOWN';
    const neverSent = phase === 'connect' || isConnectPhaseCode(code);
    return new OtslakeError('OTSL_TUNNEL_HTTP', `${path} to ${this.endpointLabel} failed: ${err.message}`, {
      cause: err,
      retriable: neverSent || (idempotent && isRetriableNetworkCode(code)),
      context: { ...ctx, errno: code, phase: neverSent ? 'connect' : 'sent' },
    });
  }

  /**
   * Collects the body (bounded by maxResponseBytes) and settles the call with the response or its error. With
   * `reuseBody` and a Content-Length, the chunks are copied into a pooled buffer as they arrive (the copy
   * Buffer.concat would make at the end, into a buffer that is not new every time).
   */
  private readResponse(res: IncomingMessage, call: ResponseCall): void {
    const { path, idempotent, ctx, finish } = call;
    const chunks: Buffer[] = [];
    let received = 0;
    const expected = call.reuseBody ? Number(res.headers['content-length']) : NaN;
    let pooled = expected > 0 && expected <= this.maxResponseBytes && res.statusCode === 200 ? this.bodies.take(expected) : null;
    res.on('data', (chunk: Buffer) => {
      if (received + chunk.length > this.maxResponseBytes) {
        finish(
          new OtslakeError('OTSL_TUNNEL_PROTOCOL', `${path} response exceeds ${this.maxResponseBytes} bytes`, {
            context: { ...ctx, maxResponseBytes: this.maxResponseBytes },
          }),
        );
        return;
      }
      if (pooled !== null && received + chunk.length <= expected) {
        pooled.set(chunk, received);
      } else {
        // More than announced (the parser would refuse it anyway): plain chunks from here on.
        if (pooled !== null) chunks.push(pooled.subarray(0, received));
        pooled = null;
        chunks.push(chunk);
      }
      received += chunk.length;
    });
    res.on('error', (err: NodeJS.ErrnoException) => {
      finish(
        new OtslakeError('OTSL_TUNNEL_HTTP', `${path} response from ${this.endpointLabel} broke off: ${err.message}`, {
          cause: err,
          retriable: idempotent,
          context: { ...ctx, errno: err.code ?? 'UNKNOWN', phase: 'response' },
        }),
      );
    });
    res.on('end', () => {
      if (call.settled()) return;
      const status = res.statusCode ?? 0;
      const requestId = headerString(res.headers['x-ots-requestid']);
      if (pooled !== null) {
        let buffer: Buffer | null = pooled;
        // Once only: a buffer given back twice would be handed to two responses.
        const release = () => {
          if (buffer !== null && received === expected) this.bodies.give(buffer);
          buffer = null;
        };
        finish(undefined, { body: pooled.subarray(0, received), httpStatus: status, requestId, release });
        return;
      }
      const responseBody = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (status >= 200 && status < 300) finish(undefined, { body: responseBody, httpStatus: status, requestId });
      else finish(this.errorFromResponse(path, status, requestId, responseBody, idempotent, ctx));
    });
  }

  private errorFromResponse(
    path: string,
    status: number,
    requestId: string | undefined,
    body: Uint8Array,
    idempotent: boolean,
    ctx: ErrorContext,
  ): OtslakeError {
    const base: ErrorContext = { ...ctx, httpStatus: status, ...(requestId ? { requestId } : {}) };
    let serverCode: string | undefined;
    let serverMessage = '';
    try {
      const decoded = decodeMessage('Error', body);
      serverCode = decoded.code;
      serverMessage = decoded.message ?? '';
    } catch {
      // Not a protobuf Error (a proxy page, an empty body): Go's fallback treats 5xx as the retryable server code.
    }
    if (serverCode === undefined) {
      return new OtslakeError('OTSL_TUNNEL_HTTP', `${path} answered HTTP ${status} without a protobuf Error body`, {
        retriable: status >= 500 && idempotent,
        context: base,
      });
    }
    const { code, retriable } = classifyServerError(serverCode, status, idempotent);
    return new OtslakeError(code as ErrorCode, `${path} failed: ${serverCode}${serverMessage ? `: ${serverMessage}` : ''}`, {
      retriable,
      context: { ...base, serverCode },
    });
  }
}

/**
 * Response buffers handed back by their readers, for the next responses. A few are enough: a channel task
 * holds two pages at a time (the one it decodes, the one in flight). Sizes round up to 64 KiB so pages of
 * slightly different sizes share buffers; buffers above 16 MiB are not kept.
 */
class BodyPool {
  private readonly free: Buffer[] = [];

  take(size: number): Buffer {
    for (let i = 0; i < this.free.length; i++) {
      const b = this.free[i]!;
      // Not a buffer far bigger than needed: that one waits for a page its size.
      if (b.length >= size && b.length <= size * 4 + 65536) {
        this.free.splice(i, 1);
        return b;
      }
    }
    return Buffer.allocUnsafeSlow(Math.ceil(size / 65536) * 65536);
  }

  give(buffer: Buffer): void {
    if (buffer.length > 16 * 1024 * 1024) return;
    if (this.free.length >= 4) this.free.shift();
    this.free.push(buffer);
  }
}

function joinPath(prefix: string, path: string): string {
  const trimmed = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return `${trimmed}${path}`;
}

function headerString(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function isConnectPhaseCode(code: string): boolean {
  return code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH';
}

/** The name of a header whose value Node would refuse to send (CR, LF, other control characters), else null. */
function invalidHeader(headers: Record<string, string | number>): string | null {
  for (const [name, value] of Object.entries(headers)) if (typeof value === 'string' && /[\x00-\x08\x0a-\x1f\x7f]/.test(value)) return name;
  return null;
}
