/**
 * The daemon's HTTP surface on node:http: /healthz, /readyz, /metrics (Prometheus), /status (JSON),
 * and the status page at / with its data at /status/live, and POST /tables/NAME/resync from this host. No framework needed. The server only renders what its callbacks return; it
 * owns no daemon state, so it can be started before the daemon is ready and closed after it stopped.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OtslakeError, serializeError } from '../common/errors.js';
import { silentLogger, type Logger } from '../common/log.js';
import { METRICS_CONTENT_TYPE } from './metrics.js';
import { PAGE_CSP, pageAsset } from './status-page/assets.js';

export interface Readiness {
  readonly ready: boolean;
  /** Why not ready, e.g. "state=draining" or "no batch committed yet"; shown in the 503 body. */
  readonly reason?: string;
}

export interface HttpServerOptions {
  readonly host: string;
  /** 0 picks a free port; start() resolves with the one bound. */
  readonly port: number;
  readonly metrics: () => string;
  readonly readiness: () => Readiness | Promise<Readiness>;
  /** Must return JSON-serialisable data; bigints are written as strings. Never secrets: use redactedConfig(). */
  readonly status: () => unknown;
  /** The status page's data (JSON, no secrets); without it / and /status/live answer 404. */
  readonly live?: () => unknown;
  /**
   * POST /tables/NAME/resync (docs/operations.md §Table lifecycle): starts a resync and returns at once; throws an
   * OtslakeError when it is refused. The one mutating endpoint: answered only to clients on this host (loopback).
   */
  readonly resync?: (table: string) => void;
  readonly log?: Logger;
  /** close() waits this long for in-flight requests, then cuts the remaining connections. */
  readonly closeTimeoutMs?: number;
}

export interface BoundAddress {
  readonly host: string;
  readonly port: number;
  /** e.g. http://127.0.0.1:9780 (IPv6 hosts in brackets). */
  readonly url: string;
}

export interface HttpServer {
  start(): Promise<BoundAddress>;
  /** Graceful and idempotent: stops accepting, lets in-flight requests finish, then resolves. */
  close(): Promise<void>;
}

const PAGE_HEADERS = { 'content-security-policy': PAGE_CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

function isLoopback(address: string | undefined): boolean {
  return address === '::1' || address?.startsWith('127.') === true || address?.startsWith('::ffff:127.') === true;
}

/**
 * A client on this host: over loopback, or to one of this host's own addresses from that same address (what
 * `otslake resync` does when http.host names an interface address: the request then never comes from 127.0.0.1).
 */
function isThisHost(req: IncomingMessage): boolean {
  const { remoteAddress, localAddress } = req.socket;
  return isLoopback(remoteAddress) || (remoteAddress !== undefined && remoteAddress === localAddress);
}

function writeResponse(res: ServerResponse, status: number, contentType: string, body: string, head: boolean, headers: Record<string, string> = {}): void {
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(head ? undefined : body);
}

/** Indented for people reading /status; compact for the page, which polls it every 2 s. */
function toJson(value: unknown, indent = 2): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), indent) + '\n';
}

