/**
 * The `ali-oss` client behind OssStore, and the policy around each call: per-request timeout, our own
 * backoff with jitter on 5xx, 429/throttling and network errors (ali-oss's `retryMax` only covers
 * network errors with a fixed delay, so it is set to 0), AbortSignal, and mapping of ali-oss errors to
 * OtslakeError with the operator's context (uri, key, status, OSS code, requestId) and no secrets:
 * the raw ali-oss error carries the signed request, so it is never attached as `cause`.
 */
import { raceAbort } from '../common/abort.js';
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { createRequire } from 'node:module';
import type OSS from 'ali-oss';
import { OtslakeError, isProgrammerError, type ErrorContext } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { withRetry, type RetryPolicy } from '../common/retry.js';

export interface OssCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  /** STS security token, for temporary credentials. */
  stsToken?: string;
}

export interface OssStoreOptions {
  bucket: string;
  /** Key prefix the store is rooted at ('' = bucket root). */
  prefix?: string;
  /** e.g. https://oss-cn-hangzhou.aliyuncs.com, or http://127.0.0.1:9000 for the emulator. Default: from region. */
  endpoint?: string;
  /** 'cn-hangzhou' or 'oss-cn-hangzhou' (default cn-hangzhou). */
  region?: string;
  accessKeyId: string;
  accessKeySecret: string;
  stsToken?: string;
  /** Called every `refreshIntervalMs` when an STS token is in use. */
  refreshCredentials?: () => Promise<OssCredentials>;
  refreshIntervalMs?: number;
  /** Path-style addressing `/<bucket>/<key>` (ali-oss `sldEnable`): for emulators behind a hostname. */
  pathStyle?: boolean;
  /** V4 signatures (OSS4-HMAC-SHA256) instead of V1. */
  authorizationV4?: boolean;
  /** Per HTTP request, connect + response (default 60 s). */
  requestTimeoutMs?: number;
  retry?: Partial<RetryPolicy>;
  /** Puts at or above this size use multipart upload (default 32 MiB). */
  multipartThresholdBytes?: number;
  /** Multipart part size (default 8 MiB, at least 100 KiB as OSS requires). */
  partSizeBytes?: number;
  /** Parts uploaded at once (default 4). */
  partConcurrency?: number;
  /** Keys per ListObjectsV2 page (1–1000, default 1000). */
  listPageSize?: number;
  logger?: Logger;
}

export const MIN_PART_BYTES = 100 * 1024;

const OSS_DEFAULTS = {
  requestTimeoutMs: 60_000,
  multipartThresholdBytes: 32 * 1024 * 1024,
  partSizeBytes: 8 * 1024 * 1024,
  partConcurrency: 4,
  listPageSize: 1000,
  retry: { maxAttempts: 8, initialDelayMs: 100, maxDelayMs: 5_000, multiplier: 2, maxElapsedMs: 120_000 } satisfies RetryPolicy,
} as const;

const THROTTLING_CODES = new Set(['Throttling', 'TooManyRequests', 'SlowDown', 'RequestTimeout', 'ServiceUnavailable', 'InternalError']);

/** What ali-oss errors carry (see ali-oss lib/client.js requestError). */
export interface AliOssError {
  name?: string;
  message?: string;
  status?: number;
  code?: string;
  requestId?: string;
  ecCode?: string;
}

export function ossStatus(err: unknown): number | undefined {
  const status = (err as AliOssError | null)?.status;
  return typeof status === 'number' ? status : undefined;
}

export function isAlreadyExists(err: unknown): boolean {
  return ossStatus(err) === 409 && (err as AliOssError).code === 'FileAlreadyExists';
}

export function isNoSuchKey(err: unknown): boolean {
  return ossStatus(err) === 404 && ((err as AliOssError).code === 'NoSuchKey' || (err as AliOssError).name === 'NoSuchKeyError');
}

/** First line only, without the socket/agent diagnostics urllib appends. */
function shortMessage(err: AliOssError): string {
  return String(err.message ?? err.name ?? 'unknown error')
    .split('\n')[0]!
    .split(', agent status')[0]!
    .slice(0, 300);
}

function toStoreError(err: unknown, op: string, context: ErrorContext): Error {
  if (err instanceof OtslakeError || isProgrammerError(err)) return err as Error;
  const e = (err ?? {}) as AliOssError;
  const status = ossStatus(err);
  const network = status === undefined || status <= 0;
  const retriable = network || status >= 500 || status === 429 || THROTTLING_CODES.has(e.code ?? '');
  const summary = `${network ? 'network' : `HTTP ${status}`}${e.code ? ` ${e.code}` : e.name ? ` ${e.name}` : ''}`;
  const cause = new Error(shortMessage(e));
  cause.name = e.name ?? 'Error';
  return new OtslakeError(isNoSuchKey(err) ? 'OTSL_LAKE_NOT_FOUND' : 'OTSL_LAKE_IO', `OSS ${op} failed (${summary}): ${shortMessage(e)}`, {
    cause,
    retriable,
    context: {
      ...context,
      op,
      ...(status !== undefined ? { status } : {}),
      ...(e.code ? { ossCode: e.code } : {}),
      ...(e.ecCode ? { ec: e.ecCode } : {}),
      ...(e.requestId ? { requestId: e.requestId } : {}),
    },
  });
}

