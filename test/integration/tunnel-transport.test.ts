import { createHash } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OtslakeError } from '../../common/errors.js';
import { createLogger } from '../../common/log.js';
import { ActionType, decodeMessage, encodeMessage, ChannelStatus, type MessageName, type Messages } from '../../tunnel/proto.js';
import type { RecordPage } from '../../tunnel/read-records-wire.js';
import { verifySignature } from '../../tunnel/signing.js';
import { TunnelClient, type TunnelClientOptions } from '../../tunnel/tunnel-client.js';
import { otslakeRejectionOf } from '../helpers/rejection.js';

const SECRET = 'super-secret-key-value';

interface Received {
  path: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}
type Handler = (req: Received, res: http.ServerResponse) => void;

/** A real HTTP server on 127.0.0.1:0 whose answer per request is scripted by the test. */
class ScriptedServer {
  readonly received: Received[] = [];
  readonly events = new EventEmitter();
  handler: Handler = (_req, res) => res.writeHead(500).end();
  private server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r = { path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      this.received.push(r);
      this.events.emit('request', r);
      this.handler(r, res);
    });
  });
  endpoint = '';

  async start(): Promise<void> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.endpoint = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

function reply<N extends MessageName>(res: http.ServerResponse, name: N, msg: Messages[N]): void {
  res.writeHead(200, { 'x-ots-requestid': 'req-ok' }).end(Buffer.from(encodeMessage(name, msg)));
}

function replyError(res: http.ServerResponse, status: number, code: string, message: string): void {
  res.writeHead(status, { 'x-ots-requestid': `req-${code}` }).end(Buffer.from(encodeMessage('Error', { code, message })));
}

const FAST_RETRY = { initialDelayMs: 1, maxDelayMs: 5, maxAttempts: 4 };

