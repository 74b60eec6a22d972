/**
 * tablestore-local's HTTP front: POST-only protobuf RPCs, authenticated as the service does
 * (auth.ts), routed to the table API or the Tunnel service, with per-path fault injection.
 * Every answer carries x-ots-requestid, errors included: the Java SDK cannot read an error's code
 * without it (docs/tunnel-protocol.md §Transport). /_admin/* is JSON for tests: loopback only, and (unless
 * openAdmin) only with `x-otslake-admin: <accessKeyId>:<accessKeySecret>`.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OtslakeError } from '../../common/errors.js';
import type { Logger } from '../../common/log.js';
import { sleep } from '../../common/retry.js';
import type { ErrorAnswer, FaultInjector } from '../faults.js';
import { authenticate, type Credentials } from './auth.js';
import { RpcError, type RpcService } from './rpc.js';
import { encodeError } from './table-proto.js';

const MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface AdminResponse {
  status: number;
  json: unknown;
}

export type AdminHandler = (method: string, path: string, query: URLSearchParams, body: unknown) => Promise<AdminResponse>;

export interface ServerOptions {
  host: string;
  port: number;
  credentials: Credentials;
  services: RpcService[];
  faults: FaultInjector;
  admin: AdminHandler;
  /** Skip the admin header check (loopback is still required). */
  openAdmin?: boolean;
  logger: Logger;
}

export interface RunningServer {
  endpoint: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

function busyAnswer(path: string): ErrorAnswer {
  return path.startsWith('/tunnel/')
    ? { status: 503, code: 'OTSTunnelServerUnavailable', message: 'Tunnel service is unavailable.' }
    : { status: 503, code: 'OTSServerBusy', message: 'Server is busy.' };
}

function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  return address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.');
}

/** Constant-time comparison of the admin header with this emulator's own key pair. */
function adminAllowed(header: string | string[] | undefined, creds: Credentials): boolean {
  if (typeof header !== 'string') return false;
  const given = createHash('sha256').update(header).digest();
  const wanted = createHash('sha256').update(`${creds.accessKeyId}:${creds.accessKeySecret}`).digest();
  return timingSafeEqual(given, wanted);
}

function readBody(req: http.IncomingMessage): Promise<Uint8Array | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) {
        resolve(null);
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(size > MAX_BODY_BYTES ? null : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, status: number, requestId: string, body: Uint8Array): void {
  res.writeHead(status, {
    'content-type': 'application/x-protobuf',
    'content-length': body.length,
    'x-ots-requestid': requestId,
    'x-ots-contentmd5': createHash('md5').update(body).digest('base64'),
    'x-ots-contenttype': 'protocol buffer',
    'x-ots-date': new Date().toISOString(),
  });
  res.end(body);
}

function sendError(res: http.ServerResponse, requestId: string, status: number, code: string, message: string): void {
  send(res, status, requestId, encodeError(code, message));
}

function sendJson(res: http.ServerResponse, status: number, json: unknown): void {
  const body = JSON.stringify(json, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const { logger } = options;

  async function handleAdmin(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    if (!isLoopback(req.socket.remoteAddress)) {
      sendJson(res, 403, { error: 'admin endpoints answer loopback clients only' });
      return;
    }
    if (!options.openAdmin && !adminAllowed(req.headers['x-otslake-admin'], options.credentials)) {
      req.resume();
      sendJson(res, 401, { error: 'admin endpoints need the header x-otslake-admin: <accessKeyId>:<accessKeySecret> of this emulator' });
      return;
    }
    const raw = await readBody(req);
    let body: unknown = undefined;
    try {
      body = raw && raw.length > 0 ? JSON.parse(Buffer.from(raw).toString('utf8')) : undefined;
    } catch {
      sendJson(res, 400, { error: 'request body is not JSON' });
      return;
    }
    try {
      const answer = await options.admin(req.method ?? 'GET', url.pathname, url.searchParams, body);
      sendJson(res, answer.status, answer.json);
    } catch (err) {
      const status = err instanceof RpcError ? err.httpStatus : err instanceof OtslakeError ? 400 : 500;
      sendJson(res, status, { error: (err as Error).message, ...(err instanceof OtslakeError ? { context: err.context } : {}) });
    }
  }

  async function handleRpc(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    const requestId = randomUUID();
    const receivedAt = Date.now();
    if (req.method !== 'POST') {
      req.resume();
      sendError(res, requestId, 405, 'OTSMethodNotAllowed', `Method ${req.method} is not allowed; every RPC is a POST.`);
      return;
    }
    const body = await readBody(req);
    if (body === null) {
      sendError(res, requestId, 413, 'OTSParameterInvalid', `The request body exceeds ${MAX_BODY_BYTES} bytes.`);
      return;
    }
    const auth = authenticate(path, req.headers, body, options.credentials, receivedAt);
    if (!auth.ok) {
      logger.debug('request rejected', { path, requestId, code: auth.code });
      sendError(res, requestId, auth.status, auth.code, auth.message);
      return;
    }
    const service = options.services.find((s) => s.handles(path));
    if (!service) {
      sendError(res, requestId, 400, 'OTSUnsupportOperation', `Unsupported operation: '${path}'.`);
      return;
    }
    const fault = options.faults.decide(path, busyAnswer(path));
    if (fault.latencyMs > 0) await sleep(fault.latencyMs);
    if (fault.action === 'drop-before') {
      req.socket.destroy();
      return;
    }
    if (fault.action === 'error') {
      sendError(res, requestId, fault.error.status, fault.error.code, fault.error.message);
      return;
    }
    let status = 200;
    let answer: Uint8Array;
    try {
      answer = await service.handle(path, body, { instance: options.credentials.instance, accessKeyId: auth.accessKeyId, requestId, receivedAt });
    } catch (err) {
      if (err instanceof RpcError) {
        status = err.httpStatus;
        answer = encodeError(err.errorCode, err.message);
      } else {
        logger.error('request failed', { path, requestId, err });
        status = 500;
        answer = encodeError('OTSInternalServerError', 'Internal server error.');
      }
    }
    if (fault.action === 'drop-after') {
      req.socket.destroy();
      return;
    }
    send(res, status, requestId, answer);
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const work = url.pathname.startsWith('/_admin/') ? handleAdmin(req, res, url) : handleRpc(req, res, url.pathname);
    work.catch((err: unknown) => {
      logger.error('unhandled request failure', { path: url.pathname, err });
      if (!res.headersSent) sendError(res, randomUUID(), 500, 'OTSInternalServerError', 'Internal server error.');
      else res.destroy();
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) => reject(new OtslakeError('OTSL_EMULATOR', `cannot listen on ${options.host}:${options.port}`, { cause: err })));
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const hostForUrl = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  return {
    endpoint: `http://${hostForUrl}:${address.port}`,
    host: address.address,
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