/** ali-oss cannot cancel a request: an abort stops waiting for it (its result is dropped). */
function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  return raceAbort(promise, signal, () => new OtslakeError('OTSL_ABORTED', 'operation aborted', { cause: signal?.reason }));
}

function validateOptions(o: OssStoreOptions): void {
  const bad = (field: string, message: string) =>
    new OtslakeError('OTSL_CONFIG_INVALID', `OSS store option ${field} ${message}`, { context: { field, bucket: o.bucket } });
  if (!/^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(o.bucket ?? '')) throw bad('bucket', `is not a valid bucket name: "${o.bucket}"`);
  if (!o.accessKeyId || !o.accessKeySecret) throw bad('accessKeyId/accessKeySecret', 'are required');
  if (o.partSizeBytes !== undefined && !(Number.isSafeInteger(o.partSizeBytes) && o.partSizeBytes >= MIN_PART_BYTES))
    throw bad('partSizeBytes', `must be an integer >= ${MIN_PART_BYTES}`);
  if (o.multipartThresholdBytes !== undefined && !(Number.isSafeInteger(o.multipartThresholdBytes) && o.multipartThresholdBytes > 0))
    throw bad('multipartThresholdBytes', 'must be a positive integer');
  if (o.listPageSize !== undefined && !(Number.isInteger(o.listPageSize) && o.listPageSize >= 1 && o.listPageSize <= 1000))
    throw bad('listPageSize', 'must be within 1..1000');
  if (o.partConcurrency !== undefined && !(Number.isInteger(o.partConcurrency) && o.partConcurrency >= 1)) throw bad('partConcurrency', 'must be >= 1');
}

/**
 * ali-oss and its dependencies cost ~110 ms of CPU and several MiB to load, in every worker thread as well:
 * loaded on the first OSS connection, so a daemon whose lake is on local disk never pays for them.
 */
let ossConstructor: typeof OSS | undefined;
function loadOss(): typeof OSS {
  ossConstructor ??= createRequire(import.meta.url)('ali-oss') as typeof OSS;
  return ossConstructor;
}

/** One ali-oss client with its own keep-alive agents, shared by a store and its children. */
export class OssConnection {
  readonly client: OSS;
  readonly bucket: string;
  readonly timeoutMs: number;
  readonly thresholdBytes: number;
  readonly partSizeBytes: number;
  readonly partConcurrency: number;
  readonly listPageSize: number;
  private readonly policy: RetryPolicy;
  private readonly logger: Logger;
  private readonly agents: { http: HttpAgent; https: HttpsAgent };

  constructor(options: OssStoreOptions) {
    validateOptions(options);
    const region = options.region ?? 'cn-hangzhou';
    this.bucket = options.bucket;
    this.timeoutMs = options.requestTimeoutMs ?? OSS_DEFAULTS.requestTimeoutMs;
    this.thresholdBytes = options.multipartThresholdBytes ?? OSS_DEFAULTS.multipartThresholdBytes;
    this.partSizeBytes = options.partSizeBytes ?? OSS_DEFAULTS.partSizeBytes;
    this.partConcurrency = options.partConcurrency ?? OSS_DEFAULTS.partConcurrency;
    this.listPageSize = options.listPageSize ?? OSS_DEFAULTS.listPageSize;
    this.policy = { ...OSS_DEFAULTS.retry, ...options.retry };
    this.logger = (options.logger ?? silentLogger).child({ component: 'oss-store', bucket: options.bucket });
    this.agents = { http: new HttpAgent({ keepAlive: true }), https: new HttpsAgent({ keepAlive: true }) };
    const refresh = options.refreshCredentials;
    const clientOptions: Record<string, unknown> = {
      bucket: options.bucket,
      region: region.startsWith('oss-') ? region : `oss-${region}`,
      accessKeyId: options.accessKeyId,
      accessKeySecret: options.accessKeySecret,
      timeout: this.timeoutMs,
      retryMax: 0,
      sldEnable: options.pathStyle ?? false,
      authorizationV4: options.authorizationV4 ?? false,
      agent: this.agents.http,
      httpsAgent: this.agents.https,
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint, secure: options.endpoint.startsWith('https:') } : { secure: true }),
      ...(options.stsToken !== undefined ? { stsToken: options.stsToken } : {}),
      ...(refresh !== undefined
        ? { refreshSTSToken: async () => ({ stsToken: '', ...(await refresh()) }), refreshSTSTokenInterval: options.refreshIntervalMs ?? 5 * 60_000 }
        : {}),
    };
    this.client = new (loadOss())(clientOptions as unknown as OSS.Options);
  }

  /**
   * Runs one logical operation: `attempt` may throw raw ali-oss errors (mapped here) or OtslakeErrors
   * (passed through); retriable ones are retried with backoff until the policy gives up.
   */
  call<T>(op: string, context: ErrorContext, signal: AbortSignal | undefined, attempt: (n: number) => Promise<T>): Promise<T> {
    return withRetry(
      async (n) => {
        try {
          return await abortable(attempt(n), signal);
        } catch (err) {
          throw toStoreError(err, op, context);
        }
      },
      {
        policy: this.policy,
        ...(signal !== undefined ? { signal } : {}),
        onRetry: (err, n, delayMs) => this.logger.debug('retrying OSS request', { op, ...context, attempt: n, delayMs, err }),
      },
    );
  }

  close(): void {
    this.agents.http.destroy();
    this.agents.https.destroy();
  }
}