describe('tunnel transport against a real HTTP server', () => {
  let server: ScriptedServer;
  let client: TunnelClient;

  const makeClient = (extra: Partial<TunnelClientOptions> = {}) =>
    new TunnelClient({
      endpoint: server.endpoint,
      instanceName: 'inst1',
      accessKeyId: 'AKID',
      accessKeySecret: SECRET,
      securityToken: 'sts-token-xyz',
      retry: FAST_RETRY,
      ...extra,
    });

  beforeEach(async () => {
    server = new ScriptedServer();
    await server.start();
    client = makeClient();
  });
  afterEach(async () => {
    client.close();
    await server.stop();
  });

  it('sends a signed POST whose signature the server can verify, and decodes the response', async () => {
    server.handler = (_req, res) => reply(res, 'ConnectResponse', { client_id: 'host_abc' });
    const resp = await client.connect({ tunnel_id: 't1', client_config: { timeout: 300n, client_tag: 'host' } });
    expect(resp.client_id).toBe('host_abc');
    const req = server.received[0]!;
    expect(req.path).toBe('/tunnel/connect');
    expect(req.headers).toMatchObject({
      'x-ots-apiversion': '2018-04-01',
      'x-ots-accesskeyid': 'AKID',
      'x-ots-instancename': 'inst1',
      'x-ots-ststoken': 'sts-token-xyz',
    });
    expect(req.headers['x-ots-date']).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(req.headers['x-ots-contentmd5']).toBe(md5Base64(req.body));
    expect(verifySignature(req.path, req.headers, SECRET)).toBe(true);
    expect(verifySignature(req.path, req.headers, 'wrong')).toBe(false);
    expect(decodeMessage('ConnectRequest', req.body)).toEqual({ tunnel_id: 't1', client_config: { timeout: 300n, client_tag: 'host' } });
  });

  it('reuses one keep-alive connection for consecutive calls', async () => {
    const ports = new Set<number>();
    server.handler = (_req, res) => {
      ports.add(res.socket!.remotePort!);
      reply(res, 'HeartbeatResponse', { channels: [{ channel_id: 'c1', version: 2n, status: ChannelStatus.OPEN }] });
    };
    for (let i = 0; i < 3; i++) {
      const hb = await client.heartbeat({ tunnel_id: 't', client_id: 'c', channels: [] });
      expect(hb.channels[0]).toEqual({ channel_id: 'c1', version: 2n, status: ChannelStatus.OPEN });
    }
    expect(ports.size).toBe(1);
  });

  it("reads ReadRecords pages into a reused buffer: a released page's serves the next, one still held is never written over", async () => {
    const pageOf = (n: number) => ({ records: [{ action_type: ActionType.PUT_ROW, record: Buffer.alloc(20_000 + n, n) }], next_token: `t${n}` });
    let n = 0;
    server.handler = (_req, res) => {
      n++;
      if (n === 4) {
        // No Content-Length (chunked): read as before, into a buffer of its own.
        const bytes = Buffer.from(encodeMessage('ReadRecordsResponse', pageOf(n)));
        res.writeHead(200);
        res.write(bytes.subarray(0, 1000));
        res.end(bytes.subarray(1000));
        return;
      }
      const bytes = Buffer.from(encodeMessage('ReadRecordsResponse', pageOf(n)));
      res.writeHead(200, { 'content-length': bytes.length }).end(bytes);
    };
    const read = () => client.readRecordPage({ tunnel_id: 't', client_id: 'c', channel_id: 'ch', token: 'x' });
    const content = (page: RecordPage) => [page.next_token, page.count, Buffer.from(page.record(0).record).toString('hex')];
    const first = await read();
    expect(content(first)).toEqual(['t1', 1, Buffer.alloc(20_001, 1).toString('hex')]);
    first.release();
    const second = await read();
    expect(second.body.buffer === first.body.buffer).toBe(true);
    expect(content(second)).toEqual(['t2', 1, Buffer.alloc(20_002, 2).toString('hex')]);
    const third = await read(); // the second is still held: a buffer of its own
    expect(third.body.buffer === second.body.buffer).toBe(false);
    expect(content(second)).toEqual(['t2', 1, Buffer.alloc(20_002, 2).toString('hex')]);
    expect(content(third)).toEqual(['t3', 1, Buffer.alloc(20_003, 3).toString('hex')]);
    second.release();
    third.release();
    const chunked = await read();
    expect(content(chunked)).toEqual(['t4', 1, Buffer.alloc(20_004, 4).toString('hex')]);
  });

  it('retries an idempotent RPC on 503 OTSTunnelServerUnavailable, then succeeds', async () => {
    const lines: string[] = [];
    client = makeClient({ logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }) });
    server.handler = (_req, res) => {
      if (server.received.length <= 2) replyError(res, 503, 'OTSTunnelServerUnavailable', 'busy');
      else reply(res, 'ListTunnelResponse', { tunnels: [] });
    };
    const resp = await client.listTunnel({ table_name: 'orders' });
    expect(resp.tunnels).toEqual([]);
    expect(server.received).toHaveLength(3);
    expect(lines.filter((l) => l.includes('tunnel rpc retry'))).toHaveLength(2);
    // Each attempt is re-signed; nothing secret reaches the log.
    expect(lines.join('\n')).not.toContain(SECRET);
    expect(lines.join('\n')).not.toContain('sts-token-xyz');
  });

  it('does not retry a non-idempotent RPC on 503', async () => {
    server.handler = (_req, res) => replyError(res, 503, 'OTSTunnelServerUnavailable', 'busy');
    const err = await otslakeRejectionOf(client.heartbeat({ tunnel_id: 't', client_id: 'c', channels: [] }));
    expect(err.code).toBe('OTSL_TUNNEL_SERVER');
    expect(err.retriable).toBe(false);
    expect(server.received).toHaveLength(1);
  });

  it('retries even a non-idempotent RPC on OTSServerBusy (not applied)', async () => {
    server.handler = (_req, res) => {
      if (server.received.length === 1) replyError(res, 503, 'OTSServerBusy', 'busy');
      else reply(res, 'CheckpointResponse', {});
    };
    await client.checkpoint({ tunnel_id: 't', client_id: 'c', channel_id: 'ch', checkpoint: 'finished', sequence_number: 3n });
    expect(server.received).toHaveLength(2);
  });

  it('does not retry a non-idempotent RPC after a reset mid-response, but retries an idempotent one', async () => {
    server.handler = (_req, res) => {
      res.writeHead(200, { 'content-length': '100' });
      res.write(Buffer.alloc(10));
      res.socket!.destroy();
    };
    const err = await otslakeRejectionOf(client.checkpoint({ tunnel_id: 't', client_id: 'c', channel_id: 'ch', checkpoint: 'x', sequence_number: 1n }));
    expect(err.code).toBe('OTSL_TUNNEL_HTTP');
    expect(err.retriable).toBe(false);
    expect(err.context).toMatchObject({ tunnelId: 't', channelId: 'ch', rpc: '/tunnel/checkpoint' });
    expect(server.received).toHaveLength(1);

    server.received.length = 0;
    server.handler = (_req, res) => {
      if (server.received.length === 1) {
        res.writeHead(200, { 'content-length': '100' });
        res.write(Buffer.alloc(10));
        res.socket!.destroy();
      } else {
        reply(res, 'ReadRecordsResponse', { records: [], next_token: 'finished' });
      }
    };
    const rr = await client.readRecords({ tunnel_id: 't', client_id: 'c', channel_id: 'ch', token: 'tok' });
    expect(rr.next_token).toBe('finished');
    expect(rr.records).toEqual([]);
    expect(rr.responseBytes).toBeGreaterThan(0);
    expect(server.received).toHaveLength(2);
  });

  it('times out a request that gets no answer', async () => {
    server.handler = () => undefined; // never answers
    client = makeClient({ requestTimeoutMs: 80 });
    const err = await otslakeRejectionOf(client.heartbeat({ tunnel_id: 't', client_id: 'c', channels: [] }));
    expect(err.code).toBe('OTSL_TUNNEL_TIMEOUT');
    expect(err.retriable).toBe(false);
    expect(err.context).toMatchObject({ timeoutMs: 80, rpc: '/tunnel/heartbeat' });

    server.received.length = 0;
    client = makeClient({ requestTimeoutMs: 80, retry: { ...FAST_RETRY, maxAttempts: 2 } });
    const exhausted = await otslakeRejectionOf(client.getCheckpoint({ tunnel_id: 't', client_id: 'c', channel_id: 'ch' }));
    expect(exhausted.code).toBe('OTSL_RETRIES_EXHAUSTED');
    expect((exhausted.cause as OtslakeError).code).toBe('OTSL_TUNNEL_TIMEOUT');
    expect(exhausted.context).toMatchObject({ attempts: 2, channelId: 'ch' });
    expect(server.received).toHaveLength(2);
  });

  it('honours the caller AbortSignal without retrying', async () => {
    server.handler = () => undefined;
    const ac = new AbortController();
    const pending = client.describeTunnel({ table_name: 't', tunnel_name: 'n' }, { signal: ac.signal });
    await once(server.events, 'request', { signal: AbortSignal.timeout(5_000) });
    ac.abort(new Error('shutdown'));
    const err = await otslakeRejectionOf(pending);
    expect(err.code).toBe('OTSL_ABORTED');
    expect(server.received).toHaveLength(1);
  });

  it.each([
    [409, 'OTSSequenceNumberNotMatch', 'OTSL_TUNNEL_SEQUENCE_MISMATCH'],
    [403, 'OTSAuthFailed', 'OTSL_TUNNEL_AUTH'],
    [403, 'OTSPermissionDenied', 'OTSL_TUNNEL_AUTH'],
    [410, 'OTSResourceGone', 'OTSL_TUNNEL_RESOURCE_GONE'],
    [400, 'OTSParameterInvalid', 'OTSL_TUNNEL_SERVER'],
  ])('decodes a protobuf Error %i %s into %s with server context', async (status, serverCode, code) => {
    server.handler = (_req, res) => replyError(res, status, serverCode, 'explained');
    const err = await otslakeRejectionOf(client.getCheckpoint({ tunnel_id: 't9', client_id: 'c', channel_id: 'ch9' }));
    expect(err.code).toBe(code);
    expect(err.retriable).toBe(false);
    expect(err.message).toContain(`${serverCode}: explained`);
    expect(err.context).toMatchObject({ serverCode, httpStatus: status, requestId: `req-${serverCode}`, tunnelId: 't9', channelId: 'ch9' });
    expect(server.received).toHaveLength(1);
    expect(JSON.stringify(err.toSerialized())).not.toContain(SECRET);
  });

  it('reports a non-protobuf error body as OTSL_TUNNEL_HTTP with the status', async () => {
    server.handler = (_req, res) => res.writeHead(400).end('<html>bad gateway</html>');
    const err = await otslakeRejectionOf(client.createTunnel({ tunnel: { table_name: 'orders', tunnel_name: 'n', tunnel_type: 3 } }));
    expect(err.code).toBe('OTSL_TUNNEL_HTTP');
    expect(err.context).toMatchObject({ httpStatus: 400, table: 'orders' });
  });

  it('reports a response missing a required field as OTSL_TUNNEL_PROTOCOL', async () => {
    server.handler = (_req, res) => res.writeHead(200).end(Buffer.alloc(0));
    const err = await otslakeRejectionOf(client.getCheckpoint({ tunnel_id: 't', client_id: 'c', channel_id: 'ch' }));
    expect(err.code).toBe('OTSL_TUNNEL_PROTOCOL');
  });

  it('retries an unreachable server for any RPC (never sent) and ends with a clear error', async () => {
    const endpoint = server.endpoint;
    await server.stop();
    client = new TunnelClient({ endpoint, instanceName: 'i', accessKeyId: 'a', accessKeySecret: SECRET, retry: { ...FAST_RETRY, maxAttempts: 3 } });
    const err = await otslakeRejectionOf(client.connect({ tunnel_id: 't' }));
    expect(err.code).toBe('OTSL_RETRIES_EXHAUSTED');
    expect(err.context).toMatchObject({ attempts: 3, rpc: '/tunnel/connect', endpoint: endpoint.replace('http://', ''), errno: 'ECONNREFUSED' });
    expect((err.cause as OtslakeError).code).toBe('OTSL_TUNNEL_HTTP');
    expect(err.message).toContain('ECONNREFUSED');
    server = new ScriptedServer();
    await server.start(); // for afterEach
  });

  it('rejects a malformed endpoint with OTSL_CONFIG_INVALID', () => {
    expect(() => new TunnelClient({ endpoint: 'not a url', instanceName: 'i', accessKeyId: 'a', accessKeySecret: 'b' })).toThrow(
      expect.objectContaining({ code: 'OTSL_CONFIG_INVALID' }),
    );
  });
});

function md5Base64(body: Buffer): string {
  return createHash('md5').update(body).digest('base64');
}
