/**
 * A small OSS-protocol HTTP server that `ali-oss` works against unchanged, and that also answers an
 * S3 path-style Delta reader (chdb's `deltaLakeS3`): auth-less, one bucket, objects in memory or under
 * a data directory, with fault injection for retry tests (see faults.ts and the admin path below).
 *
 * Admin path (path style only; `__otslake` is not a valid bucket name, so it never shadows a bucket),
 * loopback clients only, with `x-otslake-admin: <accessKeyId>:<accessKeySecret>` when keys are configured:
 *   GET    /__otslake/faults   the armed rules, random rates and fired counters
 *   POST   /__otslake/faults   {"inject": [FaultRule…], "random": RandomFaults}
 *   DELETE /__otslake/faults   disarm everything
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OtslakeError } from '../../common/errors.js';
import { silentLogger, type Logger } from '../../common/log.js';
import { sleep } from '../../common/retry.js';
import { Bucket } from './bucket.js';
import { FaultInjector, type FaultDecision, type FaultRule, type RandomFaults } from './faults.js';
import { listObjectsV1, listObjectsV2 } from './list-handlers.js';
import { MultipartUploads } from './multipart-handlers.js';
import { copyObject, deleteObject, getObject, headObject, putObject } from './object-handlers.js';
import { OssReplyError, classifyOperation, fail, isS3Client, parseQuery, resolveTarget, type OssReply, type OssRequest } from './request.js';
import { accessKeyIdOf, verifySignature, type EmulatorCredential } from './signature.js';
import { OSS_ERRORS, document, element, errorDocument, type OssErrorSpec } from './xml.js';

export interface OssEmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0: any free port. */
  port?: number;
  bucket: string;
  /** Persist objects under this directory (one sub-directory per bucket); memory otherwise. */
  dataDir?: string;
  /** Only used in HostId and bucket-region headers; default cn-hangzhou. */
  region?: string;
  logger?: Logger;
  /**
   * When given, OSS V1 and V4 signatures must verify against one of these (AWS-signed requests pass
   * unverified, unsigned ones are refused), and the admin path wants `x-otslake-admin: <id>:<secret>`
   * of one of them. Without, any request passes (in-process tests that do not care about keys).
   */
  credentials?: EmulatorCredential[];
  /** Admin path without the header check (loopback is still required). */
  openAdmin?: boolean;
}

export interface RequestRecord {
  op: string;
  method: string;
  key: string;
  /** 0 when the connection was dropped instead of answered. */
  status: number;
  fault: FaultDecision['kind'];
  /** The AccessKeyId the request was signed with, if any. */
  accessKeyId?: string;
}

export interface OssEmulator {
  /** `http://HOST:PORT`: use as the `ali-oss` endpoint (IP → bucket in the Host header) or with `sldEnable`. */
  readonly endpoint: string;
  readonly host: string;
  readonly port: number;
  readonly bucket: string;
  readonly region: string;
  readonly faults: FaultInjector;
  /** The most recent requests (at most 10,000), oldest first; recorded when answered (or dropped). */
  readonly requests: RequestRecord[];
  /** Emits 'request' with each RequestRecord as it is recorded: tests await these instead of sleeping. */
  readonly events: EventEmitter;
  /** Disarms faults and forgets the request log, keeping the objects. */
  reset(): void;
  close(): Promise<void>;
}

const MAX_REQUEST_RECORDS = 10_000;

/** Constant-time check of `<id>:<secret>` against the configured key pairs. */
function adminAllowed(value: string | string[] | undefined, credentials: ReadonlyMap<string, string>): boolean {
  if (typeof value !== 'string') return false;
  const colon = value.indexOf(':');
  const secret = colon < 0 ? undefined : credentials.get(value.slice(0, colon));
  if (secret === undefined) return false;
  const given = createHash('sha256')
    .update(value.slice(colon + 1))
    .digest();
  return timingSafeEqual(given, createHash('sha256').update(secret).digest());
}
const ADMIN_BUCKET = '__otslake';
const BUCKET_NAME = /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/;

