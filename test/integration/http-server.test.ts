import { createServer, request, Agent } from 'node:http';
import type { AddressInfo } from 'node:net';
import { networkInterfaces } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { OtslakeError } from '../../common/errors.js';
import { createHttpServer, type HttpServer, type HttpServerOptions, type Readiness } from '../../daemon/http-server.js';
import { Metrics } from '../../daemon/metrics.js';

const servers: HttpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function startServer(overrides: Partial<HttpServerOptions> = {}) {
  const metrics = new Metrics();
  const server = createHttpServer({
    host: '127.0.0.1',
    port: 0,
    metrics: () => metrics.render(),
    readiness: () => ({ ready: true }),
    status: () => ({ state: 'running' }),
    ...overrides,
  });
  servers.push(server);
  const address = await server.start();
  return { server, address, metrics };
}

function get(url: string, init: RequestInit = {}) {
  return fetch(url, { ...init, signal: AbortSignal.timeout(5_000) });
}

describe('http endpoints', () => {
  it('binds port 0 on loopback and answers /healthz', async () => {
    const { address } = await startServer();
    expect(address.host).toBe('127.0.0.1');
    expect(address.port).toBeGreaterThan(0);
    expect(address.url).toBe(`http://127.0.0.1:${address.port}`);
    const res = await get(`${address.url}/healthz`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
    expect(res.headers.get('cache-control')).toBe('no-store');
  });

  it('/readyz follows the readiness callback, with the reason on 503', async () => {
    let readiness: Readiness = { ready: false, reason: 'state=created' };
    const { address } = await startServer({ readiness: async () => readiness });
    const notReady = await get(`${address.url}/readyz`);
    expect(notReady.status).toBe(503);
    expect(await notReady.text()).toBe('not ready: state=created\n');
    readiness = { ready: true };
    const ready = await get(`${address.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.text()).toBe('ready\n');
  });

  it('/metrics serves the Prometheus text format 0.0.4 with live values', async () => {
    const { address, metrics } = await startServer();
    metrics.recordsRead('orders', 'ch-1', 42, 1000);
    metrics.commitCompleted('orders', 120, 3);
    const res = await get(`${address.url}/metrics?ignored=1`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const body = await res.text();
    expect(body).toContain('otslake_tunnel_records_total{table="orders",channel="ch-1"} 42\n');
    expect(body).toContain('otslake_commit_latency_seconds_bucket{table="orders",le="0.25"} 1\n');
    expect(body).toContain('# TYPE otslake_channel_lag_seconds gauge\n');
  });

  it('/status returns the callback as JSON, bigints as strings', async () => {
    const { address } = await startServer({ status: async () => ({ state: 'running', tables: [{ table: 'orders', version: 12n }] }) });
    const res = await get(`${address.url}/status`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await res.json()).toEqual({ state: 'running', tables: [{ table: 'orders', version: '12' }] });
  });

  it('answers 404 for unknown paths, 405 for writes, and HEAD without a body', async () => {
    const { address } = await startServer();
    const missing = await get(`${address.url}/nope`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toContain('/healthz');
    const post = await get(`${address.url}/healthz`, { method: 'POST', body: 'x' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
    const head = await get(`${address.url}/metrics`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(Number(head.headers.get('content-length'))).toBeGreaterThan(0);
    expect(await head.text()).toBe('');
  });

  it('POST /tables/NAME/resync: accepted from this host, also over an interface address http.host names', async () => {
    const asked: string[] = [];
    const resync = (table: string) => {
      if (table === 'nope') throw new OtslakeError('OTSL_CONFIG_INVALID', 'no table "nope"');
      asked.push(table);
    };
    const { address } = await startServer({ resync });
    expect((await get(`${address.url}/tables/orders/resync`, { method: 'POST' })).status).toBe(202);
    expect((await get(`${address.url}/tables/nope/resync`, { method: 'POST' })).status).toBe(404);
    expect((await get(`${address.url}/tables/%E0%A4%A/resync`, { method: 'POST' })).status).toBe(404); // not valid percent-encoding
    expect((await get(`${address.url}/tables/orders/resync`)).status).toBe(405);
    const own = Object.values(networkInterfaces())
      .flat()
      .find((i) => i !== undefined && i.family === 'IPv4' && !i.internal);
    if (own) {
      // The daemon bound to the host's own address: the command on the same host comes from that address.
      const bound = await startServer({ host: own.address, resync });
      expect((await get(`${bound.address.url}/tables/items/resync`, { method: 'POST' })).status).toBe(202);
    }
    expect(asked).toEqual(own ? ['orders', 'items'] : ['orders']);
  });

  it('a failing callback gives 500 with only the error code, and the server keeps serving', async () => {
    const { address } = await startServer({
      status: () => {
        throw new OtslakeError('OTSL_LAKE_IO', 'disk /secret/path failed');
      },
      readiness: () => Promise.reject(new Error('boom')),
    });
    const res = await get(`${address.url}/status`);
    expect(res.status).toBe(500);
    const body = await res.text();
    expect(JSON.parse(body)).toEqual({ error: 'OTSL_LAKE_IO' });
    expect(body).not.toContain('/secret/path');
    expect((await get(`${address.url}/readyz`)).status).toBe(500);
    expect((await get(`${address.url}/healthz`)).status).toBe(200);
  });

  it('fails to start with OTSL_HTTP_LISTEN when the port is taken', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const server = createHttpServer({ host: '127.0.0.1', port, metrics: () => '', readiness: () => ({ ready: true }), status: () => ({}) });
      await expect(server.start()).rejects.toMatchObject({ code: 'OTSL_HTTP_LISTEN', context: { port } });
      await server.close();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('close() lets an in-flight request finish, closes idle keep-alive sockets, and is idempotent', async () => {
    let releaseStatus!: () => void;
    let statusEntered!: () => void;
    const entered = new Promise<void>((resolve) => (statusEntered = resolve));
    const { server, address } = await startServer({
      status: () =>
        new Promise((resolve) => {
          statusEntered();
          releaseStatus = () => resolve({ state: 'draining' });
        }),
    });
    const agent = new Agent({ keepAlive: true });
    try {
      // An idle keep-alive socket must not hold close() open.
      const warm = await new Promise<number>((resolve, reject) => {
        request(`${address.url}/healthz`, { agent }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        })
          .on('error', reject)
          .end();
      });
      expect(warm).toBe(200);

      const inFlight = get(`${address.url}/status`);
      await entered;
      let closed = false;
      const first = server.close();
      expect(server.close()).toBe(first);
      const closing = first.then(() => (closed = true));
      await expect(get(`${address.url}/healthz`)).rejects.toThrow();
      expect(closed).toBe(false);
      releaseStatus();
      const res = await inFlight;
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ state: 'draining' });
      await closing;
      expect(closed).toBe(true);
    } finally {
      agent.destroy();
    }
  });
});