export function createHttpServer(options: HttpServerOptions): HttpServer {
  const log = options.log ?? silentLogger;
  const closeTimeoutMs = options.closeTimeoutMs ?? 5_000;
  let server: Server | null = null;
  let closing: Promise<void> | null = null;

  function send(res: ServerResponse, status: number, contentType: string, body: string, head: boolean, headers?: Record<string, string>): void {
    // While closing, a response must not leave its keep-alive socket open behind it.
    if (closing !== null) res.shouldKeepAlive = false;
    writeResponse(res, status, contentType, body, head, headers);
  }

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const head = req.method === 'HEAD';
    const resync = /^\/tables\/([^/]+)\/resync$/.exec(path ?? '');
    if (resync && options.resync) {
      let table: string;
      try {
        table = decodeURIComponent(resync[1]!);
      } catch {
        send(res, 404, 'text/plain; charset=utf-8', 'not found: the table name is not valid percent-encoding\n', false);
        return;
      }
      postResync(req, res, table);
      return;
    }
    if (req.method !== 'GET' && !head) {
      res.setHeader('allow', 'GET, HEAD');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', false);
      return;
    }
    switch (path) {
      case '/healthz':
        send(res, 200, 'text/plain; charset=utf-8', 'ok\n', head);
        return;
      case '/readyz': {
        const r = await options.readiness();
        if (r.ready) send(res, 200, 'text/plain; charset=utf-8', 'ready\n', head);
        else send(res, 503, 'text/plain; charset=utf-8', `not ready: ${r.reason ?? 'unknown'}\n`, head);
        return;
      }
      case '/metrics':
        send(res, 200, METRICS_CONTENT_TYPE, options.metrics(), head);
        return;
      case '/status':
        send(res, 200, 'application/json; charset=utf-8', toJson(await options.status()), head);
        return;
      case '/status/live':
        if (!options.live) break;
        send(res, 200, 'application/json; charset=utf-8', toJson(await options.live(), 0), head, PAGE_HEADERS);
        return;
    }
    const asset = options.live ? pageAsset(path ?? '') : undefined;
    if (asset) send(res, 200, asset.contentType, asset.body, head, PAGE_HEADERS);
    else send(res, 404, 'text/plain; charset=utf-8', `not found: try ${options.live ? '/, ' : ''}/healthz, /readyz, /metrics, /status\n`, head);
  }

  /** A resync is started, not awaited: it takes as long as the table's full snapshot; /status shows it. */
  function postResync(req: IncomingMessage, res: ServerResponse, table: string): void {
    const json = 'application/json; charset=utf-8';
    if (req.method !== 'POST') {
      res.setHeader('allow', 'POST');
      send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', false);
      return;
    }
    if (!isThisHost(req)) {
      send(res, 403, 'text/plain; charset=utf-8', 'forbidden: resync is only accepted from this host\n', false);
      return;
    }
    try {
      options.resync!(table);
    } catch (err) {
      const e = serializeError(err);
      send(res, e.code === 'OTSL_CONFIG_INVALID' ? 404 : 409, json, toJson({ error: e.code, message: e.message }), false);
      return;
    }
    send(res, 202, json, toJson({ table, state: 'resyncing' }), false);
  }

  function handle(req: IncomingMessage, res: ServerResponse): void {
    route(req, res).catch((err: unknown) => {
      const e = serializeError(err);
      log.error('http endpoint failed', { path: req.url, error: err });
      // Only the code reaches the client: messages may carry internal detail.
      if (!res.headersSent) send(res, 500, 'application/json; charset=utf-8', toJson({ error: e.code }), false);
      else res.destroy();
    });
  }

  return {
    start() {
      if (server !== null) return Promise.reject(new OtslakeError('OTSL_DAEMON_STATE', 'http server already started'));
      const s = createServer(handle);
      server = s;
      return new Promise<BoundAddress>((resolve, reject) => {
        const onError = (err: NodeJS.ErrnoException) => {
          server = null;
          reject(
            new OtslakeError('OTSL_HTTP_LISTEN', `cannot listen on ${options.host}:${options.port}: ${err.code ?? err.message}`, {
              cause: err,
              context: { host: options.host, port: options.port },
            }),
          );
        };
        s.once('error', onError);
        s.listen(options.port, options.host, () => {
          s.off('error', onError);
          s.on('error', (err) => log.error('http server error', { error: err }));
          const a = s.address() as AddressInfo;
          const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
          log.info('http endpoints listening', { host: a.address, port: a.port });
          resolve({ host: a.address, port: a.port, url: `http://${host}:${a.port}` });
        });
      });
    },

    close() {
      if (closing) return closing;
      const s = server;
      if (s === null) return Promise.resolve();
      closing = new Promise<void>((resolve, reject) => {
        const force = setTimeout(() => s.closeAllConnections(), closeTimeoutMs);
        force.unref();
        s.close((err) => {
          clearTimeout(force);
          if (err && (err as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING') reject(err);
          else resolve();
        });
        // Keep-alive connections with no request in flight would otherwise hold close() open.
        s.closeIdleConnections();
      });
      return closing;
    },
  };
}