export async function startOssEmulator(options: OssEmulatorOptions): Promise<OssEmulator> {
  if (!BUCKET_NAME.test(options.bucket)) {
    throw new OtslakeError('OTSL_EMULATOR', `invalid OSS bucket name "${options.bucket}" (3-63 chars: a-z, 0-9, '-')`, { context: { bucket: options.bucket } });
  }
  const region = options.region ?? 'cn-hangzhou';
  const logger = (options.logger ?? silentLogger).child({ component: 'oss-emulator' });
  const buckets = new Map<string, Bucket>([[options.bucket, await Bucket.open(options.bucket, options.dataDir)]]);
  const uploads = new MultipartUploads();
  const faults = new FaultInjector();
  const requests: RequestRecord[] = [];
  const closing = new AbortController();
  const credentials = options.credentials === undefined ? undefined : new Map(options.credentials.map((c) => [c.accessKeyId, c.accessKeySecret]));

  const events = new EventEmitter();
  const record = (entry: RequestRecord) => {
    requests.push(entry);
    if (requests.length > MAX_REQUEST_RECORDS) requests.splice(0, requests.length - MAX_REQUEST_RECORDS);
    events.emit('request', entry);
  };

  const server = createServer((req, res) => {
    res.on('error', () => undefined);
    handle(req, res).catch((err: unknown) => {
      logger.error('request failed', { err, method: req.method, url: req.url });
      if (!res.headersSent && !res.destroyed) sendError(res, OSS_ERRORS.InternalError, newRequestId(), 'oss-emulator', req.method === 'HEAD');
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = newRequestId();
    const method = (req.method ?? 'GET').toUpperCase();
    const rawUrl = req.url ?? '/';
    const q = rawUrl.indexOf('?');
    let parsed: { bucket: string | null; key: string; query: Map<string, string> };
    try {
      parsed = {
        ...resolveTarget(req.headers.host, q < 0 ? rawUrl : rawUrl.slice(0, q), new Set(buckets.keys())),
        query: parseQuery(q < 0 ? '' : rawUrl.slice(q + 1)),
      };
    } catch (err) {
      await drain(req);
      return sendError(res, err instanceof OssReplyError ? err.spec : OSS_ERRORS.InvalidURI, requestId, 'oss-emulator', method === 'HEAD');
    }
    if (parsed.bucket === ADMIN_BUCKET) return handleAdmin(req, res, method, parsed.key);

    const hostId = `${parsed.bucket ?? 'oss'}.oss-${region}.aliyuncs.com`;
    const op = classifyOperation(method, parsed.bucket, parsed.key, parsed.query, req.headers);
    const fault = faults.decide({ op, method, key: parsed.key });
    const accessKeyId = accessKeyIdOf(req.headers);
    const log = (status: number) => record({ op, method, key: parsed.key, status, fault: fault.kind, ...(accessKeyId !== undefined ? { accessKeyId } : {}) });
    if (fault.kind === 'drop-before') {
      log(0);
      req.socket.destroy();
      return;
    }
    const body = await readBody(req);
    if (fault.kind === 'delay') {
      try {
        await sleep(fault.delayMs ?? 0, closing.signal);
      } catch {
        req.socket.destroy();
        return;
      }
    }
    if (fault.kind === 'error') {
      const status = fault.status ?? 503;
      const spec: OssErrorSpec = { status, code: fault.code ?? (status === 503 ? 'ServiceUnavailable' : 'InternalError'), message: 'injected fault' };
      log(status);
      return sendError(res, spec, requestId, hostId, method === 'HEAD');
    }

    const request: OssRequest = {
      method,
      bucket: parsed.bucket,
      key: parsed.key,
      query: parsed.query,
      headers: req.headers,
      body,
      requestId,
      s3: isS3Client(req.headers),
      op,
    };
    let reply: OssReply;
    try {
      if (credentials !== undefined) verifySignature(credentials, method, req.headers, parsed.bucket, parsed.key, parsed.query);
      reply = await dispatch(request);
    } catch (err) {
      if (!(err instanceof OssReplyError)) throw err;
      if (fault.kind === 'drop-after') {
        log(0);
        req.socket.destroy();
        return;
      }
      log(err.spec.status);
      return sendError(res, err.spec, requestId, hostId, method === 'HEAD', err.extra);
    }
    if (fault.kind === 'drop-after') {
      // Processed, never answered: the client sees a reset after the server-side effect.
      log(0);
      req.socket.destroy();
      return;
    }
    log(reply.status);
    send(res, reply, requestId, method === 'HEAD');
  }

  async function dispatch(req: OssRequest): Promise<OssReply> {
    if (req.bucket === null) {
      if (req.op !== 'ListBuckets') throw fail('MethodNotAllowed');
      const list = [...buckets.keys()].map((name) => `<Bucket>${element('Name', name)}${element('Location', `oss-${region}`)}</Bucket>`).join('');
      return { status: 200, headers: { 'Content-Type': 'application/xml' }, body: document('ListAllMyBucketsResult', `<Buckets>${list}</Buckets>`) };
    }
    const bucket = buckets.get(req.bucket);
    if (bucket === undefined) throw fail('NoSuchBucket', { BucketName: req.bucket });
    switch (req.op) {
      case 'ListObjects':
        return listObjectsV1(bucket, req);
      case 'ListObjectsV2':
        return listObjectsV2(bucket, req);
      case 'HeadBucket':
      case 'PutBucket':
        return { status: 200, headers: { 'x-oss-bucket-region': `oss-${region}`, 'x-amz-bucket-region': region } };
      case 'GetBucketLocation':
        return { status: 200, headers: { 'Content-Type': 'application/xml' }, body: document('LocationConstraint', `oss-${region}`) };
      case 'PutObject':
        return putObject(bucket, req);
      case 'GetObject':
        return getObject(bucket, req);
      case 'HeadObject':
        return headObject(bucket, req);
      case 'DeleteObject':
        return deleteObject(bucket, req);
      case 'CopyObject':
        return copyObject(buckets, bucket, req);
      case 'InitiateMultipartUpload':
        return uploads.initiate(bucket, req);
      case 'UploadPart':
        return uploads.uploadPart(bucket, req);
      case 'CompleteMultipartUpload':
        return uploads.complete(bucket, req);
      case 'AbortMultipartUpload':
        return uploads.abort(bucket, req);
      default:
        throw fail('NotImplemented');
    }
  }

  async function handleAdmin(req: IncomingMessage, res: ServerResponse, method: string, path: string): Promise<void> {
    const body = await readBody(req);
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    const remote = req.socket.remoteAddress ?? '';
    if (!(remote === '::1' || remote.startsWith('127.') || remote.startsWith('::ffff:127.')))
      return json(403, { error: 'admin path answers loopback clients only' });
    if (credentials !== undefined && options.openAdmin !== true && !adminAllowed(req.headers['x-otslake-admin'], credentials)) {
      return json(401, { error: 'admin path needs the header x-otslake-admin: <accessKeyId>:<accessKeySecret> of a configured key' });
    }
    if (path !== 'faults') return json(404, { error: `unknown admin path "${path}"` });
    try {
      if (method === 'POST') {
        const spec = JSON.parse(body.toString('utf8') || '{}') as { inject?: FaultRule[]; random?: RandomFaults };
        if (spec.inject !== undefined) faults.inject(...spec.inject);
        if (spec.random !== undefined) faults.setRandom(spec.random);
      } else if (method === 'DELETE') {
        faults.clear();
      } else if (method !== 'GET') {
        return json(405, { error: `method ${method} not allowed` });
      }
      json(200, faults.state());
    } catch (err) {
      json(400, { error: err instanceof Error ? err.message : String(err) });
    }
  }

  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new OtslakeError('OTSL_EMULATOR', `OSS emulator could not listen on ${host}:${options.port ?? 0}: ${err.message}`, {
          cause: err,
          context: { host, port: options.port ?? 0 },
        }),
      ),
    );
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const endpointHost = host.includes(':') ? `[${host}]` : host;
  logger.info('listening', { host, port, bucket: options.bucket, dataDir: options.dataDir });

  return {
    endpoint: `http://${endpointHost}:${port}`,
    host,
    port,
    bucket: options.bucket,
    region,
    faults,
    requests,
    events,
    reset() {
      faults.clear();
      requests.length = 0;
    },
    async close() {
      closing.abort();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function newRequestId(): string {
  return randomBytes(12).toString('hex').toUpperCase();
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function drain(req: IncomingMessage): Promise<void> {
  for await (const _ of req) {
    // discard
  }
}

function commonHeaders(res: ServerResponse, requestId: string): void {
  res.setHeader('x-oss-request-id', requestId);
  res.setHeader('x-amz-request-id', requestId);
  res.setHeader('Server', 'AliyunOSS');
  res.setHeader('Date', new Date().toUTCString());
}

function send(res: ServerResponse, reply: OssReply, requestId: string, isHead: boolean): void {
  if (res.destroyed) return;
  commonHeaders(res, requestId);
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  const body = reply.body === undefined ? undefined : typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
  if (isHead) {
    res.end();
    return;
  }
  if (reply.status !== 204) res.setHeader('Content-Length', String(body?.length ?? 0));
  res.end(body);
}

function sendError(res: ServerResponse, spec: OssErrorSpec, requestId: string, hostId: string, isHead: boolean, extra: Record<string, string> = {}): void {
  if (res.destroyed) return;
  const xml = errorDocument(spec, requestId, hostId, extra);
  commonHeaders(res, requestId);
  res.statusCode = spec.status;
  res.setHeader('Content-Type', 'application/xml');
  if (spec.ec !== undefined) res.setHeader('x-oss-ec', spec.ec);
  if (isHead) {
    // HEAD answers carry no body: ali-oss decodes the error from this header instead.
    res.setHeader('x-oss-err', Buffer.from(xml, 'utf8').toString('base64'));
    res.end();
    return;
  }
  const body = Buffer.from(xml, 'utf8');
  res.setHeader('Content-Length', String(body.length));
  res.end(body);
}
